/**
 * The whole model at a glance (issue 13): one row per layer of an input with its chosen and baseline times, what
 * PIT saves, its share of the run; sorting and filtering of those rows; the top N; roll-ups by operator and by the
 * chosen variant's family; the Pareto of savings; skipped layers grouped by reason. Pure functions (tested in
 * test/renderer). Times in ms (medians of the samples), fractions 0–1.
 */
import type { LayerResult, RunReport, VariantResult } from '../../../core/protocol.ts';
import { baselineName, findVariant, variantTime } from './layer.ts';

/** One layer of one input, as the Model view's table and charts use it. */
export interface ModelRow {
  /** `input:index`, unique in a run. */
  key: string;
  index: number;
  input: number;
  name: string;
  op: string;
  m: number;
  n: number;
  k: number;
  /** Fraction of zeros of A; null for a skipped layer. */
  sparsity: number | null;
  /** Why the layer was not profiled; null when it was. */
  skipped: string | null;
  chosen: string | null;
  /** Kernel family of the chosen variant (`FamilyInfo.name`). */
  family: string | null;
  chosenMs: number | null;
  baselineMs: number | null;
  /** The measured variants behind the two times (their spread). */
  chosenVariant: VariantResult | null;
  baselineVariant: VariantResult | null;
  /** Baseline − chosen, ms: the time PIT saves on this layer (0 when a dense tile is chosen). */
  savedMs: number | null;
  /** Baseline / chosen. */
  gain: number | null;
  /** Chosen time / Σ chosen time of the input's profiled layers. */
  share: number | null;
  /** Effective density of the chosen variant's micro-tile (1 for dense). */
  effectiveDensity: number | null;
}

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** The family of a variant: stored, else the first word of its name (runs before families were data). */
export function familyOf(v: VariantResult): string {
  return v.family ?? v.name.split(' ')[0]!;
}

/** One row per layer of input `input` (model order), shares over that input's profiled layers. */
export function modelRows(report: RunReport, input: number): ModelRow[] {
  const rows = report.layers.filter((l) => l.input === input).sort((a, b) => a.index - b.index).map(rowOf);
  const total = rows.reduce((s, r) => s + (r.chosenMs ?? 0), 0);
  for (const r of rows) r.share = r.chosenMs !== null && total > 0 ? r.chosenMs / total : null;
  return rows;
}

function rowOf(l: LayerResult): ModelRow {
  const base = {
    key: `${l.input}:${l.index}`,
    index: l.index,
    input: l.input,
    name: l.name,
    op: l.op,
    m: l.m,
    n: l.n,
    k: l.k,
    share: null,
  };
  if (l.skipped) {
    return { ...base, sparsity: null, skipped: l.skipped, chosen: null, family: null, chosenMs: null, baselineMs: null, chosenVariant: null, baselineVariant: null, savedMs: null, gain: null, effectiveDensity: null };
  }
  const bv = findVariant(l, baselineName(l)) ?? null;
  const cv = findVariant(l, l.chosen) ?? bv;
  const chosenMs = cv ? finiteOrNull(variantTime(cv)) : null;
  const baselineMs = bv ? finiteOrNull(variantTime(bv)) : null;
  return {
    ...base,
    sparsity: finiteOrNull(l.sparsity),
    skipped: null,
    chosen: l.chosen,
    family: cv ? familyOf(cv) : null,
    chosenMs,
    baselineMs,
    chosenVariant: cv,
    baselineVariant: bv,
    savedMs: chosenMs !== null && baselineMs !== null ? baselineMs - chosenMs : null,
    gain: chosenMs !== null && baselineMs !== null && chosenMs > 0 ? baselineMs / chosenMs : null,
    effectiveDensity: l.effectiveDensity ?? cv?.effectiveDensity ?? (cv && cv.microTile === null ? 1 : null),
  };
}

/** Columns a layer table sorts by. */
export type ModelSortKey = 'index' | 'name' | 'op' | 'sparsity' | 'chosenMs' | 'baselineMs' | 'savedMs' | 'gain' | 'share' | 'chosen';

/**
 * Rows sorted by `key`; rows without a value (skipped layers) go last either way, ties keep model order.
 */
export function sortModelRows(rows: readonly ModelRow[], key: ModelSortKey, dir: 'asc' | 'desc'): ModelRow[] {
  const sign = dir === 'asc' ? 1 : -1;
  return [...rows].sort((x, y) => {
    if (key === 'index') return sign * (x.input - y.input || x.index - y.index);
    const vx = x[key];
    const vy = y[key];
    if (vx === null && vy === null) return x.index - y.index;
    if (vx === null) return 1;
    if (vy === null) return -1;
    const c = typeof vx === 'string' ? vx.localeCompare(vy as string) : (vx as number) - (vy as number);
    return sign * c || x.index - y.index;
  });
}

/** What a layer list shows: `text` matches name, operator or chosen variant (case-insensitive); `status` narrows. */
export interface RowFilter {
  text: string;
  status: 'all' | 'profiled' | 'skipped' | 'pit';
}

