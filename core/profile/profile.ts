/**
 * The main job (DESIGN.md §5): import a model (ONNX or TF.js layers, core/model/import.ts), capture every
 * sparse-capable layer's real input and reference output with its runtime (onnxruntime or TF.js,
 * core/model/capture.ts), and per layer and input, on the GPU: measure sparsity and micro-tile densities of the
 * exploited operand A (and of B where it is an activation), choose a variant, verify every variant run against the
 * reference, time them, and write each finished layer to the sink before starting the next.
 *
 * Every layer is lowered as a batched matmul (core/model/batched.ts, through core/model/slices.ts: the whole layer is
 * its one slice; a 2-D layer is batch 1, whose kernels are the 2-D ones): attention QKᵀ / AV per batch·head and grouped / depthwise convs per group run as batched kernels,
 * verified batch by batch, with per-batch sparsity and micro-tile densities (core/profile/layer-problem.ts). With
 * near-zero as zero (`zero`), the activations are thresholded first and the variants verified against the CPU product
 * of the thresholded operands; the layer reports the approximation error against the runtime's output.
 *
 * Every layer measures the dense candidates (core/kernels/dense.ts `denseCandidates`: the same under every policy);
 * the fastest verified of them is the layer's baseline. The policy decides which PIT rules are measured beside them:
 * - `measure`: each requested family's default configurations (`KernelFamily.layerConfigs`).
 * - `tiledb` (PIT §4.4): the transformation policy (core/pit/policy.ts) predicts every legal rule from the tile
 *   database at the layer's shape and exact micro-tile coverage; the `shortlist` rules predicted fastest (default 2)
 *   are measured — or, with `audit`, every rule too (never chosen unless shortlisted), so the regret is known. The
 *   default when a tile database for this adapter and these kernel sources is given; otherwise the job says why.
 * Under both policies, the static weight-pattern families (tile-wise, nm, hinm, bcsr-w) are measured on the layers whose
 * weight has their pattern, from a pruned model's `pit.prune` metadata (checked before the run exists) or from the
 * weight's zeros (core/profile/static-patterns.ts).
 * Measurement (core/profile/measure.ts): verification run, warm-up by time, interleaved rounds, every sample kept,
 * the median with its spread. The choice (core/profile/attribution.ts): a PIT variant only when it beats the
 * baseline beyond the noise and its speed-up is explained by its effective density; re-measured when undecided.
 *
 * Errors before the run exists (missing or malformed model, no supported operator, unreadable input, wrong shape, a
 * model the reference runtime rejects when loading it or running the first sample) throw without touching the sink.
 * Errors after it exists mark the run incomplete with the error's first line, and a cancel (AbortSignal) marks it
 * `cancelled`; finished layers stay.
 *
 * Memory (issue 14): each layer is sized from its shapes before it is lowered (fit.ts) against the device's binding
 * limit and `memoryBudget`; one that does not fit is measured in slices — rows along M for a 2-D layer, batches for
 * a batched one (tiled.ts) — or skipped with the reason. A layer on which no dense variant verified is recorded with
 * `failed` (layer-plan.ts) and counts in no total. The choice of configurations, the verifier and the layer result
 * are the same functions for a whole layer and a sliced one (layer-plan.ts, layer-stats.ts).
 */
