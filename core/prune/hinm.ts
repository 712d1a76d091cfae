/**
 * Hierarchical N:M (HiNM) sparsity (arXiv 2407.20496 §3; sminy67/hinm_sp): per block of V output channels keep the
 * same K indices (column vectors), then keep 2 of every 4 of those along the block's gather order. Total sparsity
 * S = 1 − (1 − s_vec)·½, so S ≥ 50 %: s_vec = 2S − 1 (S = 50 %: every column kept, 2:4 only; 75 %: half the columns;
 * 87.5 %: a quarter). With `--permute gyro` the blocks come from gyro-permutation's output rounds and each block's
 * 2:4 groups from its input rounds (`gyro.ts`).
 */
import { inputPermutation, outputPermutation } from './gyro.ts';
import { retainedFraction } from './importance.ts';
import { applyBlockMask, identityBlocks, selectVectors } from './vectors.ts';
import { NM_GROUP, NM_KEEP, type PatternResult, type PermuteMode, type VectorBlock } from './types.ts';

/** Why W [K, N] cannot take HiNM with vectors of V, or null. */
export function hinmShapeProblem(k: number, n: number, v: number): string | null {
  if (k % NM_GROUP !== 0) return `HiNM's 2:4 needs K a multiple of ${NM_GROUP}, K = ${k}`;
  if (n % v !== 0) return `vectors of V = ${v} need N (output channels) a multiple of ${v}, N = ${n}`;
  return null;
}

/** K indices each block keeps at total sparsity S: a multiple of 4 nearest K·2(1 − S), at least 4. */
export function hinmKeptCount(k: number, sparsity: number): number {
  const cols = k * 2 * (1 - sparsity);
  return Math.min(k, Math.max(NM_GROUP, NM_GROUP * Math.round(cols / NM_GROUP)));
}

/**
 * The HiNM mask of W [K, N].
 *
 * @param imp importance [K, N]
 * @param sparsity total sparsity S in [0.5, 1)
 * @param rand seeded generator for gyro's sampling and clustering (unused with permute none)
 * @returns the mask, per-block channels and gather order, and the ablation (none; with gyro also out-only and gyro)
 */
export function hinmMask(imp: Float64Array, k: number, n: number, sparsity: number, v: number, permute: PermuteMode, rand: () => number): PatternResult {
  const keptCount = hinmKeptCount(k, sparsity);
  const build = (blocks: VectorBlock[]) => {
    const mask = new Uint8Array(k * n);
    for (const b of blocks) applyBlockMask(mask, imp, n, b, true);
    return mask;
  };
  const vectors = (groups: number[][]): VectorBlock[] => groups.map((channels) => ({ channels, kept: selectVectors(imp, k, n, channels, keptCount) }));
  const pattern = (blocks: VectorBlock[]) => ({ pattern: 'hinm' as const, v, keep: NM_KEEP, group: NM_GROUP, blocks });

  const plain = vectors(identityBlocks(n, v));
  const plainMask = build(plain);
  const none = retainedFraction(imp, plainMask);
  if (permute === 'none') return { mask: plainMask, pattern: pattern(plain), ablation: { none } };

  const outBlocks = vectors(outputPermutation(imp, k, n, v, keptCount, true, rand).blocks);
  const outOnly = retainedFraction(imp, build(outBlocks));
  const gyroBlocks = outBlocks.map((b) => ({ channels: b.channels, kept: inputPermutation(imp, n, b.channels, b.kept, rand).order }));
  const mask = build(gyroBlocks);
  return { mask, pattern: pattern(gyroBlocks), ablation: { none, outOnly, gyro: retainedFraction(imp, mask) } };
}
