/**
 * The f16 families' tensor-core (subgroup-matrix) templates on an adapter without subgroup matrices, through the
 * test-only emulation of mma-emulation.ts: staging, SRead gathers, fragment offsets, split-K slabs, direct and
 * scratch stores and pit-m's SWrite, against the float64 reference of the f16-rounded operands.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireDevice, type GpuContext } from '../../core/gpu/device.ts';
import { nodeGpu } from '../../core/gpu/node-gpu.ts';
import { denseF16Tiles } from '../../core/kernels/dense-f16.ts';
import { roundToF16 } from '../../core/kernels/f16.ts';
import { pitKF16Tiles } from '../../core/kernels/pit-k-f16.ts';
import { pitMF16Tiles } from '../../core/kernels/pit-m-f16.ts';
import { compareOutputs, matmulErrorScale, referenceMatmul } from '../../core/kernels/reference.ts';
import { runVariant, type VariantSpec } from '../../core/kernels/variants.ts';
import type { ComputeTile } from '../../shaders/common.wgsl.ts';
import { denseF16Wgsl } from '../../shaders/dense-f16.wgsl.ts';
import { pitKF16Wgsl } from '../../shaders/pit-k-f16.wgsl.ts';
import { pitMF16Wgsl } from '../../shaders/pit-m-f16.wgsl.ts';
import { randomDense, zeroColumnBlocks, zeroRows } from './fixtures.ts';
import { EmulatingPipelineCache } from './mma-emulation.ts';

const MMA = { m: 16, n: 16, k: 16, sg: 32 };
const tile = (bm: number, bn: number, bk: number, tm: number, tn: number, extra: Partial<ComputeTile> = {}): ComputeTile => ({ bm, bn, bk, tm, tn, mma: MMA, ...extra });

describe('f16 tensor-core templates, emulated', () => {
  let ctx: GpuContext;
  let cache: EmulatingPipelineCache;
  beforeAll(async () => {
    ctx = await acquireDevice(nodeGpu());
    cache = new EmulatingPipelineCache(ctx.device);
  });
  afterAll(() => ctx.destroy());

  async function check(m: number, n: number, k: number, a32: Float32Array, specs: VariantSpec[]): Promise<void> {
    const a = roundToF16(a32);
    const b = roundToF16(randomDense(k * n, m + 3 * n + k));
    const ref = referenceMatmul(a, b, m, n, k);
    const scale = matmulErrorScale(a, b, m, n, k);
    for (const spec of specs) {
      const run = await runVariant(ctx, cache, { m, n, k, a, b, freeLayouts: ['a', 'at'] }, spec, { warmup: 0, repeat: 1 });
      const cmp = compareOutputs(run.output, ref, { k, scale });
      expect(cmp.ok, `${run.wgsl.at(-1)!.label} on ${m}x${n}x${k}: maxAbsErr ${cmp.maxAbsErr} > ${cmp.tolerance} at ${cmp.worstIndex}`).toBe(true);
    }
  }

  // Shapes keep K and N multiples of 8 (16-byte loads): the scalar-load variant compiles for minutes on lavapipe
  // under the emulation (it is the same loader code the GPU bench verified on 999x1001x1003).
  it('dense-f16: four subgroups on interior (direct stores) and edge tiles (scratch stores), split-K', { timeout: 300_000 }, async () => {
    const dense = (t: ComputeTile): VariantSpec => ({ family: 'dense-f16', microTile: null, tile: t });
    await check(50, 40, 72, randomDense(50 * 72, 2), [dense(tile(32, 32, 32, 16, 16))]);
    await check(64, 64, 96, randomDense(64 * 96, 1), [dense(tile(32, 32, 32, 16, 16, { splitK: 2 }))]);
  });

  // One fragment per subgroup (four subgroups): the emulated products compile in seconds rather than minutes.
  it('pit-k-f16: gathered AT rows staged m-major, interior (direct) and edge (scratch) tiles', { timeout: 300_000 }, async () => {
    await check(48, 40, 72, zeroColumnBlocks(48, 72, 32, 0.5, 6), [{ family: 'pit-k-f16', microTile: '32x1', tile: tile(32, 32, 32, 16, 16) }]);
  });

  it('pit-m-f16: gathered rows, whole-row plain SWrite and CAS-accumulated 1x32 chunks over several row tiles per workgroup', { timeout: 300_000 }, async () => {
    const t = tile(32, 32, 32, 16, 16);
    await check(128, 64, 64, zeroRows(128, 64, 0.3, 7), [
      { family: 'pit-m-f16', microTile: '1xK', tile: t },
      { family: 'pit-m-f16', microTile: '1x32', tile: t },
    ]);
  });
});

/** Bytes of a WGSL workgroup variable's type (the types the f16 templates declare). */
function workgroupBytes(type: string): number {
  const scalar: Record<string, number> = { u32: 4, f32: 4, f16: 2, 'vec4<u32>': 16, 'vec4<f32>': 16 };
  const arr = /^array<(.+), (\d+)>$/.exec(type);
  if (arr) return workgroupBytes(arr[1]!) * Number(arr[2]);
  const b = scalar[type];
  if (b === undefined) throw new Error(`unknown workgroup type ${type}`);
  return b;
}

describe('f16 tensor-core templates: workgroup layout', () => {
  // On the H200 a 4-byte workgroup counter laid out before the staged tiles misaligned the subgroup-matrix loads
  // (every output shifted by 1–2 columns, bench runs 10–11): the driver orders workgroup variables as it likes, so
  // every one of them must be a multiple of 16 bytes.
  it('declares only workgroup variables whose sizes are multiples of 16 bytes', () => {
    const caps = { shaderF16: true, subgroups: true, subgroupSizes: [32, 32] as [number, number], subgroupMatrixConfigs: [{ componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 }] };
    const sources: [string, string][] = [];
    for (const vec of [false, true]) {
      for (const t of pitKF16Tiles(caps).filter((x) => x.mma)) sources.push([`pit-k-f16 ${JSON.stringify(t)}`, pitKF16Wgsl({ tile: t, vecGlobal: vec })]);
      for (const t of pitMF16Tiles(caps).filter((x) => x.mma)) for (const accumulate of [false, true]) sources.push([`pit-m-f16 ${JSON.stringify(t)}`, pitMF16Wgsl({ tile: t, w: 64, accumulate, vecGlobal: vec })]);
      for (const t of denseF16Tiles(caps).filter((x) => x.mma)) sources.push([`dense-f16 ${JSON.stringify(t)}`, denseF16Wgsl({ tile: t, vecGlobal: vec })]);
    }
    expect(sources.length).toBeGreaterThan(10);
    let vars = 0;
    for (const [what, wgsl] of sources) {
      for (const m of wgsl.matchAll(/var<workgroup>\s+(\w+)\s*:\s*([^;]+);/g)) {
        vars++;
        expect(workgroupBytes(m[2]!.trim()) % 16, `${what}: ${m[1]}: ${m[2]}`).toBe(0);
      }
    }
    expect(vars).toBeGreaterThan(sources.length * 3);
  });
});