import { freemem } from 'node:os';
import type { GpuContext } from '../gpu/device.ts';
import { bindingLimit, defaultMemoryBudget, formatBytes, type MemoryLimits } from '../gpu/limits.ts';
import type { PipelineCache } from '../gpu/pipeline-cache.ts';
import { loadSamples, type SampleOptions } from '../inputs/samples.ts';
import { inlineDecidedBranches } from '../model/branches.ts';
import type { PlanContext } from '../kernels/family.ts';
import { baselineFamily, dtypeOf, FAMILIES, familyOf, familyOfConfig, isDenseFamily } from '../kernels/registry.ts';
import { loweringOf } from '../model/batched.ts';
import { dtypeUnsupported, familiesForDtype, modelWeightDtype } from './dtype.ts';
import { ModelError, oneLine } from '../model/errors.ts';
import { importModel } from '../model/import.ts';
import type { ReferenceCapture } from '../model/reference.ts';
import { createReferenceSession, type ReferenceRunner } from '../model/capture.ts';
import { LayerSlicer } from '../model/slices.ts';
import { findSparseOps, noSupportedOperatorMessage, type SparseOp } from '../model/sparse-ops.ts';
import type { MicroTileCoverage } from '../pit/coverage.ts';
import { TileModel, tileDbDtypeOf, tileDbHash, tileDbMismatch, type TileDbSnapshot } from '../pit/tiledb.ts';
import type { ComputeDtype, LayerResult, ProgressEvent } from '../protocol.ts';
import { nearZeroProblem, type NearZero } from '../sparsity/near-zero.ts';
import { attribute, type Attribution, type MeasuredVariant } from './attribution.ts';
import { fitLayer, type LayerFit } from './fit.ts';
import {
  candidatesOf,
  chooseConfigs,
  configSpace,
  DEFAULT_SHORTLIST,
  factContext,
  finishLayer,
  possibleConfigs,
  possibleShapes,
  reportedShapes,
  sliceAlignment,
  verifierOf,
  type ConfigSpace,
  type LayerFacts,
  type LayerSetup,
  type ResolvedPolicy,
} from './layer-plan.ts';
import { freeLayoutsOf, layerProblem } from './layer-problem.ts';
import { LayerStats } from './layer-stats.ts';
import { LayerMeasurement } from './measure.ts';
import type { KernelText, RunSink } from './sink.ts';
import { checkStaticPatterns, type StaticPatterns } from './static-patterns.ts';
import { profileSlicedLayer, sliceFacts } from './tiled.ts';

export { DEFAULT_SHORTLIST, MEASURE_POLICY, REPORTED_B_MICRO_TILES, REPORTED_MICRO_TILES, type LayerFacts, type ResolvedPolicy } from './layer-plan.ts';

/** The families `pit profile` measures by default (every registered family marked `defaultOn`), in report order. */
export function defaultFamilies(): string[] {
  return FAMILIES.filter((f) => f.defaultOn).map((f) => f.name);
}

/** GPU warm-up before each layer's rounds, ms of back-to-back work (see LayerMeasurement.warmUp). */
export const DEFAULT_WARMUP_MS = 50;

/** A job's options; its inputs (`inputs`, `samples`, `imageSize`, `imagePreset`) are `SampleOptions`. */
export interface ProfileOptions extends SampleOptions {
  modelPath: string;
  /** Kernel families to measure (registry names); the baseline family is always added. */
  families: string[];
  /** Samples per variant, taken in interleaved rounds (more for variants re-measured). */
  repeat: number;
  /** Unmeasured runs before timing (besides the verification run). Kept for compatibility; the warm-up is `warmupMs`. */
  warmup: number;
  /** GPU warm-up before each layer, ms (default DEFAULT_WARMUP_MS). */
  warmupMs?: number;
  maxLayers?: number;
  /** `tiledb` or `measure`; default `tiledb` when `env.tileDb` has a snapshot, else `measure`. */
  policy?: 'measure' | 'tiledb';
  /** Policy `tiledb`: measure every candidate, not only the shortlist and dense (gives the regret). */
  audit?: boolean;
  /**
   * Policy `tiledb`: how many of the PIT rules predicted fastest are measured beside the dense tiles (1 trusts the
   * prediction alone). Default 2: on layers where two rules are predicted within the cost model's error of each
   * other, measuring both is cheaper than a wrong pick.
   */
  shortlist?: number;
  /**
   * Near-zero as zero (core/sparsity/near-zero.ts): the activations of every layer are thresholded, every variant is
   * verified against the thresholded computation, and the approximation error is reported. Off when absent.
   */
  zero?: NearZero;
  /**
   * Operand dtype (issue 11): `f16` measures the f16 counterparts of `families` (dense-f16 the baseline) on A and B
   * rounded to f16; default the model's weight dtype (profile/dtype.ts `modelWeightDtype`).
   */
  dtype?: ComputeDtype;
  /**
   * Most bytes one layer may hold at once, on the host and on the GPU each (core/gpu/limits.ts). Default: half the
   * host's free memory (`defaultMemoryBudget`).
   */
  memoryBudget?: number;
}

