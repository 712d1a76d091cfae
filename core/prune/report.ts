/**
 * The summary of a pruning as data (`--json`) and as text (stdout): per layer the shape, the sparsity reached and
 * the importance retained (with the permutation ablation when there is one), the skipped layers with their
 * reasons, totals, and the agreement with the unpruned model when it was evaluated. Everything is labelled one-shot.
 */
import type { AgreementReport } from './evaluate.ts';
import type { SkippedLayer } from './layers.ts';
import { IMPORTANCE_NOTE } from './metadata.ts';
import { pruneTotals, type PruneConfig, type PrunedLayer } from './prune.ts';
import type { RetainedAblation } from './types.ts';

/** The `--json` document of `pit prune`. */
export interface PruneSummary {
  oneShot: true;
  importance: string;
  model: string;
  out: string;
  config: PruneConfig;
  calibration: { inputs: string[]; imageSize: number };
  layers: { name: string; op: string; k: number; n: number; sparsity: number; retained: number; ablation?: RetainedAblation }[];
  skipped: SkippedLayer[];
  /** Over the pruned layers: weights, weights set to zero, and their ratio (0–1). */
  totals: { weights: number; zeroed: number; sparsity: number; retained: number };
  agreement?: AgreementReport;
  /** Wall time of calibration and of pruning, ms. */
  ms: { calibrate: number; prune: number };
}

/**
 * Builds the summary document. The total retained importance is the mean of the layers' fractions, not a pooled sum:
 * each layer's importance is scaled by its own activations, so sums across layers would weigh layers arbitrarily.
 */
export function pruneSummary(args: Omit<PruneSummary, 'oneShot' | 'importance' | 'layers' | 'totals'> & { pruned: readonly PrunedLayer[] }): PruneSummary {
  const { pruned, ...rest } = args;
  const t = pruneTotals(pruned);
  const retained = pruned.length ? pruned.reduce((s, p) => s + p.retained, 0) / pruned.length : 1;
  return {
    oneShot: true,
    importance: IMPORTANCE_NOTE,
    ...rest,
    layers: pruned.map((p) => ({
      name: p.layer.name,
      op: p.layer.op.op,
      k: p.layer.k,
      n: p.layer.n,
      sparsity: p.sparsity,
      retained: p.retained,
      ...(p.result.ablation ? { ablation: p.result.ablation } : {}),
    })),
    totals: { ...t, retained },
  };
}

const pct = (x: number | undefined | null, d = 1) => (x === undefined || x === null ? '-' : `${(x * 100).toFixed(d)} %`);

/** The summary as fixed-width text. */
export function formatPruneSummary(s: PruneSummary): string {
  const c = s.config;
  const lines: string[] = [];
  const what = c.pattern === 'hinm' || c.pattern === 'vw' ? `, V = ${c.vector}, permute ${c.permute}` : '';
  lines.push(`pit prune (one-shot, no fine-tuning): ${c.pattern} at ${pct(c.sparsity)}${what} → ${s.out}`);
  lines.push(`importance: ${s.importance}`);
  lines.push(`calibration: ${s.calibration.inputs.length} input(s), image size ${s.calibration.imageSize}`);
  const gyro = s.layers.some((l) => l.ablation?.gyro !== undefined);
  const head = ['layer', 'op', 'K×N', 'sparsity', 'retained', ...(gyro ? ['none', 'out-only', 'gyro'] : [])];
  const rows = s.layers.map((l) => [
    l.name,
    l.op,
    `${l.k}×${l.n}`,
    pct(l.sparsity),
    pct(l.retained),
    ...(gyro ? [pct(l.ablation?.none), pct(l.ablation?.outOnly), pct(l.ablation?.gyro)] : []),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((x, i) => (i < 3 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ');
  lines.push('', fmt(head), ...rows.map(fmt));
  const t = s.totals;
  lines.push('', `pruned ${s.layers.length} layer(s): ${t.zeroed} of ${t.weights} weights set to zero (${pct(t.sparsity)}); mean retained importance ${pct(t.retained)}`);
  if (s.skipped.length) {
    lines.push(`left dense: ${s.skipped.length} layer(s)`);
    for (const k of s.skipped) lines.push(`  ${k.name} (${k.op}): ${k.reason}`);
  }
  if (s.agreement) {
    const a = s.agreement;
    lines.push('', `agreement with the unpruned model (output ${a.output}, map > ${a.perInput[0]?.threshold ?? '-'}; one-shot): pooled IoU ${a.pooledIoU === null ? 'n/a (no positives)' : a.pooledIoU.toFixed(4)}`);
    for (const p of a.perInput) {
      lines.push(`  ${p.input}: IoU ${p.iou === null ? 'n/a (no positives in either map)' : p.iou.toFixed(4)}, positives ${p.referencePositives} → ${p.prunedPositives}, mean |Δp| ${p.meanAbsDiff.toExponential(2)}, max |Δp| ${p.maxAbsDiff.toFixed(4)}`);
    }
  }
  return lines.join('\n');
}
