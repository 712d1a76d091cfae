import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wgslHash } from '../../core/gpu/pipeline-cache.ts';
import { compareOutputs, matmulErrorScale, referenceMatmul } from '../../core/kernels/reference.ts';
import { denseCandidates, denseTileFor } from '../../core/kernels/dense.ts';
import { dtypeOf, FAMILIES, familyOf } from '../../core/kernels/registry.ts';
import { DEFAULT_DENSE_TILE, DEFAULT_PIT_TILE, runVariant, type MatmulOperands, type VariantRun, type VariantSpec } from '../../core/kernels/variants.ts';
import { microTileDensity } from '../../core/sparsity/micro-tiles.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';
import { randomDense, randomSparse, zeroColumnBlocks, zeroRows } from './fixtures.ts';

const FAST = { warmup: 0, repeat: 1 };

/** Every family's per-layer configurations (dense tiles, pit-k 32x1, pit-m whole rows) and pit-m 1x16 (CAS SWrite). */
function specsFor(m: number, n: number, k: number): VariantSpec[] {
  // The fp32 families (the f16 ones compute on rounded operands: test/kernels/f16.test.ts).
  return [...FAMILIES.filter((f) => !f.needs && dtypeOf(f) === 'f32').flatMap((f) => f.layerConfigs({ m, n, k })), { family: 'pit-m', microTile: '1x16', tile: { ...DEFAULT_PIT_TILE } }];
}

function ops(m: number, n: number, k: number, a: Float32Array, seed = 99): MatmulOperands {
  return { m, n, k, a, b: randomDense(k * n, seed) };
}

