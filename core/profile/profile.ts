/**
 * The main job (DESIGN.md §5): import an ONNX model, capture every sparse-capable layer's real input and reference
 * output with onnxruntime, and per layer and input, on the GPU: measure sparsity and micro-tile densities of the
 * exploited operand A, choose a variant, verify every variant run against the reference, time them, and write each
 * finished layer to the sink before starting the next.
 *
 * Two policies choose the variant:
 * - `measure` (choice v0): run every requested variant (dense, pit-k, pit-m) and keep the fastest verified one.
 * - `tiledb` (issue 3, PIT §4.4): the transformation policy (core/pit/policy.ts) predicts every legal rule from the
 *   tile database at the layer's shape and exact micro-tile coverage and ranks them; only the `shortlist` rules
 *   predicted fastest (default 2) and the baseline `dense` are run, and the fastest verified of the shortlist is
 *   kept — or, with `audit`, every candidate is run too, so the policy's regret is known.
 *   Measurements then take `rounds` interleaved passes and keep the lowest median per variant (on a shared machine
 *   other load only adds time, and interleaving spreads it over the variants compared). The default when a tile
 *   database for this adapter and these kernel sources is given; otherwise the job says why and measures.
 *
 * Errors before the run exists (missing or malformed model, no supported operator, unreadable input, wrong shape)
 * throw without touching the sink. Errors after it exists mark the run incomplete with the error's first line, and
 * a cancel (AbortSignal) marks it `cancelled`; finished layers stay.
 */
import type { GpuContext } from '../gpu/device.ts';
import type { PipelineCache } from '../gpu/pipeline-cache.ts';
import { loadSamples, type SampleOptions } from '../inputs/samples.ts';
import { inlineDecidedBranches } from '../model/branches.ts';
import { compareOutputs, matmulErrorScale } from '../kernels/reference.ts';
import { defaultVariantSpecs, runVariant, type VariantSpec } from '../kernels/variants.ts';
import { ModelError, oneLine } from '../model/errors.ts';
import { importOnnx } from '../model/onnx-import.ts';
import { checkLowerable, lowerToMatmul } from '../model/lowering.ts';
import { ReferenceSession, type ReferenceCapture } from '../model/reference.ts';
import { findSparseOps, noSupportedOperatorMessage, type SparseOp } from '../model/sparse-ops.ts';
import { coverageOf } from '../pit/coverage.ts';
import { decide, regretOf } from '../pit/policy.ts';
import { rulesFor, type PitRule } from '../pit/rules.ts';
import { coverageShape, kernelSourcesHash, TileModel, tileDbMismatch, type TileDbSnapshot } from '../pit/tiledb.ts';
import type { LayerResult, MicroTileDensity, ProgressEvent, RunPolicy, VariantResult } from '../protocol.ts';
import { occupancyHeatmap, microTileDensity, sparsityOf } from '../sparsity/micro-tiles.ts';
import { tileName } from '../../shaders/common.wgsl.ts';
import type { KernelText, RunSink } from './sink.ts';

/** Variants the job knows, in report order. */
export const VARIANT_NAMES = ['dense', 'pit-k', 'pit-m'] as const;

/** Micro-tile shapes whose densities are reported for every layer ([M, K] terms; `1x1` is element density). */
export const REPORTED_MICRO_TILES = ['1x1', '8x1', '32x1', '1x32', '1x64', '32x32'] as const;

/** A job's options; its inputs (`inputs`, `samples`, `imageSize`, `imagePreset`) are `SampleOptions`. */
export interface ProfileOptions extends SampleOptions {
  modelPath: string;
  variants: string[];
  repeat: number;
  warmup: number;
  maxLayers?: number;
  /** `tiledb` or `measure`; default `tiledb` when `env.tileDb` has a snapshot, else `measure`. */
  policy?: 'measure' | 'tiledb';
  /** Policy `tiledb`: measure every candidate, not only the shortlist and dense (gives the regret). */
  audit?: boolean;
  /**
   * Policy `tiledb`: how many of the candidates predicted fastest are measured; the fastest verified of them is
   * chosen (1 trusts the prediction alone). Default 2: on layers where two rules are predicted within the cost
   * model's error of each other, measuring both is cheaper than a wrong pick.
   */
  shortlist?: number;
  /**
   * Interleaved measurement passes per variant, lowest median of `repeat` kept (default 1 for `measure`, 9 for
   * `tiledb`, where callers should use repeat 1: the lowest of several single runs is what survives other load on a
   * shared machine; see core/pit/tuner.ts).
   */
  rounds?: number;
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
  rounds: number;
}

