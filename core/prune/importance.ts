/**
 * Importance scores and the arithmetic every pattern shares. Importance of weight W[k, n] is |W[k, n]|·‖x_k‖ where
 * ‖x_k‖ is the L2 norm of input feature k over every calibration row (Wanda, Sun et al. 2023, §3): a one-shot proxy
 * for the trained saliency the tile-wise and HiNM papers use, which needs training we cannot do here.
 */

/**
 * The importance matrix.
 *
 * @param w W [K, N] row-major
 * @param columnNorms ‖x_k‖ [K] (L2 norms, ≥ 0)
 * @returns |W[k, n]|·‖x_k‖ as [K, N] row-major float64
 * @throws Error when the lengths disagree
 */
export function importanceMatrix(w: Float32Array, k: number, n: number, columnNorms: ArrayLike<number>): Float64Array {
  if (w.length !== k * n || columnNorms.length !== k) throw new Error(`importance: W has ${w.length} values and ${columnNorms.length} norms for [${k}, ${n}]`);
  const out = new Float64Array(k * n);
  for (let r = 0; r < k; r++) {
    const s = columnNorms[r];
    for (let c = 0; c < n; c++) out[r * n + c] = Math.abs(w[r * n + c]) * s;
  }
  return out;
}

/** Σ of all entries (importance is ≥ 0). */
export function total(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s;
}

/**
 * Fraction of importance a mask keeps: Σ imp·mask / Σ imp, in 0–1 (1 when the layer has no importance at all).
 *
 * @param imp importance [K, N]
 * @param mask 1 = kept, 0 = pruned, same length
 */
export function retainedFraction(imp: ArrayLike<number>, mask: ArrayLike<number>): number {
  let all = 0;
  let kept = 0;
  for (let i = 0; i < imp.length; i++) {
    all += imp[i];
    if (mask[i]) kept += imp[i];
  }
  return all > 0 ? kept / all : 1;
}

/** Fraction of entries a mask prunes (0–1). */
export function maskSparsity(mask: ArrayLike<number>): number {
  let z = 0;
  for (let i = 0; i < mask.length; i++) if (!mask[i]) z++;
  return mask.length ? z / mask.length : 0;
}

/**
 * Indices of the `count` largest scores, ties broken by the lower index (so results are deterministic), returned
 * in ascending index order.
 */
export function topIndices(scores: ArrayLike<number>, count: number): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => scores[b] - scores[a] || a - b);
  return idx.slice(0, Math.max(0, Math.min(count, idx.length))).sort((a, b) => a - b);
}

/**
 * Indices ordered from least to most important (ties: lower index first), the order in which greedy pruning
 * removes units.
 */
export function ascendingOrder(scores: ArrayLike<number>): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => scores[a] - scores[b] || a - b);
  return idx;
}

/**
 * Positions (0…group−1) an N:M group keeps: the `keep` largest, ties to the lower position.
 */
export function nmKeptInGroup(values: ArrayLike<number>, keep: number): number[] {
  return topIndices(values, keep);
}

/** Importance 2:4 prunes from one group of four values: the sum of the two smallest (no allocation: the hot loop of gyro). */
export function pruned24(a: number, b: number, c: number, d: number): number {
  // The two smallest of four: sort the pairs (a, b) and (c, d), then merge their lower halves.
  const lo1 = a < b ? a : b;
  const hi1 = a < b ? b : a;
  const lo2 = c < d ? c : d;
  const hi2 = c < d ? d : c;
  return lo1 < lo2 ? lo1 + (hi1 < lo2 ? hi1 : lo2) : lo2 + (hi2 < lo1 ? hi2 : lo1);
}
