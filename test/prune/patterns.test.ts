/**
 * The pruning patterns on small synthetic importance matrices (labelled synthetic: seeded random values): each
 * pattern's mask invariants, tile-wise's s′ relation, gyro-permutation's guarantees (never below no permutation,
 * deterministic for a seed), and the retained-importance arithmetic on a hand-computed example.
 */
import { describe, expect, it } from 'vitest';
import { solveAssignment } from '../../core/prune/assignment.ts';
import { bwMask } from '../../core/prune/bw.ts';
import { inputPermutation, outputPermutation } from '../../core/prune/gyro.ts';
import { hinmKeptCount, hinmMask } from '../../core/prune/hinm.ts';
import { importanceMatrix, maskSparsity, pruned24, retainedFraction, topIndices } from '../../core/prune/importance.ts';
import { balancedKMeans } from '../../core/prune/kmeans.ts';
import { nmMask } from '../../core/prune/nm.ts';
import { optionsProblem, shapeProblem } from '../../core/prune/patterns.ts';
import { twLevelSparsity, twMask } from '../../core/prune/tw.ts';
import { vwMask } from '../../core/prune/vw.ts';
import { mulberry32 } from '../../core/synthetic/random.ts';
import type { VectorBlock } from '../../core/prune/types.ts';

/** Synthetic importance [K, N]: seeded, heavy-tailed (cubed uniforms) like real |w|·‖x‖. */
function synthetic(k: number, n: number, seed: number): Float64Array {
  const r = mulberry32(seed);
  return Float64Array.from({ length: k * n }, () => r() ** 3);
}

const at = (m: ArrayLike<number>, n: number, r: number, c: number) => m[r * n + c];

describe('importance and retained-importance arithmetic', () => {
  it('computes |w|·‖x‖ and the retained fraction of a hand-worked 2:4 example', () => {
    // W [4, 2] and ‖x‖ [4]: importance column 0 = |1|·1, |−2|·1, |3|·2, |0.5|·4 = 1, 2, 6, 2;
    // column 1 = 4·1, 1·1, 1·2, 1·4 = 4, 1, 2, 4.
    const w = Float32Array.from([1, 4, -2, 1, 3, 1, 0.5, 1]);
    const imp = importanceMatrix(w, 4, 2, [1, 1, 2, 4]);
    expect(Array.from(imp)).toEqual([1, 4, 2, 1, 6, 2, 2, 4]);
    const { mask } = nmMask(imp, 4, 2);
    // Column 0 keeps 6 and the first 2 (k = 1; the tie with k = 3 goes to the lower k); column 1 keeps 4 and 4.
    expect(Array.from(mask)).toEqual([0, 1, 1, 0, 1, 0, 0, 1]);
    // Total 22, kept 6 + 2 + 4 + 4 = 16.
    expect(retainedFraction(imp, mask)).toBeCloseTo(16 / 22, 12);
    expect(maskSparsity(mask)).toBe(0.5);
    expect(pruned24(1, 2, 6, 2)).toBe(3);
    expect(pruned24(4, 1, 2, 4)).toBe(3);
  });

  it('breaks ties by the lower index', () => {
    expect(topIndices([5, 7, 7, 1, 7], 2)).toEqual([1, 2]);
  });
});

describe('nm (2:4 along K)', () => {
  it('keeps exactly the two most important of every 4 consecutive k in every column', () => {
    const k = 16, n = 12;
    const imp = synthetic(k, n, 1);
    const { mask } = nmMask(imp, k, n);
    for (let c = 0; c < n; c++) {
      for (let r = 0; r < k; r += 4) {
        const g = [0, 1, 2, 3].map((j) => at(imp, n, r + j, c));
        const kept = [0, 1, 2, 3].filter((j) => at(mask, n, r + j, c));
        expect(kept).toEqual(topIndices(g, 2));
      }
    }
    expect(maskSparsity(mask)).toBe(0.5);
  });

  it('refuses K that is not a multiple of 4', () => {
    expect(() => nmMask(synthetic(6, 2, 1), 6, 2)).toThrow(/K a multiple of 4, K = 6/);
    expect(shapeProblem({ pattern: 'nm', sparsity: 0.5, vector: 64, permute: 'none' }, 27, 16)).toMatch(/K = 27/);
  });
});

