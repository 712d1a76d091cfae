/** The text report of `pit ocr-batch`: the lines, the batch's padding, per layer the three ways, and the totals. */
import { basename } from 'node:path';
import type { OcrBatchReport } from './job.ts';

const ms = (x: number | null) => (x === null ? '-' : !Number.isFinite(x) ? 'n/a' : x >= 100 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

function table(head: string[], rows: string[][], right: boolean[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

/** Formats an OCR batch report for the terminal. */
export function formatOcrBatch(r: OcrBatchReport): string {
  const out: string[] = [];
  out.push(`text lines (batch order: ascending aspect ratio, as PaddleOCR batches them):`);
  out.push(
    ...table(
      ['#', 'photo', 'line', 'crop', 'valid px', 'tokens', 'text alone', 'text in batch'],
      r.lines.map((l) => [String(l.sample), basename(l.photo), String(l.lineInPhoto), `${l.width}x${l.height}`, String(l.resizedWidth), String(l.tokens), JSON.stringify(l.textAlone), JSON.stringify(l.textBatch)]),
      [true, false, true, true, true, true, false, false],
    ),
  );
  out.push('');
  out.push(
    `batch [${r.batch.dims.join(', ')}]: padding ${pct(r.batch.paddingShare)} of the input pixels, ${pct(r.batch.tokenPaddingShare)} of the ` +
      `${r.batch.dims[0]}×${r.batch.tokens} output tokens`,
  );
  out.push('');
  const profiled = r.layers.filter((l) => !l.skipped);
  out.push(
    ...table(
      ['layer', 'op', 'M×N×K', 'valid rows', 'padded dense ms', 'pit-m-seqlen ms', 'chosen', 'each alone Σ ms', 'verified'],
      profiled.map((l) => [
        l.name,
        l.op,
        `${l.m}×${l.n}×${l.k}`,
        l.noIndex ? `all (${l.noIndex})` : `${l.validRows} (${pct(l.validRows / l.m)})`,
        ms(l.paddedDenseMs),
        l.pitOk === false ? 'FAILED' : ms(l.pitMs),
        l.chosen,
        ms(l.aloneSumMs),
        l.verified ? 'yes' : 'NO',
      ]),
      [false, false, true, true, true, true, false, true, false],
    ),
  );
  const skipped = new Map<string, string[]>();
  for (const l of r.layers.filter((x) => x.skipped)) skipped.set(l.skipped!, [...(skipped.get(l.skipped!) ?? []), l.name]);
  for (const [why, names] of skipped) out.push(`not profiled (${names.length}): ${why}: ${names.join(', ')}`);
  const t = r.totals;
  out.push('');
  out.push(`times: median total (layout + detection + kernel) per variant, GPU timestamps; the fastest verified dense tile is each layer's baseline`);
  out.push(
    `totals over ${t.profiled} profiled layers (${t.indexed} with the length index): padded dense ${ms(t.paddedDenseMs)} ms → PIT (pit-m-seqlen) ${ms(t.pitMs)} ms ` +
      `(saved ${ms(t.savedMs)} ms, ${t.paddedDenseMs > 0 ? `${(t.paddedDenseMs / t.pitMs).toFixed(2)}x` : 'n/a'}); each sample alone ${ms(t.aloneMs)} ms; ` +
      `ideal ${ms(t.idealMs)} ms (padded dense × valid-row share); chosen beyond the noise ${ms(t.chosenMs)} ms`,
  );
  out.push(`length index: built on the CPU from the lengths in ${r.indexBuildMs.toFixed(2)} ms for all layers, uploaded once (not in the timed work)`);
  out.push(`verified: ${t.verified ? 'every variant of every profiled layer (batch: valid rows vs onnxruntime on the padded batch; each alone vs onnxruntime on the line)' : 'NOT every variant: see the FAILED / NO entries'}`);
  out.push(
    `padded batch vs each line alone (onnxruntime, model output, valid tokens): max |Δp| ${r.check.maxAbsDiff.toExponential(2)}, ` +
      `argmax agreement ${pct(r.check.argmaxAgreement)}, same text for ${r.check.textsAgree} of ${r.lines.length} lines ` +
      `(padding reaches valid tokens through global pooling, 3-wide windows at the edge and attention over all tokens)`,
  );
  out.push(`stored as run ${r.runId} (input 0 = the padded batch): pit show ${r.runId}`);
  return out.join('\n');
}
