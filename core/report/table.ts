/**
 * The per-layer report of a run as text: one row per profiled layer (layer, op, M×N×K, sparsity, best micro-tile
 * density, dense ms, chosen variant, chosen ms, speedup, max error) and totals (dense, chosen, detection, ideal).
 */
import { median } from '../gpu/timing.ts';
import { regretOf } from '../pit/policy.ts';
import type { LayerResult, RunReport, VariantResult } from '../protocol.ts';

/** The measured variant named `name` of a layer, if it ran. */
export function variantOf(layer: LayerResult, name: string): VariantResult | undefined {
  return layer.variants.find((v) => v.name === name);
}

/**
 * Lowest micro-tile density of a layer over shapes a kernel can use (element density `1x1` excluded: it is
 * 1 − sparsity, not a micro-tile any rule computes), or 1 when none was measured.
 */
export function bestDensity(layer: LayerResult): { shape: string; density: number } {
  let best = { shape: '-', density: 1 };
  for (const t of layer.microTiles) if (t.shape !== '1x1' && t.density < best.density) best = t;
  return best;
}

function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  return ms >= 100 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3);
}

function pad(cells: string[], widths: number[], right: boolean[]): string {
  return cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
}

/** Median and max of a list of regrets (fractions). */
export interface RegretStats {
  layers: number;
  median: number;
  max: number;
}

/**
 * The policy's regret over the layers that have one (audited tiledb runs): median and max of chosen measured /
 * best measured − 1, fractions; and the same for the prediction alone (the predicted-fastest rule's measured time,
 * before the shortlist's measurements picked). Null when no layer was audited.
 */
export function regretSummary(layers: LayerResult[]): (RegretStats & { prediction: RegretStats | null }) | null {
  const audited = layers.filter((l) => l.regret !== undefined);
  if (!audited.length) return null;
  const stats = (r: number[]): RegretStats => ({ layers: r.length, median: median(r), max: Math.max(...r) });
  const predicted = audited.filter((l) => l.predicted).map((l) => regretOf(l.variants, l.predicted!.variant)).filter(Number.isFinite);
  return { ...stats(audited.map((l) => l.regret!)), prediction: predicted.length ? stats(predicted) : null };
}

/** The layers skipped for one reason. */
export interface SkippedGroup {
  reason: string;
  /** Each layer once, in run order, with the inputs (indices) on which it was skipped. */
  layers: { name: string; op: string; inputs: number[] }[];
}

/**
 * Every skipped layer grouped by its reason (reasons in order of first appearance, layers in run order): what the
 * report, `pit show` and the JSON list under "not profiled". A layer skipped on several inputs appears once.
 */
export function skippedByReason(layers: readonly LayerResult[]): SkippedGroup[] {
  const groups = new Map<string, Map<string, SkippedGroup['layers'][number]>>();
  for (const l of layers) {
    if (!l.skipped) continue;
    let g = groups.get(l.skipped);
    if (!g) groups.set(l.skipped, (g = new Map()));
    const entry = g.get(l.name);
    if (entry) entry.inputs.push(l.input);
    else g.set(l.name, { name: l.name, op: l.op, inputs: [l.input] });
  }
  return [...groups].map(([reason, g]) => ({ reason, layers: [...g.values()] }));
}

/** The "not profiled" lines of a report: a header, then one line per reason listing every layer it covers. */
function skippedLines(layers: readonly LayerResult[], inputCount: number): string[] {
  const groups = skippedByReason(layers);
  if (!groups.length) return [];
  const count = groups.reduce((n, g) => n + g.layers.length, 0);
  const lines = [`not profiled: ${count} layer${count === 1 ? '' : 's'}, by reason:`];
  for (const g of groups) {
    const names = g.layers.map((l) => {
      // Only when a layer was skipped on some inputs and not others is it worth saying which.
      const some = inputCount > 1 && l.inputs.length < inputCount ? ` [input ${l.inputs.join(', ')}]` : '';
      return `${l.name} (${l.op})${some}`;
    });
    lines.push(`  ${g.reason} — ${g.layers.length}: ${names.join(', ')}`);
  }
  return lines;
}

