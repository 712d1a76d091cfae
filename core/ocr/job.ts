/**
 * `pit ocr-batch`: PIT's dynamic-sequence-length workload (PIT §5, BERT with padded batches) on the real OCR
 * pipeline. PaddleOCR v4 det finds the text lines of real photos (det.ts, boxes.ts); the lines are batched for rec as
 * PaddleOCR does (rec-batch.ts: height 48, width ∝ aspect ratio, zero-padded on the right to the batch width); the
 * valid width of every sample is known, so every rec layer whose rows are tokens has a known set of valid rows
 * (seqlen.ts), and the `pit-m-seqlen` rule skips the padded ones with an index built from the lengths.
 *
 * Three ways on the same batch, per layer, with the profile job's measurement (core/profile/profile.ts
 * `profileLayer`: verification, warm-up, interleaved rounds, medians with spread):
 * - padded dense: the fastest verified dense tile on the padded batch (the baseline);
 * - PIT: `pit-m-seqlen` on the padded batch with the length index (verified on its valid rows against onnxruntime's
 *   output for the padded batch; padded rows are not computed);
 * - each sample alone: the fastest dense tile on each un-padded sample, summed over the samples.
 * The batch's layers are stored as a run (input 0 = the padded batch). Whether the padded batch gives each line the
 * same result as running it alone is checked at the model's output (onnxruntime): the valid tokens' probabilities
 * and the decoded text. Padding is not free of effects in this model (global pooling in its squeeze-excitation
 * blocks, 3-wide windows at the padding edge, attention over all tokens): the check says how large they are.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { GpuContext } from '../gpu/device.ts';
import { InputError } from '../model/errors.ts';
import { importModel } from '../model/import.ts';
import { createReferenceSession } from '../model/capture.ts';
import type { ReferenceCapture } from '../model/reference.ts';
import { findSparseOps, type SparseOp } from '../model/sparse-ops.ts';
import type { OnnxModel } from '../model/ir.ts';
import { familyOf } from '../kernels/registry.ts';
import type { InputRef, LayerResult, ProgressEvent } from '../protocol.ts';
import { CancelledError, DEFAULT_WARMUP_MS, MEASURE_POLICY, profileLayer, type ProfileEnv, type ProfileOptions } from '../profile/profile.ts';
import { totalOf, variantOf } from '../report/table.ts';
import { oneLine } from '../model/errors.ts';
import { NO_STATIC_PATTERNS } from '../profile/static-patterns.ts';
import { decodePhotos, DET_THRESHOLD, detectPhoto, OCR_ASSETS, ocrAsset, roundRobin, type DetectedPhoto } from './det.ts';
import { recBatchGeometry, recBatchTensors, REC_MIN_WIDTH, sortByAspect, tokenPaddingShare, type RecBatchGeometry } from './rec-batch.ts';
import { rowDims, validExtents, validRows } from './seqlen.ts';
import type { TextLine } from './boxes.ts';

/** The PIT family of this workload. */
export const SEQLEN_FAMILY = 'pit-m-seqlen';

/** Options of an OCR batch job. */
export interface OcrBatchOptions {
  /** Photos (.jpg / .png). */
  photos: string[];
  /** Text lines in the batch, taken round-robin over the photos (default 6, PaddleOCR's rec_batch_num). */
  maxLines?: number;
  /** det's longest side (PaddleOCR det_limit_side_len, default 960). */
  detSize?: number;
  /** det_db_thresh (default 0.3). */
  detThreshold?: number;
  /** The smallest batch width, pixels (PaddleOCR's rec_image_shape width, 320). */
  minWidth?: number;
  /** Profile only the first N sparse-capable rec layers. */
  maxLayers?: number;
  /** Timed samples per variant (interleaved rounds). */
  repeat: number;
  /** GPU warm-up per layer, ms. */
  warmupMs?: number;
  /** Families measured on the padded batch (default dense + pit-m-seqlen); dense always runs. */
  families?: string[];
}

