/**
 * Linear assignment (the Hungarian step of gyro-permutation and of balanced clustering), solved by the `munkres`
 * npm package (MIT, O(n³)); about 1 ms for 64x64 and 6 ms for 384x384 on this project's CPU machine.
 */
import { munkres } from 'munkres';

/** An optimal assignment of a square cost matrix. */
export interface Assignment {
  /** `assign[row]` = the column given to `row`; a permutation of 0…n−1. */
  assign: number[];
  /** Σ cost[row][assign[row]], summed from the input matrix (not the solver's arithmetic). */
  total: number;
}

/**
 * Minimum-cost perfect matching of rows to columns.
 *
 * @param cost n×n costs (finite numbers)
 * @throws Error when the matrix is not square or the solver returns an incomplete matching
 */
export function solveAssignment(cost: ArrayLike<number>[]): Assignment {
  const n = cost.length;
  for (const row of cost) if (row.length !== n) throw new Error(`assignment: cost matrix is not square (${n} rows, a row of ${row.length})`);
  const assign = new Array<number>(n).fill(-1);
  for (const [r, c] of munkres(cost)) assign[r] = c;
  if (assign.some((c) => c < 0)) throw new Error('assignment: the solver left a row unassigned');
  let total = 0;
  for (let r = 0; r < n; r++) total += cost[r][assign[r]];
  return { assign, total };
}
