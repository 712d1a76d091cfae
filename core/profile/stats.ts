/**
 * Summary statistics of repeated timings: the median as the statistic, with its spread (min, max, quartiles and the
 * interquartile range), so every figure can say what it is and how much it moved.
 */

/** Spread of a set of samples (ms). NaN fields when there is no finite sample. */
export interface SampleStats {
  /** The statistic reported: the median (mean of the middle two for an even count). */
  median: number;
  min: number;
  max: number;
  /** First and third quartiles (linear interpolation between order statistics, as numpy's default). */
  q1: number;
  q3: number;
  /** q3 − q1. */
  iqr: number;
  /** Finite samples summarised. */
  n: number;
}

/** The p-quantile (0–1) of ascending-sorted `s` by linear interpolation (Hyndman–Fan type 7). */
export function quantileSorted(s: readonly number[], p: number): number {
  if (!s.length) return Number.NaN;
  const h = (s.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return s[lo]! + (h - lo) * (s[hi]! - s[lo]!);
}

/** Median, min, max, quartiles and IQR of the finite values of `xs`. */
export function sampleStats(xs: readonly number[]): SampleStats {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return { median: NaN, min: NaN, max: NaN, q1: NaN, q3: NaN, iqr: NaN, n: 0 };
  const q1 = quantileSorted(s, 0.25);
  const q3 = quantileSorted(s, 0.75);
  return { median: quantileSorted(s, 0.5), min: s[0]!, max: s[s.length - 1]!, q1, q3, iqr: q3 - q1, n: s.length };
}

/** Relative spread of a measurement: IQR / median (0 when exact; Infinity when the median is 0 or unknown). */
export function relativeSpread(st: SampleStats): number {
  return st.median > 0 ? st.iqr / st.median : Infinity;
}