/** One text line of the batch. */
export interface OcrLine {
  /** Position in the batch (PaddleOCR's order: ascending aspect ratio). */
  sample: number;
  photo: string;
  /** Its index among the photo's lines (reading order). */
  lineInPhoto: number;
  box: TextLine['box'];
  /** Crop size, pixels. */
  width: number;
  height: number;
  /** Width after resizing to height 48: its valid width in the batch, pixels. */
  resizedWidth: number;
  /** Valid output tokens (rec's sequence length for the line alone). */
  tokens: number;
  /** Greedy CTC text from the line alone / from its valid tokens in the padded batch (onnxruntime). */
  textAlone: string;
  textBatch: string;
}

/** One rec layer, three ways. */
export interface OcrLayerFigure {
  index: number;
  name: string;
  op: string;
  m: number;
  n: number;
  k: number;
  /** Why it was not profiled (a grouped conv or batched MatMul: no batched kernel yet). */
  skipped?: string;
  /** Valid rows of A in the padded batch (m when nothing is padding or the rows are not tokens). */
  validRows: number;
  /** Why the length index does not apply (rows are not tokens, or no padding reaches this layer), if so. */
  noIndex?: string;
  /** Padded dense: the baseline's median total, ms. */
  paddedDenseMs: number;
  /** PIT: pit-m-seqlen's median total, ms (null when it did not run). */
  pitMs: number | null;
  /** Whether pit-m-seqlen verified (null when it did not run). */
  pitOk: boolean | null;
  /** The attribution's choice on the padded batch (PIT only beyond the noise), and its median total, ms. */
  chosen: string;
  chosenMs: number;
  /** Each sample alone: the baseline of every un-padded sample, ms; and their sum. */
  aloneMs: number[];
  aloneSumMs: number;
  /** Every variant of the batch and of every sample verified. */
  verified: boolean;
}

/** The report of an OCR batch job. */
export interface OcrBatchReport {
  runId: number;
  model: string;
  photos: { path: string; width: number; height: number; detSize: [number, number]; lines: number; detMs: number }[];
  lines: OcrLine[];
  batch: {
    dims: number[];
    /** Share of the batch's input pixels that are padding (0–1). */
    paddingShare: number;
    /** Output tokens per sample in the padded batch. */
    tokens: number;
    /** Share of the output tokens that are padding (0–1). */
    tokenPaddingShare: number;
  };
  layers: OcrLayerFigure[];
  totals: {
    /** Layers profiled (2-D), of which the length index applies to `indexed`. */
    profiled: number;
    indexed: number;
    /** Σ padded dense (baseline) over the profiled layers, ms. */
    paddedDenseMs: number;
    /** Σ PIT: pit-m-seqlen where it ran and verified, else the baseline, ms. */
    pitMs: number;
    /** Σ of what the attribution chose, ms. */
    chosenMs: number;
    /** Σ each sample alone (sum of the per-sample baselines), ms. */
    aloneMs: number;
    /** Σ baseline × valid-row fraction: the time if padded rows cost nothing, ms. */
    idealMs: number;
    /** paddedDenseMs − pitMs. */
    savedMs: number;
    /** Every variant verified on every profiled layer (batch and each sample alone). */
    verified: boolean;
  };
  /** The padded batch vs each line alone at the model's output (onnxruntime, valid tokens only). */
  check: { maxAbsDiff: number; argmaxAgreement: number; textsAgree: number };
  /** CPU time to build every layer's length index, ms (uploaded once, not part of the timed work). */
  indexBuildMs: number;
}

/** Greedy CTC decoding of [T, C] probabilities (PaddleOCR CTCLabelDecode: blank 0, duplicates merged). */
export function ctcDecode(probs: Float32Array, tokens: number, classes: number, dictionary: readonly string[]): { text: string; argmax: number[] } {
  const argmax: number[] = [];
  for (let t = 0; t < tokens; t++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probs[t * classes + c]! > probs[t * classes + best]!) best = c;
    argmax.push(best);
  }
  let text = '';
  for (let t = 0; t < tokens; t++) {
    const c = argmax[t]!;
    if (c === 0 || (t > 0 && argmax[t - 1] === c)) continue;
    text += dictionary[c - 1] ?? '?';
  }
  return { text, argmax };
}