/**
 * Renders the table of `report` (plain text, fixed-width columns). Every skipped layer is listed, grouped by reason.
 * Runs chosen by the tile-database policy get two more columns: the predicted ms of the chosen rule and, when
 * audited, the regret.
 */
export function formatReport(report: RunReport): string {
  const predicted = report.layers.some((l) => l.predicted);
  const audited = report.layers.some((l) => l.regret !== undefined);
  const head = ['input', 'layer', 'op', 'M×N×K', 'sparsity', 'best µtile', 'dense ms', 'chosen', 'chosen ms', 'speedup', 'max err'];
  const right = [true, false, false, true, true, false, true, false, true, true, true];
  if (predicted) {
    head.push('predicted ms');
    right.push(true);
  }
  if (audited) {
    head.push('regret');
    right.push(true);
  }
  const rows: string[][] = [];
  for (const l of report.layers) {
    if (l.skipped) continue;
    const dense = variantOf(l, 'dense');
    const chosen = variantOf(l, l.chosen);
    const best = bestDensity(l);
    const chosenTotal = chosen ? chosen.ms + chosen.detectMs : NaN;
    const failed = l.variants.filter((v) => !v.ok).map((v) => v.name);
    rows.push([
      String(l.input),
      l.name,
      l.op,
      `${l.m}×${l.n}×${l.k}`,
      l.sparsity.toFixed(3),
      `${best.shape} ${best.density.toFixed(3)}`,
      fmtMs(dense?.ms ?? NaN),
      l.chosen + (failed.length ? ` (${failed.join(',')} failed)` : ''),
      fmtMs(chosenTotal),
      dense && chosen ? `${(dense.ms / chosenTotal).toFixed(2)}x` : 'n/a',
      Math.max(...l.variants.filter((v) => Number.isFinite(v.maxAbsErr)).map((v) => v.maxAbsErr), 0).toExponential(1),
      ...(predicted ? [l.predicted ? fmtMs(l.predicted.ms) : '-'] : []),
      ...(audited ? [l.regret !== undefined ? `${(l.regret * 100).toFixed(1)} %` : '-'] : []),
    ]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const lines = [pad(head, widths, right), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => pad(r, widths, right))];
  const t = report.totals;
  const speedup = t.chosenMs > 0 ? (t.denseMs / t.chosenMs).toFixed(2) : 'n/a';
  lines.push('');
  lines.push(
    `totals: dense ${fmtMs(t.denseMs)} ms, chosen ${fmtMs(t.chosenMs)} ms (${speedup}x, detection ${fmtMs(t.detectMs)} ms included), ` +
      `ideal ${fmtMs(t.idealMs)} ms (dense × best micro-tile density)`,
  );
  const regret = regretSummary(report.layers);
  if (regret) {
    const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
    lines.push(
      `policy regret over ${regret.layers} layers: median ${pct(regret.median)}, max ${pct(regret.max)} (chosen measured / best measured − 1)` +
        (regret.prediction ? `; prediction alone: median ${pct(regret.prediction.median)}, max ${pct(regret.prediction.max)}` : ''),
    );
  }
  lines.push(...skippedLines(report.layers, report.run.inputs.length));
  const r = report.run;
  lines.push(
    `run ${r.id} ${r.complete ? 'complete' : `INCOMPLETE (${r.status})`} — model ${r.model.path} (sha256 ${r.model.sha256.slice(0, 12)}…), ` +
      `adapter ${[r.adapter.vendor, r.adapter.architecture, r.adapter.device, r.adapter.description].filter(Boolean).join(' / ')}` +
      (r.adapter.timestampQuery ? '' : ' (CPU-clock timing: no timestamp-query)'),
  );
  return lines.join('\n');
}
