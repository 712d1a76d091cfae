/**
 * The main job (DESIGN.md §5): import a model (ONNX or TF.js layers, core/model/import.ts), capture every
 * sparse-capable layer's real input and reference output with its runtime (onnxruntime or TF.js,
 * core/model/capture.ts), and per layer and input, on the GPU: measure sparsity and micro-tile densities of the
 * exploited operand A (and of B where it is an activation), choose a variant, verify every variant run against the
 * reference, time them, and write each finished layer to the sink before starting the next.
 *
 * Every layer is lowered as a batched matmul (core/model/batched.ts; a 2-D layer is batch 1, whose kernels are the
 * 2-D ones): attention QKᵀ / AV per batch·head and grouped / depthwise convs per group run as batched kernels,
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
 * Errors before the run exists (missing or malformed model, no supported operator, unreadable input, wrong shape)
 * throw without touching the sink. Errors after it exists mark the run incomplete with the error's first line, and
 * a cancel (AbortSignal) marks it `cancelled`; finished layers stay.
 */
import type { GpuContext } from '../gpu/device.ts';
import type { PipelineCache } from '../gpu/pipeline-cache.ts';
import { loadSamples, type SampleOptions } from '../inputs/samples.ts';
import { inlineDecidedBranches } from '../model/branches.ts';
import type { FamilyConfig, KernelFamily, SparseOperand } from '../kernels/family.ts';
import { compareBatched, compareOutputs, selectRows } from '../kernels/reference.ts';
import { BASELINE_FAMILY, baselineFamily, dtypeOf, FAMILIES, familyOf, familyOfConfig, isDenseFamily } from '../kernels/registry.ts';
import { lowerToBatchedMatmul, loweringOf, type BatchedMatmul } from '../model/batched.ts';
import { dtypeUnsupported, familiesForDtype, modelWeightDtype } from './dtype.ts';
import { ModelError, oneLine } from '../model/errors.ts';
import { importModel } from '../model/import.ts';
import type { ReferenceCapture } from '../model/reference.ts';
import { createReferenceSession, type ReferenceRunner } from '../model/capture.ts';
import { findSparseOps, noSupportedOperatorMessage, type SparseOp } from '../model/sparse-ops.ts';
import { coverageOf } from '../pit/coverage.ts';
import { decide, regretOf, type PolicyDecision } from '../pit/policy.ts';
import { rulesFor } from '../pit/rules.ts';
import { coverageShape, kernelSourcesHash, TileModel, tileDbMismatch, type TileDbSnapshot } from '../pit/tiledb.ts';
import type { ComputeDtype, LayerResult, PerBatchSparsity, ProgressEvent, RunPolicy } from '../protocol.ts';
import { occupancyHeatmap, sparsityOf } from '../sparsity/micro-tiles.ts';
import { nearZeroProblem, type NearZero } from '../sparsity/near-zero.ts';
import { perBatchSparsity, type BatchedCoverage } from '../sparsity/per-batch.ts';
import { attribute, type Attribution, type MeasuredVariant } from './attribution.ts';
import { applyEpilogue, densitiesOf, layerProblem, operandCoverage, operandMatrices } from './layer-problem.ts';
import { LayerMeasurement, type Candidate, type Verifier } from './measure.ts';
import type { KernelText, RunSink } from './sink.ts';
import { checkStaticPatterns, staticCandidates, type StaticPatterns } from './static-patterns.ts';

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
   * Near-zero as zero (core/sparsity/near-zero.ts): the activations of every layer are thresholded, every variant is
   * verified against the thresholded computation, and the approximation error is reported. Off when absent.
   */
  zero?: NearZero;
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
export interface ResolvedPolicy {
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
      ...(opts.zero ? { zero: { ...opts.zero } } : {}),
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
      const refStart = performance.now();
      const captured = await session.run(input.feeds);
      env.sink.recordReference?.(runId, inputIndex, performance.now() - refStart);
      emit({ kind: 'stage', stage: 'profile', message: `profiling ${layersToRun.length} layers on the GPU` });
      for (const op of layersToRun) {
        checkCancel(env.signal);
        const { layer, kernels } = await profileLayer(op, inputIndex, captured, model, families, { ...opts, dtype, warmupMs: opts.warmupMs ?? DEFAULT_WARMUP_MS }, env, policy, statics);
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

/** Why family `name` cannot run in a plain profile (it needs layer facts only a padded-batch job knows). */
export function needsMessage(name: string, needs: readonly string[]): string {
  return `kernel family '${name}' needs ${needs.join(', ')} of a padded batch with known sequence lengths, which a plain profile does not have: use \`pit ocr-batch\``;
}

function checkCancel(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError('cancelled');
}


/** Micro-tile shapes of B (when B is an activation) reported for every layer ([K, N] terms: `Wx1` is W k's of one column). */
export const REPORTED_B_MICRO_TILES = ['1x1', '8x1'] as const;

/** Per-batch values are stored to 6 decimals (a depthwise layer has hundreds of groups). */
const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/**
 * What the caller knows about a layer beyond its tensors (passed to the plans as `MatmulOperands.context`): the rows
 * of A that hold real data in a padded batch (core/ocr/seqlen.ts maps sequence lengths to them through the
 * lowering). Families that need a fact (`KernelFamily.needs`) are measured only on layers that have it.
 */
export interface LayerFacts {
  /** Rows of the lowered A (and C) that belong to valid tokens, ascending. */
  validRows?: readonly number[];
}

/** The policy that measures every requested family's per-layer configurations (no tile database). */
export const MEASURE_POLICY: ResolvedPolicy = { info: { policy: 'measure', audit: false }, model: null };

/**
 * Measures one layer on one input: statistics, the variants the policy asks for, verification and the choice.
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
  if (form.form === 'none') {
    return { layer: { ...base, m: 0, n: 0, k: 0, sparsity: 0, microTiles: [], variants: [], chosen: baselineFamily(opts.dtype ?? 'f32').name, skipped: form.reason }, kernels: [] };
  }
  // Every layer is a batched matmul (2-D layers are batch 1): core/model/batched.ts, core/profile/layer-problem.ts.
  // f16 runs (issue 11) compute with A and B rounded to f16, verified against the product of the rounded operands.
  const dtype: ComputeDtype = opts.dtype ?? 'f32';
  const baseline = baselineFamily(dtype);
  const lowered = lowerToBatchedMatmul(op, captured, model);
  if (dtype !== 'f32' && lowered.batch > 1) {
    const skipped = `batched layer (batch ${lowered.batch}): the ${dtype} families are 2-D only; an fp32 run profiles it`;
    return { layer: { ...base, m: 0, n: 0, k: 0, sparsity: 0, microTiles: [], variants: [], chosen: baseline.name, skipped }, kernels: [] };
  }
  const problem = layerProblem(lowered, opts.zero, dtype);
  const { mm, shape } = problem;
  const { m, n, k, batch } = mm;
  const batched = batch > 1;
  if (problem.f16Overflow) env.onProgress?.({ kind: 'log', message: `${op.name}: ${problem.f16Overflow} operand element(s) beyond the f16 range become ±Inf in f16` });
  const caps = env.gpu.adapter;

  // The dense candidates (baseline tiles, and the direct kernel on grouped layers) are the same under every policy;
  // the policy picks the PIT rules. The tile database covers 2-D layers: batched ones are measured.
  // The dense families of the run's dtype are in `families` (profileModel puts them there).
  const legal = (f: KernelFamily) => f.layerConfigs(shape, caps).filter((c) => !f.illegalReason(c, shape));
  const dense = FAMILIES.filter((f) => isDenseFamily(f) && dtypeOf(f) === dtype).flatMap(legal);
  const defaultDense = baseline.variantName(baseline.layerConfigs(shape, caps)[0]!);
  let pitConfigs: { config: FamilyConfig; choosable: boolean }[];
  let decision: PolicyDecision | null = null;
  let shortlist: PolicyDecision['candidates'] = [];
  if (!policy.model || batched) {
    pitConfigs = FAMILIES.filter((f) => !isDenseFamily(f) && !f.needs && families.includes(f.name)).flatMap((f) => legal(f).map((config) => ({ config, choosable: true })));
  } else {
    const rules = rulesFor(op.op, shape, policy.model.configs()).filter((r) => !isDenseFamily(familyOfConfig(r.config)) && families.includes(r.config.family));
    const shapes = rules.map((r) => coverageShape(r.config, k)).filter((x): x is string => x !== null);
    const predicted = coverageOf({ a: mm.a, m, k }, [...new Set(shapes)]);
    const denseRules = rulesFor(op.op, shape, dense);
    decision = decide(policy.model, shape, predicted, [...denseRules, ...rules]);
    shortlist = decision.candidates.filter((c) => c.ruleRef.config.family !== BASELINE_FAMILY.name).slice(0, policy.info.shortlist ?? DEFAULT_SHORTLIST);
    const measured = policy.info.audit ? decision.candidates.filter((c) => c.ruleRef.config.family !== BASELINE_FAMILY.name) : shortlist;
    pitConfigs = measured.map((c) => ({ config: c.ruleRef.config, choosable: shortlist.includes(c) }));
  }
  // Static weight-pattern families that fit this layer's weight, under every policy (their index comes from B).
  const weighted = batched ? [] : staticCandidates(op.name, shape, mm.b, statics, families);
  // Families built on layer facts (a sequence-length index) run where the facts exist and leave something to skip.
  // Valid rows are the layer's own rows (pixels, tokens) of a 2-D layer; batched layers get no row index.
  const validRows = batched ? undefined : facts.validRows;
  const ctx = validRows ? { validRows } : {};
  const useful = validRows !== undefined && validRows.length < batch * m;
  const factConfigs = FAMILIES.filter((f) => f.needs && families.includes(f.name) && useful && f.needs.every((x) => ctx[x] !== undefined)).flatMap((f) =>
    f.layerConfigs(shape, caps).filter((c) => !f.illegalReason(c, shape)).map((config) => ({ config, choosable: true })),
  );
  const configs = [
    ...dense.map((config) => ({ config, choosable: true })),
    ...pitConfigs,
    ...weighted.map((w) => ({ config: w.config, choosable: true })),
    ...factConfigs,
  ];
  const microTileOf = (c: FamilyConfig) => familyOfConfig(c).microTile(c, k);
  const operandOf = (c: FamilyConfig): SparseOperand => familyOfConfig(c).operand ?? 'a';
  // Detection is checked against the CPU coverage of the micro-tile it indexes, which a merged pit-k may not compute.
  const ruleTiles = (operand: SparseOperand) => configs.filter((c) => operandOf(c.config) === operand).map((c) => microTileOf(c.config)).filter((x): x is string => x !== null);
  const aShapes = [...new Set([...REPORTED_MICRO_TILES, ...ruleTiles('a')])];
  const covA = operandCoverage(mm, 'a', aShapes);
  const bShapes = mm.activations.b ? [...new Set([...REPORTED_B_MICRO_TILES, `${k}x1`, ...ruleTiles('b')])] : [];
  const covB = bShapes.length ? operandCoverage(mm, 'b', bShapes) : null;
  const aRows = operandMatrices(mm, 'a') * m;
  const stats = { ...base, m, n, k, sparsity: sparsityOf(mm.a), heatmap: occupancyHeatmap(mm.a, aRows, k) };

  const candidates: Candidate[] = configs.map(({ config }) => {
    const mt = microTileOf(config);
    const f = familyOfConfig(config);
    const operand = operandOf(config);
    const cov = operand === 'b' ? covB : covA;
    const weightDensity = weighted.find((w) => w.config === config)?.effectiveDensity ?? null;
    const effectiveDensity = f.contextDensity ? f.contextDensity(config, shape, ctx) : mt ? cov!.get(mt)!.effectiveDensity : weightDensity;
    return { name: f.variantName(config), spec: config, microTile: mt, effectiveDensity, ...(operand === 'b' ? { operand } : {}) };
  });
  const kernels = new Map<string, KernelText>();
  // fp32 rounding grows with Σ|a||b|, not |C| (which cancellation can make tiny): each batch's tolerance scales with it.
  const verifier: Verifier = {
    output: (c, rows) => {
      const out = applyEpilogue(c, mm);
      // A plan that computes only the valid rows (of A viewed as [batch·M, K]) is compared on those rows.
      if (rows) return compareOutputs(selectRows(out, n, rows), selectRows(problem.reference, n, rows), { k, scale: Math.max(...problem.scales) });
      const r = compareBatched(out, problem.reference, batch, { k, scales: problem.scales });
      if (batched) return r;
      const { worstBatch: _b, worstBatchErr: _e, ...one } = r;
      return one;
    },
    density: (shapeName, operand = 'a') => operandCoverage(mm, operand, [shapeName]).get(shapeName)!.density,
  };
  const check = () => checkCancel(env.signal);
  const context = { ...ctx, layer: op.name, ...(statics.byLayer.has(op.name) ? { pattern: statics.byLayer.get(op.name)! } : {}) };
  const operands = { ...shape, a: mm.a, b: mm.b, freeLayouts: problem.freeLayouts, context };
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
    ...(batched
      ? {
          batch,
          batchDims: mm.batchDims.slice(),
          ...(mm.batchKind !== 'none' ? { batchKind: mm.batchKind } : {}),
          ...(shape.aShared || shape.bShared ? { shared: { ...(shape.aShared ? { a: true } : {}), ...(shape.bShared ? { b: true } : {}) } } : {}),
        }
      : {}),
    lowering: mm.lowering,
    ...(covB ? { operandB: { sparsity: sparsityOf(mm.b), microTiles: densitiesOf(covB, bShapes) } } : {}),
    ...(batched ? { perBatch: perBatchOf(mm, covA, covB, candidates) } : {}),
    ...(problem.approximation ? { approximation: problem.approximation } : {}),
    microTiles: densitiesOf(covA, aShapes),
    variants,
    chosen: att.chosen,
    ...(att.baseline ? { baseline: att.baseline } : {}),
    defaultDense,
    ...att.layer,
  };
  // The readback of the timeline: the chosen variant's output copied back after its verification run.
  const readbackMs = lm.measured.find((x) => x.candidate.name === att.chosen)?.readbackMs;
  if (readbackMs !== undefined && Number.isFinite(readbackMs)) layer.readbackMs = readbackMs;
  if (decision) {
    layer.predicted = { variant: decision.chosen.variant, ms: decision.chosen.ms };
    layer.candidates = decision.candidates.map((c) => ({ variant: c.variant, rule: c.rule, ms: c.ms, kernelMs: c.kernelMs, detectMs: c.detectMs, density: c.density }));
    layer.reason = `${decision.reason}; measured ${shortlist.length ? shortlist.map((c) => c.variant).join(', ') : 'no PIT rule'} with the dense tiles, chose ${att.chosen}`;
    if (policy.info.audit) {
      const regret = regretOf(variants, att.chosen);
      if (Number.isFinite(regret)) layer.regret = regret;
    }
  } else if (policy.model && batched) {
    layer.reason = `batched layer (batch ${batch}): the tile database covers 2-D layers only, so each requested family's layer configurations were measured (policy measure); chose ${att.chosen}`;
  }
  return { layer, kernels: [...kernels.values()] };
}

/** Per-batch statistics of a batched layer: each batch's sparsity and the micro-tile densities of the rules measured. */
function perBatchOf(mm: BatchedMatmul, covA: Map<string, BatchedCoverage>, covB: Map<string, BatchedCoverage> | null, candidates: readonly Candidate[]): PerBatchSparsity {
  const seen = new Set<string>();
  const microTiles: PerBatchSparsity['microTiles'] = [];
  for (const c of candidates) {
    if (!c.microTile) continue;
    const operand = c.operand ?? 'a';
    const key = `${operand}|${c.microTile}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const cov = (operand === 'b' ? covB : covA)!.get(c.microTile)!;
    microTiles.push({ operand, shape: c.microTile, density: Array.from(cov.perBatch.density, round6), effectiveDensity: Array.from(cov.perBatch.effectiveDensity, round6) });
  }
  return {
    sparsity: Array.from(perBatchSparsity(mm, 'a').sparsity, round6),
    ...(mm.activations.b ? { bSparsity: Array.from(perBatchSparsity(mm, 'b').sparsity, round6) } : {}),
    microTiles,
  };
}
