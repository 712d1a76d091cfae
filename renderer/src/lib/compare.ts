/**
 * Two runs side by side: layers matched by (input, layer index, name), per-layer Δ of the chosen time (kernel +
 * detection) and of dense, and sorting. Pure functions (tested in test/renderer). Δ = B − A; Δ% is a fraction of A.
 */
import type { LayerResult, RunReport } from '../../../core/protocol.ts';
import { layerTimes } from './layer.ts';

/** One matched layer. Times in ms; null when a side did not profile the layer (skipped, missing, failed). */
export interface CompareRow {
  key: string;
  input: number;
  index: number;
  name: string;
  op: string;
  /** `M×N×K` of A's layer (B's when A lacks it, `—` when neither profiled it); `shapeChanged` when they differ (e.g. other image size). */
  shape: string;
  shapeChanged: boolean;
  chosenA: string | null;
  chosenB: string | null;
  msA: number | null;
  msB: number | null;
  denseA: number | null;
  denseB: number | null;
  /** msB − msA. */
  deltaMs: number | null;
  /** (msB − msA) / msA, a fraction (−0.25 = B is 25 % faster). */
  deltaRel: number | null;
}

/** Sums over layers both runs timed. */
export interface CompareTotals {
  msA: number;
  msB: number;
  deltaMs: number;
  deltaRel: number | null;
  /** Layers both runs timed. */
  matched: number;
  onlyA: number;
  onlyB: number;
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);
const keyOf = (l: LayerResult) => `${l.input}:${l.index}:${l.name}`;

/** Matches the layers of runs `a` and `b` and computes their deltas, in (input, index) order. */
export function compareRuns(a: RunReport, b: RunReport): { rows: CompareRow[]; totals: CompareTotals } {
  const byKey = new Map<string, { a?: LayerResult; b?: LayerResult }>();
  for (const l of a.layers) byKey.set(keyOf(l), { a: l });
  for (const l of b.layers) {
    const e = byKey.get(keyOf(l));
    if (e) e.b = l;
    else byKey.set(keyOf(l), { b: l });
  }
  const rows: CompareRow[] = [];
  const totals: CompareTotals = { msA: 0, msB: 0, deltaMs: 0, deltaRel: null, matched: 0, onlyA: 0, onlyB: 0 };
  for (const [key, { a: la, b: lb }] of byKey) {
    const ref = (la ?? lb)!;
    const ta = la && !la.skipped ? layerTimes(la) : null;
    const tb = lb && !lb.skipped ? layerTimes(lb) : null;
    const msA = ta ? finite(ta.chosenMs) : null;
    const msB = tb ? finite(tb.chosenMs) : null;
    const deltaMs = msA !== null && msB !== null ? msB - msA : null;
    const shapeA = la && !la.skipped ? `${la.m}×${la.n}×${la.k}` : null;
    const shapeB = lb && !lb.skipped ? `${lb.m}×${lb.n}×${lb.k}` : null;
    rows.push({
      key,
      input: ref.input,
      index: ref.index,
      name: ref.name,
      op: ref.op,
      shape: shapeA ?? shapeB ?? '—',
      shapeChanged: shapeA !== null && shapeB !== null && shapeA !== shapeB,
      chosenA: la && !la.skipped ? la.chosen : null,
      chosenB: lb && !lb.skipped ? lb.chosen : null,
      msA,
      msB,
      denseA: ta ? finite(ta.denseMs) : null,
      denseB: tb ? finite(tb.denseMs) : null,
      deltaMs,
      deltaRel: deltaMs !== null && msA ? deltaMs / msA : null,
    });
    if (msA !== null && msB !== null) {
      totals.msA += msA;
      totals.msB += msB;
      totals.matched++;
    } else if (msA !== null) totals.onlyA++;
    else if (msB !== null) totals.onlyB++;
  }
  rows.sort((x, y) => x.input - y.input || x.index - y.index);
  totals.deltaMs = totals.msB - totals.msA;
  totals.deltaRel = totals.msA > 0 ? totals.deltaMs / totals.msA : null;
  return { rows, totals };
}

/** Columns the compare table sorts by. */
export type CompareSortKey = 'order' | 'name' | 'msA' | 'msB' | 'deltaMs' | 'deltaRel';

/**
 * Rows sorted by `key` (ascending or descending); rows without a value go last either way, and ties keep
 * (input, index) order so the table does not jump.
 */
export function sortRows(rows: readonly CompareRow[], key: CompareSortKey, dir: 'asc' | 'desc'): CompareRow[] {
  const sign = dir === 'asc' ? 1 : -1;
  const order = (x: CompareRow, y: CompareRow) => x.input - y.input || x.index - y.index;
  return [...rows].sort((x, y) => {
    if (key === 'order') return sign * order(x, y);
    if (key === 'name') return sign * x.name.localeCompare(y.name) || order(x, y);
    const vx = x[key];
    const vy = y[key];
    if (vx === null && vy === null) return order(x, y);
    if (vx === null) return 1;
    if (vy === null) return -1;
    return sign * (vx - vy) || order(x, y);
  });
}
