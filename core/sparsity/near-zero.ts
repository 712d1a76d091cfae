/**
 * Near-zero as zero (issue 9 item 5, opt-in): activation sparsity by thresholding, as TEAL (Liu et al., 2024,
 * "Training-Free Activation Sparsity in Large Language Models": zero the entries of a layer's input whose magnitude
 * is below a per-layer threshold) and CATS (Lee et al., 2024: a cut-off calibrated to a target sparsity) do. Smooth
 * activations (swish, hard-swish, GELU, softmax) give almost no exact zeros but many tiny values; treating those as
 * zero makes the layer approximate, so the profile job verifies every variant exactly against the thresholded
 * computation and reports the approximation error of the thresholded layer against the true reference beside it.
 *
 * Two ways to choose what is zero, per operand of a layer:
 * - `threshold` T ≥ 0: |x| ≤ T becomes 0 (the same T for every layer; compared in f32, so T = 1e-3 includes the f32
 *   value nearest 1e-3);
 * - `keep` F in (0, 1]: the F·count largest magnitudes of the operand are kept, the rest become 0 (a per-layer cut
 *   at the (1 − F) quantile of |x|; values tied with the cut are kept, so a little more than F may remain).
 * NaN and ±Infinity are never zeroed; -0 becomes +0.
 */

/** How near-zero values are treated as zero (exactly one of the two). */
export interface NearZero {
  /** |x| ≤ threshold is zero (≥ 0). */
  threshold?: number;
  /** Keep this fraction (0–1] of the operand's elements with the largest magnitude; zero the rest. */
  keep?: number;
}

/**
 * Checks a near-zero option: exactly one of `threshold` (finite, ≥ 0) and `keep` (in (0, 1]).
 * @returns why it is invalid (one line), or null
 */
export function nearZeroProblem(z: NearZero): string | null {
  const hasT = z.threshold !== undefined;
  const hasK = z.keep !== undefined;
  if (hasT === hasK) return 'give exactly one of a zero threshold and a keep fraction';
  if (hasT && !(Number.isFinite(z.threshold) && z.threshold! >= 0)) return `zero threshold must be a finite number >= 0, got ${z.threshold}`;
  if (hasK && !(Number.isFinite(z.keep) && z.keep! > 0 && z.keep! <= 1)) return `keep fraction must be in (0, 1], got ${z.keep}`;
  return null;
}

/** An operand after thresholding, with what it did. */
export interface Thresholded {
  /** A new array: the operand with near-zero entries set to +0. */
  data: Float32Array;
  /** The magnitude cut applied (an f32 value): |x| ≤ cut became 0 (`threshold`), or |x| < cut (`keep`). */
  cut: number;
  /** Fraction 0–1 of exactly-zero elements before and after. */
  sparsityBefore: number;
  sparsityAfter: number;
}

/**
 * The magnitude a `keep` fraction cuts at: the ⌈keep·n⌉-th largest |x| (finite values only; 0 for an empty or
 * all-non-finite operand). Values with |x| below it are zeroed.
 */
export function keepCut(x: Float32Array, keep: number): number {
  const mags = new Float32Array(x.length);
  let n = 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.abs(x[i]!);
    if (Number.isFinite(v)) mags[n++] = v;
  }
  if (!n) return 0;
  const sorted = mags.subarray(0, n).sort();
  const kept = Math.max(1, Math.ceil(keep * n));
  return sorted[n - kept]!;
}

/**
 * Thresholds one operand (see the module comment). Never modifies `x`.
 * @throws RangeError on an invalid option (see `nearZeroProblem`).
 */
export function thresholdOperand(x: Float32Array, z: NearZero): Thresholded {
  const problem = nearZeroProblem(z);
  if (problem) throw new RangeError(problem);
  const out = new Float32Array(x.length);
  let before = 0;
  let after = 0;
  // The threshold is compared in the operand's precision: T = 1e-3 zeroes the f32 value nearest 1e-3 too.
  const cut = z.threshold !== undefined ? Math.fround(z.threshold) : keepCut(x, z.keep!);
  const inclusive = z.threshold !== undefined;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v === 0) before++;
    const a = Math.abs(v);
    // NaN compares false, ±Infinity is above any finite cut: both stay.
    if (v === 0 || (inclusive ? a <= cut : a < cut)) {
      out[i] = 0;
      after++;
    } else {
      out[i] = v;
    }
  }
  const n = x.length || 1;
  return { data: out, cut, sparsityBefore: before / n, sparsityAfter: after / n };
}

/** The error of an approximate output against the true one. */
export interface ApproximationError {
  /** max |approx − true|. */
  maxAbsErr: number;
  /** maxAbsErr / max |true| (0 when both are 0). */
  maxRelErr: number;
  /** ‖approx − true‖₂ / ‖true‖₂ over every element (0 when both are 0; Infinity when only `true` is 0). */
  relL2Err: number;
}

/**
 * How far `approx` (e.g. the thresholded layer's output) is from `truth` (the reference runtime's output).
 * Non-finite pairs count as equal when identical, else as an infinite error.
 * @throws RangeError when the lengths differ.
 */
export function approximationError(approx: Float32Array, truth: Float32Array): ApproximationError {
  if (approx.length !== truth.length) throw new RangeError(`approximation error: ${approx.length} elements against ${truth.length}`);
  let maxAbs = 0;
  let maxTrue = 0;
  let diff2 = 0;
  let true2 = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i]!;
    const a = approx[i]!;
    if (!Number.isFinite(t) || !Number.isFinite(a)) {
      if (!Object.is(t, a)) maxAbs = Infinity;
      continue;
    }
    const d = Math.abs(a - t);
    if (d > maxAbs) maxAbs = d;
    if (Math.abs(t) > maxTrue) maxTrue = Math.abs(t);
    diff2 += d * d;
    true2 += t * t;
  }
  return {
    maxAbsErr: maxAbs,
    maxRelErr: maxTrue > 0 ? maxAbs / maxTrue : maxAbs > 0 ? Infinity : 0,
    relL2Err: true2 > 0 ? Math.sqrt(diff2 / true2) : diff2 > 0 ? Infinity : 0,
  };
}
