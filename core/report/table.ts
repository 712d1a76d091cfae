/**
 * The per-layer report of a run as text: one row per profiled layer — layer, op, M×N×K, sparsity, the effective
 * density of the chosen rule's micro-tile, the dense baseline (fastest verified dense tile) with its spread, the gain
 * of that tile over the default one, the chosen variant with its spread, PIT's gain over the baseline, the flags of
 * the attribution (undecided, suspect, noise band) and the max error — and totals that keep the dense tile choice
 * apart from PIT's gain. Batched layers (attention per head, grouped convs per group) show their batch before
 * M×N×K, the range of their per-batch sparsity, and a line each under the table with the per-batch (per-head)
 * sparsity and micro-tile densities; runs that treated near-zero values as zero show each layer's approximation error.
 * A layer without verified figures (no dense variant verified: `LayerResult.failed`) shows no times and no error, is
 * left out of the totals, and is listed with its reason below them (issue 14 item 2).
 */
import { describeCapabilities } from '../gpu/device.ts';
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

/** `1.234±4%`: a median with its IQR as a percentage of it (what every time in the table is). */
function fmtStat(v: VariantResult | undefined): string {
  if (!v || !v.ok) return 'n/a';
  const t = totalOf(v);
  if (v.iqrMs === undefined || !Number.isFinite(v.iqrMs) || !(t > 0)) return fmtMs(t);
  return `${fmtMs(t)}±${Math.round((100 * v.iqrMs) / t)}%`;
}

/** A variant's time: the median total (layout + detection + kernel), or kernel + detection for older runs. */
export function totalOf(v: VariantResult): number {
  return v.totalMs ?? v.ms + (Number.isFinite(v.detectMs) ? v.detectMs : 0) + (v.layoutMs ?? 0);
}

/** The attribution flags of a layer, comma-separated ('' when none). */
export function layerFlags(l: LayerResult): string {
  const flags: string[] = [];
  if (l.undecided) flags.push('undecided');
  if (l.noiseBand) flags.push('noise band');
  const suspects = l.variants.filter((v) => v.suspect).map((v) => v.name);
  if (suspects.length) flags.push(`suspect: ${suspects.join(', ')}`);
  if (l.tiled) flags.push(`tiled: ${l.tiled.slices} ${l.tiled.batches !== undefined ? 'batch' : 'row'} slices`);
  if (l.failed) flags.push('LAYER FAILED (not in the totals)');
  const failed = l.variants.filter((v) => !v.ok).map((v) => v.name);
  if (failed.length) flags.push(`failed: ${failed.join(', ')}`);
  return flags.join('; ');
}

/** The largest max abs error of a layer's verified variants; `n/a` when none verified (never a made-up 0). */
function maxErr(l: LayerResult): string {
  const errs = l.variants.filter((v) => v.ok && Number.isFinite(v.maxAbsErr)).map((v) => v.maxAbsErr);
  return errs.length ? Math.max(...errs).toExponential(1) : 'n/a';
}

function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  return ms >= 100 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3);
}

/** `[1×8]·10×10×15` for a batched layer, `M×N×K` otherwise. */
export function shapeLabel(l: LayerResult): string {
  const mnk = `${l.m}×${l.n}×${l.k}`;
  if (!l.batch || l.batch <= 1) return mnk;
  return `[${(l.batchDims?.length ? l.batchDims : [l.batch]).join('×')}]·${mnk}`;
}

/** `0.500` or, batched, `0.500 [0.100–0.900]` (the range over batches). */
function sparsityLabel(l: LayerResult): string {
  const s = l.sparsity.toFixed(3);
  const per = l.perBatch?.sparsity;
  if (!per?.length) return s;
  return `${s} [${Math.min(...per).toFixed(3)}–${Math.max(...per).toFixed(3)}]`;
}

/** Values of one batched statistic as a short text: every value for up to 16 batches, else min / median / max. */
function perBatchText(values: readonly number[]): string {
  if (values.length <= 16) return values.map((v) => v.toFixed(2)).join(' ');
  return `min ${Math.min(...values).toFixed(2)} / median ${median([...values]).toFixed(2)} / max ${Math.max(...values).toFixed(2)} over ${values.length}`;
}

