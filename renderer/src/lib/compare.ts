/**
 * Two runs side by side: layers matched by (input, layer index, name), per-layer Δ of the chosen time (kernel +
 * detection) and of dense, and sorting. Pure functions (tested in test/renderer). Δ = B − A; Δ% is a fraction of A.
 */
import type { LayerResult, RunSummary, RunReport, VariantResult } from '../../../core/protocol.ts';
import { adapterName, basename } from './format.ts';
import { findVariant, layerTimes } from './layer.ts';
import { withinSpread } from './spread.ts';

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
  /** The chosen variants' measurements (their spread). */
  variantA: VariantResult | null;
  variantB: VariantResult | null;
  /** Whether the two chosen times overlap within their interquartile ranges (the Δ is not beyond the noise). */
  withinNoise: boolean;
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
      variantA: ta && la ? (findVariant(la, la.chosen) ?? null) : null,
      variantB: tb && lb ? (findVariant(lb, lb.chosen) ?? null) : null,
      withinNoise: false,
    });
    const row = rows[rows.length - 1]!;
    row.withinNoise = deltaMs !== null && withinSpread(row.variantA, row.variantB);
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

/** One setting of a run, as Runs and Compare show it. */
export interface RunSetting {
  key: 'imageSize' | 'dtype' | 'policy' | 'statistic' | 'repeat' | 'warmup' | 'inputs' | 'adapter' | 'families' | 'maxLayers' | 'model';
  label: string;
  value: string;
  /** Whether a difference in this setting makes two runs' times incomparable (Compare then refuses a headline). */
  critical: boolean;
}

const opt = (r: RunSummary, k: string): unknown => (r.options as Record<string, unknown>)[k];

/** The settings of a run that make its numbers what they are, in display order. Missing ones read `—`. */
export function runSettings(r: RunSummary): RunSetting[] {
  const imageSize = opt(r, 'imageSize');
  const warmupMs = opt(r, 'warmupMs');
  const maxLayers = opt(r, 'maxLayers');
  const policy = r.policy ? `${r.policy.policy}${r.policy.audit ? ' + audit' : ''}` : 'measure';
  const inputs = r.inputs.map((i) => `${basename(i.path)} ${JSON.stringify(i.shape)}`).join(', ') || '—';
  return [
    { key: 'imageSize', label: 'image size', value: typeof imageSize === 'number' ? `${imageSize} px` : '—', critical: true },
    // f16 runs compute on A and B rounded to f16 (f32 accumulation): their times and errors are another precision's.
    { key: 'dtype', label: 'dtype', value: r.dtype ?? 'f32', critical: true },
    { key: 'policy', label: 'policy', value: policy, critical: true },
    { key: 'statistic', label: 'statistic', value: String(opt(r, 'statistic') ?? 'median'), critical: true },
    { key: 'repeat', label: 'repeat', value: String(r.repeat), critical: true },
    { key: 'warmup', label: 'warm-up', value: typeof warmupMs === 'number' ? `${warmupMs} ms` : '—', critical: false },
    { key: 'inputs', label: 'inputs', value: inputs, critical: true },
    { key: 'adapter', label: 'adapter', value: adapterName(r.adapter), critical: true },
    { key: 'families', label: 'families', value: r.families.join(', '), critical: false },
    { key: 'maxLayers', label: 'max layers', value: typeof maxLayers === 'number' ? String(maxLayers) : 'all', critical: false },
    { key: 'model', label: 'model', value: `${basename(r.model.path)} (${r.model.sha256.slice(0, 12)})`, critical: true },
  ];
}

/** Settings whose values differ between runs `a` and `b` (critical ones first). */
export function settingsDiff(a: RunSummary, b: RunSummary): { key: RunSetting['key']; label: string; a: string; b: string; critical: boolean }[] {
  const sb = new Map(runSettings(b).map((s) => [s.key, s]));
  return runSettings(a)
    .filter((s) => sb.get(s.key)!.value !== s.value)
    .map((s) => ({ key: s.key, label: s.label, a: s.value, b: sb.get(s.key)!.value, critical: s.critical }))
    .sort((x, y) => Number(y.critical) - Number(x.critical));
}
