/**
 * The static weight-pattern families (tile-wise, bcsr-w, nm, hinm): their CPU index builders against hand-worked
 * examples (ragged edges, permuted channels and gather orders), the checks that refuse a weight not following its
 * declared pattern (naming the layer), and every family on the GPU against the float64 CPU reference on weights
 * pruned by the real `pit prune` patterns (SYNTHETIC values: seeded random importance and operands), with ragged
 * shapes, several column tiles, both computation tiles and HiNM / vector-wise gyro permutations.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blocksOf, packBcsrW } from '../../core/kernels/bcsr-w.ts';
import { WeightPatternError, type FamilyConfig, type KernelFamily } from '../../core/kernels/family.ts';
import { packHinm } from '../../core/kernels/hinm.ts';
import { compress24, nmFitProblem, packNm } from '../../core/kernels/nm.ts';
import { compareOutputs, matmulErrorScale, referenceMatmul } from '../../core/kernels/reference.ts';
import { FAMILIES, familyOf } from '../../core/kernels/registry.ts';
import { packTileWise, tilesFromPattern, tilesFromZeros, tileWiseIndex } from '../../core/kernels/tile-wise.ts';
import { runVariant } from '../../core/kernels/variants.ts';
import { bwMask } from '../../core/prune/bw.ts';
import { hinmMask } from '../../core/prune/hinm.ts';
import { nmMask } from '../../core/prune/nm.ts';
import { twMask } from '../../core/prune/tw.ts';
import type { LayerPattern } from '../../core/prune/types.ts';
import { vwMask } from '../../core/prune/vw.ts';
import { rng, testGpu, type TestGpu } from '../gpu-helpers.ts';
import { randomDense } from './fixtures.ts';

/** W [K, N] from rows of numbers. */
const mat = (rows: number[][]) => Float32Array.from(rows.flat());

