/**
 * The `bcsr` family (block-sparse A, 32x32 blocks, BCSR index detected online): outputs against the float64 CPU
 * reference on ragged shapes with several row blocks, column tiles and a partial last k-block, both computation
 * tiles (scalar and vec4 paths), the GPU detection against the CPU index of 32x32 micro-tiles (as sets), the
 * hand-worked reference index, legality, and the registry's view of the family.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BCSR_TILES, bcsrFamily, bcsrIndexSize, bcsrProgram } from '../../core/kernels/bcsr.ts';
import { compareOutputs, matmulErrorScale, referenceMatmul } from '../../core/kernels/reference.ts';
import { familyOf, familyOfVariant, programRoles } from '../../core/kernels/registry.ts';
import { runVariant, type MatmulOperands } from '../../core/kernels/variants.ts';
import { microTileDensity } from '../../core/sparsity/micro-tiles.ts';
import { rng, testGpu, type TestGpu } from '../gpu-helpers.ts';
import { randomDense } from './fixtures.ts';

/** A [M, K] with whole 32x32 blocks zeroed with probability `p` (partial edge blocks included), values never zero inside kept blocks. */
function blockSparseA(m: number, k: number, p: number, seed: number): Float32Array {
  const a = randomDense(m * k, seed);
  const r = rng(seed + 5);
  for (let r0 = 0; r0 < m; r0 += 32) {
    for (let c0 = 0; c0 < k; c0 += 32) {
      if (r() >= p) continue;
      for (let i = r0; i < Math.min(m, r0 + 32); i++) a.fill(0, i * k + c0, i * k + Math.min(k, c0 + 32));
    }
  }
  return a;
}

describe('bcsr index (CPU reference)', () => {
  it('lists, per row block of 32, the k-blocks of 32 holding a non-zero (hand-worked, ragged edges)', () => {
    // A [40, 70]: row blocks 0..31, 32..39; k-blocks 0..31, 32..63, 64..69.
    const [m, k] = [40, 70];
    const a = new Float32Array(m * k);
    a[0 * k + 65] = 1; // row block 0, k-block 2 (the partial one)
    a[31 * k + 3] = -2; // row block 0, k-block 0
    a[39 * k + 40] = 3; // row block 1, k-block 1
    const s = { m, n: 5, k };
    expect(bcsrIndexSize(s)).toEqual({ rowBlocks: 2, kBlocks: 3, indexLength: 6 });
    const ix = bcsrFamily.referenceIndex(bcsrFamily.layerConfigs(s)[0]!, a, s)!;
    expect(Array.from(ix.count)).toEqual([2, 1]);
    expect(Array.from(ix.index)).toEqual([0, 2, 0, 1, 0, 0]);
  });
});

describe('bcsr family', () => {
  it('is registered with its program roles, legality and names', () => {
    expect(familyOf('bcsr')).toBe(bcsrFamily);
    expect(familyOfVariant('bcsr 32x128x16/8x8/sb')).toBe(bcsrFamily);
    expect(programRoles()).toEqual(expect.arrayContaining(['bcsr', 'detect-k']));
    const s = { m: 64, n: 64, k: 64 };
    expect(bcsrFamily.illegalReason(bcsrFamily.layerConfigs(s)[0]!, s)).toBeNull();
    expect(bcsrFamily.illegalReason({ family: 'bcsr', microTile: '32x32', tile: { bm: 64, bn: 64, bk: 8, tm: 4, tn: 4 } }, s)).toMatch(/BM = 32/);
    expect(bcsrFamily.illegalReason({ family: 'bcsr', microTile: '32x32', tile: { bm: 32, bn: 64, bk: 12, tm: 4, tn: 4 } }, s)).toMatch(/BK dividing 32/);
    expect(() => bcsrProgram(s, { bm: 16, bn: 64, bk: 8, tm: 2, tn: 4 })).toThrow(RangeError);
    expect(BCSR_TILES.map((t) => bcsrFamily.variantName({ family: 'bcsr', microTile: '32x32', tile: t }))).toEqual(['bcsr', 'bcsr 32x128x16/8x8/sb']);
    const c = bcsrFamily.configOf({ microTile: '32x32', computeTile: '32x128x16/8x8/sb' }, 64);
    expect(c).toEqual({ family: 'bcsr', microTile: '32x32', tile: BCSR_TILES[1] });
    const plan = bcsrFamily.plan(s, c);
    expect(plan.detect.map((p) => p.label)).toEqual(['zero count', 'detect-k 32x32']);
    expect(plan.compute.at(-1)!.dispatchFormula).toBe('ceil(M/32), ceil(N/128), 1');
    expect(plan.counts).toEqual({ buffer: 'count', length: 2, microTiles: 4, microTile: '32x32' });
  });
});

describe('bcsr on the GPU vs the CPU reference', () => {
  let g: TestGpu;
  beforeAll(async () => {
    g = await testGpu();
  });
  afterAll(() => g.ctx.destroy());

  async function check(o: MatmulOperands, tile = BCSR_TILES[0]!): Promise<void> {
    const spec = { family: 'bcsr', microTile: '32x32', tile: { ...tile } };
    const run = await runVariant(g.ctx, g.cache, o, spec, { warmup: 0, repeat: 1 });
    const ref = referenceMatmul(o.a, o.b, o.m, o.n, o.k);
    const cmp = compareOutputs(run.output, ref, { k: o.k, scale: matmulErrorScale(o.a, o.b, o.m, o.n, o.k) });
    const what = `bcsr ${o.m}x${o.n}x${o.k} tile ${tile.bm}x${tile.bn}x${tile.bk}`;
    expect(cmp.ok, `${what}: max abs err ${cmp.maxAbsErr} > ${cmp.tolerance} at ${cmp.worstIndex}`).toBe(true);
    expect(run.microTileDensity, what).toBeCloseTo(microTileDensity(o.a, o.m, o.k, '32x32'), 12);
    expect(run.detectMs).toBeGreaterThan(0);
  }

  it('ragged shapes with several row blocks, column tiles and a partial last k-block, both tiles', async () => {
    // 75 rows: 3 row blocks; 150 columns: 2 column tiles of 128; K = 90: k-blocks of 32, 32, 26.
    const [m, n, k] = [75, 150, 90];
    const a = blockSparseA(m, k, 0.5, 1);
    const b = randomDense(k * n, 2);
    for (const tile of BCSR_TILES) await check({ m, n, k, a, b }, tile);
    // Conv-like: im2col writes Aᵀ itself (no layout phase), M and N multiples of 4 (16-byte global access).
    const [m2, n2, k2] = [68, 36, 100];
    await check({ m: m2, n: n2, k: k2, a: blockSparseA(m2, k2, 0.6, 3), b: randomDense(k2 * n2, 4), freeLayouts: ['a', 'at'] });
  });

  it('an A with element-wise zeros (blocks rarely empty) and an all-zero A', async () => {
    const [m, n, k] = [33, 17, 65];
    const a = randomDense(m * k, 5);
    const z = rng(6);
    for (let i = 0; i < a.length; i++) if (z() < 0.9) a[i] = 0;
    await check({ m, n, k, a, b: randomDense(k * n, 7) });
    const zero = { m, n, k, a: new Float32Array(m * k), b: randomDense(k * n, 8) };
    const run = await runVariant(g.ctx, g.cache, zero, bcsrFamily.layerConfigs(zero)[0]!, { warmup: 0, repeat: 1 });
    expect(run.output.every((v) => v === 0)).toBe(true);
    expect(run.microTileDensity).toBe(0);
  });
});
