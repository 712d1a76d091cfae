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
 * Errors before the run exists (missing or malformed model, no supported operator, unreadable input, wrong shape)
 * throw without touching the sink. Errors after it exists mark the run incomplete with the error's first line, and
 * a cancel (AbortSignal) marks it `cancelled`; finished layers stay.
 */
import type { GpuContext } from '../gpu/device.ts';
import type { PipelineCache } from '../gpu/pipeline-cache.ts';
import { loadSamples, type SampleOptions } from '../inputs/samples.ts';
import { inlineDecidedBranches } from '../model/branches.ts';
import type { ALayout, FamilyConfig } from '../kernels/family.ts';
import { compareOutputs, matmulErrorScale } from '../kernels/reference.ts';
import { BASELINE_FAMILY, dtypeOf, FAMILIES, familyOf, familyOfConfig } from '../kernels/registry.ts';
import type { KernelFamily } from '../kernels/family.ts';
import { dtypeUnsupported, familiesForDtype, layerOperands, modelWeightDtype } from './dtype.ts';
import { ModelError, oneLine } from '../model/errors.ts';
import { importModel } from '../model/import.ts';
import { checkLowerable, lowerToMatmul } from '../model/lowering.ts';
import type { ReferenceCapture } from '../model/reference.ts';
import { createReferenceSession, type ReferenceRunner } from '../model/capture.ts';
import { findSparseOps, noSupportedOperatorMessage, type SparseOp } from '../model/sparse-ops.ts';
import { coverageOf, type MicroTileCoverage } from '../pit/coverage.ts';
import { decide, regretOf, type PolicyDecision } from '../pit/policy.ts';
import { rulesFor } from '../pit/rules.ts';
import { coverageShape, kernelSourcesHash, TileModel, tileDbMismatch, type TileDbSnapshot } from '../pit/tiledb.ts';
import type { ComputeDtype, LayerResult, MicroTileDensity, ProgressEvent, RunPolicy } from '../protocol.ts';
import { occupancyHeatmap, sparsityOf } from '../sparsity/micro-tiles.ts';
import { attribute, type Attribution, type MeasuredVariant } from './attribution.ts';
import { LayerMeasurement, type Candidate, type Verifier } from './measure.ts';
import type { KernelText, RunSink } from './sink.ts';

/** The families `pit profile` measures by default (every registered family marked `defaultOn`), in report order. */
export function defaultFamilies(): string[] {
  return FAMILIES.filter((f) => f.defaultOn).map((f) => f.name);
}

/** GPU warm-up before each layer's rounds, ms of back-to-back work (see LayerMeasurement.warmUp). */
export const DEFAULT_WARMUP_MS = 50;

/** Micro-tile shapes whose densities are reported for every layer ([M, K] terms; `1x1` is element density). */
export const REPORTED_MICRO_TILES = ['1x1', '8x1', '32x1', '1x32', '1x64', '32x32'] as const;

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
   * Operand dtype (issue 11): `f16` measures the f16 counterparts of `families` (dense-f16 the baseline) on A and B
   * rounded to f16; default the model's weight dtype (profile/dtype.ts `modelWeightDtype`).
   */
  dtype?: ComputeDtype;
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

/** Candidates measured by default under policy `tiledb` (ProfileOptions.shortlist). */
export const DEFAULT_SHORTLIST = 2;

/** The policy a job runs with, once its tile database was checked. */
interface ResolvedPolicy {
  info: RunPolicy;
  model: TileModel | null;
}

/**
 * Decides the policy: `tiledb` needs a snapshot whose adapter, kernel hash and tuner version match this device and
 * these kernels (core/pit/tiledb.ts `tileDbMismatch`) and that can predict dense; otherwise the job measures, and
 * `info.note` says why.
 */
