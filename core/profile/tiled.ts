/**
 * A layer too large to measure whole (issue 14 item 1: a 16 KB model whose Conv lowers to a 3.08 GiB im2col), measured
 * in row slices along M. Rows of a matmul are independent, so each slice `C[r0:r1] = A[r0:r1]·B` is a complete
 * problem with the same B; core/profile/fit.ts chose the slice height (a multiple of every micro-tile height and
 * computation-tile row count, so no micro-tile straddles two slices) so that each fits the device's binding limit
 * and the memory budget. Only one slice's rows exist at a time; the whole A never does.
 *
 * Two passes over the slices (each lowers its rows again rather than keeping them):
 * 1. statistics: sparsity, micro-tile coverage (exact: `CoverageAccumulator`) and the heat map of the whole A, from
 *    which the configurations are chosen as for a whole layer (layer-plan.ts);
 * 2. measurement: every slice is measured like a layer of its own (LayerMeasurement: verified against the same rows
 *    of the reference, GPU detection checked against the slice's CPU coverage, warm-up, `repeat` interleaved rounds).
 *    A variant that fails on a slice is failed for the layer (its error names the slice) and is not run on the rest.
 *
 * A variant's sample j of the layer is the sum of its sample j on every slice (phase by phase), so its median and
 * spread describe the time to compute the whole layer slice after slice; max error is the largest over the slices,
 * relative to the largest |reference| of the whole output. The choice is made in one pass (attribution with
 * `final`): re-measuring would mean lowering every slice again.
 */
import { tileName } from '../../shaders/common.wgsl.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { MemoryLimits } from '../gpu/limits.ts';
import type { PipelineCache } from '../gpu/pipeline-cache.ts';
import type { PhaseSample } from '../gpu/timing.ts';
import { BASELINE_FAMILY } from '../kernels/registry.ts';
import type { OnnxModel } from '../model/ir.ts';
import type { ReferenceCapture } from '../model/reference.ts';
import { RowLowering } from '../model/rows.ts';
import type { SparseOp } from '../model/sparse-ops.ts';
import { CoverageAccumulator, coverageOf, type MicroTileCoverage } from '../pit/coverage.ts';
import type { LayerResult, ProgressEvent, VariantResult } from '../protocol.ts';
import { HeatmapAccumulator } from '../sparsity/micro-tiles.ts';
import { attribute, type MeasuredVariant } from './attribution.ts';
import type { LayerFit } from './fit.ts';
import {
  candidatesOf,
  chooseConfigs,
  coverageShapes,
  finishLayer,
  freeLayoutsOf,
  microTileOf,
  microTilesOf,
  REPORTED_MICRO_TILES,
  verifierOf,
  type ResolvedPolicy,
} from './layer-plan.ts';
import { LayerMeasurement, summariseSamples } from './measure.ts';
import type { KernelText } from './sink.ts';
import { sampleStats, type SampleStats } from './stats.ts';

/** What a tiled layer's measurement needs from the job. */
export interface TiledLayerJob {
  op: SparseOp;
  /** The layer's identity in the result (index, name, op, input). */
  base: Pick<LayerResult, 'index' | 'name' | 'op' | 'input'>;
  captured: ReferenceCapture;
  model: OnnxModel;
  families: readonly string[];
  opts: { repeat: number; warmupMs?: number };
  policy: ResolvedPolicy;
  fit: Extract<LayerFit, { kind: 'tiled' }>;
  limits: MemoryLimits;
  gpu: GpuContext;
  cache: PipelineCache;
  /** Throws CancelledError when the job was cancelled. */
  check: () => void;
  onProgress?: (e: ProgressEvent) => void;
}

/** One variant's measurements over the slices so far. */
interface VariantSlices {
  /** The latest slice's result (its build facts: name, tiles, kernels). */
  result: VariantResult | null;
  /** Samples per slice, in slice order. */
  samples: PhaseSample[][];
  maxAbsErr: number;
  kernelHashes: string[];
  /** The first slice's failure, prefixed with the slice; null while it verified everywhere. */
  failure: string | null;
}

/** The row ranges `[r0, r1)` of a layer of M rows cut in slices of `rows`. */
export function sliceBounds(m: number, rows: number): [number, number][] {
  const out: [number, number][] = [];
  for (let r0 = 0; r0 < m; r0 += rows) out.push([r0, Math.min(m, r0 + rows)]);
  return out;
}

/** Lets the event loop run (a signal handler, a cancel over RPC) between two slices of synchronous work. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Measures a layer in row slices (see the module comment).
 * @throws CancelledError, DeviceLostError (after releasing the GPU buffers of the slice in flight); ModelError when
 *   the op does not lower.
 */