/** PaddleOCR's character list: the keys file's lines, then a space (use_space_char); class 0 is the CTC blank. */
export function readDictionary(path: string): string[] {
  return [...readFileSync(path, 'utf8').replace(/\r/g, '').split('\n').filter((l, i, all) => i < all.length - 1 || l !== ''), ' '];
}

function check(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError('cancelled');
}

/** Everything the CPU prepares before the GPU is needed: photos, lines, the batch and the reference captures. */
export interface PreparedOcrBatch {
  detected: DetectedPhoto[];
  /** The lines of the batch in its order, with the photo and line they came from. */
  picked: { photo: number; line: number; item: TextLine }[];
  geometry: RecBatchGeometry;
  batchDims: number[];
  model: OnnxModel;
  recPath: string;
  layers: SparseOp[];
  capBatch: ReferenceCapture;
  capAlone: ReferenceCapture[];
  lines: OcrLine[];
  tokens: number;
  check: OcrBatchReport['check'];
}

/**
 * The CPU half of the job (no GPU, no run): decodes the photos, runs det and extracts the text lines, builds the
 * batch, and runs rec with onnxruntime on the padded batch and on every line alone (capturing every layer).
 * @throws InputError when a photo cannot be read or no photo has a text line; ModelError when a model is missing;
 *   CancelledError when `signal` aborts.
 */