/** Checks a vw/hinm layer's blocks: channels partition 0…N−1, every block uses only its kept k. */
function checkBlocks(blocks: VectorBlock[], mask: Uint8Array, k: number, n: number, v: number, kept: number): void {
  const seen = blocks.flatMap((b) => b.channels).sort((a, b) => a - b);
  expect(seen).toEqual(Array.from({ length: n }, (_, i) => i));
  for (const b of blocks) {
    expect(b.channels).toHaveLength(v);
    expect(new Set(b.kept).size).toBe(kept);
    for (const c of b.channels) for (let r = 0; r < k; r++) if (!b.kept.includes(r)) expect(at(mask, n, r, c)).toBe(0);
  }
}

describe('vw (column vectors of V)', () => {
  it('gives every block of V channels the same round(K·(1−S)) rows, the most important by block sums', () => {
    const k = 20, n = 32, v = 16;
    const imp = synthetic(k, n, 2);
    const { mask, pattern } = vwMask(imp, k, n, 0.75, v, 'none', mulberry32(1));
    if (pattern.pattern !== 'vw') throw new Error('wrong pattern');
    checkBlocks(pattern.blocks, mask, k, n, v, 5);
    for (const b of pattern.blocks) {
      const sums = Array.from({ length: k }, (_, r) => b.channels.reduce((s, c) => s + at(imp, n, r, c), 0));
      expect(b.kept).toEqual(topIndices(sums, 5));
      for (const c of b.channels) for (const r of b.kept) expect(at(mask, n, r, c)).toBe(1);
    }
    expect(maskSparsity(mask)).toBe(0.75);
  });
});

describe('hinm (vectors, then 2:4 inside the kept columns)', () => {
  it('keeps 2 of every 4 kept entries per channel along the gather order, reaching S exactly', () => {
    const k = 32, n = 32, v = 16;
    for (const s of [0.5, 0.75, 0.875]) {
      const imp = synthetic(k, n, 3);
      const kept = hinmKeptCount(k, s);
      expect(kept).toBe(k * 2 * (1 - s));
      for (const permute of ['none', 'gyro'] as const) {
        const { mask, pattern } = hinmMask(imp, k, n, s, v, permute, mulberry32(5));
        if (pattern.pattern !== 'hinm') throw new Error('wrong pattern');
        checkBlocks(pattern.blocks, mask, k, n, v, kept);
        for (const b of pattern.blocks) {
          for (const c of b.channels) {
            for (let q = 0; q < b.kept.length; q += 4) {
              const group = b.kept.slice(q, q + 4);
              expect(group.filter((r) => at(mask, n, r, c)).length).toBe(2);
            }
          }
        }
        expect(maskSparsity(mask)).toBe(s);
      }
    }
  });
});