describe('tile-wise index', () => {
  // W [5, 6]: column 2 all zero; with G = 2 the live columns 0,1 | 3,4 | 5 make three tiles, then [2] a tile with no rows.
  const w = mat([
    [1, 0, 0, 0, 0, 0],
    [0, 0, 0, 2, 0, 0],
    [0, 3, 0, 0, 4, 0],
    [0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 5],
  ]);
  it('tiles from the zeros: live columns in tiles of G, each with its non-zero rows; dead columns last', () => {
    expect(tilesFromZeros(w, 5, 6, 2)).toEqual([
      { columns: [0, 1], rows: [0, 2] },
      { columns: [3, 4], rows: [1, 2] },
      { columns: [5], rows: [4] },
      { columns: [2], rows: [] },
    ]);
  });
  it('packs tiles, k-lists, column lists and the compacted weight; effective density = Σ rows·columns / KN', () => {
    const ix = packTileWise(w, 5, 6, 2, tilesFromZeros(w, 5, 6, 2));
    expect(Array.from(ix.tiles)).toEqual([0, 2, 0, 2, 2, 2, 2, 2, 4, 1, 4, 1, 5, 0, 5, 1]);
    expect(Array.from(ix.rows)).toEqual([0, 2, 1, 2, 4]);
    expect(Array.from(ix.cols)).toEqual([0, 1, 3, 4, 5, 2]);
    // Packed rows of width G: tile 0 rows 0 and 2 over columns 0,1; tile 1 rows 1,2 over 3,4; tile 2 row 4 over 5 (+ pad).
    expect(Array.from(ix.values)).toEqual([1, 0, 0, 3, 2, 0, 0, 4, 5, 0]);
    expect(ix.effectiveDensity).toBeCloseTo((2 * 2 + 2 * 2 + 1 * 1) / 30, 12);
  });
  it('takes tw and vw metadata (permuted channels) and refuses a weight that does not follow it, naming the layer', () => {
    const tw: LayerPattern = { pattern: 'tw', g: 4, tiles: [{ columns: [0, 1, 3, 4], rows: [0, 1, 2] }, { columns: [5], rows: [4] }] };
    const t = tilesFromPattern(tw, w, 5, 6, 'L1');
    expect(t.g).toBe(4);
    expect(t.tiles).toEqual([...tw.tiles, { columns: [2], rows: [] }]);
    const vw2: LayerPattern = { pattern: 'vw', v: 4, blocks: [{ channels: [4, 0, 3, 1], kept: [0, 1, 2] }, { channels: [5, 2], kept: [4] }] };
    const ix = tileWiseIndex(w, 5, 6, 4, vw2, 'L1');
    expect(Array.from(ix.cols)).toEqual([4, 0, 3, 1, 5, 2]);
    expect(Array.from(ix.values.subarray(0, 12))).toEqual([0, 1, 0, 0, 0, 0, 2, 0, 4, 0, 0, 3]);
    const bad: LayerPattern = { pattern: 'tw', g: 4, tiles: [{ columns: [0, 1, 3, 4], rows: [0, 2] }, { columns: [5], rows: [4] }] };
    expect(() => tilesFromPattern(bad, w, 5, 6, 'conv7')).toThrow(WeightPatternError);
    expect(() => tilesFromPattern(bad, w, 5, 6, 'conv7')).toThrow(/^layer conv7: W\[k=1, n=3\] = 2 is non-zero, but tile-wise tile 0 does not keep row 1/);
    expect(() => tilesFromPattern({ pattern: 'tw', g: 4, tiles: [{ columns: [0, 9], rows: [0] }] }, w, 5, 6, 'conv7')).toThrow(/column 9, outside W's N = 6/);
  });
});

describe('bcsr-w index', () => {
  it('lists each 32-column block\'s non-zero 32-row blocks with packed values (partial edge blocks)', () => {
    const [k, n] = [40, 70]; // row blocks of 32, 8; column blocks of 32, 32, 6
    const w = new Float32Array(k * n);
    w[3 * n + 65] = 1; // block (0, 2)
    w[35 * n + 1] = 2; // block (1, 0)
    w[0 * n + 0] = 3; // block (0, 0)
    const ix = packBcsrW(w, k, n, blocksOf(w, k, n, undefined, 'L'));
    expect(Array.from(ix.tiles)).toEqual([0, 64, 0, 32, 64, 0, 32, 32, 64, 32, 64, 6]);
    expect(Array.from(ix.rows)).toEqual([0, 1, 0]);
    expect(ix.values[0 * 32 + 0]).toBe(3);
    expect(ix.values[(32 + 3) * 32 + 1]).toBe(2); // block 1 (k-block 1) row 35 - 32 = 3, column 1
    expect(ix.values[(64 + 3) * 32 + 1]).toBe(1); // block 2 (column block 2) row 3, column 65 - 64
    expect(ix.effectiveDensity).toBeCloseTo((32 * 32 + 8 * 32 + 32 * 6) / (k * n), 12);
    const meta: LayerPattern = { pattern: 'bw', block: [32, 32], grid: [2, 3], kept: [[0, 0], [0, 2]] };
    expect(() => blocksOf(w, k, n, meta, 'fc2')).toThrow(/^layer fc2: block \[1, 0\] of W holds a non-zero but is not a kept block/);
    expect(() => blocksOf(w, k, n, { ...meta, grid: [4, 4] }, 'fc2')).toThrow(/block grid 4x4 .* is not W's 2x3/);
  });
});

describe('2:4 and HiNM indexes', () => {
  it('compresses a group to positions p0 < p1 and values, padding with the lowest unused positions', () => {
    expect(compress24(0, 5, 0, 7)).toEqual({ p0: 1, p1: 3, v0: 5, v1: 7 });
    expect(compress24(0, 0, 4, 0)).toEqual({ p0: 0, p1: 2, v0: 0, v1: 4 });
    expect(compress24(0, 0, 0, 0)).toEqual({ p0: 0, p1: 1, v0: 0, v1: 0 });
    expect(compress24(1, 2, 3, 0)).toBeNull();
  });
  it('packs 2:4 columns into tiles of values and 4-bit codes, and names the first group that is not 2:4', () => {
    // W [8, 3]: two groups per column.
    const w = mat([
      [1, 0, 0],
      [0, 2, 0],
      [0, 3, 0],
      [4, 0, 0],
      [0, 0, 5],
      [0, 0, 0],
      [6, 0, 0],
      [0, 0, 7],
    ]);
    expect(nmFitProblem(w, 8, 3)).toBeNull();
    const ix = packNm(w, 8, 3, 2); // tiles of 2 columns: [0, 1], [2]
    expect(ix.tiles).toBe(2);
    // Tile 0, values [K/2 = 4 rows, 2]: col 0 groups (1@0, 4@3), (6@2 + pad@0); col 1 (2@1, 3@2), (pad 0@0, 1).
    expect(Array.from(ix.values.subarray(0, 8))).toEqual([1, 2, 4, 3, 0, 0, 6, 0]);
    // Codes p0 | p1 << 2, group g at shift 4g: col 0: (0,3) = 12, (0,2) = 8 → 12 | 8 << 4; col 1: (1,2) = 9, (0,1) = 4.
    expect(Array.from(ix.positions.subarray(0, 2))).toEqual([12 | (8 << 4), 9 | (4 << 4)]);
    // Tile 1 (column 2): (0,1) with zeros, then (0 @ pad, 5 @ 0 … ) → positions (0,3): values 5, 7.
    expect(Array.from(ix.values.subarray(8, 16))).toEqual([0, 0, 0, 0, 5, 0, 7, 0]);
    expect(ix.positions[2]).toBe(4 | (12 << 4));
    w[2 * 3 + 0] = 9;
    w[1 * 3 + 0] = 9;
    expect(nmFitProblem(w, 8, 3)).toBe('W[k=0..3, n=0] holds 4 non-zeros, more than 2 of 4');
    expect(nmFitProblem(w.subarray(0, 21), 7, 3)).toMatch(/K a multiple of 4/);
  });
  it('packs HiNM blocks with their gather order (input permutation) and channels (output permutation)', () => {
    // W [8, 4], V = 2: block 0 = channels [3, 0], kept [5, 1, 6, 2]; block 1 = channels [1, 2], kept [0, 1, 2, 3].
    const w = new Float32Array(32);
    const set = (k: number, n: number, v: number) => (w[k * 4 + n] = v);
    set(5, 3, 1); set(6, 3, 2); // channel 3: slots 0 and 2 of block 0's group
    set(1, 0, 3); // channel 0: slot 1
    set(0, 1, 4); set(3, 1, 5); // channel 1: slots 0, 3 of block 1
    set(2, 2, 6); // channel 2: slot 2
    const p: LayerPattern = { pattern: 'hinm', v: 2, keep: 2, group: 4, blocks: [{ channels: [3, 0], kept: [5, 1, 6, 2] }, { channels: [1, 2], kept: [0, 1, 2, 3] }] };
    const ix = packHinm(w, 8, 4, p, 'L');
    expect(Array.from(ix.blocks)).toEqual([0, 4, 0, 0, 4, 4, 2, 1]);
    expect(Array.from(ix.kept)).toEqual([5, 1, 6, 2, 0, 1, 2, 3]);
    expect(Array.from(ix.chan)).toEqual([3, 0, 1, 2]);
    // values [Σ L/2 = 4 rows, V = 2]: block 0 rows 0-1, block 1 rows 2-3.
    expect(Array.from(ix.values)).toEqual([1, 0, 2, 3, 4, 0, 5, 6]);
    // codes: block 0 channel 3 (0,2) = 8, channel 0 (0,1) with slot 1 kept → (0,1) = 4; block 1 channel 1 (0,3) = 12, channel 2 (0,2) = 8.
    expect(Array.from(ix.positions)).toEqual([8, 4, 12, 8]);
    expect(ix.effectiveDensity).toBeCloseTo((2 * 2 + 2 * 2) / 32, 12);
    set(7, 3, 1); // outside block 0's kept list
    expect(() => packHinm(w, 8, 4, p, 'mm3')).toThrow(/^layer mm3: W\[k=7, n=3\] = 1 is non-zero, but HiNM block 0 does not keep k = 7/);
    expect(() => packHinm(w, 8, 4, { ...p, v: 3 }, 'mm3')).toThrow(/V = 3 do not divide N = 4/);
  });
});

/** Random importance [K, N] (positive). */
function importance(k: number, n: number, seed: number): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: k * n }, () => 0.05 + r());
}