export async function prepareOcrBatch(opts: Omit<OcrBatchOptions, 'repeat'>, env: { signal?: AbortSignal; onProgress?: (e: ProgressEvent) => void } = {}): Promise<PreparedOcrBatch> {
  const emit = env.onProgress ?? ((_e: ProgressEvent) => {});
  const maxLines = opts.maxLines ?? 6;
  if (!opts.photos.length) throw new InputError('no photo given');
  const photos = decodePhotos(opts.photos);
  const detPath = ocrAsset(OCR_ASSETS.det);
  const recPath = ocrAsset(OCR_ASSETS.rec);
  const dictionary = readDictionary(ocrAsset(OCR_ASSETS.keys));

  // 1. det on every photo, text lines in reading order.
  emit({ kind: 'stage', stage: 'reference', message: `text detection (PP-OCRv4 det, onnxruntime) on ${photos.length} photo(s), longest side ${opts.detSize ?? 960}` });
  const detected: DetectedPhoto[] = [];
  const det = await createReferenceSession(importModel(detPath), []);
  try {
    for (const p of photos) {
      check(env.signal);
      const d = await detectPhoto(det, p, opts.detSize, opts.detThreshold ?? DET_THRESHOLD);
      detected.push(d);
      emit({ kind: 'log', message: `${basename(d.path)}: ${d.lines.length ? `${d.lines.length} text line(s)` : 'no text line found'} (det ${d.detSize[1]}x${d.detSize[0]}, ${d.detMs.toFixed(0)} ms)` });
    }
  } finally {
    await det.release();
  }
  if (!detected.some((d) => d.lines.length)) {
    throw new InputError(`no text line found in ${detected.map((d) => basename(d.path)).join(', ')} (det at longest side ${opts.detSize ?? 960}, threshold ${opts.detThreshold ?? DET_THRESHOLD}): nothing to recognise`);
  }

  // 2. The batch: lines round-robin over the photos, in PaddleOCR's order (ascending aspect ratio).
  const taken = roundRobin(detected.map((d) => d.lines), maxLines);
  const picked = sortByAspect(taken.map((p) => p.item.crop)).map((i) => taken[i]!);
  const geometry = recBatchGeometry(picked.map((l) => l.item.crop), { minWidth: opts.minWidth ?? REC_MIN_WIDTH });
  const tensors = recBatchTensors(picked.map((l) => l.item.crop), geometry);
  emit({
    kind: 'log',
    message: `batch of ${picked.length} line(s) from ${new Set(picked.map((l) => l.photo)).size} photo(s): [${tensors.batch.dims.join(', ')}], valid widths ${geometry.samples.map((s) => s.resizedWidth).join(', ')} px, padding ${(geometry.paddingShare * 100).toFixed(1)} % of the pixels`,
  });

  // 3. rec on the padded batch and on every line alone (onnxruntime), capturing every layer.
  const model = importModel(recPath);
  const ops = findSparseOps(model);
  const layers = opts.maxLayers ? ops.slice(0, opts.maxLayers) : ops;
  emit({ kind: 'stage', stage: 'reference', message: `recognition (PP-OCRv4 rec, onnxruntime): the padded batch and ${picked.length} line(s) alone` });
  const session = await createReferenceSession(model, layers);
  let capBatch: ReferenceCapture;
  const capAlone: ReferenceCapture[] = [];
  try {
    capBatch = await session.run(tensors.batch);
    for (const t of tensors.alone) {
      check(env.signal);
      capAlone.push(await session.run(t));
    }
  } finally {
    await session.release();
  }

  // 4. The padded batch vs each line alone at the model's output: valid tokens' probabilities and the text.
  const out = capBatch.outputs[0]!;
  const [, tokens, classes] = out.dims as [number, number, number];
  const lines: OcrLine[] = [];
  let maxAbsDiff = 0;
  let agree = 0;
  let totalTokens = 0;
  let textsAgree = 0;
  picked.forEach((l, i) => {
    const alone = capAlone[i]!.outputs[0]!;
    const t = alone.dims[1]!;
    const valid = out.data.subarray(i * tokens * classes, (i * tokens + t) * classes);
    for (let j = 0; j < t * classes; j++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(valid[j]! - alone.data[j]!));
    const a = ctcDecode(alone.data, t, classes, dictionary);
    const b = ctcDecode(valid, t, classes, dictionary);
    for (let j = 0; j < t; j++) if (a.argmax[j] === b.argmax[j]) agree++;
    totalTokens += t;
    if (a.text === b.text) textsAgree++;
    lines.push({
      sample: i,
      photo: detected[l.photo]!.path,
      lineInPhoto: l.line,
      box: l.item.box,
      width: l.item.crop.width,
      height: l.item.crop.height,
      resizedWidth: geometry.samples[i]!.resizedWidth,
      tokens: t,
      textAlone: a.text,
      textBatch: b.text,
    });
  });
  emit({ kind: 'log', message: `rec: ${tokens} tokens per sample in the batch, valid ${lines.map((l) => l.tokens).join(', ')} (padding ${(tokenPaddingShare(lines.map((l) => l.tokens), tokens) * 100).toFixed(1)} % of the tokens)` });
  return {
    detected,
    picked,
    geometry,
    batchDims: tensors.batch.dims,
    model,
    recPath,
    layers,
    capBatch,
    capAlone,
    lines,
    tokens,
    check: { maxAbsDiff, argmaxAgreement: totalTokens ? agree / totalTokens : 1, textsAgree },
  };
}

/**
 * Runs the OCR batch job (see the module comment): `prepareOcrBatch`, then `measureOcrBatch`.
 * @throws as both.
 */
export async function ocrBatch(opts: OcrBatchOptions, env: ProfileEnv & { gpu: GpuContext }): Promise<OcrBatchReport> {
  return measureOcrBatch(await prepareOcrBatch(opts, env), opts, env);
}

/**
 * The GPU half: per rec layer, the padded batch (dense tiles + the requested PIT families, with the length index
 * where the rows are tokens) and each line alone (dense tiles), measured as `pit profile` measures; the batch's
 * layers are stored as a run.
 * @throws RangeError on an unknown family (before the run exists); CancelledError / DeviceLostError after it (the
 *   run is then marked incomplete).
 */