describe('tw (tile-wise)', () => {
  it('prunes s′ of the columns and s′ of the rows of each tile, with 1 − S = (1 − s′)²', () => {
    const k = 256, n = 256, s = 0.75;
    const s1 = twLevelSparsity(s);
    expect(s1).toBeCloseTo(0.5, 12);
    expect((1 - s1) ** 2).toBeCloseTo(1 - s, 12);
    const imp = synthetic(k, n, 4);
    const { mask, pattern } = twMask(imp, k, n, s);
    if (pattern.pattern !== 'tw') throw new Error('wrong pattern');
    // One tile of the 128 surviving columns, keeping 128 of 256 rows; every other column is all zero.
    expect(pattern.tiles).toHaveLength(1);
    expect(pattern.tiles[0].columns).toHaveLength(128);
    expect(pattern.tiles[0].rows).toHaveLength(128);
    const cols = new Set(pattern.tiles[0].columns);
    for (let c = 0; c < n; c++) {
      const nz = Array.from({ length: k }, (_, r) => at(mask, n, r, c)).filter(Boolean).length;
      expect(nz).toBe(cols.has(c) ? 128 : 0);
    }
    // The dropped columns are the ones with the lowest L2 norm.
    const norms = Array.from({ length: n }, (_, c) => Math.hypot(...Array.from({ length: k }, (_, r) => at(imp, n, r, c))));
    expect([...cols].sort((a, b) => a - b)).toEqual(topIndices(norms, 128));
    expect(maskSparsity(mask)).toBe(0.75);
  });

  it('gives each tile of 128 surviving columns its own rows, one threshold for the layer', () => {
    const k = 64, n = 400, s = 0.5;
    const imp = synthetic(k, n, 6);
    const { mask, pattern } = twMask(imp, k, n, s);
    if (pattern.pattern !== 'tw') throw new Error('wrong pattern');
    // s′ = 1 − √0.5 ≈ 0.293: round(0.293·400) = 117 columns pruned, 283 survive: tiles of 128, 128 and 27.
    expect(pattern.tiles.map((t) => t.columns.length)).toEqual([128, 128, 27]);
    for (const t of pattern.tiles) for (let r = 0; r < k; r++) for (const c of t.columns) expect(at(mask, n, r, c)).toBe(t.rows.includes(r) ? 1 : 0);
    // Within one row segment of the target.
    expect(Math.abs(maskSparsity(mask) - s)).toBeLessThanOrEqual(128 / (k * n));
    expect(new Set(pattern.tiles.map((t) => t.rows.join())).size).toBeGreaterThan(1);
  });
});

describe('bw (32x32 blocks)', () => {
  it('prunes whole blocks, the lowest-norm ones, round(S·blocks) of them', () => {
    const k = 64, n = 96;
    const imp = synthetic(k, n, 7);
    // Block (1, 2) made unimportant: it must be among the pruned ones.
    for (let r = 32; r < 64; r++) for (let c = 64; c < 96; c++) imp[r * n + c] *= 1e-3;
    const { mask, pattern } = bwMask(imp, k, n, 0.5);
    if (pattern.pattern !== 'bw') throw new Error('wrong pattern');
    expect(pattern.grid).toEqual([2, 3]);
    expect(pattern.kept).toHaveLength(3);
    expect(pattern.kept.some(([r, c]) => r === 1 && c === 2)).toBe(false);
    for (let br = 0; br < 2; br++) {
      for (let bc = 0; bc < 3; bc++) {
        const keptBlock = pattern.kept.some(([r, c]) => r === br && c === bc);
        for (let r = br * 32; r < br * 32 + 32; r++) for (let c = bc * 32; c < bc * 32 + 32; c++) expect(at(mask, n, r, c)).toBe(keptBlock ? 1 : 0);
      }
    }
    expect(() => bwMask(imp, 48, 64, 0.5)).toThrow(/multiples of 32/);
  });
});