/** The tile database the caller found for this adapter (db/tiledb.ts), or why there is none. */
export interface TileDbLookup {
  snapshot: TileDbSnapshot | null;
  /** Why there is no usable snapshot (e.g. only one tuned with other kernel sources); shown when falling back. */
  note?: string;
}

export interface ProfileEnv {
  gpu: GpuContext;
  cache: PipelineCache;
  sink: RunSink;
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
  /**
   * For policy `tiledb`: the lookup, or a function giving the lookup of the run's dtype (called once, when the job
   * knows the dtype: `ProfileOptions.dtype` or the model's weights'). Its adapter and kernel hash (of the run's dtype,
   * core/pit/tiledb.ts `tileDbHash`) are checked again here: a mismatch, or another dtype's database, is never used
   * silently.
   */
  tileDb?: TileDbLookup | ((dtype: ComputeDtype) => TileDbLookup);
  /**
   * The memory limits every layer is sized against (core/gpu/limits.ts). `profileModel` sets them once per job;
   * absent, `profileLayer` takes them from the device and `ProfileOptions.memoryBudget` (`memoryLimits`).
   */
  limits?: MemoryLimits;
}

/**
 * The limits a job sizes its layers against: the device's binding limit and the memory budget (`memoryBudget`, or
 * half the host's free memory now).
 */
export function memoryLimits(opts: Pick<ProfileOptions, 'memoryBudget'>, gpu: GpuContext): MemoryLimits {
  return { bindingBytes: bindingLimit(gpu.device.limits), budgetBytes: opts.memoryBudget ?? defaultMemoryBudget(freemem()) };
}

/**
 * Decides the policy: `tiledb` needs a snapshot whose adapter, kernel hash (that of the run's dtype, `tileDbHash`:
 * f16 runs use an f16 database, `pit tune --dtype f16`) and tuner version match this device and these kernels
 * (core/pit/tiledb.ts `tileDbMismatch`) and that can predict the dtype's dense baseline family; otherwise the job
 * measures, and `info.note` says why.
 */
export function resolvePolicy(opts: Pick<ProfileOptions, 'policy' | 'audit' | 'shortlist' | 'dtype'>, env: Pick<ProfileEnv, 'gpu' | 'tileDb'>): ResolvedPolicy {
  const dtype = opts.dtype ?? 'f32';
  const lookup = typeof env.tileDb === 'function' ? env.tileDb(dtype) : env.tileDb;
  const snapshot = lookup?.snapshot ?? null;
  const wanted = opts.policy ?? (snapshot ? 'tiledb' : 'measure');
  const measure = (note?: string): ResolvedPolicy => ({
    info: { policy: 'measure', audit: false, ...(note ? { note } : {}) },
    model: null,
  });
  const tuneCmd = dtype === 'f32' ? '`pit tune`' : `\`pit tune --dtype ${dtype}\``;
  const what = dtype === 'f32' ? 'tile database' : `${dtype} tile database`;
  if (wanted === 'measure') {
    if (opts.policy === 'measure') return measure();
    const detail = lookup?.note ? ` (${lookup.note})` : '';
    return measure(`no ${what} fits this adapter and these kernels${detail}: measuring every variant (run ${tuneCmd} to predict instead)`);
  }
  if (!snapshot) return measure(`no ${what} for this adapter${lookup?.note ? ` (${lookup.note})` : ''}: run ${tuneCmd}; measuring every variant instead`);
  const mismatch = tileDbMismatch(snapshot, env.gpu.adapter, tileDbHash(dtype, env.gpu.adapter));
  if (mismatch) {
    // A database of the other dtype has a hash of its own: say which, not only "other kernel sources".
    const other = tileDbDtypeOf(snapshot.points.map((p) => p.family));
    const why = snapshot.points.length && other !== dtype ? `it is an ${other} tile database (this run is ${dtype})` : mismatch;
    return measure(`tile database ${snapshot.id} not used: ${why}; re-run ${tuneCmd}; measuring every variant instead`);
  }
  const model = new TileModel(snapshot.points);
  const dense = baselineFamily(dtype).name;
  if (!model.configs().some((c) => c.family === dense)) {
    return measure(`tile database ${snapshot.id} has no usable ${dense} measurement; re-run ${tuneCmd}; measuring every variant instead`);
  }
  return {
    info: {
      policy: 'tiledb',
      audit: !!opts.audit,
      shortlist: Math.max(1, opts.shortlist ?? DEFAULT_SHORTLIST),
      tileDb: { id: snapshot.id, kernelHash: snapshot.kernelHash, points: snapshot.points.length, updatedAt: snapshot.updatedAt },
    },
    model,
  };
}

