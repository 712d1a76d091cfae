/**
 * Gyro-permutation (Yu et al., "Toward Efficient Permutation for Hierarchical N:M Sparsity on GPUs", arXiv
 * 2407.20496 §4; reference code sminy67/hinm_sp `permutations.py`, read, not copied):
 *
 * - **Output channels** (which V channels share a block and so a column-vector selection): rounds of *sampling*
 *   (extract e channels at random from every block), *clustering* (for e > 1, balanced k-means of the extracted
 *   channels into one cluster of e per block) and *assignment* (a linear assignment of clusters to blocks whose cost is
 *   the importance each block would prune with its remaining channels plus that cluster). A round is accepted only
 *   when the total pruned importance drops. Schedule e = 8, 1, 4, 1, 2, 1, 1 (hinm_sp `apply_gyro_perm`); each e
 *   repeats until a round fails.
 * - **Input channels**, per block (tile): its kept K indices form 2:4 groups along their gather order; rounds extract
 *   one index from every group, assign them back to groups by linear assignment on the 2:4-pruned importance, and
 *   are accepted only when it drops; three failed rounds end the search (hinm_sp `InPerm.fit(cnts=2)`).
 *
 * Difference from hinm_sp, on purpose: for hinm the output rounds score a block by its whole HiNM pruned importance
 * (vectors, then 2:4 in ascending k), not the vector level alone, so an accepted output permutation never lowers the
 * final retained importance against no permutation, and the input rounds (which only reorder within a block's kept
 * set) never lower it against output-only.
 */
import { solveAssignment } from './assignment.ts';
import { pruned24 } from './importance.ts';
import { balancedKMeans } from './kmeans.ts';
import { blockPrunedImportance, identityBlocks } from './vectors.ts';
import { NM_GROUP } from './types.ts';

/** hinm_sp's sampling schedule for the output rounds: channels extracted per block, in order. */
export const OUT_SCHEDULE: readonly number[] = [8, 1, 4, 1, 2, 1, 1];

/** Failed input rounds tolerated before a block's search stops (hinm_sp cnts = 2: the third failure stops it). */
export const IN_PATIENCE = 2;

/** Safety cap on rounds of one stage (each accepted round strictly lowers the cost, so it ends anyway). */
const MAX_ROUNDS = 500;

/** Result of the output-channel search. */
export interface OutPermResult {
  /** Channel lists of the N/V blocks, each ascending. */
  blocks: number[][];
  /** Pruned importance with blocks of consecutive channels, and after the search (≤ initial). */
  initialPruned: number;
  finalPruned: number;
  /** Rounds tried and accepted. */
  rounds: number;
  accepted: number;
}

/** True when `next` is a real improvement on `cur` (not float noise). */
function improves(next: number, cur: number): boolean {
  return next < cur - 1e-12 * Math.max(1, Math.abs(cur));
}

/** `count` distinct positions in 0…size−1 (partial Fisher–Yates), ascending. */
function sample(size: number, count: number, rand: () => number): number[] {
  const p = Array.from({ length: size }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rand() * (size - i));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p.slice(0, count).sort((a, b) => a - b);
}

/**
 * Output-channel permutation of W [K, N] into blocks of V channels.
 *
 * @param imp importance [K, N]
 * @param v block size (N must be a multiple of V)
 * @param keptCount K indices each block keeps
 * @param nm score blocks with HiNM's 2:4 inside (hinm) or at the vector level only (vw)
 * @param rand seeded uniform [0, 1) generator: the same seed gives the same permutation
 */