describe('matmul variants vs the CPU reference', () => {
  let g: TestGpu;
  beforeAll(async () => {
    g = await testGpu();
  });
  afterAll(() => g.ctx.destroy());

  /** Runs every spec on `o`, checks outputs against the reference and GPU densities against the CPU's. */
  async function checkAll(o: MatmulOperands, specs = specsFor(o.m, o.n, o.k)): Promise<VariantRun[]> {
    const ref = referenceMatmul(o.a, o.b, o.m, o.n, o.k);
    const scale = matmulErrorScale(o.a, o.b, o.m, o.n, o.k);
    const runs: VariantRun[] = [];
    for (const spec of specs) {
      const run = await runVariant(g.ctx, g.cache, o, spec, FAST);
      const what = `${spec.family} ${spec.microTile ?? ''} on ${o.m}x${o.n}x${o.k}`;
      expect(run.output, what).toHaveLength(o.m * o.n);
      const cmp = compareOutputs(run.output, ref, { k: o.k, scale });
      expect(cmp.ok, `${what}: maxAbsErr ${cmp.maxAbsErr} > ${cmp.tolerance} at ${cmp.worstIndex}`).toBe(true);
      if (spec.family === 'dense') {
        expect(run.microTileDensity).toBeNull();
        expect(run.detectMs).toBe(0);
      } else {
        // The shape detection indexes: `1xK` and widths beyond K are whole rows.
        const mt = spec.microTile === '1xK' ? `1x${o.k}` : spec.microTile!;
        const w = Number(mt.split('x')[1]);
        const cpuShape = spec.family === 'pit-m' ? `1x${Math.min(w, o.k)}` : mt;
        expect(run.microTileDensity, what).toBeCloseTo(microTileDensity(o.a, o.m, o.k, cpuShape), 12);
        expect(run.detectMs).toBeGreaterThan(0);
      }
      expect(run.kernelMs).toBeGreaterThan(0);
      runs.push(run);
    }
    return runs;
  }

  it('random dense data (every micro-tile non-zero)', async () => {
    const [m, n, k] = [96, 80, 112];
    const runs = await checkAll(ops(m, n, k, randomDense(m * k, 1)));
    for (const r of runs.filter((x) => x.spec.family !== 'dense')) expect(r.microTileDensity).toBe(1);
  });

  it('zeroed 32x1 micro-tiles (random column blocks)', async () => {
    const [m, n, k] = [96, 80, 112];
    const a = zeroColumnBlocks(m, k, 32, 0.7, 2);
    const runs = await checkAll(ops(m, n, k, a));
    const pitK = runs.find((r) => r.spec.family === 'pit-k')!;
    expect(pitK.microTileDensity!).toBeGreaterThan(0.2);
    expect(pitK.microTileDensity!).toBeLessThan(0.4);
  });

  it('whole zero rows', async () => {
    const [m, n, k] = [96, 80, 112];
    const a = zeroRows(m, k, 0.6, 3);
    const runs = await checkAll(ops(m, n, k, a));
    const rows = runs.find((r) => r.spec.family === 'pit-m' && r.spec.microTile === '1xK')!;
    expect(rows.microTileDensity!).toBeGreaterThan(0.2);
    expect(rows.microTileDensity!).toBeLessThan(0.6);
  });

  it('90 % and 99 % element sparsity', async () => {
    const [m, n, k] = [96, 80, 112];
    await checkAll(ops(m, n, k, randomSparse(m, k, 0.9, 4)));
    const runs = await checkAll(ops(m, n, k, randomSparse(m, k, 0.99, 5)));
    const pitM16 = runs.find((r) => r.spec.microTile === '1x16')!;
    expect(pitM16.microTileDensity!).toBeLessThan(0.3);
  });

  it('an all-zero A gives an exactly zero C and zero density', async () => {
    const [m, n, k] = [96, 80, 112];
    const runs = await checkAll(ops(m, n, k, new Float32Array(m * k)));
    for (const r of runs) {
      expect(r.output.every((v) => v === 0)).toBe(true);
      if (r.spec.family !== 'dense') expect(r.microTileDensity).toBe(0);
    }
  });

  it('ragged shapes: 37x53x71 and M = 1', async () => {
    await checkAll(ops(37, 53, 71, randomSparse(37, 71, 0.5, 6)));
    await checkAll(ops(1, 53, 71, randomSparse(1, 71, 0.5, 7)));
  });

  it('other computation tiles: pit-k 16x1 with 16x32x8/2x4, dense 32x32x8/2x2, pit-m 1x24 with BK not dividing W', async () => {
    const [m, n, k] = [37, 53, 71];
    const a = zeroColumnBlocks(m, k, 16, 0.5, 8);
    await checkAll(ops(m, n, k, a), [
      { family: 'dense', microTile: null, tile: { bm: 32, bn: 32, bk: 8, tm: 2, tn: 2 } },
      { family: 'pit-k', microTile: '16x1', tile: { bm: 16, bn: 32, bk: 8, tm: 2, tn: 4 } },
      { family: 'pit-m', microTile: '1x24', tile: { bm: 16, bn: 32, bk: 16, tm: 2, tn: 4 } },
    ]);
  });

  it('reports every program that ran, hashed, and times with the requested repeats', async () => {
    const [m, n, k] = [37, 53, 71];
    const o = ops(m, n, k, randomSparse(m, k, 0.5, 9));
    const run = await runVariant(g.ctx, g.cache, o, { family: 'pit-m', microTile: '1x16', tile: { ...DEFAULT_PIT_TILE } }, { warmup: 1, repeat: 3 });
    const labels = run.wgsl.map((w) => w.label);
    // The zero-fills of the counts and of C share one text, listed once.
    expect(labels).toEqual(['zero count', 'detect-m 1x16', 'pit-m 1x16 tile 32x128x8/4x4 cas']);
    for (const w of run.wgsl) expect(w.hash).toBe(wgslHash(w.text));
    expect(run.wgsl[2]!.text).toContain('atomicCompareExchangeWeak');
    expect(run.timing).toBe(g.ctx.timestampQuery ? 'timestamp' : 'cpu');
    expect(run.samples).toHaveLength(3);
    for (const s of run.samples) {
      expect(s[0]).toBe(0); // no layout phase: pit-m reads A row-major
      expect(s[1]).toBeGreaterThan(0);
      expect(s[2]).toBeGreaterThan(0);
    }
    // A MatMul activation is row-major: pit-k's Aᵀ is prepared on the GPU, in the timed layout phase…
    const pitKSpec = familyOf('pit-k').layerConfigs({ m, n, k })[0]!;
    const pitK = await runVariant(g.ctx, g.cache, o, pitKSpec, FAST);
    expect(pitK.wgsl.map((w) => w.label)).toEqual(['transpose a -> at', 'zero count', 'detect-k 32x1', 'pit-k 32x1 tile 32x128x8/4x4']);
    expect(pitK.wgsl[3]!.text).toContain('const BM = 32u;');
    expect(pitK.layoutMs).toBeGreaterThan(0);
    // …while im2col writes Aᵀ itself (Conv): no layout phase.
    const conv = await runVariant(g.ctx, g.cache, { ...o, freeLayouts: ['a', 'at'] }, pitKSpec, FAST);
    expect(conv.wgsl.map((w) => w.label)).toEqual(['zero count', 'detect-k 32x1', 'pit-k 32x1 tile 32x128x8/4x4']);
    expect(conv.layoutMs).toBe(0);
  });

  it('per-layer configurations: dense candidates + pit-k 32x1 + pit-m whole rows', async () => {
    const s = { m: 200, n: 100, k: 300 };
    // The registry: dense first (the baseline), unique names; PIT's two rules among them.
    expect(FAMILIES[0]!.name).toBe('dense');
    expect(new Set(FAMILIES.map((f) => f.name)).size).toBe(FAMILIES.length);
    expect(FAMILIES.map((f) => f.name)).toEqual(expect.arrayContaining(['pit-k', 'pit-m']));
    expect(FAMILIES.map((f) => f.name)).toEqual(expect.arrayContaining(['direct', 'pit-n']));
    expect(FAMILIES.map((f) => f.name)).toEqual(expect.arrayContaining(['dense-f16', 'pit-k-f16', 'pit-m-f16']));
    expect(FAMILIES.filter((f) => f.dtype === 'f16' && f.defaultOn)).toEqual([]);
    expect(familyOf('pit-k').layerConfigs(s).map((c) => c.microTile)).toEqual(['32x1']);
    // A 2-D layer with a constant B: no direct kernel (batched layers only) and no pit-n (B-side sparsity).
    expect(familyOf('direct').layerConfigs(s)).toEqual([]);
    expect(familyOf('pit-n').layerConfigs(s)).toEqual([]);
    expect(familyOf('pit-m').layerConfigs(s).map((c) => familyOf('pit-m').microTile(c, s.k))).toEqual(['1x300']);
    // Dense: the default tile first, then the least-padded others (within 1.5x of the least padding).
    const dense = familyOf('dense').layerConfigs(s);
    expect(dense[0]!.tile).toEqual(denseTileFor(200, 100));
    expect(dense.length).toBeGreaterThanOrEqual(2);
    // …and (issue 11) the least padded one with split-K when the grid is small and K long.
    expect(dense.filter((c) => !c.tile.splitK).length).toBeLessThanOrEqual(3);
    expect(dense.filter((c) => (c.tile.splitK ?? 1) > 1).length).toBeLessThanOrEqual(1);
    expect(denseCandidates({ m: 1, n: 96, k: 24 })[0]).toEqual(DEFAULT_PIT_TILE);
    await expect(runVariant(g.ctx, g.cache, ops(0, 1, 1, new Float32Array(0)), dense[0]!, FAST)).rejects.toThrow(RangeError);
  });

  it('gives dense the tile that fits the output: 128x128 for big M, the 32-row PIT tile for a handful of rows', () => {
    // M=200: 256·128 padded elements with 128-row tiles vs 224·128 with 32-row ones (1.14x): keep the big tile.
    expect(denseTileFor(200, 100)).toEqual(DEFAULT_DENSE_TILE);
    // M=1 (a squeeze-excitation conv): 128 padded rows vs 32 (4x): the small tile.
    expect(denseTileFor(1, 96)).toEqual(DEFAULT_PIT_TILE);
    // M=70: 128 vs 96 padded rows (1.33x): still the big tile.
    expect(denseTileFor(70, 384)).toEqual(DEFAULT_DENSE_TILE);
    expect(familyOf('dense').layerConfigs({ m: 1, n: 96, k: 24 })[0]!.tile).toEqual(DEFAULT_PIT_TILE);
  });

  it('rejects inconsistent specs and operands with clear errors', async () => {
    const o = ops(8, 8, 8, randomDense(64, 1));
    const tile = { ...DEFAULT_PIT_TILE };
    await expect(runVariant(g.ctx, g.cache, o, { family: 'pit-k', microTile: '64x1', tile }, FAST)).rejects.toThrow(/BM = 64/);
    await expect(runVariant(g.ctx, g.cache, o, { family: 'pit-k', microTile: '32x2', tile }, FAST)).rejects.toThrow(/Hx1/);
    await expect(runVariant(g.ctx, g.cache, o, { family: 'pit-m', microTile: '2x8', tile }, FAST)).rejects.toThrow(/1xW/);
    await expect(runVariant(g.ctx, g.cache, o, { family: 'no-such-family', microTile: '32x32', tile }, FAST)).rejects.toThrow(/unknown kernel family 'no-such-family'/);
    await expect(runVariant(g.ctx, g.cache, o, { family: 'dense', microTile: null, tile: { ...tile, tm: 3 } }, FAST)).rejects.toThrow(/multiple of TM/);
    await expect(runVariant(g.ctx, g.cache, { ...o, a: new Float32Array(7) }, { family: 'dense', microTile: null, tile }, FAST)).rejects.toThrow(
      /A has 7 elements/,
    );
    await expect(
      runVariant(g.ctx, g.cache, o, { family: 'dense', microTile: null, tile: { bm: 128, bn: 128, bk: 64, tm: 4, tn: 4 } }, FAST),
    ).rejects.toThrow(/invocations|workgroup memory/);
  });
});