export async function measureOcrBatch(prep: PreparedOcrBatch, opts: Pick<OcrBatchOptions, 'repeat' | 'warmupMs' | 'families' | 'maxLayers' | 'detSize' | 'detThreshold' | 'minWidth'>, env: ProfileEnv & { gpu: GpuContext }): Promise<OcrBatchReport> {
  const emit = env.onProgress ?? ((_e: ProgressEvent) => {});
  const families = opts.families ?? ['dense', SEQLEN_FAMILY];
  for (const f of families) familyOf(f);
  const { detected, geometry, model, recPath, layers, capBatch, capAlone, tokens } = prep;
  const lines = prep.picked;
  const ocrLines = prep.lines;
  const tokenShare = tokenPaddingShare(ocrLines.map((l) => l.tokens), tokens);
  const tensors = { batch: { dims: prep.batchDims } };

  // 4. The run: the padded batch's layers, stored as they finish.
  const batchRef: InputRef = {
    path: `ocr-batch: ${lines.length} text lines from ${[...new Set(lines.map((l) => basename(detected[l.photo]!.path)))].join(', ')}`,
    kind: 'image',
    shape: tensors.batch.dims,
    preprocess:
      `PaddleOCR det (longest side ${opts.detSize ?? 960}, threshold ${opts.detThreshold ?? DET_THRESHOLD}) + @gutenye/ocr-common boxes and crops; ` +
      `rec batch as predict_rec.py: sorted by aspect ratio, height 48, width int(48·max(${opts.minWidth ?? REC_MIN_WIDTH}/48, max w/h)) = ${geometry.width}, ` +
      `each line resized to width ceil(48·w/h) (${geometry.samples.map((s) => s.resizedWidth).join(', ')}), (x/255−0.5)/0.5 BGR, zero-padded on the right`,
    synthetic: false,
  };
  const profileOpts: ProfileOptions = { modelPath: recPath, inputs: [], imageSize: 0, families, repeat: opts.repeat, warmup: 0, warmupMs: opts.warmupMs ?? DEFAULT_WARMUP_MS };
  const runId = env.sink.createRun({
    model: { path: recPath, sha256: model.sha256 },
    adapter: env.gpu.adapter,
    inputs: [batchRef],
    families: families.includes('dense') ? families : ['dense', ...families],
    repeat: opts.repeat,
    options: { job: 'ocr-batch', warmupMs: profileOpts.warmupMs, maxLayers: opts.maxLayers ?? null, statistic: 'median', rounds: 'interleaved', policy: MEASURE_POLICY.info, lengths: ocrLines.map((l) => l.tokens) },
  });
  const figures: OcrLayerFigure[] = [];
  let indexBuildMs = 0;
  const t0 = performance.now();
  try {
    for (const [li, op] of layers.entries()) {
      check(env.signal);
      const bOut = capBatch.ops.get(op.index)?.output.dims;
      let facts: { validRows?: number[] } = {};
      let noIndex: string | undefined;
      if (bOut) {
        const tb = performance.now();
        const extents = validExtents(op.op, bOut, capAlone.map((c) => c.ops.get(op.index)!.output.dims));
        const dims = rowDims(op.op, bOut);
        if (!extents || !dims) noIndex = `rows of ${op.op} [${bOut.join(', ')}] do not map to tokens`;
        else {
          const rows = validRows(dims, extents);
          indexBuildMs += performance.now() - tb;
          if (rows.length === dims.reduce((x, y) => x * y, 1)) noIndex = 'no padding at this layer (every row valid)';
          else facts = { validRows: rows };
        }
      }
      const { layer, kernels } = await profileLayer(op, 0, capBatch, model, families, profileOpts, env, MEASURE_POLICY, NO_STATIC_PATTERNS, facts);
      env.sink.recordLayer(runId, layer, kernels);
      const fig = await figureOf(layer, facts.validRows?.length, noIndex, async () => {
        const per: LayerResult[] = [];
        for (const [i, cap] of capAlone.entries()) {
          check(env.signal);
          per.push((await profileLayer(op, i + 1, cap, model, ['dense'], profileOpts, env, MEASURE_POLICY, NO_STATIC_PATTERNS)).layer);
        }
        return per;
      });
      figures.push(fig);
      emit({ kind: 'layer', runId, done: li + 1, total: layers.length, layer, etaMs: ((performance.now() - t0) / (li + 1)) * (layers.length - li - 1) });
      if (!fig.skipped) {
        emit({
          kind: 'log',
          message:
            `  ${op.name}: padded dense ${fig.paddedDenseMs.toFixed(3)} ms, ` +
            (fig.pitMs !== null ? `${SEQLEN_FAMILY} ${fig.pitMs.toFixed(3)} ms${fig.pitOk ? '' : ' (FAILED)'} on ${fig.validRows}/${fig.m} rows, ` : `no index (${fig.noIndex}), `) +
            `each alone Σ ${fig.aloneSumMs.toFixed(3)} ms`,
        });
      }
    }
    env.sink.finishRun(runId);
  } catch (e) {
    env.sink.failRun(runId, e instanceof CancelledError ? 'cancelled' : oneLine(e));
    throw e;
  }

  const profiled = figures.filter((f) => !f.skipped);
  const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
  const pitOf = (f: OcrLayerFigure) => (f.pitMs !== null && f.pitOk ? f.pitMs : f.paddedDenseMs);
  const paddedDenseMs = sum(profiled.map((f) => f.paddedDenseMs));
  const pitMs = sum(profiled.map(pitOf));
  return {
    runId,
    model: recPath,
    photos: detected.map((d) => ({ path: d.path, width: d.width, height: d.height, detSize: d.detSize, lines: d.lines.length, detMs: d.detMs })),
    lines: ocrLines,
    batch: { dims: tensors.batch.dims, paddingShare: geometry.paddingShare, tokens, tokenPaddingShare: tokenShare },
    layers: figures,
    totals: {
      profiled: profiled.length,
      indexed: profiled.filter((f) => f.pitMs !== null).length,
      paddedDenseMs,
      pitMs,
      chosenMs: sum(profiled.map((f) => f.chosenMs)),
      aloneMs: sum(profiled.map((f) => f.aloneSumMs)),
      idealMs: sum(profiled.map((f) => (f.paddedDenseMs * f.validRows) / f.m)),
      savedMs: paddedDenseMs - pitMs,
      verified: profiled.every((f) => f.verified),
    },
    check: prep.check,
    indexBuildMs,
  };
}