export function outputPermutation(imp: Float64Array, k: number, n: number, v: number, keptCount: number, nm: boolean, rand: () => number): OutPermResult {
  let blocks = identityBlocks(n, v);
  const cost = (channels: number[]) => blockPrunedImportance(imp, k, n, channels, keptCount, nm);
  let cur = blocks.map(cost).reduce((a, b) => a + b, 0);
  const initialPruned = cur;
  let rounds = 0;
  let accepted = 0;
  const nb = blocks.length;
  if (nb < 2) return { blocks, initialPruned, finalPruned: cur, rounds, accepted };
  const rowOf = (c: number) => Float64Array.from({ length: k }, (_, r) => imp[r * n + c]);

  for (const e of OUT_SCHEDULE) {
    if (e >= v) continue;
    for (let tries = 0; tries < MAX_ROUNDS; tries++) {
      rounds++;
      const picks = blocks.map(() => sample(v, e, rand));
      const extracted = blocks.map((b, i) => picks[i].map((p) => b[p]));
      const remaining = blocks.map((b, i) => b.filter((_, p) => !picks[i].includes(p)));
      let clusters: number[][];
      if (e > 1) {
        const flat = extracted.flat();
        const label = balancedKMeans(flat.map(rowOf), nb, e, rand);
        clusters = Array.from({ length: nb }, () => []);
        flat.forEach((c, i) => clusters[label[i]].push(c));
      } else {
        clusters = extracted;
      }
      const matrix = remaining.map((rem) => clusters.map((cl) => cost([...rem, ...cl])));
      const { assign, total } = solveAssignment(matrix);
      if (!improves(total, cur)) break; // hinm_sp multi_cnts = uni_cnts = 1: the first failure ends this e
      blocks = remaining.map((rem, b) => [...rem, ...clusters[assign[b]]].sort((x, y) => x - y));
      cur = total;
      accepted++;
    }
  }
  return { blocks, initialPruned, finalPruned: cur, rounds, accepted };
}

/** Result of one block's input-channel search. */
export interface InPermResult {
  /** The block's kept K indices in gather order: consecutive 4 are one 2:4 group. */
  order: number[];
  /** 2:4-pruned importance of the block in ascending k order, and after the search (≤ initial). */
  initialPruned: number;
  finalPruned: number;
  rounds: number;
  accepted: number;
}

/**
 * Input-channel permutation inside one block: regroups the block's kept K indices into 2:4 groups.
 *
 * @param imp importance [K, N]
 * @param channels the block's output channels
 * @param kept the block's kept K indices (length a multiple of 4), ascending
 * @param rand seeded uniform [0, 1) generator
 */
export function inputPermutation(imp: Float64Array, n: number, channels: readonly number[], kept: readonly number[], rand: () => number): InPermResult {
  const order = kept.slice();
  const groups = order.length / NM_GROUP;
  const val = (kk: number, c: number) => imp[kk * n + c];
  const groupCost = (g: number) => {
    let s = 0;
    const o = g * NM_GROUP;
    for (const c of channels) s += pruned24(val(order[o], c), val(order[o + 1], c), val(order[o + 2], c), val(order[o + 3], c));
    return s;
  };
  let cur = 0;
  for (let g = 0; g < groups; g++) cur += groupCost(g);
  const initialPruned = cur;
  let rounds = 0;
  let accepted = 0;
  if (groups < 2) return { order, initialPruned, finalPruned: cur, rounds, accepted };
  let failures = 0;
  while (failures <= IN_PATIENCE && rounds < MAX_ROUNDS) {
    rounds++;
    const pos = Array.from({ length: groups }, () => Math.floor(rand() * NM_GROUP));
    const ext = pos.map((p, g) => order[g * NM_GROUP + p]);
    const rest = pos.map((p, g) => [0, 1, 2, 3].filter((j) => j !== p).map((j) => order[g * NM_GROUP + j]));
    const matrix = rest.map(([a, b, c]) =>
      ext.map((x) => {
        let s = 0;
        for (const ch of channels) s += pruned24(val(a, ch), val(b, ch), val(c, ch), val(x, ch));
        return s;
      }),
    );
    const { assign, total } = solveAssignment(matrix);
    if (!improves(total, cur)) {
      failures++;
      continue;
    }
    for (let g = 0; g < groups; g++) order[g * NM_GROUP + pos[g]] = ext[assign[g]];
    cur = total;
    accepted++;
  }
  return { order, initialPruned, finalPruned: cur, rounds, accepted };
}