/** Rows matching the filter (see RowFilter). `pit`: layers where a variant other than the baseline was chosen. */
export function filterModelRows<R extends Pick<ModelRow, 'name' | 'op' | 'chosen' | 'skipped' | 'index'> & { baseline?: string | null }>(
  rows: readonly R[],
  f: RowFilter,
  isPit: (r: R) => boolean,
): R[] {
  const q = f.text.trim().toLowerCase();
  return rows.filter((r) => {
    if (f.status === 'profiled' && r.skipped) return false;
    if (f.status === 'skipped' && !r.skipped) return false;
    if (f.status === 'pit' && (r.skipped || !isPit(r))) return false;
    if (!q) return true;
    return [r.name, r.op, r.chosen ?? '', String(r.index)].some((s) => s.toLowerCase().includes(q));
  });
}

/** Whether a row's chosen variant is not its baseline (PIT, or another family, won). */
export function pitChosen(r: ModelRow): boolean {
  return !r.skipped && !!r.chosenVariant && !!r.baselineVariant && r.chosenVariant.name !== r.baselineVariant.name;
}

/** The `n` layers that take the most time (chosen), slowest first, with their cumulative share. */
export function topLayers(rows: readonly ModelRow[], n: number): (ModelRow & { cumShare: number })[] {
  let cum = 0;
  return sortModelRows(
    rows.filter((r) => r.chosenMs !== null),
    'chosenMs',
    'desc',
  )
    .slice(0, Math.max(0, n))
    .map((r) => ({ ...r, cumShare: (cum += r.share ?? 0) }));
}

/** A group of layers summed (a roll-up row). */
export interface RollUp {
  group: string;
  layers: number;
  chosenMs: number;
  baselineMs: number;
  /** Σ chosen / Σ chosen over every group. */
  share: number;
}

/** Profiled layers summed by operator (`op`) or by the chosen variant's family (`family`), largest first. */
export function rollUp(rows: readonly ModelRow[], by: 'op' | 'family'): RollUp[] {
  const groups = new Map<string, RollUp>();
  let total = 0;
  for (const r of rows) {
    if (r.chosenMs === null) continue;
    const g = (by === 'op' ? r.op : r.family) ?? '?';
    const e = groups.get(g) ?? { group: g, layers: 0, chosenMs: 0, baselineMs: 0, share: 0 };
    e.layers++;
    e.chosenMs += r.chosenMs;
    e.baselineMs += r.baselineMs ?? r.chosenMs;
    groups.set(g, e);
    total += r.chosenMs;
  }
  return [...groups.values()].map((g) => ({ ...g, share: total > 0 ? g.chosenMs / total : 0 })).sort((a, b) => b.chosenMs - a.chosenMs || a.group.localeCompare(b.group));
}

/** One bar of the savings Pareto: what PIT saves on a layer, and the cumulative fraction of all savings so far. */
export interface Saving {
  key: string;
  name: string;
  index: number;
  savedMs: number;
  cumShare: number;
}

/** Layers where the chosen variant saves time over the baseline, largest saving first, with the cumulative share. */
export function savingsPareto(rows: readonly ModelRow[]): Saving[] {
  const saving = rows.filter((r) => r.savedMs !== null && r.savedMs > 0).sort((a, b) => b.savedMs! - a.savedMs! || a.index - b.index);
  const total = saving.reduce((s, r) => s + r.savedMs!, 0);
  let cum = 0;
  return saving.map((r) => ({ key: r.key, name: r.name, index: r.index, savedMs: r.savedMs!, cumShare: (cum += r.savedMs!) / total }));
}

/** Skipped layers grouped by the kind of reason (the reason without its parenthesised detail), largest group first. */
export function skippedByReason(rows: readonly ModelRow[]): { reason: string; layers: { index: number; name: string; detail: string }[] }[] {
  const groups = new Map<string, { index: number; name: string; detail: string }[]>();
  for (const r of rows) {
    if (!r.skipped) continue;
    const kind = r.skipped.replace(/\s*\(.*\)\s*$/, '') || r.skipped;
    const list = groups.get(kind) ?? [];
    list.push({ index: r.index, name: r.name, detail: r.skipped });
    groups.set(kind, list);
  }
  return [...groups.entries()].map(([reason, layers]) => ({ reason, layers })).sort((a, b) => b.layers.length - a.layers.length || a.reason.localeCompare(b.reason));
}

/** Sums over an input's rows: chosen and baseline time, what PIT saves, and how many layers were profiled or skipped. */
export function inputTotals(rows: readonly ModelRow[]): { chosenMs: number; baselineMs: number; savedMs: number; profiled: number; skipped: number; pit: number } {
  const t = { chosenMs: 0, baselineMs: 0, savedMs: 0, profiled: 0, skipped: 0, pit: 0 };
  for (const r of rows) {
    if (r.skipped) {
      t.skipped++;
      continue;
    }
    t.profiled++;
    t.chosenMs += r.chosenMs ?? 0;
    t.baselineMs += r.baselineMs ?? r.chosenMs ?? 0;
    t.savedMs += Math.max(0, r.savedMs ?? 0);
    if (pitChosen(r)) t.pit++;
  }
  return t;
}
