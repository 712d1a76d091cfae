/**
 * The main job (DESIGN.md §5): import a model (ONNX or TF.js layers, core/model/import.ts), capture every
 * sparse-capable layer's real input and reference output with its runtime (onnxruntime or TF.js,
 * core/model/capture.ts), and per layer and input, on the GPU: measure sparsity and micro-tile densities of the
 * exploited operand A, choose a variant, verify every variant run against the reference, time them, and write each
 * finished layer to the sink before starting the next.
 *
 * Every layer measures the dense candidates (core/kernels/dense.ts `denseCandidates`: the same under every policy);
 * the fastest verified of them is the layer's baseline. The policy decides which PIT rules are measured beside them:
 * - `measure`: each requested family's default configurations (`KernelFamily.layerConfigs`).
 * - `tiledb` (PIT §4.4): the transformation policy (core/pit/policy.ts) predicts every legal rule from the tile
 *   database at the layer's shape and exact micro-tile coverage; the `shortlist` rules predicted fastest (default 2)
 *   are measured — or, with `audit`, every rule too (never chosen unless shortlisted), so the regret is known. The
 *   default when a tile database for this adapter and these kernel sources is given; otherwise the job says why.
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
 * limit and `memoryBudget`; one that does not fit is measured in row slices (tiled.ts) or skipped with the reason. A
 * layer on which no dense variant verified is recorded with `failed` (layer-plan.ts) and counts in no total.
 */
import { freemem } from 'node:os';
import type { GpuContext } from '../gpu/device.ts';
import { bindingLimit, defaultMemoryBudget, formatBytes, type MemoryLimits } from '../gpu/limits.ts';
import type { PipelineCache } from '../gpu/pipeline-cache.ts';
import { loadSamples, type SampleOptions } from '../inputs/samples.ts';
import { inlineDecidedBranches } from '../model/branches.ts';
import { BASELINE_FAMILY, FAMILIES, familyOf } from '../kernels/registry.ts';
import { loweringOf } from '../model/batched.ts';
import { ModelError, oneLine } from '../model/errors.ts';
import { importModel } from '../model/import.ts';
import { checkLowerable, lowerToMatmul } from '../model/lowering.ts';
import type { ReferenceCapture } from '../model/reference.ts';
import { createReferenceSession, type ReferenceRunner } from '../model/capture.ts';
import { findSparseOps, noSupportedOperatorMessage, type SparseOp } from '../model/sparse-ops.ts';
import { coverageOf, type MicroTileCoverage } from '../pit/coverage.ts';
import { kernelSourcesHash, TileModel, tileDbMismatch, type TileDbSnapshot } from '../pit/tiledb.ts';
import type { LayerResult, MicroTileDensity, ProgressEvent } from '../protocol.ts';
import { occupancyHeatmap, sparsityOf } from '../sparsity/micro-tiles.ts';
import { attribute, type Attribution, type MeasuredVariant } from './attribution.ts';
import { fitLayer, type LayerFit } from './fit.ts';
import {
  candidatesOf,
  chooseConfigs,
  DEFAULT_SHORTLIST,
  finishLayer,
  freeLayoutsOf,
  microTileOf,
  microTilesOf,
  possibleConfigs,
  REPORTED_MICRO_TILES,
  sliceAlignment,
  verifierOf,
  type ResolvedPolicy,
} from './layer-plan.ts';
import { LayerMeasurement } from './measure.ts';
import type { KernelText, RunSink } from './sink.ts';
import { profileTiledLayer } from './tiled.ts';

export { DEFAULT_SHORTLIST, REPORTED_MICRO_TILES, type ResolvedPolicy } from './layer-plan.ts';

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
  /** For policy `tiledb`. Its adapter and kernel hash are checked again here: a mismatch is never used silently. */
  tileDb?: TileDbLookup;
}

/**
 * Decides the policy: `tiledb` needs a snapshot whose adapter, kernel hash and tuner version match this device and
 * these kernels (core/pit/tiledb.ts `tileDbMismatch`) and that can predict dense; otherwise the job measures, and
 * `info.note` says why.
 */