/** W = random values where `mask` keeps, 0 elsewhere. */
function masked(mask: Uint8Array, seed: number): Float32Array {
  const w = randomDense(mask.length, seed);
  for (let i = 0; i < w.length; i++) if (!mask[i]) w[i] = 0;
  return w;
}

describe('static families on the GPU vs the CPU reference (synthetic pruned weights)', () => {
  let g: TestGpu;
  beforeAll(async () => {
    g = await testGpu();
  });
  afterAll(() => g.ctx.destroy());

  /** Runs `family`'s candidate for the layer and checks C, the index time and that nothing was detected. */
  async function check(family: KernelFamily, m: number, k: number, n: number, b: Float32Array, pattern?: LayerPattern, freeLayouts: ('a' | 'at')[] = ['a']): Promise<number> {
    const s = { m, n, k };
    const cands = family.weightCandidates!(s, { layer: 'L', b, pattern });
    expect(cands, `${family.name} applies`).toHaveLength(1);
    const config: FamilyConfig = cands[0]!.config;
    const a = randomDense(m * k, m + k + n);
    const run = await runVariant(g.ctx, g.cache, { m, n, k, a, b, freeLayouts, context: { pattern, layer: 'L' } }, config, { warmup: 0, repeat: 1 });
    const ref = referenceMatmul(a, b, m, n, k);
    const cmp = compareOutputs(run.output, ref, { k, scale: matmulErrorScale(a, b, m, n, k) });
    expect(cmp.ok, `${family.name} ${m}x${n}x${k}: max abs err ${cmp.maxAbsErr} > ${cmp.tolerance} at ${cmp.worstIndex}`).toBe(true);
    expect(run.microTileDensity).toBeNull();
    expect(run.detectMs).toBe(0);
    expect(run.indexMs).toBeGreaterThanOrEqual(0);
    return cands[0]!.effectiveDensity;
  }

  it('tile-wise: SC\'20 pattern at 75 % with several 128-column tiles, both tiles, ragged M; from the zeros too', async () => {
    const [k, n] = [72, 300];
    const pr = twMask(importance(k, n, 1), k, n, 0.75);
    const w = masked(pr.mask, 2);
    const tw = familyOf('tile-wise');
    const eff = await check(tw, 37, k, n, w, pr.pattern);
    expect(eff).toBeCloseTo(1 - pr.mask.reduce((s, x) => s + (1 - x), 0) / (k * n), 1);
    await check(tw, 130, k, n, w, pr.pattern, ['a', 'at']); // 128-row tile, im2col layout
    await check(tw, 37, k, n, w); // no metadata: tiles from the zeros
  });

  it('tile-wise runs vector-wise (vw) weights with gyro-permuted channel blocks', async () => {
    const [k, n] = [40, 64];
    const pr = vwMask(importance(k, n, 3), k, n, 0.75, 32, 'gyro', rng(4));
    await check(familyOf('tile-wise'), 21, k, n, masked(pr.mask, 5), pr.pattern);
  });

  it('bcsr-w: 32x32 blocks at 50 % from the metadata and from the zeros (ragged edges), both tiles', async () => {
    const [k, n] = [96, 64];
    const pr = bwMask(importance(k, n, 6), k, n, 0.5);
    const w = masked(pr.mask, 7);
    const eff = await check(familyOf('bcsr-w'), 45, k, n, w, pr.pattern);
    expect(eff).toBeCloseTo(0.5, 12);
    await check(familyOf('bcsr-w'), 128, k, n, w, pr.pattern);
    const ragged = new Float32Array(70 * 50);
    const r = rng(8);
    for (let i = 0; i < 70; i++) for (let j = 0; j < 50; j++) if ((i < 32 && j < 32) || (i >= 64 && j >= 32)) ragged[i * 50 + j] = r() - 0.5;
    expect(await check(familyOf('bcsr-w'), 9, 70, 50, ragged)).toBeCloseTo((32 * 32 + 6 * 18) / 3500, 12);
  });

  it('nm: 2:4 at 50 % over several column tiles (ragged N), both tiles', async () => {
    const [k, n] = [72, 150];
    const pr = nmMask(importance(k, n, 9), k, n);
    const w = masked(pr.mask, 10);
    expect(await check(familyOf('nm'), 37, k, n, w, pr.pattern)).toBe(0.5);
    await check(familyOf('nm'), 129, k, n, w); // from the zeros
  });

  it('hinm: gyro-permuted vector blocks (V = 16, 32) with 2:4 along the permuted gather order', async () => {
    const [k, n] = [64, 64];
    for (const [v, sp, seed] of [[16, 0.75, 11], [32, 0.5, 12]] as const) {
      const pr = hinmMask(importance(k, n, seed), k, n, sp, v, 'gyro', rng(seed + 1));
      if (pr.pattern.pattern !== 'hinm') throw new Error('expected a hinm pattern');
      // Gyro reordered the gather lists (the SRead index), and at 75 % (half the columns kept) it also moved channels
      // between blocks (the SWrite index); at 50 % every block keeps every k, so no output permutation can help.
      expect(pr.pattern.blocks.some((b) => b.kept.some((x, j) => j > 0 && x < b.kept[j - 1]!))).toBe(true);
      if (sp === 0.75) expect(pr.pattern.blocks.some((b, i) => b.channels.some((c) => Math.floor(c / v) !== i))).toBe(true);
      const eff = await check(familyOf('hinm'), 33, k, n, masked(pr.mask, seed + 2), pr.pattern);
      expect(eff).toBeCloseTo(1 - sp, 1);
    }
  });

  it('a weight without a pattern gets no static candidate; a declared pattern that does not fit is refused', () => {
    const s = { m: 8, n: 64, k: 64 };
    const dense = randomDense(64 * 64, 13);
    for (const f of FAMILIES.filter((x) => x.sparseOperand === 'b')) expect(f.weightCandidates!(s, { layer: 'L', b: dense }), f.name).toEqual([]);
    expect(() => familyOf('nm').weightCandidates!(s, { layer: 'enc.fc1', b: dense, pattern: { pattern: 'nm', keep: 2, group: 4 } })).toThrow(
      /^layer enc\.fc1: its pit\.prune pattern is 2:4, but W\[k=0\.\.3, n=0\] holds 4 non-zeros/,
    );
    // Another family's pattern: this family stays out.
    expect(familyOf('tile-wise').weightCandidates!(s, { layer: 'L', b: dense, pattern: { pattern: 'nm', keep: 2, group: 4 } })).toEqual([]);
    expect(() => familyOf('hinm').plan(s, { family: 'hinm', microTile: null, tile: { bm: 32, bn: 16, bk: 16, tm: 4, tn: 1 } }, { b: dense })).toThrow(/needs the layer's pit.prune hinm pattern/);
    expect(() => familyOf('tile-wise').plan(s, { family: 'tile-wise', microTile: null, tile: { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4 } })).toThrow(/no B was given/);
  });
});
