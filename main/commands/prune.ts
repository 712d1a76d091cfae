/**
 * `pit prune`: one-shot weight pruning of a model's MatMul / Gemm / Conv weights into a static sparsity pattern
 * (tile-wise, HiNM with gyro-permutation, 2:4, vector-wise, 32x32 blocks), calibrated on real inputs, written as a new
 * ONNX model whose `metadata_props` carry the pattern and permutations (core/prune/metadata.ts).
 */
import { existsSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_IMAGE_SIZE, loadInput, type LoadedInput } from '../../core/inputs/default.ts';
import { InputError } from '../../core/model/errors.ts';
import { importOnnx } from '../../core/model/onnx-import.ts';
import { DB_THRESHOLD } from '../../core/prune/agreement.ts';
import { calibrate } from '../../core/prune/calibrate.ts';
import { agreementWith, firstOutputs, type AgreementReport } from '../../core/prune/evaluate.ts';
import { findPrunableLayers } from '../../core/prune/layers.ts';
import { IMPORTANCE_NOTE, PRUNE_METADATA_KEY } from '../../core/prune/metadata.ts';
import { VECTOR_SIZES } from '../../core/prune/patterns.ts';
import { buildMetadata, prunedWeights, pruneLayers, selectLayers, type PruneConfig } from '../../core/prune/prune.ts';
import { formatPruneSummary, pruneSummary } from '../../core/prune/report.ts';
import { PATTERN_NAMES, type PatternName } from '../../core/prune/types.ts';
import { encodePrunedModel } from '../../core/prune/write.ts';
import { positiveInt, UsageError, type Command } from './common.ts';

/** Options that take a list of files: a bare file after them belongs to the last one given. */
const LIST_FLAGS = new Set(['calibrate', 'evaluate']);

