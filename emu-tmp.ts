import { acquireDevice } from './core/gpu/device.ts';
import { nodeGpu } from './core/gpu/node-gpu.ts';
import { runVariant } from './core/kernels/variants.ts';
import { EmulatingPipelineCache } from './test/kernels/mma-emulation.ts';
import { randomDense, zeroColumnBlocks } from './test/kernels/fixtures.ts';
import { roundToF16 } from './core/kernels/f16.ts';
import { compareOutputs, matmulErrorScale, referenceMatmul } from './core/kernels/reference.ts';
const ctx = await acquireDevice(nodeGpu());
const cache = new EmulatingPipelineCache(ctx.device);
const MMA = { m: 16, n: 16, k: 16, sg: 32 };
const [m, n, k] = [64, 64, 96];
const a = roundToF16(zeroColumnBlocks(m, k, 32, 0.5, 5)), b = roundToF16(randomDense(k * n, 2));
const ref = referenceMatmul(a, b, m, n, k);
for (const [fam, mt, tile] of [['pit-k-f16', '32x1', { bm: 32, bn: 64, bk: 32, tm: 16, tn: 32, mma: MMA }], ['pit-m-f16', '1x32', { bm: 32, bn: 64, bk: 32, tm: 16, tn: 32, mma: MMA }]] as const) {
  const t = performance.now();
  const r = await runVariant(ctx, cache, { m, n, k, a, b, freeLayouts: ['a', 'at'] }, { family: fam, microTile: mt, tile }, { warmup: 0, repeat: 1 });
  const c = compareOutputs(r.output, ref, { k, scale: matmulErrorScale(a, b, m, n, k) });
  console.log(fam, performance.now() - t, c.ok, c.maxAbsErr, c.worstIndex);
}
process.exit(0);