export function resolvePolicy(opts: Pick<ProfileOptions, 'policy' | 'audit' | 'shortlist'>, env: Pick<ProfileEnv, 'gpu' | 'tileDb'>): ResolvedPolicy {
  const snapshot = env.tileDb?.snapshot ?? null;
  const wanted = opts.policy ?? (snapshot ? 'tiledb' : 'measure');
  const measure = (note?: string): ResolvedPolicy => ({
    info: { policy: 'measure', audit: false, ...(note ? { note } : {}) },
    model: null,
  });
  if (wanted === 'measure') {
    if (opts.policy === 'measure') return measure();
    const detail = env.tileDb?.note ? ` (${env.tileDb.note})` : '';
    return measure(`no tile database fits this adapter and these kernels${detail}: measuring every variant (run \`pit tune\` to predict instead)`);
  }
  if (!snapshot) return measure(`no tile database for this adapter${env.tileDb?.note ? ` (${env.tileDb.note})` : ''}: run \`pit tune\`; measuring every variant instead`);
  const mismatch = tileDbMismatch(snapshot, env.gpu.adapter, kernelSourcesHash());
  if (mismatch) return measure(`tile database ${snapshot.id} not used: ${mismatch}; re-run \`pit tune\`; measuring every variant instead`);
  const model = new TileModel(snapshot.points);
  if (!model.configs().some((c) => c.family === BASELINE_FAMILY.name)) {
    return measure(`tile database ${snapshot.id} has no usable dense measurement; re-run \`pit tune\`; measuring every variant instead`);
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
  for (const f of opts.families) familyOf(f); // an unknown family is a usage error, before any run exists
  const families = opts.families.includes(BASELINE_FAMILY.name) ? opts.families : [BASELINE_FAMILY.name, ...opts.families];
  const policy = resolvePolicy(opts, env);
  if (policy.info.note) emit({ kind: 'log', message: policy.info.note });
  else if (policy.info.policy === 'tiledb') {
    const t = policy.info.tileDb!;
    emit({ kind: 'log', message: `policy tiledb${policy.info.audit ? ' (audit: every candidate measured)' : ''}: tile database ${t.id} (${t.points} points, updated ${t.updatedAt})` });
  }

  // Issue 14 item 1: every layer is sized from its shapes against these before anything is allocated (fit.ts).
  const limits: MemoryLimits = { bindingBytes: bindingLimit(env.gpu.device.limits), budgetBytes: opts.memoryBudget ?? defaultMemoryBudget(freemem()) };
  emit({ kind: 'log', message: `memory budget ${formatBytes(limits.budgetBytes)} per layer${opts.memoryBudget ? '' : ' (half the free memory)'}; ${formatBytes(limits.bindingBytes)} per GPU binding` });

  // Issue 14 item 3: the reference runtime takes the model and runs the first sample before the run exists, so a
  // model it rejects (an opset it does not support, an op it lacks, a shape it refuses at run time) leaves no run.
  const session: ReferenceRunner = await createReferenceSession(model, layersToRun);
  let runId: number;
  let pending: ReferenceCapture | null;
  try {
    emit({ kind: 'stage', stage: 'reference', message: `reference run (${session.runtime}) on ${inputs[0]!.label}` });
    pending = await session.run(inputs[0]!.feeds);
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
        memory: limits,
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
      let captured = pending;
      pending = null;
      if (!captured) {
        emit({ kind: 'stage', stage: 'reference', message: `reference run (${session.runtime}) on ${input.label}` });
        captured = await session.run(input.feeds);
      }
      emit({ kind: 'stage', stage: 'profile', message: `profiling ${layersToRun.length} layers on the GPU` });
      for (const op of layersToRun) {
        checkCancel(env.signal);
        const { layer, kernels } = await profileLayer(op, inputIndex, captured, model, families, { ...opts, warmupMs: opts.warmupMs ?? DEFAULT_WARMUP_MS }, env, policy, limits);
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

function checkCancel(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError('cancelled');
}


/** The micro-tile shapes whose densities every layer reports ([M, K] terms; `1x1` is element density). */
function layerCoverage(a: Float32Array, m: number, k: number, extra: readonly string[]): { microTiles: MicroTileDensity[]; coverage: Map<string, MicroTileCoverage> } {
  const shapes = [...new Set([...REPORTED_MICRO_TILES, ...extra])];
  const coverage = coverageOf({ a, m, k }, shapes);
  return { microTiles: microTilesOf(coverage, shapes), coverage };
}

/**
 * How a layer is measured, from its shapes (nothing lowered yet): whole, in row slices, or skipped (fit.ts).
 * @returns null for a layer that does not lower to a 2-D matmul (checkLowerable says why).
 */
export function layerFitOf(op: SparseOp, captured: ReferenceCapture, model: ReturnType<typeof importModel>, families: readonly string[], policy: ResolvedPolicy, limits: MemoryLimits): LayerFit | null {
  const form = loweringOf(op, captured, model);
  if (form.form !== 'matmul') return null;
  const shape = { m: form.m, n: form.n, k: form.k };
  return fitLayer({ shape, ...possibleConfigs(op, shape, families, policy), freeLayouts: freeLayoutsOf(op.op === 'Conv' ? 'im2col' : 'matmul'), limits, align: sliceAlignment(op, shape, families, policy) });
}

/** Measures one layer on one input: statistics, the variants the policy asks for, verification and the choice. */
async function profileLayer(
  op: SparseOp,
  inputIndex: number,
  captured: ReferenceCapture,
  model: ReturnType<typeof importModel>,
  families: string[],
  opts: ProfileOptions,
  env: ProfileEnv,
  policy: ResolvedPolicy,
  limits: MemoryLimits,
): Promise<{ layer: LayerResult; kernels: KernelText[] }> {
  const base = { index: op.index, name: op.name, op: op.op, input: inputIndex };
  // Some operators only prove unlowerable with real shapes (e.g. a MatMul whose B turns out batched).
  const skipped = checkLowerable(op, captured, model);
  if (skipped) {
    return { layer: { ...base, m: 0, n: 0, k: 0, sparsity: 0, microTiles: [], variants: [], chosen: BASELINE_FAMILY.name, skipped }, kernels: [] };
  }
  // Issue 14 item 1: sized from the shapes before the lowering allocates anything (an im2col can be gigabytes).
  const fit = layerFitOf(op, captured, model, families, policy, limits)!;
  if (fit.kind === 'skip') {
    const form = loweringOf(op, captured, model) as { m: number; n: number; k: number };
    return { layer: { ...base, m: form.m, n: form.n, k: form.k, sparsity: 0, microTiles: [], variants: [], chosen: BASELINE_FAMILY.name, skipped: fit.reason }, kernels: [] };
  }
  const check = () => checkCancel(env.signal);
  if (fit.kind === 'tiled') {
    env.onProgress?.({ kind: 'log', message: `${op.name}: ${fit.reason}: measuring it in ${fit.slices} row slices of ${fit.rows} rows` });
    return profileTiledLayer({ op, base, captured, model, families, opts, policy, fit, limits, gpu: env.gpu, cache: env.cache, check, onProgress: env.onProgress });
  }
  const mm = lowerToMatmul(op, captured, model);
  const { m, n, k, a } = mm;
  const shape = { m, n, k };

  // The dense candidates (baseline tiles) are the same under every policy; the policy picks the PIT rules.
  const plan = chooseConfigs(op, shape, families, policy, (shapes) => coverageOf({ a, m, k }, shapes));
  // Detection is checked against the CPU coverage of the micro-tile it indexes, which a merged pit-k may not compute.
  const extra = plan.configs.map((c) => microTileOf(c.config, k)).filter((x): x is string => x !== null);
  const { microTiles, coverage } = layerCoverage(a, m, k, extra);
  const stats = { ...base, m, n, k, sparsity: sparsityOf(a), heatmap: occupancyHeatmap(a, m, k) };
  const candidates = candidatesOf(plan.configs, coverage, k);
  const kernels = new Map<string, KernelText>();
  const { verifier } = verifierOf(mm);
  const ops = { m, n, k, a, b: mm.b, freeLayouts: freeLayoutsOf(mm.lowering), budgetBytes: limits.budgetBytes };
  const lm = await LayerMeasurement.start(env.gpu, env.cache, ops, candidates, verifier, (w) => kernels.set(w.hash, { hash: w.hash, label: w.label, wgsl: w.text }), check);
  let att: Attribution;
  try {
    await lm.warmUp(opts.warmupMs ?? 0);
    await lm.rounds(Math.max(1, opts.repeat), undefined, check);
    const view = (): MeasuredVariant[] =>
      lm.measured.map((x, i) => ({
        name: x.candidate.name,
        baselineFamily: x.candidate.spec.family === BASELINE_FAMILY.name,
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
  const layer = finishLayer(stats, microTiles, lm.measured.map((x) => x.result), att, plan, policy);
  return { layer, kernels: [...kernels.values()] };
}
