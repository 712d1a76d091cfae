/**
 * A layer too large to measure whole (issue 14 item 1: a 16 KB model whose Conv lowers to a 3.08 GiB im2col), measured
 * in slices: of rows along M for a 2-D layer, of batches for a batched one (core/model/slices.ts). Each slice is a
 * complete problem; core/profile/fit.ts chose the slice size so that each fits the device's binding limit and the
 * memory budget (rows: a multiple of every micro-tile height and computation-tile row count, so no micro-tile
 * straddles two slices). Only one slice exists at a time; the whole lowered operand never does.
 *
 * Two passes over the slices (each lowers its slice again rather than keeping it):
 * 1. statistics: sparsity, micro-tile coverage, heat map, per-batch values — exact (core/profile/layer-stats.ts) —
 *    from which the configurations are chosen as for a whole layer (layer-plan.ts);
 * 2. measurement: every slice is measured like a layer of its own (LayerMeasurement: verified against the same part
 *    of the reference, GPU detection checked against the slice's CPU coverage, warm-up, `repeat` interleaved rounds).
 *    A variant that fails on a slice is failed for the layer (its error names the slice) and is not run on the rest.
 *
 * A variant's sample j of the layer is the sum of its sample j on every slice (phase by phase), so its median and
 * spread describe the time to compute the whole layer slice after slice; max error is the largest over the slices,
 * relative to the largest |reference| of the whole output; the readback is the sum of the slices'. A family built on
 * the valid rows of a padded batch (pit-m-seqlen) computes nothing on a slice without valid rows: it is not run there
 * and counts 0 ms for it (the log says so). The choice is made
 * in one pass (attribution with `final`): re-measuring would mean lowering every slice again. Near-zero as zero is
 * not applied to slices (its keep fraction and approximation error are over the whole operand and output): such a
 * layer is skipped by the fit instead.
 */
import { tileName } from '../../shaders/common.wgsl.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { MemoryLimits } from '../gpu/limits.ts';
import type { PipelineCache } from '../gpu/pipeline-cache.ts';
import type { PhaseSample } from '../gpu/timing.ts';
import { familyOfConfig, isDenseFamily } from '../kernels/registry.ts';
import type { LayerSlicer } from '../model/slices.ts';
import type { MicroTileCoverage } from '../pit/coverage.ts';
import type { LayerResult, ProgressEvent, VariantResult } from '../protocol.ts';
import { attribute, type MeasuredVariant } from './attribution.ts';
import type { LayerFit } from './fit.ts';
import { candidatesOf, chooseConfigs, finishLayer, possibleShapes, reportedShapes, verifierOf, type ConfigSpace, type LayerFacts, type LayerSetup } from './layer-plan.ts';
import { layerProblem } from './layer-problem.ts';
import { LayerStats } from './layer-stats.ts';
import { LayerMeasurement, summariseSamples } from './measure.ts';
import type { KernelText } from './sink.ts';
import { sampleStats, type SampleStats } from './stats.ts';

/** What a sliced layer's measurement needs from the job. */
export interface SlicedLayerJob {
  /** The layer's identity in the result (index, name, op, input). */
  base: Pick<LayerResult, 'index' | 'name' | 'op' | 'input'>;
  setup: LayerSetup;
  space: ConfigSpace;
  slicer: LayerSlicer;
  fit: Extract<LayerFit, { kind: 'sliced' }>;
  opts: { repeat: number; warmupMs?: number };
  limits: MemoryLimits;
  gpu: GpuContext;
  cache: PipelineCache;
  /** Throws CancelledError when the job was cancelled. */
  check: () => void;
  onProgress?: (e: ProgressEvent) => void;
}

/** One variant's measurements over the slices so far. */
interface VariantSlices {
  /** The latest slice's result (its build facts: kernels, index time). */
  result: VariantResult | null;
  /** Samples per slice, in slice order. */
  samples: PhaseSample[][];
  maxAbsErr: number;
  kernelHashes: string[];
  readbackMs: number;
  /** The first slice's failure, prefixed with the slice; null while it verified everywhere. */
  failure: string | null;
}

/** The ranges `[u0, u1)` of `units` units cut in slices of `size`. */
export function sliceBounds(units: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let u0 = 0; u0 < units; u0 += size) out.push([u0, Math.min(units, u0 + size)]);
  return out;
}

