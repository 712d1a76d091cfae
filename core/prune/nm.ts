/**
 * Plain 2:4 sparsity along K (NVIDIA Ampere structured sparsity; the baseline of the HiNM paper): in every column n,
 * of every 4 consecutive k keep the 2 most important. 50 % exactly.
 */
import { nmKeptInGroup } from './importance.ts';
import { NM_GROUP, NM_KEEP, type PatternResult } from './types.ts';

/** Why W [K, N] cannot take 2:4 along K, or null. */
export function nmShapeProblem(k: number): string | null {
  return k % NM_GROUP === 0 ? null : `2:4 needs K a multiple of ${NM_GROUP}, K = ${k}`;
}

/**
 * The 2:4 mask of W [K, N].
 *
 * @param imp importance [K, N] row-major
 * @throws Error when K is not a multiple of 4 (callers check `nmShapeProblem` first)
 */
export function nmMask(imp: Float64Array, k: number, n: number): PatternResult {
  const problem = nmShapeProblem(k);
  if (problem) throw new Error(problem);
  const mask = new Uint8Array(k * n);
  const g = new Float64Array(NM_GROUP);
  for (let c = 0; c < n; c++) {
    for (let r = 0; r < k; r += NM_GROUP) {
      for (let j = 0; j < NM_GROUP; j++) g[j] = imp[(r + j) * n + c];
      for (const j of nmKeptInGroup(g, NM_KEEP)) mask[(r + j) * n + c] = 1;
    }
  }
  return { mask, pattern: { pattern: 'nm', keep: NM_KEEP, group: NM_GROUP } };
}
