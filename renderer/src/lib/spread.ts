/**
 * The spread of a measured time (issue 13: "spread on every time"): a variant's median with its interquartile range
 * and min–max, the number of samples and how they were timed. Pure (tested in test/renderer). Times in ms.
 */
import type { VariantResult } from '../../../core/protocol.ts';
import { fmtMs } from './format.ts';
import { variantTime } from './layer.ts';

/** IQR as a fraction of the median, or null when the variant has no statistics (runs before v3, failed variants). */
export function iqrFraction(v: VariantResult | null | undefined): number | null {
  if (!v || v.iqrMs === undefined || !Number.isFinite(v.iqrMs)) return null;
  const t = variantTime(v);
  return t > 0 ? v.iqrMs / t : null;
}

/** The short spread shown beside a median: `±4 %` (IQR / median), or '' when unknown. */
export function fmtSpread(v: VariantResult | null | undefined): string {
  const f = iqrFraction(v);
  if (f === null) return '';
  const pct = f * 100;
  return `±${pct < 1 ? pct.toFixed(1) : Math.round(pct)} %`;
}

/** How a time was timed, in words: `GPU timestamps` or `CPU clock`. */
export function methodName(m: VariantResult['method']): string {
  return m === 'timestamp' ? 'GPU timestamps' : m === 'cpu' ? 'CPU clock' : 'unknown timing';
}

/**
 * The full statement of a time, for a tooltip: `median 1.23 ms of 5 samples (GPU timestamps); IQR 1.20–1.26 ms;
 * min–max 1.18–1.40 ms`. Runs recorded before statistics existed say so.
 */
export function spreadTitle(v: VariantResult | null | undefined): string {
  if (!v) return '';
  const t = variantTime(v);
  if (v.repeats === undefined || v.q1Ms === undefined) return `${fmtMs(t)} (recorded without its spread)`;
  return (
    `median ${fmtMs(t)} of ${v.repeats} sample${v.repeats === 1 ? '' : 's'} (${methodName(v.method)}); ` +
    `IQR ${fmtMs(v.q1Ms)}–${fmtMs(v.q3Ms)}; min–max ${fmtMs(v.minMs)}–${fmtMs(v.maxMs)}`
  );
}

/**
 * Whether two measured times overlap within their spread (each one's interquartile range), i.e. the difference
 * between them is not beyond the noise. Without statistics, false (nothing says they overlap).
 */
export function withinSpread(a: VariantResult | null | undefined, b: VariantResult | null | undefined): boolean {
  if (!a || !b || a.q1Ms === undefined || a.q3Ms === undefined || b.q1Ms === undefined || b.q3Ms === undefined) return false;
  return a.q1Ms <= b.q3Ms && b.q1Ms <= a.q3Ms;
}