export async function profileTiledLayer(job: TiledLayerJob): Promise<{ layer: LayerResult; kernels: KernelText[] }> {
  const { op, base, families, policy, fit, check } = job;
  const low = new RowLowering(op, job.captured, job.model);
  const { m, n, k } = low;
  const shape = { m, n, k };
  const bounds = sliceBounds(m, fit.rows);
  const log = (message: string) => job.onProgress?.({ kind: 'log', message });

  // Pass 1: statistics of the whole A, slice by slice.
  const shapes = coverageShapes(op, shape, families, policy);
  const acc = new CoverageAccumulator(k);
  const heat = new HeatmapAccumulator(m, k);
  let zeroCount = 0;
  for (const [r0, r1] of bounds) {
    await yieldToEventLoop();
    check();
    const { a } = low.rows(r0, r1);
    heat.add(a, r0, r1 - r0);
    const cov = coverageOf({ a, m: r1 - r0, k }, shapes);
    // Element coverage (`1x1`, always reported) covers exactly the non-zero elements.
    const nonZero = cov.get('1x1')!.coveredElements;
    zeroCount += a.length - nonZero;
    acc.add(r1 - r0, cov, nonZero);
  }
  const coverage = acc.result();
  const pick = (wanted: string[]): Map<string, MicroTileCoverage> =>
    new Map(
      wanted.map((s) => {
        const c = coverage.get(s);
        if (!c) throw new Error(`${op.name}: the coverage of ${s} was not measured on the slices`);
        return [s, c];
      }),
    );
  const plan = chooseConfigs(op, shape, families, policy, pick);
  const extra = plan.configs.map((c) => microTileOf(c.config, k)).filter((x): x is string => x !== null);
  const microTiles = microTilesOf(coverage, [...new Set<string>([...REPORTED_MICRO_TILES, ...extra])]);
  const candidates = candidatesOf(plan.configs, coverage, k);

  // Pass 2: every slice measured as a layer of its own.
  const state = new Map<string, VariantSlices>(candidates.map((c) => [c.name, { result: null, samples: [], maxAbsErr: 0, kernelHashes: [], failure: null }]));
  const kernels = new Map<string, KernelText>();
  let method: 'timestamp' | 'cpu' = 'timestamp';
  let refMax = 0;
  for (const [i, [r0, r1]] of bounds.entries()) {
    await yieldToEventLoop();
    check();
    const live = candidates.filter((c) => !state.get(c.name)!.failure);
    if (!live.length) break;
    const where = `slice ${i + 1} of ${bounds.length} (rows ${r0}–${r1 - 1})`;
    const mm = low.rows(r0, r1);
    const v = verifierOf(mm);
    refMax = Math.max(refMax, v.refMax);
    const ops = { m: r1 - r0, n, k, a: mm.a, b: mm.b, freeLayouts: freeLayoutsOf(mm.lowering), budgetBytes: job.limits.budgetBytes };
    const lm = await LayerMeasurement.start(job.gpu, job.cache, ops, live, v.verifier, (w) => kernels.set(w.hash, { hash: w.hash, label: w.label, wgsl: w.text }), check);
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
      if (Number.isFinite(x.result.maxAbsErr) || x.result.maxAbsErr === Infinity) s.maxAbsErr = Math.max(s.maxAbsErr, x.result.maxAbsErr);
      for (const h of x.result.kernelHashes ?? []) if (!s.kernelHashes.includes(h)) s.kernelHashes.push(h);
      if (x.result.ok) s.samples.push(x.samples);
      else s.failure = `${where}: ${x.result.error ?? 'failed'}`;
    }
    log(`${op.name}: ${where} measured`);
  }

  // Combined per variant: sample j = Σ over slices of sample j.
  const results: VariantResult[] = [];
  const stats: SampleStats[] = [];
  for (const c of candidates) {
    const s = state.get(c.name)!;
    const last = s.result;
    const r: VariantResult = {
      name: c.name,
      family: c.spec.family,
      microTile: c.microTile,
      computeTile: tileName(c.spec.tile),
      ms: Number.NaN,
      detectMs: 0,
      maxAbsErr: last ? s.maxAbsErr : Number.NaN,
      maxRelErr: last ? (refMax > 0 ? s.maxAbsErr / refMax : s.maxAbsErr > 0 ? Infinity : 0) : Number.NaN,
      ok: false,
      wgslHash: last?.wgslHash ?? '',
      effectiveDensity: c.effectiveDensity,
      ...(s.kernelHashes.length ? { kernelHashes: s.kernelHashes } : {}),
    };
    let st = sampleStats([]);
    if (s.failure) {
      r.error = s.failure;
    } else if (s.samples.length === bounds.length) {
      const count = Math.min(...s.samples.map((x) => x.length));
      const combined: PhaseSample[] = [];
      for (let j = 0; j < count; j++) combined.push([0, 1, 2].map((p) => s.samples.reduce((sum, slice) => sum + slice[j]![p]!, 0)));
      r.ok = true;
      st = summariseSamples(r, combined, method);
    } else {
      r.error = 'not measured on every slice';
    }
    results.push(r);
    stats.push(st);
  }
  const view: MeasuredVariant[] = results.map((r, i) => ({
    name: r.name,
    baselineFamily: r.family === BASELINE_FAMILY.name,
    ok: r.ok,
    stats: stats[i]!,
    effectiveDensity: candidates[i]!.effectiveDensity,
    choosable: plan.configs[i]!.choosable,
  }));
  const att = attribute(view, plan.defaultDense, true);
  const tiled = { slices: bounds.length, rows: fit.rows, reason: fit.reason };
  const layerStats = { ...base, m, n, k, sparsity: zeroCount / (m * k), heatmap: heat.result(), tiled };
  const layer = finishLayer(layerStats, microTiles, results, att, plan, policy);
  layer.decision = `measured in ${tiled.slices} row slices of ${tiled.rows} rows (${fit.reason}); ${layer.decision ?? ''}`.replace(/; $/, '');
  return { layer, kernels: [...kernels.values()] };
}