/** A layer's three figures from its batch result and (when profiled) each sample alone. */
async function figureOf(layer: LayerResult, valid: number | undefined, noIndex: string | undefined, alone: () => Promise<LayerResult[]>): Promise<OcrLayerFigure> {
  const base = { index: layer.index, name: layer.name, op: layer.op, m: layer.m, n: layer.n, k: layer.k };
  if (layer.skipped) return { ...base, skipped: layer.skipped, validRows: 0, paddedDenseMs: 0, pitMs: null, pitOk: null, chosen: layer.chosen, chosenMs: 0, aloneMs: [], aloneSumMs: 0, verified: true };
  const baseline = layer.baseline ? variantOf(layer, layer.baseline) : undefined;
  // The fastest verified pit-m-seqlen tile (or, when none verified, the first that ran, to report its failure).
  const tried = layer.variants.filter((v) => v.family === SEQLEN_FAMILY);
  const pit = tried.filter((v) => v.ok).sort((a, b) => totalOf(a) - totalOf(b))[0] ?? tried[0];
  const per = await alone();
  const aloneMs = per.map((l) => {
    const b = l.baseline ? variantOf(l, l.baseline) : undefined;
    return b ? totalOf(b) : NaN;
  });
  return {
    ...base,
    validRows: valid ?? layer.m,
    ...(noIndex ? { noIndex } : {}),
    paddedDenseMs: baseline ? totalOf(baseline) : NaN,
    pitMs: pit && pit.ok ? totalOf(pit) : pit ? NaN : null,
    pitOk: pit ? pit.ok : null,
    chosen: layer.chosen,
    chosenMs: (() => {
      const c = variantOf(layer, layer.chosen);
      return c && c.ok ? totalOf(c) : baseline ? totalOf(baseline) : NaN;
    })(),
    aloneMs,
    aloneSumMs: aloneMs.reduce((s, x) => s + x, 0),
    verified: layer.variants.every((v) => v.ok) && per.every((l) => l.variants.every((v) => v.ok)),
  };
}
