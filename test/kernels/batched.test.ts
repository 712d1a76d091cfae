/**
 * Batched kernels (issue 9): every family on batched shapes against the CPU reference, batch by batch — broadcasting
 * (an operand shared by every batch, batch stride 0), ragged M/N/K, several batches with a different sparsity each,
 * the vec4 and scalar paths; the GPU detection's density against the CPU coverage of the same micro-tile over every
 * batch (of A, or of B for pit-n); and the batched programs' grids and texts (the 2-D text is unchanged).
 * Small shapes: lavapipe is slow.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denseProgram } from '../../core/kernels/dense.ts';
import { directProgram, directTile } from '../../core/kernels/direct.ts';
import { pitKProgram } from '../../core/kernels/pit-k.ts';
import { pitMProgram } from '../../core/kernels/pit-m.ts';
import { PIT_N_TILE, pitNProgram } from '../../core/kernels/pit-n.ts';
import { compareBatched, batchedErrorScales, referenceBatchedMatmul } from '../../core/kernels/reference.ts';
import { familyOf, familyOfConfig } from '../../core/kernels/registry.ts';
import type { MatmulShape } from '../../core/kernels/shape.ts';
import { DEFAULT_PIT_TILE, planPrograms, planVariant, runVariant, type MatmulOperands, type VariantSpec } from '../../core/kernels/variants.ts';
import { batchedCoverage } from '../../core/sparsity/per-batch.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';
import { randomDense, randomSparse, zeroColumnBlocks, zeroRows } from './fixtures.ts';

const FAST = { warmup: 0, repeat: 1 };
const SCALAR = { bm: 16, bn: 32, bk: 8, tm: 2, tn: 2 };

/** `mats` matrices [rows, cols], matrix i made by `gen(i)`, one after the other. */
function stack(mats: number, gen: (i: number) => Float32Array): Float32Array {
  const parts = Array.from({ length: mats }, (_, i) => gen(i));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Transposes each [rows, cols] matrix of x (so a generator of A-like patterns can make B's column patterns). */
function transposeEach(x: Float32Array, mats: number, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < mats; b++) for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[b * rows * cols + c * rows + r] = x[b * rows * cols + r * cols + c]!;
  return out;
}

describe('batched programs (no GPU)', () => {
  it('put the batch on the grid z axis and the strides in the uniform; batch 1 is the 2-D program', () => {
    const s: MatmulShape = { m: 40, n: 24, k: 36, batch: 6 };
    const d = denseProgram(s, DEFAULT_PIT_TILE);
    expect(d.workgroups).toEqual([1, 2, 6]);
    expect(d.dispatchFormula).toBe('ceil(N/128), ceil(M/32), B');
    expect(d.params).toEqual([40, 24, 36, 6, 40 * 36, 36 * 24, 0, 0]);
    expect(d.wgsl).toContain('batched (grid z = batch)');
    const flat = denseProgram({ m: 40, n: 24, k: 36 }, DEFAULT_PIT_TILE);
    expect(denseProgram({ ...s, batch: 1 }, DEFAULT_PIT_TILE).wgsl).toBe(flat.wgsl);
    expect(flat.wgsl).not.toContain('offA');
    // A shared by every batch: stride 0, and one index for all batches (count/index strides 0).
    expect(pitKProgram({ ...s, aShared: true }, DEFAULT_PIT_TILE).params).toEqual([40, 24, 36, 6, 0, 36 * 24, 0, 0]);
    expect(pitKProgram(s, DEFAULT_PIT_TILE).params).toEqual([40, 24, 36, 6, 36 * 40, 36 * 24, 2, 2 * 36]);
    const m = pitMProgram(s, DEFAULT_PIT_TILE, 8);
    expect(m.dispatchFormula).toBe('ceil(N/128), ceil(ceil(M/32)/8), B*ceil(K/8)');
    expect(m.workgroups).toEqual([1, 1, 6 * 5]);
    expect(m.params).toEqual([40, 24, 36, 6, 40 * 36, 36 * 24, 5, 5 * 40, 5, 0, 0, 0]);
    const n = pitNProgram({ ...s, bActivation: true }, PIT_N_TILE, 36);
    expect(n.workgroups).toEqual([1, 2, 6]);
    expect(n.bindings.map((b) => b.name)).toEqual(['a', 'bt', 'count', 'index', 'c', 'params']);
    expect(directProgram({ m: 300, n: 1, k: 9, batch: 32 }, directTile(1)).workgroups).toEqual([3, 32, 1]);
  });

  it('plans the layouts each family reads: pit-k transposes A per batch (once when shared), pit-n transposes B', () => {
    const s: MatmulShape = { m: 20, n: 12, k: 16, batch: 4, bActivation: true };
    const pitK = planVariant(s, { family: 'pit-k', microTile: '32x1', tile: { ...DEFAULT_PIT_TILE } });
    expect(pitK.layout.map((p) => [p.label, p.workgroups])).toEqual([['transpose a -> at x4', [1, 2, 4]]]);
    expect(pitK.operands).toEqual([
      { name: 'a', role: 'input', shape: [4, 20, 16] },
      { name: 'b', role: 'input', shape: [4, 16, 12] },
    ]);
    const shared = planVariant({ ...s, aShared: true }, { family: 'pit-k', microTile: '32x1', tile: { ...DEFAULT_PIT_TILE } });
    expect(shared.layout.map((p) => p.label)).toEqual(['transpose a -> at']);
    expect(shared.buffers.find((b) => b.name === 'count')!.shape).toEqual([1, 1]);
    const pitN = planVariant(s, { family: 'pit-n', microTile: 'Kx1', tile: { ...PIT_N_TILE } });
    expect(planPrograms(pitN).map((p) => p.program.label)).toEqual(['transpose b -> bt x4', 'zero count', 'detect-n 16x1 x4', 'zero c', 'pit-n 16x1 tile 32x32x8/2x2 x4']);
    // A constant B is laid out offline (free `bt`); pit-n does not apply to it anyway.
    expect(familyOf('pit-n').illegalReason({ family: 'pit-n', microTile: 'Kx1', tile: PIT_N_TILE }, { ...s, bActivation: false })).toMatch(/run-time value/);
    expect(familyOf('pit-n').layerConfigs({ ...s, bActivation: false })).toEqual([]);
    // merge-k is 2-D only: a batched pit-k takes BM = micro-tile height.
    expect(familyOf('pit-k').illegalReason({ family: 'pit-k', microTile: '8x1', tile: { ...DEFAULT_PIT_TILE } }, s)).toMatch(/2-D only/);
    // direct: batched layers with N <= 16 only.
    expect(familyOf('direct').layerConfigs({ m: 100, n: 1, k: 9, batch: 8 }).map((c) => c.tile)).toEqual([directTile(1)]);
    expect(familyOf('direct').layerConfigs({ m: 100, n: 1, k: 9 })).toEqual([]);
    expect(familyOf('direct').layerConfigs({ m: 100, n: 17, k: 9, batch: 8 })).toEqual([]);
  });
});

describe('batched variants vs the CPU reference', () => {
  let g: TestGpu;
  beforeAll(async () => {
    g = await testGpu();
  });
  afterAll(() => g.ctx.destroy());

  /** Runs `specs` on `o`; checks every batch against the reference and the detected density against the CPU's. */
  async function checkAll(o: MatmulOperands, specs: VariantSpec[]): Promise<Map<string, number | null>> {
    const ref = referenceBatchedMatmul(o.a, o.b, o);
    const scales = batchedErrorScales(o.a, o.b, o);
    const batch = o.batch ?? 1;
    const densities = new Map<string, number | null>();
    for (const spec of specs) {
      const what = `${spec.family} ${spec.microTile ?? ''} ${JSON.stringify(spec.tile)} on ${batch}x${o.m}x${o.n}x${o.k}${o.aShared ? ' A shared' : ''}${o.bShared ? ' B shared' : ''}`;
      const run = await runVariant(g.ctx, g.cache, o, spec, FAST);
      expect(run.output, what).toHaveLength(batch * o.m * o.n);
      const cmp = compareBatched(run.output, ref, batch, { k: o.k, scales });
      expect(cmp.ok, `${what}: batch ${cmp.worstBatch} err ${cmp.worstBatchErr} > ${cmp.tolerance}`).toBe(true);
      const family = familyOfConfig(spec);
      const mt = family.microTile(spec, o.k);
      if (mt === null) {
        expect(run.microTileDensity, what).toBeNull();
      } else {
        const onB = family.operand === 'b';
        const mats = batch > 1 && (onB ? o.bShared : o.aShared) ? 1 : batch;
        // pit-n's micro-tiles are B's own (`Wx1` of B [K, N]).
        const cov = batchedCoverage(onB ? o.b : o.a, { mats, batch, rows: onB ? o.k : o.m, cols: onB ? o.n : o.k }, [mt]).get(mt)!;
        // Over every batch (or the one shared operand): the GPU's Σcount / micro-tiles.
        const cpu = batch > 1 && (onB ? o.bShared : o.aShared) ? cov.perBatch.density[0]! : cov.density;
        expect(run.microTileDensity, what).toBeCloseTo(cpu, 12);
      }
      densities.set(`${spec.family} ${spec.microTile ?? ''} ${spec.tile.bm}`, run.microTileDensity);
    }
    return densities;
  }

  const specs = (k: number, n: number, vec4 = true): VariantSpec[] => {
    const pit = vec4 ? { ...DEFAULT_PIT_TILE } : { ...SCALAR };
    return [
      { family: 'dense', microTile: null, tile: { ...pit } },
      { family: 'pit-k', microTile: `${pit.bm}x1`, tile: { ...pit } },
      { family: 'pit-m', microTile: '1xK', tile: { ...pit } },
      { family: 'pit-m', microTile: '1x8', tile: { ...pit } },
      { family: 'pit-n', microTile: 'Kx1', tile: { ...PIT_N_TILE } },
      { family: 'pit-n', microTile: '4x1', tile: { bm: 16, bn: 16, bk: 4, tm: 1, tn: 2 } },
      { family: 'pit-n', microTile: 'Kx1', tile: { bm: 64, bn: 16, bk: 8, tm: 1, tn: 16 } },
      ...(n <= 16 ? [{ family: 'direct', microTile: null, tile: directTile(n, 32) }] : []),
    ].filter((s) => !familyOfConfig(s).illegalReason(s, { m: 1, n, k, batch: 2, bActivation: true }));
  };

  it('attention-like QKᵀ / AV: 4 heads, ragged sizes, a different sparsity per head (A rows, A k-blocks, B columns)', async () => {
    const [batch, m, n, k] = [4, 37, 21, 19];
    // Head 0 dense, head 1 with zero rows (padded queries), head 2 with zero 16x1 blocks, head 3 90 % sparse.
    const a = stack(batch, (i) => [randomDense(m * k, 1), zeroRows(m, k, 0.5, 2), zeroColumnBlocks(m, k, 16, 0.6, 3), randomSparse(m, k, 0.9, 4)][i]!);
    // B's columns (keys): zero columns in heads 1 and 3, generated as zero rows of Bᵀ.
    const bt = stack(batch, (i) => (i % 2 ? zeroRows(n, k, 0.5, 10 + i) : randomDense(n * k, 10 + i)));
    const b = transposeEach(bt, batch, n, k);
    const o: MatmulOperands = { m, n, k, batch, a, b, bActivation: true };
    const d = await checkAll(o, specs(k, n, false));
    // The per-head patterns are what detection found: pit-m whole rows below 1, pit-n whole columns below 1.
    expect(d.get('pit-m 1xK 16')!).toBeLessThan(0.95);
    expect(d.get('pit-n Kx1 32')!).toBeLessThan(0.9);
    expect(d.get('pit-n Kx1 64')!).toBe(d.get('pit-n Kx1 32'));
  });

  it('vec4 path with 16-byte global access (multiples of 4), 3 batches', async () => {
    const [batch, m, n, k] = [3, 36, 40, 32];
    const a = stack(batch, (i) => zeroColumnBlocks(m, k, 32, 0.3 * i, 20 + i));
    const o: MatmulOperands = { m, n, k, batch, a, b: randomDense(batch * k * n, 30), bActivation: true };
    await checkAll(o, [...specs(k, n).filter((s) => s.family !== 'pit-n'), { family: 'dense', microTile: null, tile: { bm: 128, bn: 128, bk: 16, tm: 8, tn: 8, doubleBuffer: false } }]);
  });

  it('broadcasting: A shared by every batch (stride 0), and B shared by every batch', async () => {
    const [batch, m, n, k] = [3, 20, 12, 24];
    const aOne = zeroRows(m, k, 0.4, 40);
    await checkAll({ m, n, k, batch, aShared: true, a: aOne, b: randomDense(batch * k * n, 41), bActivation: true }, specs(k, n, false));
    const bOne = transposeEach(zeroRows(n, k, 0.4, 42), 1, n, k);
    await checkAll({ m, n, k, batch, bShared: true, a: stack(batch, (i) => randomSparse(m, k, 0.3 * i, 43 + i)), b: bOne, bActivation: true }, specs(k, n, false));
  });

  it('depthwise conv shape (N = 1, K = 9, many groups): dense tiles and the direct kernel agree', async () => {
    const [batch, m, n, k] = [24, 50, 1, 9];
    const a = stack(batch, (i) => randomSparse(m, k, (i % 4) * 0.25, 50 + i));
    const o: MatmulOperands = { m, n, k, batch, a, b: randomDense(batch * k * n, 60), freeLayouts: ['a', 'at'] };
    // The narrow tile (64 x next power of two ≥ N) is what batched layers with N ≤ 16 get.
    const narrow = familyOf('pit-k').layerConfigs(o)[0]!.tile;
    expect(narrow).toEqual({ bm: 64, bn: 1, bk: 8, tm: 1, tn: 1 });
    expect(familyOf('dense').layerConfigs(o).map((c) => c.tile)).toContainEqual(narrow);
    await checkAll(o, [
      { family: 'dense', microTile: null, tile: { bm: 64, bn: 32, bk: 16, tm: 4, tn: 2 } },
      { family: 'dense', microTile: null, tile: { ...narrow } },
      { family: 'direct', microTile: null, tile: directTile(1) },
      { family: 'direct', microTile: null, tile: directTile(1, 32) },
      { family: 'pit-m', microTile: '1xK', tile: { ...DEFAULT_PIT_TILE } },
      { family: 'pit-m', microTile: '1xK', tile: { ...narrow } },
      { family: 'pit-k', microTile: '64x1', tile: { ...narrow } },
    ]);
    // Grouped conv with N = 3 outputs per group and K = 2·3·3.
    await checkAll({ m: 30, n: 3, k: 18, batch: 5, a: randomSparse(5 * 30, 18, 0.5, 70), b: randomDense(5 * 18 * 3, 71), freeLayouts: ['a', 'at'] }, [
      { family: 'direct', microTile: null, tile: directTile(3) },
      { family: 'dense', microTile: null, tile: { ...SCALAR } },
    ]);
  });
});

describe('grids as data: the printed formula holds at every shape (batched and 2-D)', () => {
  it('each program of every family, planned at one shape, evaluates its grid to the workgroups planned at another (same kernel text)', async () => {
    const { gridSize } = await import('../../core/kernels/grid.ts');
    const { FAMILIES } = await import('../../core/kernels/registry.ts');
    const { shapeVars } = await import('../../core/kernels/shape.ts');
    const pairs: [MatmulShape, MatmulShape][] = [
      [{ m: 37, n: 21, k: 19, batch: 4, bActivation: true }, { m: 130, n: 7, k: 70, batch: 9, bActivation: true }],
      [{ m: 64, n: 1, k: 9, batch: 16, bActivation: true }, { m: 500, n: 1, k: 25, batch: 3, bActivation: true }],
      [{ m: 40, n: 48, k: 36, batch: 2, aShared: true, bActivation: true }, { m: 90, n: 12, k: 100, batch: 5, aShared: true, bActivation: true }],
      [{ m: 37, n: 21, k: 19, bActivation: true }, { m: 300, n: 260, k: 70, bActivation: true }],
    ];
    let checked = 0;
    for (const [s1, s2] of pairs) {
      // Families whose plans need layer facts or a patterned weight (their own tests cover their grids).
      for (const f of FAMILIES.filter((x) => !x.needs?.length && x.sparseOperand !== 'b')) {
        for (const c of [...f.layerConfigs(s1), ...f.tuningConfigs()]) {
          if (f.illegalReason(c, s1) || f.illegalReason(c, s2)) continue;
          const p1 = planPrograms(planVariant(s1, c, ['a']));
          const p2 = planPrograms(planVariant(s2, c, ['a']));
          expect(p2.length).toBe(p1.length);
          p1.forEach(({ program }, i) => {
            const other = p2[i]!.program;
            // Texts that bake a shape-dependent constant (a detection window, a micro-tile width) differ; a consumer
            // reuses a grid formula only with its own kernel text.
            if (other.wgsl !== program.wgsl) return;
            expect(other.dispatchFormula).toBe(program.dispatchFormula);
            expect(gridSize(program.grid, shapeVars(s2)), `${program.label} at ${JSON.stringify(s2)}`).toEqual(other.workgroups);
            checked++;
          });
        }
      }
    }
    expect(checked).toBeGreaterThan(60);
  });
});
