/**
 * Column-vector sparsity, shared by `vw` and `hinm` (arXiv 2407.20496 §3; sminy67/hinm_sp `gen_vec_mask`): the N
 * output channels are cut into blocks of V; each block keeps the same `keptCount` K indices for all its V channels
 * (a "column vector" of V weights per kept k), chosen by the block's summed importance. HiNM then keeps 2 of every 4
 * kept entries per channel, along the block's gather order.
 */
import { nmKeptInGroup, pruned24, topIndices } from './importance.ts';
import { NM_GROUP, NM_KEEP, type VectorBlock } from './types.ts';

/** Σ over the block's channels of importance, per k: [K]. */
export function blockColumnScores(imp: Float64Array, k: number, n: number, channels: readonly number[]): Float64Array {
  const s = new Float64Array(k);
  for (let r = 0; r < k; r++) {
    const row = r * n;
    let acc = 0;
    for (const c of channels) acc += imp[row + c];
    s[r] = acc;
  }
  return s;
}

/** The `keptCount` K indices a block keeps (largest summed importance; ties to the lower k), ascending. */
export function selectVectors(imp: Float64Array, k: number, n: number, channels: readonly number[], keptCount: number): number[] {
  return topIndices(blockColumnScores(imp, k, n, channels), keptCount);
}

/**
 * Importance one block prunes.
 *
 * @param nm false: vector level only (vw): Σ of the dropped columns' summed importance; true (hinm): plus, per
 *   channel, the 2 smallest of every 4 kept entries taken in ascending k order (no input permutation)
 */
export function blockPrunedImportance(imp: Float64Array, k: number, n: number, channels: readonly number[], keptCount: number, nm: boolean): number {
  const scores = blockColumnScores(imp, k, n, channels);
  const kept = topIndices(scores, keptCount);
  let all = 0;
  for (let r = 0; r < k; r++) all += scores[r];
  let keptSum = 0;
  for (const r of kept) keptSum += scores[r];
  let pruned = all - keptSum;
  if (nm) pruned += nmPrunedAlong(imp, n, channels, kept);
  return pruned;
}

/** Importance 2:4 prunes inside a block whose gather order is `order` (length a multiple of 4; 2:4 is hard-wired here for speed). */
export function nmPrunedAlong(imp: Float64Array, n: number, channels: readonly number[], order: readonly number[]): number {
  let pruned = 0;
  for (let q = 0; q + NM_GROUP <= order.length; q += NM_GROUP) {
    const r0 = order[q] * n, r1 = order[q + 1] * n, r2 = order[q + 2] * n, r3 = order[q + 3] * n;
    for (const c of channels) pruned += pruned24(imp[r0 + c], imp[r1 + c], imp[r2 + c], imp[r3 + c]);
  }
  return pruned;
}

/**
 * Sets the mask of one block: for vw every kept k of every channel; for hinm, per channel, the 2 largest of each
 * consecutive 4 of `block.kept` (its gather order).
 *
 * @param mask [K, N] row-major, 0 where pruned; only the block's channels are written
 */
export function applyBlockMask(mask: Uint8Array, imp: Float64Array, n: number, block: VectorBlock, nm: boolean): void {
  const { channels, kept } = block;
  if (!nm) {
    for (const r of kept) for (const c of channels) mask[r * n + c] = 1;
    return;
  }
  const g = new Float64Array(NM_GROUP);
  for (const c of channels) {
    for (let q = 0; q + NM_GROUP <= kept.length; q += NM_GROUP) {
      for (let j = 0; j < NM_GROUP; j++) g[j] = imp[kept[q + j] * n + c];
      for (const j of nmKeptInGroup(g, NM_KEEP)) mask[kept[q + j] * n + c] = 1;
    }
  }
}

/** Blocks of V consecutive channels (no output permutation): [0…V−1], [V…2V−1], … */
export function identityBlocks(n: number, v: number): number[][] {
  return Array.from({ length: n / v }, (_, b) => Array.from({ length: v }, (_, i) => b * v + i));
}
