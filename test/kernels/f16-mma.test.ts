/**
 * The f16 families' tensor-core (subgroup-matrix) templates on an adapter without subgroup matrices, through the
 * test-only emulation of mma-emulation.ts: staging, SRead gathers, fragment offsets, split-K slabs, direct and
 * scratch stores and pit-m's SWrite, against the float64 reference of the f16-rounded operands.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireDevice, type GpuContext } from '../../core/gpu/device.ts';
import { nodeGpu } from '../../core/gpu/node-gpu.ts';
import { roundToF16 } from '../../core/kernels/f16.ts';
import { compareOutputs, matmulErrorScale, referenceMatmul } from '../../core/kernels/reference.ts';
import { runVariant, type VariantSpec } from '../../core/kernels/variants.ts';
import type { ComputeTile } from '../../shaders/common.wgsl.ts';
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