export function resolvePolicy(opts: Pick<ProfileOptions, 'policy' | 'audit' | 'shortlist' | 'dtype'>, env: Pick<ProfileEnv, 'gpu' | 'tileDb'>): ResolvedPolicy {
  // Tile databases are keyed by dtype (tiledb.ts kernelSourcesHash) and `pit tune` tunes the f32 families only.
  if ((opts.dtype ?? 'f32') !== 'f32') {
    return { info: { policy: 'measure', audit: false, ...(opts.policy === 'tiledb' ? { note: `no ${opts.dtype} tile database (pit tune measures the f32 families): measuring every variant` } : {}) }, model: null };
  }
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
  // Dtype (issue 11): the requested families' counterparts of that dtype, its dense family the baseline.
  const dtype = opts.dtype ?? modelWeightDtype(model);
  const unsupported = dtypeUnsupported(dtype, env.gpu.adapter);
  if (unsupported) throw new ModelError(unsupported, { path: opts.modelPath });
  const { baseline, families } = familiesForDtype(opts.families, dtype);
  if (dtype !== 'f32') emit({ kind: 'log', message: `dtype ${dtype}: A and B rounded to ${dtype}, f32 accumulation; families ${families.join(', ')}` });
  const policy = resolvePolicy({ ...opts, dtype }, env);
  if (policy.info.note) emit({ kind: 'log', message: policy.info.note });
  else if (policy.info.policy === 'tiledb') {
    const t = policy.info.tileDb!;
    emit({ kind: 'log', message: `policy tiledb${policy.info.audit ? ' (audit: every candidate measured)' : ''}: tile database ${t.id} (${t.points} points, updated ${t.updatedAt})` });
  }

  const runId = env.sink.createRun({
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
  const layers: LayerResult[] = [];
  const total = layersToRun.length * inputs.length;
  const t0 = performance.now();
  let session: ReferenceRunner | null = null;
  try {
    session = await createReferenceSession(model, layersToRun);
    for (const [inputIndex, input] of inputs.entries()) {
      checkCancel(env.signal);
      emit({ kind: 'stage', stage: 'reference', message: `reference run (${session.runtime}) on ${input.label}` });
      const captured = await session.run(input.feeds);
      emit({ kind: 'stage', stage: 'profile', message: `profiling ${layersToRun.length} layers on the GPU` });
      for (const op of layersToRun) {
        checkCancel(env.signal);
        const { layer, kernels } = await profileLayer(op, inputIndex, captured, model, families, { ...opts, dtype, warmupMs: opts.warmupMs ?? DEFAULT_WARMUP_MS }, env, policy, baseline);
        env.sink.recordLayer(runId, layer, kernels);
        layers.push(layer);
        const done = layers.length;
        emit({ kind: 'layer', runId, done, total, layer, etaMs: ((performance.now() - t0) / done) * (total - done) });
      }
    }
    env.sink.finishRun(runId);
    emit({ kind: 'stage', stage: 'done', message: `run ${runId} complete: ${layers.length} layers` });
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
    await session?.release();
  }
}

function checkCancel(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError('cancelled');
}


/** The micro-tile shapes whose densities every layer reports ([M, K] terms; `1x1` is element density). */
function layerCoverage(a: Float32Array, m: number, k: number, extra: readonly string[]): { microTiles: MicroTileDensity[]; coverage: Map<string, MicroTileCoverage> } {
  const shapes = [...new Set([...REPORTED_MICRO_TILES, ...extra])];
  const coverage = coverageOf({ a, m, k }, shapes);
  const microTiles = shapes.map((shape) => {
    const c = coverage.get(shape)!;
    return { shape, density: c.density, effectiveDensity: c.effectiveDensity };
  });
  return { microTiles, coverage };
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
  baseline: KernelFamily = BASELINE_FAMILY,
): Promise<{ layer: LayerResult; kernels: KernelText[] }> {
  const base = { index: op.index, name: op.name, op: op.op, input: inputIndex };
  // Some operators only prove unlowerable with real shapes (e.g. a MatMul whose B turns out batched).
  const skipped = checkLowerable(op, captured, model);
  if (skipped) {
    return { layer: { ...base, m: 0, n: 0, k: 0, sparsity: 0, microTiles: [], variants: [], chosen: baseline.name, skipped }, kernels: [] };
  }
  const mm = lowerToMatmul(op, captured, model);
  const { m, n, k } = mm;
  const shape = { m, n, k };
  // f16 runs compute with A and B rounded to f16 and are verified against the product of the rounded operands.
  const dtype = dtypeOf(baseline);
  const operands = layerOperands(dtype, mm.a, mm.b, m, n, k);
  const a = operands.a;
  if (operands.overflow) env.onProgress?.({ kind: 'log', message: `${op.name}: ${operands.overflow} operand element(s) beyond the f16 range become ±Inf in f16` });
  const caps = env.gpu.adapter;

  // The dense candidates (baseline tiles) are the same under every policy; the policy picks the PIT rules.
  const dense = baseline.layerConfigs(shape, caps);
  const defaultDense = baseline.variantName(dense[0]!);
  let pitConfigs: { config: FamilyConfig; choosable: boolean }[];
  let decision: PolicyDecision | null = null;
  let shortlist: PolicyDecision['candidates'] = [];
  if (!policy.model) {
    pitConfigs = FAMILIES.filter((f) => f !== baseline && families.includes(f.name)).flatMap((f) =>
      f.layerConfigs(shape, caps).filter((c) => !f.illegalReason(c, shape)).map((config) => ({ config, choosable: true })),
    );
  } else {
    const rules = rulesFor(op.op, shape, policy.model.configs()).filter((r) => r.config.family !== BASELINE_FAMILY.name && families.includes(r.config.family));
    const shapes = rules.map((r) => coverageShape(r.config, k)).filter((x): x is string => x !== null);
    const predicted = coverageOf({ a, m, k }, [...new Set(shapes)]);
    const denseRules = rulesFor(op.op, shape, dense);
    decision = decide(policy.model, shape, predicted, [...denseRules, ...rules]);
    shortlist = decision.candidates.filter((c) => c.ruleRef.config.family !== BASELINE_FAMILY.name).slice(0, policy.info.shortlist ?? DEFAULT_SHORTLIST);
    const measured = policy.info.audit ? decision.candidates.filter((c) => c.ruleRef.config.family !== BASELINE_FAMILY.name) : shortlist;
    pitConfigs = measured.map((c) => ({ config: c.ruleRef.config, choosable: shortlist.includes(c) }));
  }
  const configs = [...dense.map((config) => ({ config, choosable: true })), ...pitConfigs];
  const microTileOf = (c: FamilyConfig) => familyOfConfig(c).microTile(c, k);
  // Detection is checked against the CPU coverage of the micro-tile it indexes, which a merged pit-k may not compute.
  const extra = configs.map((c) => microTileOf(c.config)).filter((x): x is string => x !== null);
  const { microTiles, coverage } = layerCoverage(a, m, k, extra);
  const stats = { ...base, m, n, k, sparsity: sparsityOf(a), heatmap: occupancyHeatmap(a, m, k) };

  const candidates: Candidate[] = configs.map(({ config }) => {
    const mt = microTileOf(config);
    return { name: familyOfConfig(config).variantName(config), spec: config, microTile: mt, effectiveDensity: mt ? coverage.get(mt)!.effectiveDensity : null };
  });
  const kernels = new Map<string, KernelText>();
  // fp32 rounding grows with Σ|a||b|, not |C| (which cancellation can make tiny): the tolerance scales with it.
  const errScale = matmulErrorScale(a, operands.b, m, n, k) * Math.abs(mm.alpha ?? 1) + (mm.bias ? Math.max(...Array.from(mm.bias, Math.abs)) : 0);
  const verifier: Verifier = {
    output(c) {
      // The kernels compute A·B; the layer's own epilogue (Gemm alpha, bias) is applied here before comparing (f16:
      // to both sides, the reference being the product of the rounded operands).
      const alpha = mm.alpha ?? 1;
      const epilogue = (x: Float32Array): Float32Array => {
        const out = x.slice();
        if (alpha !== 1 || mm.bias) {
          for (let y = 0; y < m; y++) for (let j = 0; j < n; j++) out[y * n + j] = alpha * out[y * n + j]! + (mm.bias ? mm.bias[j]! : 0);
        }
        return out;
      };
      return compareOutputs(epilogue(c), operands.reference ? epilogue(operands.reference) : mm.expected, { k, scale: errScale });
    },
    density: (shapeName) => coverageOf({ a, m, k }, [shapeName]).get(shapeName)!.density,
  };
  const freeLayouts: ALayout[] = mm.lowering === 'im2col' || mm.lowering === 'conv1x1' ? ['a', 'at'] : ['a'];
  const check = () => checkCancel(env.signal);
  const lm = await LayerMeasurement.start(env.gpu, env.cache, { m, n, k, a, b: operands.b, freeLayouts }, candidates, verifier, (w) => kernels.set(w.hash, { hash: w.hash, label: w.label, wgsl: w.text }), check);
  let att: Attribution;
  try {
    await lm.warmUp(opts.warmupMs ?? 0);
    await lm.rounds(Math.max(1, opts.repeat), undefined, check);
    const view = (): MeasuredVariant[] =>
      lm.measured.map((x, i) => ({
        name: x.candidate.name,
        baselineFamily: x.candidate.spec.family === baseline.name,
        ok: x.result.ok,
        stats: x.stats,
        effectiveDensity: x.candidate.effectiveDensity,
        choosable: configs[i]!.choosable,
      }));
    att = attribute(view(), defaultDense, false);
    if (att.remeasure.length) {
      await lm.rounds(Math.max(1, opts.repeat), att.remeasure, check);
      att = attribute(view(), defaultDense, true);
    }
  } finally {
    lm.release();
  }
  const variants = lm.measured.map((x) => {
    const why = att.suspects.get(x.result.name);
    return why ? { ...x.result, suspect: why } : x.result;
  });
  const layer: LayerResult = {
    ...stats,
    microTiles,
    variants,
    chosen: att.chosen,
    ...(att.baseline ? { baseline: att.baseline } : {}),
    defaultDense,
    ...att.layer,
  };
  if (decision) {
    layer.predicted = { variant: decision.chosen.variant, ms: decision.chosen.ms };
    layer.candidates = decision.candidates.map((c) => ({ variant: c.variant, rule: c.rule, ms: c.ms, kernelMs: c.kernelMs, detectMs: c.detectMs, density: c.density }));
    layer.reason = `${decision.reason}; measured ${shortlist.length ? shortlist.map((c) => c.variant).join(', ') : 'no PIT rule'} with the dense tiles, chose ${att.chosen}`;
    if (policy.info.audit) {
      const regret = regretOf(variants, att.chosen);
      if (Number.isFinite(regret)) layer.regret = regret;
    }
  }
  return { layer, kernels: [...kernels.values()] };
}
