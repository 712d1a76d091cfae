/**
 * Vector-wise sparsity (HiNM's column-vector level without the 2:4 inside, arXiv 2407.20496 §3): per block of V
 * output channels keep the same round(K·(1 − S)) K indices, chosen by the block's summed importance. With
 * `--permute gyro` the blocks are chosen by gyro-permutation's output-channel rounds (there is no input level).
 */
import { outputPermutation } from './gyro.ts';
import { retainedFraction } from './importance.ts';
import { applyBlockMask, identityBlocks, selectVectors } from './vectors.ts';
import type { PatternResult, PermuteMode, VectorBlock } from './types.ts';

/** Why W [K, N] cannot take vectors of V, or null. */
export function vwShapeProblem(n: number, v: number): string | null {
  return n % v === 0 ? null : `vectors of V = ${v} need N (output channels) a multiple of ${v}, N = ${n}`;
}

/** K indices each block keeps at sparsity S: round(K·(1 − S)), at least 1. */
export function vwKeptCount(k: number, sparsity: number): number {
  return Math.min(k, Math.max(1, Math.round(k * (1 - sparsity))));
}

/**
 * The vector-wise mask of W [K, N].
 *
 * @param imp importance [K, N]
 * @param rand seeded generator for gyro's sampling (unused with permute none)
 */
export function vwMask(imp: Float64Array, k: number, n: number, sparsity: number, v: number, permute: PermuteMode, rand: () => number): PatternResult {
  const keptCount = vwKeptCount(k, sparsity);
  const build = (groups: number[][]) => {
    const mask = new Uint8Array(k * n);
    const blocks: VectorBlock[] = groups.map((channels) => ({ channels, kept: selectVectors(imp, k, n, channels, keptCount) }));
    for (const b of blocks) applyBlockMask(mask, imp, n, b, false);
    return { mask, blocks };
  };
  const plain = build(identityBlocks(n, v));
  const none = retainedFraction(imp, plain.mask);
  if (permute === 'none') return { mask: plain.mask, pattern: { pattern: 'vw', v, blocks: plain.blocks }, ablation: { none } };
  const out = build(outputPermutation(imp, k, n, v, keptCount, false, rand).blocks);
  const outOnly = retainedFraction(imp, out.mask);
  return { mask: out.mask, pattern: { pattern: 'vw', v, blocks: out.blocks }, ablation: { none, outOnly, gyro: outOnly } };
}