describe('gyro-permutation', () => {
  it('never lowers retained importance below no permutation (out-only ≥ none, gyro ≥ out-only) over many seeds', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const k = 64, n = 64, v = 16;
      const imp = synthetic(k, n, 100 + seed);
      const h = hinmMask(imp, k, n, 0.75, v, 'gyro', mulberry32(seed)).ablation!;
      expect(h.outOnly!).toBeGreaterThanOrEqual(h.none);
      expect(h.gyro!).toBeGreaterThanOrEqual(h.outOnly!);
      const w = vwMask(imp, k, n, 0.75, v, 'gyro', mulberry32(seed)).ablation!;
      expect(w.outOnly!).toBeGreaterThanOrEqual(w.none);
    }
  });

  it('finds the grouping when interleaved channels want different columns', () => {
    // Synthetic structure: even channels need rows 0…15, odd channels rows 16…31. Blocks of consecutive channels
    // mix both, so keeping 16 rows per block loses about half; regrouping even with even keeps most of it (the
    // sampling search need not reach the perfect grouping, which would keep about 99 %).
    const k = 32, n = 32, v = 16;
    const imp = new Float64Array(k * n);
    const r = mulberry32(9);
    for (let row = 0; row < k; row++) for (let c = 0; c < n; c++) imp[row * n + c] = ((row < 16) === (c % 2 === 0) ? 1 : 0.01) * (0.5 + r());
    const none = vwMask(imp, k, n, 0.5, v, 'none', mulberry32(1)).ablation!.none;
    const out = outputPermutation(imp, k, n, v, 16, false, mulberry32(1));
    expect(out.finalPruned).toBeLessThan(out.initialPruned * 0.2);
    const gy = vwMask(imp, k, n, 0.5, v, 'gyro', mulberry32(1)).ablation!;
    expect(none).toBeLessThan(0.6);
    expect(gy.outOnly!).toBeGreaterThan(0.9);
  });

  it('regroups input channels into better 2:4 groups and is deterministic for a seed', () => {
    // Synthetic: 8 kept rows where rows 0–3 are all large and 4–7 all small for every channel: ascending groups
    // prune two large values per channel; mixing large with small prunes only small ones.
    const k = 8, n = 4;
    const imp = new Float64Array(k * n);
    for (let row = 0; row < k; row++) for (let c = 0; c < n; c++) imp[row * n + c] = row < 4 ? 10 + row + c : 0.1 * (row + c);
    const kept = [0, 1, 2, 3, 4, 5, 6, 7];
    const a = inputPermutation(imp, n, [0, 1, 2, 3], kept, mulberry32(3));
    const b = inputPermutation(imp, n, [0, 1, 2, 3], kept, mulberry32(3));
    expect(a.order).toEqual(b.order);
    expect([...a.order].sort()).toEqual(kept);
    expect(a.finalPruned).toBeLessThan(a.initialPruned);
    // Each 2:4 group now holds two large rows and two small ones.
    for (const q of [0, 4]) expect(a.order.slice(q, q + 4).filter((x) => x < 4)).toHaveLength(2);
  });

  it('gives identical blocks for the same seed', () => {
    const imp = synthetic(64, 64, 11);
    const p1 = hinmMask(imp, 64, 64, 0.875, 16, 'gyro', mulberry32(42)).pattern;
    const p2 = hinmMask(imp, 64, 64, 0.875, 16, 'gyro', mulberry32(42)).pattern;
    expect(JSON.stringify(p1)).toBe(JSON.stringify(p2));
  });
});

describe('assignment and balanced clustering', () => {
  it('solves a 3x3 assignment to its known optimum', () => {
    const { assign, total } = solveAssignment([
      [4, 1, 3],
      [2, 0, 5],
      [3, 2, 2],
    ]);
    expect(assign).toEqual([1, 0, 2]);
    expect(total).toBe(5);
  });

  it('puts exactly `size` points in every cluster and recovers well separated groups', () => {
    const pts = [[0, 0], [10, 10], [0.1, 0], [10, 10.2], [0, 0.2], [9.9, 10]];
    const label = balancedKMeans(pts, 2, 3, mulberry32(1));
    expect(label.filter((l) => l === 0)).toHaveLength(3);
    expect(new Set([label[0], label[2], label[4]]).size).toBe(1);
    expect(new Set([label[1], label[3], label[5]]).size).toBe(1);
    expect(label[0]).not.toBe(label[1]);
  });
});

describe('option checks', () => {
  const base = { pattern: 'tw' as const, sparsity: 0.5, vector: 64, permute: 'none' as const };
  it('accepts (0, 1) and the identity 0, refuses the rest with one line', () => {
    expect(optionsProblem(base)).toBeNull();
    expect(optionsProblem({ ...base, sparsity: 0 })).toBeNull();
    expect(optionsProblem({ ...base, sparsity: 1 })).toMatch(/sparsity must be in \(0, 1\)/);
    expect(optionsProblem({ ...base, sparsity: -0.1 })).toMatch(/sparsity must be in/);
    expect(optionsProblem({ ...base, sparsity: NaN })).toMatch(/sparsity must be in/);
    expect(optionsProblem({ ...base, pattern: 'nm', sparsity: 0.75 })).toMatch(/must be 0.5/);
    expect(optionsProblem({ ...base, pattern: 'hinm', sparsity: 0.3 })).toMatch(/at least 0.5/);
    expect(optionsProblem({ ...base, pattern: 'hinm', vector: 48 })).toMatch(/--vector must be one of/);
    expect(optionsProblem({ ...base, permute: 'gyro' })).toMatch(/applies to hinm and vw/);
  });
});