/** Parses a fraction flag. @throws UsageError when it is not a number. */
function fraction(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const x = Number(value);
  if (value.trim() === '' || !Number.isFinite(x)) throw new UsageError(`--${flag} must be a number, got '${value}'`);
  return x;
}

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'one-shot weight pruning into a static pattern (tw, hinm, nm, vw, bw), calibrated on real inputs',
  help: `Usage: pit prune --model FILE.onnx --pattern P --sparsity S --calibrate FILE... --out PRUNED.onnx [options]

Prunes the weights of every MatMul / Gemm / Conv layer (a Conv as its matrix [Cout, Cin·kh·kw]) into a static
sparsity pattern and writes the model with the pruned weights set to zero, the graph otherwise unchanged. The
pattern and permutations of every layer are stored in the model's metadata_props under '${PRUNE_METADATA_KEY}'
(JSON, format pit-prune/1) for the kernel families to build their gather indices from.

Importance: ${IMPORTANCE_NOTE}.
The calibration inputs are run with onnxruntime (CPU) and every layer's real input activations are captured.
All results are ONE-SHOT: nothing is fine-tuned after pruning.

Patterns (on a layer's weight as W [K, N], K the reduction, N the output channels):
  tw      tile-wise (SC'20): prune whole columns, cut the rest into tiles of 128 columns, prune whole K-rows per
          tile against one threshold per layer; 1 − S = (1 − s′)² between the two levels
  hinm    hierarchical N:M: per block of V output channels keep the same K columns (vectors), then 2:4 inside the
          kept columns; S ≥ 0.5 (0.5: 2:4 only, 0.75: half the columns, 0.875: a quarter)
  nm      plain 2:4 along K (S = 0.5)
  vw      vector-wise: HiNM's column vectors of V without the 2:4
  bw      block-sparse 32x32 blocks (K and N multiples of 32)
Grouped and depthwise convolutions, activation×activation MatMuls, non-float32 and shared weights are left dense
(listed with the reason).

Options:
  --model FILE        ONNX model to prune
  --pattern P         ${PATTERN_NAMES.join(' | ')}
  --sparsity S        fraction of each pruned layer's weights set to zero, in (0, 1); 0 writes the model with
                      nothing pruned (the identity: same outputs, metadata added)
  --vector V          output channels per vector block for hinm and vw: ${VECTOR_SIZES.join(', ')} (default 64;
                      the papers use 64 and 128, smaller blocks fit small layers)
  --permute M         none (default) or gyro: gyro-permutation (arXiv 2407.20496) of output channels (hinm, vw)
                      and input channels per block (hinm); the summary then shows retained importance for
                      none / out-only / gyro
  --seed N            seed of gyro's sampling and clustering (default 1; same seed, same permutations)
  --calibrate FILE... calibration inputs: .jpg/.png images (PaddleOCR det preprocessing) or .npy tensors of the
                      model input's shape; repeat the flag or list several files after it
  --image-size N      longest image side after resizing, rounded to a multiple of 32 (default ${DEFAULT_IMAGE_SIZE})
  --out FILE          pruned model to write (written whole through a temporary file: nothing on failure)
  --force             replace --out if it exists
  --skip-unfit        leave layers whose shape does not fit the pattern dense instead of failing
  --evaluate FILE...  also run the unpruned and the pruned model on these inputs and report their agreement:
                      IoU of the first output thresholded at --threshold (PP-OCR det's probability map)
  --threshold T       binarization threshold for --evaluate (default ${DB_THRESHOLD}, PaddleOCR's det_db_thresh)
  --json FILE         also write the summary as JSON
  -q, --quiet         no progress on stderr
  -h, --help          show this help

Exit codes: 0 written, 1 error (one line on stderr naming the layer or file; nothing written), 2 bad usage.`,
  async run(argv) {
    const { values, tokens } = parseArgs({
      args: argv,
      allowPositionals: true,
      tokens: true,
      options: {
        model: { type: 'string' },
        pattern: { type: 'string' },
        sparsity: { type: 'string' },
        vector: { type: 'string' },
        permute: { type: 'string' },
        seed: { type: 'string' },
        calibrate: { type: 'string', multiple: true },
        evaluate: { type: 'string', multiple: true },
        'image-size': { type: 'string' },
        out: { type: 'string' },
        force: { type: 'boolean' },
        'skip-unfit': { type: 'boolean' },
        threshold: { type: 'string' },
        json: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) return console.log(this.help), 0;
    // Bare files go to the list flag given last before them (--calibrate a.jpg b.jpg --evaluate c.png d.png).
    const lists: Record<string, string[]> = { calibrate: [], evaluate: [] };
    let last: string | null = null;
    for (const t of tokens) {
      if (t.kind === 'option') {
        last = LIST_FLAGS.has(t.name) ? t.name : null;
        if (last && t.value !== undefined) lists[last].push(t.value);
      } else if (t.kind === 'positional') {
        if (!last) throw new UsageError(`unexpected argument '${t.value}'`);
        lists[last].push(t.value);
      }
    }
    if (!values.model) throw new UsageError('--model FILE is required');
    if (!values.pattern) throw new UsageError(`--pattern is required (${PATTERN_NAMES.join(', ')})`);
    if (!(PATTERN_NAMES as readonly string[]).includes(values.pattern)) throw new UsageError(`unknown pattern '${values.pattern}' (known: ${PATTERN_NAMES.join(', ')})`);
    if (values.sparsity === undefined) throw new UsageError('--sparsity S is required');
    if (!lists.calibrate.length) throw new UsageError('--calibrate FILE... is required (real inputs to measure activations on)');
    if (!values.out) throw new UsageError('--out FILE is required');
    const permute = values.permute ?? 'none';
    if (permute !== 'none' && permute !== 'gyro') throw new UsageError(`--permute must be none or gyro, got '${permute}'`);
    const config: PruneConfig = {
      pattern: values.pattern as PatternName,
      sparsity: fraction('sparsity', values.sparsity, 0),
      vector: positiveInt('vector', values.vector, 64),
      permute,
      seed: positiveInt('seed', values.seed, 1),
      skipUnfit: !!values['skip-unfit'],
    };
    const imageSize = positiveInt('image-size', values['image-size'], DEFAULT_IMAGE_SIZE);
    const threshold = fraction('threshold', values.threshold, DB_THRESHOLD);
    const out = resolve(values.out);
    if (existsSync(out) && !values.force) throw new UsageError(`${out} exists (use --force to replace it)`);
    if (!existsSync(dirname(out))) throw new UsageError(`the directory of --out does not exist: ${dirname(out)}`);
    const log = (msg: string) => {
      if (!values.quiet) console.error(`pit: ${msg}`);
    };

    // Everything that can fail on bad input is checked before the long work: model, options, shapes, input files.
    const model = importOnnx(values.model);
    const found = findPrunableLayers(model);
    const { layers, skipped } = selectLayers(found.layers, found.skipped, config);
    const input = model.inputs[0];
    if (!input) throw new InputError(`${model.path} has no graph input to feed`);
    for (const f of [...lists.calibrate, ...lists.evaluate]) if (!existsSync(f)) throw new InputError(`input file not found: ${resolve(f)}`, { path: resolve(f) });
    const load = (path: string): LoadedInput => loadInput(path, { imageSize }, input);
    const evalInputs = lists.evaluate.map(load);

    log(`calibrating ${layers.length} layer(s) on ${lists.calibrate.length} input(s) (onnxruntime, CPU)`);
    const t0 = performance.now();
    // Loaded one at a time: only one calibration input's activations are alive at once.
    function* feeds() {
      for (const p of lists.calibrate) {
        const x = load(p);
        yield { dims: x.dims, data: x.data };
      }
    }
    const stats = await calibrate(model, layers, feeds(), (i) => log(`calibration input ${i + 1}/${lists.calibrate.length} done`));
    const t1 = performance.now();
    const pruned = pruneLayers(layers, stats, config, (p, i) => {
      const ab = p.result.ablation;
      const extra = ab?.gyro !== undefined ? ` (none ${(ab.none * 100).toFixed(1)} %, out-only ${(ab.outOnly! * 100).toFixed(1)} %)` : '';
      log(`[${i + 1}/${layers.length}] ${p.layer.name} ${p.layer.k}×${p.layer.n}: sparsity ${(p.sparsity * 100).toFixed(1)} %, retained ${(p.retained * 100).toFixed(1)} %${extra}`);
    });
    const t2 = performance.now();
    const calibration = { inputs: lists.calibrate.map((p) => resolve(p)), imageSize };
    const meta = buildMetadata(model, pruned, skipped, config, calibration);
    const bytes = encodePrunedModel(model, prunedWeights(model, pruned), { [PRUNE_METADATA_KEY]: JSON.stringify(meta) });

    let agreement: AgreementReport | undefined;
    if (evalInputs.length) {
      log(`evaluating on ${evalInputs.length} input(s)`);
      const feedsOf = () => evalInputs.map((x) => ({ dims: x.dims, data: x.data }));
      const reference = await firstOutputs(model, feedsOf());
      agreement = await agreementWith(bytes, reference, feedsOf(), evalInputs.map((x) => basename(x.ref.path)), threshold);
    }

    // Whole file or nothing: write beside the target, then rename over it.
    const tmp = join(dirname(out), `.${basename(out)}.${process.pid}.tmp`);
    try {
      writeFileSync(tmp, bytes);
      renameSync(tmp, out);
    } catch (e) {
      if (existsSync(tmp)) unlinkSync(tmp);
      throw e;
    }
    const summary = pruneSummary({ model: model.path, out, config, calibration, pruned, skipped, agreement, ms: { calibrate: t1 - t0, prune: t2 - t1 } });
    console.log(formatPruneSummary(summary));
    if (values.json) writeFileSync(values.json, JSON.stringify(summary, null, 2) + '\n');
    return 0;
  },
};
