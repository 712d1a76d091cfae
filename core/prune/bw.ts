/**
 * Block-sparse weights (the Triton/OpenAI block-sparse and BCSR baseline; SC'20's `bw` comparison): W [K, N] cut
 * into 32x32 blocks, the round(S·blocks) blocks with the lowest L2 norm of importance are pruned.
 */
import { ascendingOrder } from './importance.ts';
import { BW_BLOCK, type PatternResult } from './types.ts';

/** Why W [K, N] cannot take 32x32 blocks, or null (no partial edge blocks: BCSR kernels tile by whole blocks). */
export function bwShapeProblem(k: number, n: number, block = BW_BLOCK): string | null {
  return k % block === 0 && n % block === 0 ? null : `${block}x${block} blocks need K and N multiples of ${block}, got K = ${k}, N = ${n}`;
}

/**
 * The block-sparse mask of W [K, N].
 *
 * @param imp importance [K, N]
 * @param sparsity S in (0, 1): the fraction of blocks pruned (rounded to whole blocks)
 * @throws Error when K or N is not a multiple of the block (callers check `bwShapeProblem` first)
 */
export function bwMask(imp: Float64Array, k: number, n: number, sparsity: number, block = BW_BLOCK): PatternResult {
  const problem = bwShapeProblem(k, n, block);
  if (problem) throw new Error(problem);
  const gr = k / block;
  const gc = n / block;
  const score = new Float64Array(gr * gc);
  for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) score[Math.floor(r / block) * gc + Math.floor(c / block)] += imp[r * n + c] ** 2;
  const dropped = new Set(ascendingOrder(score).slice(0, Math.round(sparsity * gr * gc)));
  const mask = new Uint8Array(k * n);
  const kept: [number, number][] = [];
  for (let b = 0; b < gr * gc; b++) {
    if (dropped.has(b)) continue;
    const br = Math.floor(b / gc);
    const bc = b % gc;
    kept.push([br, bc]);
    for (let r = br * block; r < (br + 1) * block; r++) mask.fill(1, r * n + bc * block, r * n + (bc + 1) * block);
  }
  return { mask, pattern: { pattern: 'bw', block: [block, block], grid: [gr, gc], kept } };
}