/**
 * The layer facts of a slice: valid rows of the slice, renumbered from its first row (rows of A viewed as
 * [batch·M, K]; a batch slice starts at row u0·M).
 */
export function sliceFacts(facts: LayerFacts, slicer: Pick<LayerSlicer, 'axis'>, m: number, u0: number, u1: number): LayerFacts {
  if (!facts.validRows) return {};
  const [r0, r1] = slicer.axis === 'rows' ? [u0, u1] : [u0 * m, u1 * m];
  return { validRows: facts.validRows.filter((r) => r >= r0 && r < r1).map((r) => r - r0) };
}

/** Lets the event loop run (a signal handler, a cancel over RPC) between two slices of synchronous work. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Measures a layer in slices (see the module comment).
 * @throws CancelledError, DeviceLostError (after releasing the GPU buffers of the slice in flight)
 */
export async function profileSlicedLayer(job: SlicedLayerJob): Promise<{ layer: LayerResult; kernels: KernelText[] }> {
  const { setup, space, slicer, fit, check } = job;
  const { shape, op } = setup;
  const { m, k } = shape;
  const bounds = sliceBounds(slicer.units, fit.size);
  const unit = fit.axis === 'rows' ? 'rows' : 'batches';
  const log = (message: string) => job.onProgress?.({ kind: 'log', message });

  // Pass 1: statistics of the whole layer, slice by slice.
  const shapes = possibleShapes(space, shape);
  const stats = new LayerStats({ axis: fit.axis, m, k, batch: slicer.batch, aShared: !!shape.aShared, bShared: !!shape.bShared, bActivation: !!shape.bActivation }, shapes.a, shapes.b);
  for (const [u0, u1] of bounds) {
    await yieldToEventLoop();
    check();
    stats.add(slicer.slice(u0, u1), u0);
  }
  const st = stats.result();
  const plan = chooseConfigs(setup, space, (wanted) => {
    const out = new Map<string, MicroTileCoverage>();
    for (const s of wanted) {
      const c = st.covA2d?.get(s);
      if (!c) throw new Error(`${op.name}: the coverage of ${s} was not gathered on the slices`);
      out.set(s, c);
    }
    return out;
  });
  const reported = reportedShapes(
    plan.configs.map((c) => c.config),
    shape,
  );
  const candidates = candidatesOf(plan, setup, space, st.covA, st.covB);

  // Pass 2: every slice measured as a layer of its own.
  const state = new Map<string, VariantSlices>(candidates.map((c) => [c.name, { result: null, samples: [], maxAbsErr: 0, kernelHashes: [], readbackMs: 0, failure: null }]));
  const kernels = new Map<string, KernelText>();
  let method: 'timestamp' | 'cpu' = 'timestamp';
  let refMax = 0;
  const layerBatched = slicer.batch > 1;
  for (const [i, [u0, u1]] of bounds.entries()) {
    await yieldToEventLoop();
    check();
    const live = candidates.filter((c) => !state.get(c.name)!.failure);
    if (!live.length) break;
    const where = `slice ${i + 1} of ${bounds.length} (${unit} ${u0}–${u1 - 1})`;
    const problem = layerProblem(slicer.slice(u0, u1), undefined, setup.dtype ?? 'f32');
    for (const x of problem.reference) if (Number.isFinite(x) && Math.abs(x) > refMax) refMax = Math.abs(x);
    const verifier = verifierOf(problem, layerBatched, fit.axis === 'batch' ? u0 : 0);
    const pattern = setup.statics.byLayer.get(op.name);
    const facts = sliceFacts(setup.facts, slicer, m, u0, u1);
    const context = { ...facts, layer: op.name, ...(pattern ? { pattern } : {}) };
    // A family built on the valid rows computes nothing on a slice without any (its plan has no row to run): it is
    // not run there, and its samples for the slice are 0 ms.
    const idle = live.filter((c) => familyOfConfig(c.spec).needs?.includes('validRows') && facts.validRows?.length === 0);
    for (const c of idle) state.get(c.name)!.samples.push(Array.from({ length: Math.max(1, job.opts.repeat) }, (): PhaseSample => [0, 0, 0]));
    if (idle.length) log(`${op.name}: ${where}: no valid row, nothing for ${idle.map((c) => c.name).join(', ')} to compute (0 ms)`);
    const ops = { ...problem.shape, a: problem.mm.a, b: problem.mm.b, freeLayouts: problem.freeLayouts, context, budgetBytes: job.limits.budgetBytes };
    const run = live.filter((c) => !idle.includes(c));
    const lm = await LayerMeasurement.start(job.gpu, job.cache, ops, run, verifier, (w) => kernels.set(w.hash, { hash: w.hash, label: w.label, wgsl: w.text }), check);
    try {
      await lm.warmUp(job.opts.warmupMs ?? 0);
      await lm.rounds(Math.max(1, job.opts.repeat), undefined, check);
    } finally {
      lm.release();
    }
    if (lm.timingMethod === 'cpu') method = 'cpu';
    for (const x of lm.measured) {
      const s = state.get(x.candidate.name)!;
      s.result = x.result;
      if (!Number.isNaN(x.result.maxAbsErr)) s.maxAbsErr = Math.max(s.maxAbsErr, x.result.maxAbsErr);
      for (const h of x.result.kernelHashes ?? []) if (!s.kernelHashes.includes(h)) s.kernelHashes.push(h);
      s.readbackMs += x.readbackMs;
      if (x.result.ok) s.samples.push(x.samples);
      else s.failure = `${where}: ${x.result.error ?? 'failed'}`;
    }
    log(`${op.name}: ${where} measured`);
  }

  // Combined per variant: sample j = Σ over slices of sample j.
  const results: VariantResult[] = [];
  const sampleStatsOf: SampleStats[] = [];
  for (const c of candidates) {
    const s = state.get(c.name)!;
    const last = s.result;
    const r: VariantResult = {
      name: c.name,
      family: c.spec.family,
      microTile: c.microTile,
      ...(c.operand ? { operand: c.operand } : {}),
      computeTile: tileName(c.spec.tile),
      ms: Number.NaN,
      detectMs: 0,
      maxAbsErr: last ? s.maxAbsErr : Number.NaN,
      maxRelErr: last ? (refMax > 0 ? s.maxAbsErr / refMax : s.maxAbsErr > 0 ? Infinity : 0) : Number.NaN,
      ok: false,
      wgslHash: last?.wgslHash ?? '',
      effectiveDensity: c.effectiveDensity,
      ...(last?.indexMs !== undefined ? { indexMs: last.indexMs } : {}),
      ...(s.kernelHashes.length ? { kernelHashes: s.kernelHashes } : {}),
    };
    let st2 = sampleStats([]);
    if (s.failure) {
      r.error = s.failure;
    } else if (s.samples.length === bounds.length) {
      const count = Math.min(...s.samples.map((x) => x.length));
      const combined: PhaseSample[] = [];
      for (let j = 0; j < count; j++) combined.push([0, 1, 2].map((p) => s.samples.reduce((sum, slice) => sum + slice[j]![p]!, 0)));
      r.ok = true;
      st2 = summariseSamples(r, combined, method);
    } else {
      r.error = 'not measured on every slice';
    }
    results.push(r);
    sampleStatsOf.push(st2);
  }
  const view: MeasuredVariant[] = results.map((r, i) => ({
    name: r.name,
    baselineFamily: isDenseFamily(familyOfConfig(candidates[i]!.spec)),
    ok: r.ok,
    stats: sampleStatsOf[i]!,
    effectiveDensity: candidates[i]!.effectiveDensity,
    choosable: plan.configs[i]!.choosable,
  }));
  const att = attribute(view, plan.defaultDense, true);
  const chosen = candidates.findIndex((c) => c.name === att.chosen);
  const layer = finishLayer({
    base: job.base,
    setup,
    lowered: slicer,
    stats: st,
    shapes: reported,
    candidates,
    measured: results,
    att,
    plan,
    ...(chosen >= 0 && !state.get(att.chosen)!.failure ? { readbackMs: state.get(att.chosen)!.readbackMs } : {}),
  });
  layer.tiled = { slices: bounds.length, ...(fit.axis === 'rows' ? { rows: fit.size } : { batches: fit.size }), reason: fit.reason };
  const of = fit.axis === 'rows' ? `${fit.size} rows` : `${fit.size} batch${fit.size === 1 ? '' : 'es'}`;
  layer.decision = `measured in ${bounds.length} ${fit.axis === 'rows' ? 'row' : 'batch'} slices of ${of} (${fit.reason})${layer.decision ? `; ${layer.decision}` : ''}`;
  return { layer, kernels: [...kernels.values()] };
}