/** Thrown (after marking the run) when the signal aborts the job. */
export class CancelledError extends Error {
  override name = 'CancelledError';
}

/**
 * Profiles `opts.modelPath` on `opts.inputs`; returns the run id and its layers.
 * @throws ModelError / InputError before the run is created; CancelledError, DeviceLostError or the failing
 *   error after it (the run is then marked incomplete).
 */
export async function profileModel(opts: ProfileOptions, env: ProfileEnv): Promise<{ runId: number; layers: LayerResult[] }> {
  const emit = env.onProgress ?? (() => {});
  emit({ kind: 'stage', stage: 'import', message: `importing ${opts.modelPath}` });
  // Inputs and branches (issue 9; core/inputs/samples.ts, core/model/branches.ts): every sample's feeds are loaded
  // and checked before the run exists, then the If branches their conditions decide are inlined.
  const imported = importModel(opts.modelPath);
  const inputs = loadSamples(imported, opts);
  const model = await inlineDecidedBranches(imported, inputs.map((s) => s.feeds));
  const ops = findSparseOps(model);
  if (!ops.some((o) => o.supported)) throw new ModelError(noSupportedOperatorMessage(model, ops), { path: opts.modelPath });
  const layersToRun = opts.maxLayers ? ops.slice(0, opts.maxLayers) : ops;
  for (const f of opts.families) {
    // An unknown family, or one that needs facts a plain profile does not have, is an error before any run exists.
    const needs = familyOf(f).needs;
    if (needs?.length) throw new RangeError(needsMessage(f, needs));
  }
  if (opts.zero) {
    const problem = nearZeroProblem(opts.zero);
    if (problem) throw new RangeError(`near-zero as zero: ${problem}`);
  }
  // Dtype (issue 11): the requested families' counterparts of that dtype, its dense family the baseline.
  const dtype = opts.dtype ?? modelWeightDtype(model);
  const unsupported = dtypeUnsupported(dtype, env.gpu.adapter);
  if (unsupported) throw new ModelError(unsupported, { path: opts.modelPath });
  const forDtype = familiesForDtype(opts.families, dtype);
  // Every dense family of the dtype (the baseline candidates) runs; the requested PIT families beside them.
  const dense = FAMILIES.filter((f) => isDenseFamily(f) && dtypeOf(f) === dtype).map((f) => f.name);
  const families = [...dense, ...forDtype.families.filter((f) => !dense.includes(f))];
  if (dtype !== 'f32') {
    const without = forDtype.without.filter((f) => !isDenseFamily(familyOf(f)));
    emit({
      kind: 'log',
      message: `dtype ${dtype}: A and B rounded to ${dtype}, f32 accumulation; families ${families.join(', ')}${without.length ? `; no ${dtype} kernels for ${without.join(', ')} (not measured)` : ''}; batched layers run in fp32 runs only`,
    });
  }
  // Static weight patterns (pit prune's metadata): checked against the weights before any run exists.
  const statics = checkStaticPatterns(model, families);
  if (statics.note) emit({ kind: 'log', message: statics.note });
  const policy = resolvePolicy({ ...opts, dtype }, env);
  if (policy.info.note) emit({ kind: 'log', message: policy.info.note });
  else if (policy.info.policy === 'tiledb') {
    const t = policy.info.tileDb!;
    emit({ kind: 'log', message: `policy tiledb${policy.info.audit ? ' (audit: every candidate measured)' : ''}: tile database ${t.id} (${t.points} points, updated ${t.updatedAt})` });
  }

  // Issue 14 item 1: every layer is sized from its shapes against these before anything is allocated (fit.ts).
  const limits = memoryLimits(opts, env.gpu);
  emit({ kind: 'log', message: `memory budget ${formatBytes(limits.budgetBytes)} per layer${opts.memoryBudget ? '' : ' (half the free memory)'}; ${formatBytes(limits.bindingBytes)} per GPU binding` });
  const layerEnv: ProfileEnv = { ...env, limits };

  // Issue 14 item 3: the reference runtime takes the model and runs the first sample before the run exists, so a
  // model it rejects (an opset it does not support, an op it lacks, a shape it refuses at run time) leaves no run.
  const session: ReferenceRunner = await createReferenceSession(model, layersToRun);
  let runId: number;
  let pending: { captured: ReferenceCapture; ms: number } | null;
  try {
    emit({ kind: 'stage', stage: 'reference', message: `reference run (${session.runtime}) on ${inputs[0]!.label}` });
    const refStart = performance.now();
    const captured = await session.run(inputs[0]!.feeds);
    pending = { captured, ms: performance.now() - refStart };
    runId = env.sink.createRun({
      model: { path: opts.modelPath, sha256: model.sha256 },
      adapter: env.gpu.adapter,
      inputs: inputs.map((i) => i.ref),
      families,
      repeat: opts.repeat,
      options: {
        warmup: opts.warmup,
        warmupMs: opts.warmupMs ?? DEFAULT_WARMUP_MS,
        imageSize: opts.imageSize,
        maxLayers: opts.maxLayers ?? null,
        statistic: 'median',
        rounds: 'interleaved',
        policy: policy.info,
        ...(opts.zero ? { zero: { ...opts.zero } } : {}),
        memory: limits,
        dtype,
        // What the device offered (shader-f16, subgroup matrices, Dawn toggles): kept with every run.
        gpu: {
          shaderF16: env.gpu.adapter.shaderF16 ?? null,
          subgroups: env.gpu.adapter.subgroups ?? null,
          subgroupSizes: env.gpu.adapter.subgroupSizes ?? null,
          subgroupMatrixConfigs: env.gpu.adapter.subgroupMatrixConfigs ?? [],
          dawnToggles: env.gpu.adapter.dawnToggles ?? [],
        },
      },
    });
  } catch (e) {
    await session.release();
    throw e;
  }
  const layers: LayerResult[] = [];
  const total = layersToRun.length * inputs.length;
  const t0 = performance.now();
  try {
    for (const [inputIndex, input] of inputs.entries()) {
      checkCancel(env.signal);
      let captured: ReferenceCapture;
      if (pending) {
        captured = pending.captured;
        env.sink.recordReference?.(runId, inputIndex, pending.ms);
        pending = null;
      } else {
        emit({ kind: 'stage', stage: 'reference', message: `reference run (${session.runtime}) on ${input.label}` });
        const refStart = performance.now();
        captured = await session.run(input.feeds);
        env.sink.recordReference?.(runId, inputIndex, performance.now() - refStart);
      }
      emit({ kind: 'stage', stage: 'profile', message: `profiling ${layersToRun.length} layers on the GPU` });
      for (const op of layersToRun) {
        checkCancel(env.signal);
        const { layer, kernels } = await profileLayer(op, inputIndex, captured, model, families, { ...opts, dtype, warmupMs: opts.warmupMs ?? DEFAULT_WARMUP_MS }, layerEnv, policy, statics);
        env.sink.recordLayer(runId, layer, kernels);
        layers.push(layer);
        const done = layers.length;
        emit({ kind: 'layer', runId, done, total, layer, etaMs: ((performance.now() - t0) / done) * (total - done) });
      }
    }
    env.sink.finishRun(runId);
    const failed = layers.filter((l) => l.failed).length;
    emit({ kind: 'stage', stage: 'done', message: `run ${runId} complete: ${layers.length} layers${failed ? `, ${failed} failed (no dense variant verified; not in the totals)` : ''}` });
    return { runId, layers };
  } catch (e) {
    const cancelled = e instanceof CancelledError;
    try {
      env.sink.failRun(runId, cancelled ? 'cancelled' : oneLine(e));
    } catch (markError) {
      // The original error matters more (e.g. a full disk fails both); say both in one line.
      throw new Error(`${oneLine(e)} (and the run could not be marked incomplete: ${oneLine(markError)})`);
    }
    throw e;
  } finally {
    await session.release();
  }
}

