/**
 * Kernels as data (after ONNX Runtime Web's ProgramInfo): a program is its WGSL text, its bindings in binding-index
 * order, its workgroup size and its dispatch grid (an expression over M, N, K: core/kernels/grid.ts). Everything the
 * text depends on is in `wgsl` itself, so the pipeline cache key is the text's hash; shape values that need not
 * change the code go into a uniform (`params`). Its workgroup memory is read off the text it declares.
 */
import { workgroupBytes } from '../gpu/wgsl-workgroup.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { PipelineCache } from '../gpu/pipeline-cache.ts';
import type { Dispatch } from '../gpu/timing.ts';
import { gridFormula, gridSize, type Grid, type GridVars } from './grid.ts';

export type BindingKind = 'storage' | 'read-only-storage' | 'uniform';

export interface BindingSpec {
  /** Name of the buffer in a `BufferSet` (e.g. `a`, `b`, `c`, `index`, `count`, `params`). */
  name: string;
  kind: BindingKind;
}

/** A generated kernel ready to dispatch. */
export interface KernelProgram {
  /**
   * What the program is: a kernel family's name for its main kernel (`dense`, `pit-k`, `pit-m`) or a helper role
   * (`detect-k`, `detect-m`, `merge-k`, `fill`, `transpose`). The manifest's kernel role.
   */
  family: string;
  /** Human label with its parameters, e.g. `pit-k 32x1 tile 32x128x8/4x4`. */
  label: string;
  wgsl: string;
  /** binding i of group 0 is `bindings[i]`. */
  bindings: BindingSpec[];
  workgroupSize: [number, number, number];
  /** The grid as an expression (evaluates to `workgroups`, prints as `dispatchFormula`). */
  grid: Grid;
  /** Grid in workgroups at the program's shape. */
  workgroups: [number, number, number];
  /** The grid's formula, e.g. `ceil(N/128), ceil(M/128), 1`. */
  dispatchFormula: string;
  /** Workgroup memory the WGSL declares, bytes. */
  workgroupBytes: number;
  /** u32 words of the `params` uniform, when a binding named `params` exists. */
  params?: number[];
}

/** What a program builder gives; `makeProgram` derives the grid's size and formula and the workgroup memory. */
export type ProgramSpec = Omit<KernelProgram, 'workgroups' | 'dispatchFormula' | 'workgroupBytes'>;

/**
 * Completes a program: `workgroups` = `grid` at `vars`, its formula, and the workgroup memory of its WGSL.
 * @throws RangeError when a grid variable is missing or the WGSL declares workgroup memory of an unknown type.
 */
export function makeProgram(spec: ProgramSpec, vars: GridVars): KernelProgram {
  return { ...spec, workgroups: gridSize(spec.grid, vars), dispatchFormula: gridFormula(spec.grid), workgroupBytes: workgroupBytes(spec.wgsl) };
}

/** Buffers by binding name. */
export type BufferSet = Record<string, GPUBuffer>;

/**
 * Builds (or fetches from `cache`) the pipeline of `program` and binds `buffers` to it.
 * @throws ShaderCompileError on WGSL errors; Error when a binding's buffer is missing from `buffers`.
 */
export async function prepareDispatch(
  ctx: GpuContext,
  cache: PipelineCache,
  program: KernelProgram,
  buffers: BufferSet,
): Promise<Dispatch & { hash: string }> {
  const { pipeline, hash } = await cache.get(program.label, program.wgsl);
  const entries: GPUBindGroupEntry[] = program.bindings.map((b, i) => {
    const buffer = buffers[b.name];
    if (!buffer) throw new Error(`kernel '${program.label}': no buffer bound for binding ${i} '${b.name}'`);
    return { binding: i, resource: { buffer } };
  });
  const bindGroup = ctx.device.createBindGroup({ label: program.label, layout: pipeline.getBindGroupLayout(0), entries });
  return { pipeline, bindGroup, workgroups: program.workgroups, hash };
}

/**
 * Checks a program against the device's limits before dispatching, since an oversized dispatch is only an
 * uncaptured validation error and would leave a silently wrong output.
 * @throws RangeError naming the program and the limit.
 */
export function checkProgramLimits(limits: GPUSupportedLimits, p: KernelProgram): void {
  const invocations = p.workgroupSize[0] * p.workgroupSize[1] * p.workgroupSize[2];
  if (invocations > limits.maxComputeInvocationsPerWorkgroup) {
    throw new RangeError(`${p.label}: ${invocations} invocations per workgroup exceed this device's ${limits.maxComputeInvocationsPerWorkgroup}`);
  }
  if (p.workgroupSize[0] > limits.maxComputeWorkgroupSizeX || p.workgroupSize[1] > limits.maxComputeWorkgroupSizeY || p.workgroupSize[2] > limits.maxComputeWorkgroupSizeZ) {
    throw new RangeError(`${p.label}: workgroup size ${p.workgroupSize.join('x')} exceeds this device's limits`);
  }
  for (const g of p.workgroups) {
    if (g > limits.maxComputeWorkgroupsPerDimension) {
      throw new RangeError(`${p.label}: grid ${p.workgroups.join('x')} exceeds ${limits.maxComputeWorkgroupsPerDimension} workgroups per dimension`);
    }
  }
  if (p.workgroupBytes > limits.maxComputeWorkgroupStorageSize) {
    throw new RangeError(`${p.label}: ${p.workgroupBytes} bytes of workgroup memory exceed this device's ${limits.maxComputeWorkgroupStorageSize}`);
  }
}