/** The per-batch lines under the table: per batched layer-run, its sparsity and rule micro-tile densities per batch. */
function perBatchLines(layers: readonly LayerResult[]): string[] {
  const batched = layers.filter((l) => !l.skipped && l.perBatch);
  if (!batched.length) return [];
  const lines = ['per batch (per head / per group; values in batch order, row-major over the batch dims):'];
  for (const l of batched) {
    const p = l.perBatch!;
    const what = l.batchKind === 'groups' ? 'groups' : 'batch·heads';
    const parts = [`A sparsity ${perBatchText(p.sparsity)}`];
    if (p.bSparsity) parts.push(`B sparsity ${perBatchText(p.bSparsity)}`);
    for (const t of p.microTiles) parts.push(`${t.operand === 'b' ? 'B ' : ''}${t.shape} density ${perBatchText(t.density)}`);
    lines.push(`  [${l.input}] ${l.name} ${shapeLabel(l)} (${what}${l.shared?.a ? ', A shared' : ''}${l.shared?.b ? ', B shared' : ''}): ${parts.join('; ')}`);
  }
  return lines;
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

/**
 * Layer-runs that were profiled but have no verified figures, grouped by their reason (order of first appearance),
 * each layer once with the inputs it failed on. Runs recorded before `failed` was stored derive it (db/runs.ts).
 */
export function failedByReason(layers: readonly LayerResult[]): SkippedGroup[] {
  const groups = new Map<string, Map<string, SkippedGroup['layers'][number]>>();
  for (const l of layers) {
    if (!l.failed || l.skipped) continue;
    let g = groups.get(l.failed);
    if (!g) groups.set(l.failed, (g = new Map()));
    const entry = g.get(l.name);
    if (entry) entry.inputs.push(l.input);
    else g.set(l.name, { name: l.name, op: l.op, inputs: [l.input] });
  }
  return [...groups].map(([reason, g]) => ({ reason, layers: [...g.values()] }));
}

/** The "failed" lines of a report: how many layer-runs have no verified figures, and why (the first real error). */
function failedLines(layers: readonly LayerResult[]): string[] {
  const count = layers.filter((l) => l.failed && !l.skipped).length;
  if (!count) return [];
  const lines = [`failed: ${count} layer-run${count === 1 ? '' : 's'} with no verified figures (no dense variant verified), left out of the totals:`];
  for (const g of failedByReason(layers)) lines.push(`  ${g.reason} — ${g.layers.map((l) => `${l.name} (${l.op})`).join(', ')}`);
  return lines;
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
  const approximated = report.layers.some((l) => l.approximation);
  const head = ['input', 'layer', 'op', 'M×N×K', 'sparsity', 'eff. density', 'baseline', 'ms', 'tile gain', 'chosen', 'ms', 'PIT gain', 'max err', 'flags'];
  const right = [true, false, false, true, true, true, false, true, true, false, true, true, true, false];
  if (predicted) {
    head.push('predicted ms');
    right.push(true);
  }
  if (audited) {
    head.push('regret');
    right.push(true);
  }
  if (approximated) {
    head.push('approx. err (rel. L2)');
    right.push(true);
  }
  const rows: string[][] = [];
  for (const l of report.layers) {
    if (l.skipped) continue;
    const baseline = l.failed ? undefined : variantOf(l, l.baseline ?? 'dense');
    const chosen = l.failed ? undefined : variantOf(l, l.chosen);
    const onB = chosen?.operand === 'b';
    const chosenMt = chosen?.microTile ? (onB ? l.operandB?.microTiles : l.microTiles)?.find((t) => t.shape === chosen.microTile) : undefined;
    const eff = chosenMt
      ? `${onB ? 'B ' : ''}${chosenMt.shape} ${(chosenMt.effectiveDensity ?? chosenMt.density).toFixed(3)}`
      : `${bestDensity(l).shape} ${bestDensity(l).density.toFixed(3)}`;
    const pitGain = l.pitGain ?? (baseline && chosen && baseline.ok && chosen.ok ? totalOf(baseline) / totalOf(chosen) : NaN);
    rows.push([
      String(l.input),
      l.name,
      l.op,
      shapeLabel(l),
      sparsityLabel(l),
      eff,
      baseline?.name ?? 'n/a',
      fmtStat(baseline),
      l.denseTileGain !== undefined ? `${l.denseTileGain.toFixed(2)}x` : '-',
      l.chosen,
      fmtStat(chosen),
      Number.isFinite(pitGain) ? `${pitGain.toFixed(2)}x` : 'n/a',
      maxErr(l),
      layerFlags(l),
      ...(predicted ? [l.predicted ? fmtMs(l.predicted.ms) : '-'] : []),
      ...(audited ? [l.regret !== undefined ? `${(l.regret * 100).toFixed(1)} %` : '-'] : []),
      ...(approximated ? [l.approximation ? l.approximation.relL2Err.toExponential(2) : '-'] : []),
    ]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const lines = [pad(head, widths, right), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => pad(r, widths, right))];
  const t = report.totals;
  const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a');
  const profiled = report.layers.filter((l) => !l.skipped);
  const sample = profiled.flatMap((l) => l.variants).find((v) => v.repeats !== undefined);
  lines.push('');
  if (sample) {
    lines.push(
      `times: median of ${sample.repeats}+ samples per variant (${sample.method === 'cpu' ? 'CPU clock' : 'GPU timestamp queries'}; layout + detection + kernel), ` +
        `±% = interquartile range / median; interleaved rounds; every sample stored`,
    );
  }
  const over = t.layers !== undefined ? ` over ${t.layers} layer-run${t.layers === 1 ? '' : 's'}${t.failedLayers ? ` (${t.failedLayers} failed, left out)` : ''}` : '';
  lines.push(
    `totals${over}: default dense ${fmtMs(t.defaultDenseMs)} ms → baseline dense ${fmtMs(t.denseMs)} ms (dense tile choice ${ratio(t.defaultDenseMs, t.denseMs)}) → ` +
      `chosen ${fmtMs(t.chosenMs)} ms (PIT gain ${ratio(t.denseMs, t.chosenMs)}; detection ${fmtMs(t.detectMs)} ms and layout ${fmtMs(t.layoutMs)} ms included); ` +
      `ideal ${fmtMs(t.idealMs)} ms (baseline × lowest effective density)`,
  );
  const pitChosen = profiled.filter((l) => l.baseline !== undefined && l.chosen !== l.baseline);
  if (profiled.some((l) => l.baseline !== undefined)) {
    const undecided = profiled.filter((l) => l.undecided).length;
    const suspects = profiled.reduce((n, l) => n + l.variants.filter((v) => v.suspect).length, 0);
    const band = profiled.filter((l) => l.noiseBand).length;
    lines.push(
      `attribution: ${pitChosen.length} of ${profiled.length} layer-runs chose a PIT variant (each beyond the noise, speed-up within 1.25 / effective density)` +
        `${band ? `, ${band} of them at effective density ≥ 0.95 (noise band shown)` : ''}; ${undecided} undecided (baseline kept); ${suspects} suspect measurement(s) not chosen`,
    );
  }
  const regret = regretSummary(report.layers);
  if (regret) {
    const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
    lines.push(
      `policy regret over ${regret.layers} layers: median ${pct(regret.median)}, max ${pct(regret.max)} (chosen measured / best measured − 1)` +
        (regret.prediction ? `; prediction alone: median ${pct(regret.prediction.median)}, max ${pct(regret.prediction.max)}` : ''),
    );
  }
  lines.push(...perBatchLines(report.layers));
  const zero = report.run.options.zero as { threshold?: number; keep?: number } | undefined;
  if (approximated) {
    lines.push(
      `near-zero as zero: ${zero?.threshold !== undefined ? `|x| ≤ ${zero.threshold} is zero` : zero?.keep !== undefined ? `the ${zero.keep} largest magnitudes kept per operand` : 'on'} in every activation operand; ` +
        `every variant verified against the thresholded computation (CPU float64); "approx. err" = ‖thresholded − reference runtime‖₂ / ‖reference runtime‖₂ of the layer's output`,
    );
  }
  lines.push(...failedLines(report.layers));
  lines.push(...skippedLines(report.layers, report.run.inputs.length));
  const r = report.run;
  const failedCount = report.layers.filter((l) => l.failed && !l.skipped).length;
  const failedNote = failedCount ? `, ${failedCount} of ${profiled.length} layer-runs FAILED (no verified figures)` : '';
  lines.push(
    `run ${r.id} ${r.complete ? 'complete' : `INCOMPLETE (${r.status})`}${failedNote} — model ${r.model.path} (sha256 ${r.model.sha256.slice(0, 12)}…), ` +
      `adapter ${[r.adapter.vendor, r.adapter.architecture, r.adapter.device, r.adapter.description].filter(Boolean).join(' / ')}` +
      (r.adapter.timestampQuery ? '' : ' (CPU-clock timing: no timestamp-query)') +
      `; dtype ${r.dtype ?? 'f32'}${r.dtype === 'f16' ? ' (A, B rounded to f16, f32 accumulation)' : ''}`,
  );
  const caps = describeCapabilities(r.adapter);
  if (caps) lines.push(`device: ${caps}`);
  return lines.join('\n');
}