/** Why family `name` cannot run in a plain profile (it needs layer facts only a padded-batch job knows). */
export function needsMessage(name: string, needs: readonly string[]): string {
  return `kernel family '${name}' needs ${needs.join(', ')} of a padded batch with known sequence lengths, which a plain profile does not have: use \`pit ocr-batch\``;
}

function checkCancel(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError('cancelled');
}


/** A layer the job does not measure: why, with its shape (zeros when it does not even lower) and batch axes. */
function skippedLayer(base: Pick<LayerResult, 'index' | 'name' | 'op' | 'input'>, reason: string, dtype: ComputeDtype, slicer?: LayerSlicer): LayerResult {
  const s = slicer?.shape ?? { m: 0, n: 0, k: 0 };
  const batch = slicer && slicer.batch > 1 ? { batch: slicer.batch, batchDims: slicer.batchDims.slice(), ...(slicer.batchKind !== 'none' ? { batchKind: slicer.batchKind } : {}) } : {};
  return { ...base, m: s.m, n: s.n, k: s.k, ...batch, sparsity: 0, microTiles: [], variants: [], chosen: baselineFamily(dtype).name, skipped: reason };
}

/**
 * How a layer is measured, from its shapes (nothing of the size of A lowered yet): whole, in slices (rows of a 2-D
 * layer, batches of a batched one), or skipped with the reason (fit.ts).
 */
