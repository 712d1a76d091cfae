/**
 * A test-only emulation of WGSL subgroup matrices (chromium_experimental_subgroup_matrix) in plain WGSL, so the f16
 * families' tensor-core templates — their staging, SRead gathers, fragment offsets, split-K slabs and scatter — run on
 * adapters without subgroup matrices (lavapipe in CI). Every invocation holds a whole 16x16 fragment as
 * `array<f32, 256>` and computes what the subgroup would (so the subgroup's invocations agree, as the real ops
 * require); loads and stores follow the extension's layout rules (row-major: element [r, c] at `offset + r·stride + c`;
 * column-major: `offset + c·stride + r`). The subgroup is taken as 32 consecutive invocations (`li / 32`), whatever
 * the adapter's own subgroup size. It checks our code, not the driver's matrix instructions.
 */
import { PipelineCache } from '../../core/gpu/pipeline-cache.ts';

const F = 16;

/**
 * WGSL of the emulation functions for 16x16x16 fragments reading `As`/`Bs` (f16, workgroup) and writing `Cs`/`C`
 * (f32). Trip counts come from `P.m` through a select the compiler cannot fold, so lavapipe does not unroll 4096
 * fmas per call site; fragments are updated through pointers rather than copied.
 */
function emulationFns(hasDirectC: boolean): string {
  const n = 'let n = select(16u, 15u, P.m == 0xffffffffu);';
  const load = (name: string, arr: string) => `fn ${name}(off: u32, colMajor: bool, stride: u32) -> array<f32, ${F * F}> {
  ${n}
  var m: array<f32, ${F * F}>;
  for (var r = 0u; r < n; r++) {
    for (var c = 0u; c < n; c++) {
      var i = off + r * stride + c;
      if (colMajor) { i = off + c * stride + r; }
      m[r * 16u + c] = f32(${arr}[i]);
    }
  }
  return m;
}`;
  const store = (name: string, arr: string) => `fn ${name}(off: u32, m: array<f32, ${F * F}>, colMajor: bool, stride: u32) {
  ${n}
  for (var r = 0u; r < n; r++) { for (var c = 0u; c < n; c++) { ${arr}[off + r * stride + c] = m[r * 16u + c]; } }
}`;
  return `${load('emLoadA', 'As')}
${load('emLoadB', 'Bs')}
fn emMMA(o: ptr<function, array<f32, ${F * F}>>, a: ptr<function, array<f32, ${F * F}>>, b: ptr<function, array<f32, ${F * F}>>) {
  ${n}
  for (var r = 0u; r < n; r++) {
    for (var j = 0u; j < n; j++) {
      var s = (*o)[r * 16u + j];
      for (var k = 0u; k < n; k++) { s = fma((*a)[r * 16u + k], (*b)[k * 16u + j], s); }
      (*o)[r * 16u + j] = s;
    }
  }
}
${store('emStoreCs', 'Cs')}
${hasDirectC ? store('emStoreC', 'C') : ''}`;
}

/**
 * The WGSL `wgsl` with its subgroup-matrix operations emulated (16x16x16 f16→f32 fragments, 32-wide subgroups).
 * Text without subgroup matrices is returned unchanged.
 * @throws Error when the text uses a fragment shape other than 16x16x16.
 */
export function emulateSubgroupMatrices(wgsl: string): string {
  if (!wgsl.includes('chromium_experimental_subgroup_matrix')) return wgsl;
  if (!/const MM = 16u;/.test(wgsl) || !/const MN = 16u;/.test(wgsl) || !/const MK = 16u;/.test(wgsl)) throw new Error('emulation: 16x16x16 fragments only');
  let s = wgsl
    .replace(/^diagnostic\(off, chromium\.subgroup_matrix_uniformity\);$/m, '')
    .replace(/^enable chromium_experimental_subgroup_matrix;$/m, '')
    .replace(/^enable subgroups;$/m, '')
    .replace(/, @builtin\(subgroup_id\) sgId: u32/, '')
    .replace(/let sg = sgId;/, 'let sg = li / SG;')
    .replace(/subgroup_matrix_result<f32, MN, MM>/g, `array<f32, ${F * F}>`)
    .replace(/subgroupMatrixLoad<subgroup_matrix_left<f16, MK, MM>>\(&As, /g, 'emLoadA(')
    .replace(/subgroupMatrixLoad<subgroup_matrix_right<f16, MN, MK>>\(&Bs, /g, 'emLoadB(')
    .replace(/(acc_\d+_\d+) = subgroupMatrixMultiplyAccumulate\((a\d+), (b\d+), acc_\d+_\d+\);/g, 'emMMA(&$1, &$2, &$3);')
    .replace(/subgroupMatrixStore\(&Cs, /g, 'emStoreCs(')
    .replace(/subgroupMatrixStore\(&C, /g, 'emStoreC(')
    .replace(/let (a\d+|b\d+) = emLoad/g, 'var $1 = emLoad');
  if (/subgroupMatrix|subgroup_matrix_/.test(s.replace(/chromium\.subgroup_matrix_uniformity/, ''))) throw new Error('emulation: an operation was left unemulated');
  s += `\n${emulationFns(s.includes('emStoreC('))}\n`;
  return s;
}

/** A pipeline cache that builds every program's WGSL through `emulateSubgroupMatrices`. */
export class EmulatingPipelineCache extends PipelineCache {
  override get(label: string, wgsl: string, constants: Record<string, number> = {}, entryPoint = 'main') {
    return super.get(label, emulateSubgroupMatrices(wgsl), constants, entryPoint);
  }
}