/**
 * Decides the policy: `tiledb` needs a snapshot whose adapter, kernel hash and tuner version match this device and
 * these kernels (core/pit/tiledb.ts `tileDbMismatch`) and that can predict dense; otherwise the job measures, and
 * `info.note` says why.
 */
export function resolvePolicy(opts: Pick<ProfileOptions, 'policy' | 'audit' | 'rounds' | 'shortlist'>, env: Pick<ProfileEnv, 'gpu' | 'tileDb'>): ResolvedPolicy {
  const snapshot = env.tileDb?.snapshot ?? null;
  const wanted = opts.policy ?? (snapshot ? 'tiledb' : 'measure');
  const measure = (note?: string): ResolvedPolicy => ({
    info: { policy: 'measure', audit: false, ...(note ? { note } : {}) },
    model: null,
    rounds: opts.rounds ?? 1,
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
  if (!model.configs().some((c) => c.family === 'dense')) {
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
    rounds: opts.rounds ?? 9,
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
  const imported = importOnnx(opts.modelPath);
  const inputs = loadSamples(imported, opts);
  const model = await inlineDecidedBranches(imported, inputs.map((s) => s.feeds));
  const ops = findSparseOps(model);
  if (!ops.some((o) => o.supported)) throw new ModelError(noSupportedOperatorMessage(model, ops), { path: opts.modelPath });
  const layersToRun = opts.maxLayers ? ops.slice(0, opts.maxLayers) : ops;
  const variants = opts.variants.includes('dense') ? opts.variants : ['dense', ...opts.variants];
  const policy = resolvePolicy(opts, env);
  if (policy.info.note) emit({ kind: 'log', message: policy.info.note });
  else if (policy.info.policy === 'tiledb') {
    const t = policy.info.tileDb!;
    emit({ kind: 'log', message: `policy tiledb${policy.info.audit ? ' (audit: every candidate measured)' : ''}: tile database ${t.id} (${t.points} points, updated ${t.updatedAt})` });
  }

  const runId = env.sink.createRun({
    model: { path: opts.modelPath, sha256: model.sha256 },
    adapter: env.gpu.adapter,
    inputs: inputs.map((i) => i.ref),
    variants,
    repeat: opts.repeat,
    options: { warmup: opts.warmup, imageSize: opts.imageSize, maxLayers: opts.maxLayers ?? null, rounds: policy.rounds, policy: policy.info },
  });
  const layers: LayerResult[] = [];
  const total = layersToRun.length * inputs.length;
  const t0 = performance.now();
  let session: ReferenceSession | null = null;
  try {
    session = await ReferenceSession.create(model, layersToRun);
    for (const [inputIndex, input] of inputs.entries()) {
      checkCancel(env.signal);
      emit({ kind: 'stage', stage: 'reference', message: `reference run (onnxruntime) on ${input.label}` });
      const captured = await session.run(input.feeds);
      emit({ kind: 'stage', stage: 'profile', message: `profiling ${layersToRun.length} layers on the GPU` });
      for (const op of layersToRun) {
        checkCancel(env.signal);
        const { layer, kernels } = await profileLayer(op, inputIndex, captured, model, variants, opts, env, policy);
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


/** Measures one layer on one input: statistics, the variants the policy asks for, verification and the choice. */
async function profileLayer(
  op: SparseOp,
  inputIndex: number,
  captured: ReferenceCapture,
  model: ReturnType<typeof importOnnx>,
  variants: string[],
  opts: ProfileOptions,
  env: ProfileEnv,
  policy: ResolvedPolicy,
): Promise<{ layer: LayerResult; kernels: KernelText[] }> {
  const base = { index: op.index, name: op.name, op: op.op, input: inputIndex };
  // Some operators only prove unlowerable with real shapes (e.g. a MatMul whose B turns out batched).
  const skipped = checkLowerable(op, captured, model);
  if (skipped) {
    return { layer: { ...base, m: 0, n: 0, k: 0, sparsity: 0, microTiles: [], variants: [], chosen: 'dense', skipped }, kernels: [] };
  }
  const mm = lowerToMatmul(op, captured, model);
  const { m, n, k, a } = mm;
  const microTiles: MicroTileDensity[] = REPORTED_MICRO_TILES.map((shape) => ({ shape, density: microTileDensity(a, m, k, shape) }));
  const kernels = new Map<string, KernelText>();
  const stats = { ...base, m, n, k, sparsity: sparsityOf(a), heatmap: occupancyHeatmap(a, m, k) };

  if (!policy.model) {
    const specs = defaultVariantSpecs(m, n, k)
      .filter((s) => variants.includes(s.name))
      .map((spec) => ({ name: spec.name, spec }));
    const results = await measureVariants(mm, specs, microTiles, kernels, opts, env, policy.rounds);
    return { layer: { ...stats, microTiles, variants: results, chosen: chooseFastest(results) }, kernels: [...kernels.values()] };
  }

  // Policy tiledb: exact coverage of every rule's micro-tile, prediction, then measure what is needed.
  const shape = { m, n, k };
  const rules = rulesFor(op.op, k, policy.model.configs());
  const shapes = [...new Set(rules.map((r) => coverageShape(r.config, k)).filter((s): s is string => s !== null))];
  const coverage = coverageOf({ a, m, k }, shapes);
  for (const [shapeName, c] of coverage) {
    if (!microTiles.some((t) => t.shape === shapeName)) microTiles.push({ shape: shapeName, density: c.density });
  }
  const decision = decide(policy.model, shape, coverage, rules);
  const baseline: PitRule = rules.find((r) => r.variant === 'dense') ?? rulesFor(op.op, k, [{ family: 'dense', microTile: null, tile: { ...defaultVariantSpecs(m, n, k)[0]!.tile } }])[0]!;
  const shortlist = decision.candidates.slice(0, policy.info.shortlist ?? DEFAULT_SHORTLIST);
  const toMeasure: PitRule[] = [baseline];
  for (const c of policy.info.audit ? decision.candidates : shortlist) {
    if (!toMeasure.some((r) => r.variant === c.variant)) toMeasure.push(c.ruleRef);
  }
  const results = await measureVariants(
    mm,
    toMeasure.map((r) => ({ name: r.variant, spec: r.spec })),
    microTiles,
    kernels,
    opts,
    env,
    policy.rounds,
  );
  // The shortlist's fastest verified measurement wins; the audit's other measurements never change the choice.
  const listed = results.filter((r) => shortlist.some((c) => c.variant === r.name));
  let chosen = chooseFastest(listed);
  let reason = decision.reason;
  if (shortlist.length > 1) reason += `; measured the ${shortlist.length} predicted fastest, kept ${chosen}`;
  const predictedResult = results.find((r) => r.name === decision.chosen.variant);
  if (!listed.some((r) => r.ok && Number.isFinite(r.ms))) {
    // A prediction is never trusted over a failed verification: fall back to the fastest verified measurement.
    const fallback = chooseFastest(results);
    reason += `; ${decision.chosen.variant} failed (${predictedResult?.error ?? 'output differs from the reference'}): using ${fallback}`;
    chosen = fallback;
  }
  const layer: LayerResult = {
    ...stats,
    microTiles,
    variants: results,
    chosen,
    predicted: { variant: decision.chosen.variant, ms: decision.chosen.ms },
    candidates: decision.candidates.map((c) => ({ variant: c.variant, rule: c.rule, ms: c.ms, kernelMs: c.kernelMs, detectMs: c.detectMs, density: c.density })),
    reason,
  };
  if (policy.info.audit) {
    const regret = regretOf(results, chosen);
    if (Number.isFinite(regret)) layer.regret = regret;
  }
  return { layer, kernels: [...kernels.values()] };
}

/**
 * Runs, verifies and times `specs` on one lowered layer, `rounds` interleaved passes (lowest median kept per
 * variant; outputs verified on the first pass). Adds detected densities of micro-tiles not yet in `microTiles` and
 * the WGSL of every kernel to `kernels`. A variant that fails to build or run is recorded with its error (NaN
 * times); a lost device is rethrown.
 */
async function measureVariants(
  mm: ReturnType<typeof lowerToMatmul>,
  specs: { name: string; spec: VariantSpec }[],
  microTiles: MicroTileDensity[],
  kernels: Map<string, KernelText>,
  opts: ProfileOptions,
  env: ProfileEnv,
  rounds: number,
): Promise<VariantResult[]> {
  const { m, n, k } = mm;
  // fp32 rounding grows with Σ|a||b|, not |C| (which cancellation can make tiny): the tolerance scales with it.
  const errScale = matmulErrorScale(mm.a, mm.b, m, n, k) * Math.abs(mm.alpha ?? 1) + (mm.bias ? Math.max(...Array.from(mm.bias, Math.abs)) : 0);
  const results: VariantResult[] = specs.map(({ name, spec }) => ({
    name,
    microTile: spec.microTile,
    computeTile: tileName(spec.tile),
    ms: NaN,
    detectMs: 0,
    maxAbsErr: NaN,
    maxRelErr: NaN,
    ok: false,
    wgslHash: '',
  }));
  for (let round = 0; round < Math.max(1, rounds); round++) {
    for (const [i, { spec }] of specs.entries()) {
      const r = results[i]!;
      if (round > 0 && !r.ok) continue;
      checkCancel(env.signal);
      try {
        const run = await runVariant(env.gpu, env.cache, mm, spec, { warmup: round ? 0 : opts.warmup, repeat: opts.repeat });
        if (round > 0) {
          r.ms = Math.min(r.ms, run.kernelMs);
          r.detectMs = Math.min(r.detectMs, run.detectMs);
          continue;
        }
        const out = run.output;
        // The kernels compute A·B; the layer's own epilogue (Gemm alpha, bias) is applied here before comparing.
        const alpha = mm.alpha ?? 1;
        if (alpha !== 1 || mm.bias) {
          for (let y = 0; y < m; y++) for (let x = 0; x < n; x++) out[y * n + x] = alpha * out[y * n + x]! + (mm.bias ? mm.bias[x]! : 0);
        }
        const cmp = compareOutputs(out, mm.expected, { k, scale: errScale });
        for (const w of run.wgsl) kernels.set(w.hash, { hash: w.hash, label: w.label, wgsl: w.text });
        if (run.microTileDensity !== null && spec.microTile && !microTiles.some((t) => t.shape === spec.microTile)) {
          microTiles.push({ shape: spec.microTile, density: run.microTileDensity });
        }
        Object.assign(r, {
          ms: run.kernelMs,
          detectMs: run.detectMs,
          maxAbsErr: cmp.maxAbsErr,
          maxRelErr: cmp.maxRelErr,
          ok: cmp.ok,
          wgslHash: run.wgsl[run.wgsl.length - 1]!.hash,
          kernelHashes: run.wgsl.map((w) => w.hash),
        });
      } catch (e) {
        if ((e as Error).name === 'DeviceLostError' || e instanceof CancelledError) throw e;
        Object.assign(r, { ms: NaN, detectMs: 0, maxAbsErr: NaN, maxRelErr: NaN, ok: false, wgslHash: '', error: oneLine(e) });
        delete r.kernelHashes;
      }
    }
  }
  return results;
}

/**
 * Choice v0: the verified variant with the lowest kernel + detection time; `dense` when nothing verified.
 */
export function chooseFastest(results: VariantResult[]): string {
  let best: VariantResult | undefined;
  for (const r of results) {
    if (!r.ok || !Number.isFinite(r.ms)) continue;
    if (!best || r.ms + r.detectMs < best.ms + best.detectMs) best = r;
  }
  return best?.name ?? 'dense';
}