export function layerFitOf(setup: LayerSetup, space: ConfigSpace, slicer: LayerSlicer, limits: MemoryLimits, zero?: NearZero): LayerFit {
  const { shape, facts, op } = setup;
  const pattern = setup.statics.byLayer.get(op.name);
  const context = (units: number): PlanContext => ({
    ...factContext(sliceFacts(facts, slicer, shape.m, 0, units)),
    layer: op.name,
    ...(pattern ? { pattern } : {}),
    ...(setup.weight ? { b: setup.weight } : {}),
  });
  return fitLayer({
    shape,
    axis: slicer.axis,
    ...possibleConfigs(space, setup.policy),
    freeLayouts: freeLayoutsOf(slicer.lowering, slicer.activations.b),
    context,
    limits,
    align: slicer.axis === 'rows' ? sliceAlignment(space, shape) : 1,
    // The keep fraction and the approximation error of near-zero as zero are over the whole operand and output.
    ...(zero ? { unsliceable: 'near-zero as zero needs the whole layer (its cut and approximation error are over the whole operand and output)' } : {}),
  });
}

/**
 * Measures one layer on one input: statistics, the variants the policy asks for, verification and the choice.
 * Sized from its shapes first (issue 14): measured whole, in slices (tiled.ts), or skipped with the reason.
 * Exported for jobs that build their own inputs (core/ocr/job.ts: a padded OCR batch with its valid rows).
 * @throws CancelledError, DeviceLostError; a variant that fails is recorded, not thrown.
 */
