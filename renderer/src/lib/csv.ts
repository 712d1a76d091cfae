/**
 * CSV export (RFC 4180): fields with a comma, quote or line break are quoted, quotes doubled; lines end with CRLF.
 * Numbers keep full precision (a spreadsheet rounds for display); missing values are empty fields.
 */
import type { RunReport } from '../../../core/protocol.ts';
import type { CompareRow } from './compare.ts';
import { findVariant, layerTimes } from './layer.ts';

/** A CSV column: its header and how to read a row's value. */
export interface CsvColumn<R> {
  header: string;
  value: (row: R) => string | number | boolean | null | undefined;
}

/** One field, quoted when needed; null, undefined and non-finite numbers are empty. */
export function csvField(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The whole table: a header line, then one line per row. */
export function toCsv<R>(columns: readonly CsvColumn<R>[], rows: readonly R[]): string {
  const lines = [columns.map((c) => csvField(c.header)).join(',')];
  for (const r of rows) lines.push(columns.map((c) => csvField(c.value(r))).join(','));
  return lines.join('\r\n') + '\r\n';
}

/**
 * A run's per-layer table: shapes, sparsity, effective density per micro-tile shape, every variant's time and
 * verdict, the chosen one. Columns for micro-tiles and variants are the union over the run's layers.
 */
export function runCsv(report: RunReport): string {
  const shapes = [...new Set(report.layers.flatMap((l) => l.microTiles.map((t) => t.shape)))];
  const variants = [...new Set(report.layers.flatMap((l) => l.variants.map((v) => v.name)))];
  type L = RunReport['layers'][number];
  const columns: CsvColumn<L>[] = [
    { header: 'input', value: (l) => l.input },
    { header: 'layer', value: (l) => l.index },
    { header: 'name', value: (l) => l.name },
    { header: 'op', value: (l) => l.op },
    { header: 'M', value: (l) => l.m },
    { header: 'N', value: (l) => l.n },
    { header: 'K', value: (l) => l.k },
    { header: 'sparsity', value: (l) => (l.skipped ? null : l.sparsity) },
    ...shapes.map((s): CsvColumn<L> => ({ header: `density ${s}`, value: (l) => l.microTiles.find((t) => t.shape === s)?.density })),
    ...variants.flatMap((name): CsvColumn<L>[] => [
      { header: `${name} ms`, value: (l) => findVariant(l, name)?.ms },
      { header: `${name} detect ms`, value: (l) => findVariant(l, name)?.detectMs },
      { header: `${name} max abs err`, value: (l) => findVariant(l, name)?.maxAbsErr },
      { header: `${name} ok`, value: (l) => findVariant(l, name)?.ok },
    ]),
    { header: 'chosen', value: (l) => (l.skipped ? null : l.chosen) },
    { header: 'chosen ms (with detection)', value: (l) => (l.skipped ? null : layerTimes(l).chosenMs) },
    { header: 'speedup over dense', value: (l) => (l.skipped ? null : layerTimes(l).speedup) },
    { header: 'skipped', value: (l) => l.skipped ?? '' },
  ];
  return toCsv(columns, report.layers);
}

/** The compare table as CSV (Δ% as a fraction, like every ratio the app exports). */
export function compareCsv(rows: readonly CompareRow[], labelA: string, labelB: string): string {
  return toCsv<CompareRow>(
    [
      { header: 'input', value: (r) => r.input },
      { header: 'layer', value: (r) => r.index },
      { header: 'name', value: (r) => r.name },
      { header: 'op', value: (r) => r.op },
      { header: 'shape', value: (r) => r.shape },
      { header: `chosen ${labelA}`, value: (r) => r.chosenA },
      { header: `chosen ${labelB}`, value: (r) => r.chosenB },
      { header: `ms ${labelA}`, value: (r) => r.msA },
      { header: `ms ${labelB}`, value: (r) => r.msB },
      { header: 'delta ms', value: (r) => r.deltaMs },
      { header: 'delta fraction', value: (r) => r.deltaRel },
      { header: `dense ms ${labelA}`, value: (r) => r.denseA },
      { header: `dense ms ${labelB}`, value: (r) => r.denseB },
    ],
    rows,
  );
}