export async function profileLayer(
  op: SparseOp,
  inputIndex: number,
  captured: ReferenceCapture,
  model: ReturnType<typeof importModel>,
  families: string[],
  opts: ProfileOptions,
  env: ProfileEnv,
  policy: ResolvedPolicy,
  statics: StaticPatterns,
  facts: LayerFacts = {},
): Promise<{ layer: LayerResult; kernels: KernelText[] }> {
  const base = { index: op.index, name: op.name, op: op.op, input: inputIndex };
  // Some operators only prove unlowerable with real shapes (e.g. an output size that disagrees with the ONNX formula).
  const form = loweringOf(op, captured, model);
  // f16 runs (issue 11) compute with A and B rounded to f16, verified against the product of the rounded operands.
  const dtype: ComputeDtype = opts.dtype ?? 'f32';
  if (form.form === 'none') return { layer: skippedLayer(base, form.reason, dtype), kernels: [] };
  // Every layer is a batched matmul (2-D layers are batch 1): core/model/batched.ts, core/profile/layer-problem.ts.
  // Its shapes first, without lowering anything of the size of A (an im2col can be gigabytes).
  const slicer = new LayerSlicer(op, captured, model);
  const batched = slicer.batch > 1;
  if (dtype !== 'f32' && batched) {
    return { layer: skippedLayer(base, `batched layer (batch ${slicer.batch}): the ${dtype} families are 2-D only; an fp32 run profiles it`, dtype, slicer), kernels: [] };
  }
  const setup: LayerSetup = { op, shape: slicer.shape, families, policy, statics, facts, weight: slicer.weight, dtype, caps: env.gpu.adapter };
  const space = configSpace(setup);
  const limits = env.limits ?? memoryLimits(opts, env.gpu);
  const fit = layerFitOf(setup, space, slicer, limits, opts.zero);
  const check = () => checkCancel(env.signal);
  if (fit.kind === 'skip') return { layer: skippedLayer(base, fit.reason, dtype, slicer), kernels: [] };
  if (fit.kind === 'sliced') {
    const of = fit.axis === 'rows' ? `${fit.size} rows` : `${fit.size} batch${fit.size === 1 ? '' : 'es'}`;
    env.onProgress?.({ kind: 'log', message: `${op.name}: ${fit.reason}: measuring it in ${fit.slices} ${fit.axis === 'rows' ? 'row' : 'batch'} slices of ${of}` });
    return profileSlicedLayer({ base, setup, space, slicer, fit, opts, limits, gpu: env.gpu, cache: env.cache, check, onProgress: env.onProgress });
  }

  // The whole layer is its one slice (`slice(0, units)` is `lowerToBatchedMatmul`).
  const problem = layerProblem(slicer.slice(0, slicer.units), opts.zero, dtype);
  const { mm, shape } = problem;
  if (problem.f16Overflow) env.onProgress?.({ kind: 'log', message: `${op.name}: ${problem.f16Overflow} operand element(s) beyond the f16 range become ±Inf in f16` });
  // Statistics of the layer as it is measured (thresholded with near-zero as zero): every shape it may report or
  // the policy may ask for.
  const shapes = possibleShapes(space, shape);
  const layerStats = new LayerStats({ axis: slicer.axis, m: mm.m, k: mm.k, batch: mm.batch, aShared: !!shape.aShared, bShared: !!shape.bShared, bActivation: !!shape.bActivation }, shapes.a, shapes.b);
  layerStats.add(mm, 0);
  const stats = layerStats.result();
  const plan = chooseConfigs(setup, space, (wanted) => new Map(wanted.map((s): [string, MicroTileCoverage] => [s, stats.covA2d!.get(s)!])));
  const reported = reportedShapes(
    plan.configs.map((c) => c.config),
    shape,
  );
  const candidates = candidatesOf(plan, setup, space, stats.covA, stats.covB);
  const kernels = new Map<string, KernelText>();
  const verifier = verifierOf(problem, batched);
  const pattern = statics.byLayer.get(op.name);
  const context = { ...factContext(facts), layer: op.name, ...(pattern ? { pattern } : {}) };
  const operands = { ...shape, a: mm.a, b: mm.b, freeLayouts: problem.freeLayouts, context, budgetBytes: limits.budgetBytes };
  const lm = await LayerMeasurement.start(env.gpu, env.cache, operands, candidates, verifier, (w) => kernels.set(w.hash, { hash: w.hash, label: w.label, wgsl: w.text }), check);
  let att: Attribution;
  try {
    await lm.warmUp(opts.warmupMs ?? 0);
    await lm.rounds(Math.max(1, opts.repeat), undefined, check);
    const view = (): MeasuredVariant[] =>
      lm.measured.map((x, i) => ({
        name: x.candidate.name,
        baselineFamily: isDenseFamily(familyOfConfig(x.candidate.spec)),
        ok: x.result.ok,
        stats: x.stats,
        effectiveDensity: x.candidate.effectiveDensity,
        choosable: plan.configs[i]!.choosable,
      }));
    att = attribute(view(), plan.defaultDense, false);
    if (att.remeasure.length) {
      await lm.rounds(Math.max(1, opts.repeat), att.remeasure, check);
      att = attribute(view(), plan.defaultDense, true);
    }
  } finally {
    lm.release();
  }
  // The readback of the timeline: the chosen variant's output copied back after its verification run.
  const readbackMs = lm.measured.find((x) => x.candidate.name === att.chosen)?.readbackMs;
  const layer = finishLayer({
    base,
    setup,
    lowered: slicer,
    stats,
    shapes: reported,
    candidates,
    measured: lm.measured.map((x) => x.result),
    att,
    plan,
    ...(readbackMs !== undefined ? { readbackMs } : {}),
    ...(problem.approximation ? { approximation: problem.approximation } : {}),
  });
  return { layer, kernels: [...kernels.values()] };
}
