/**
 * A layer's statistics gathered from its problem one slice at a time (a layer too large to lower whole is measured
 * in slices, core/profile/tiled.ts; a whole layer is one slice): sparsity of A, its heat map, the micro-tile coverage
 * of A over every batch (and, for a 2-D layer, in the [M, K] form the tile-database policy reads), B's sparsity and
 * coverage where B is an activation, and the per-batch sparsity of a batched layer. Every figure equals the one
 * computed on the whole layer:
 * - row slices of a 2-D layer add up exactly when every slice but the last holds whole micro-tiles (its rows a
 *   multiple of each shape's height: core/profile/fit.ts aligns them); B is the same for every row slice;
 * - batch slices concatenate per-batch values (micro-tiles never straddle batches; every batch has the same size, so
 *   the overall densities are the means of the per-batch ones); an operand shared by every batch is counted once.
 * Values are computed on the operands the kernels read (thresholded ones with near-zero as zero).
 */
import type { BatchedMatmul } from '../model/batched.ts';
import type { SliceAxis } from '../model/slices.ts';
import { CoverageAccumulator, coverageOf, type MicroTileCoverage } from '../pit/coverage.ts';
import type { Heatmap } from '../protocol.ts';
import { HeatmapAccumulator } from '../sparsity/micro-tiles.ts';
import { perBatchSparsity, type BatchedCoverage } from '../sparsity/per-batch.ts';
import { operandCoverage, operandMatrices } from './layer-problem.ts';

/** The statistics of a whole layer (see the module comment). */
export interface LayerStatsResult {
  /** Fraction 0–1 of zero elements of A (over its distinct matrices). */
  sparsity: number;
  heatmap: Heatmap;
  /** Coverage of every requested shape of A over every batch. */
  covA: Map<string, BatchedCoverage>;
  /** A 2-D layer's coverage of A [M, K] (densities and per-block counts), for the tile-database policy; null when batched. */
  covA2d: Map<string, MicroTileCoverage> | null;
  /** Coverage of B where it is an activation; null otherwise. */
  covB: Map<string, BatchedCoverage> | null;
  /** Fraction 0–1 of zero elements of B, where it is an activation; null otherwise. */
  bSparsity: number | null;
  /** A batched layer's sparsity per batch, of A and (an activation) B; null for a 2-D layer. */
  perBatch: { a: Float64Array; b: Float64Array | null } | null;
}

/** The layer a `LayerStats` describes. */
export interface StatsLayout {
  axis: SliceAxis;
  /** Rows of A per batch (the whole layer's M) and the reduction length. */
  m: number;
  k: number;
  batch: number;
  aShared: boolean;
  bShared: boolean;
  bActivation: boolean;
}

/** Counts exact zeros (`x === 0`: -0 too, NaN is not). */
function zeros(x: Float32Array): number {
  let z = 0;
  for (let i = 0; i < x.length; i++) if (x[i] === 0) z++;
  return z;
}

/** Statistics over the slices of a layer, added in order (see the module comment). */
export class LayerStats {
  private readonly heat: HeatmapAccumulator;
  private aZeros = 0;
  private aCount = 0;
  private bZeros = 0;
  private bCount = 0;
  private slices = 0;
  /** Rows axis: the coverage of the first slice (kept as is when it is the only one) and the accumulator. */
  private first2d: Map<string, MicroTileCoverage> | null = null;
  private readonly acc2d: CoverageAccumulator | null;
  /** Batch axis: per-slice coverages and per-batch sparsities, concatenated at the end. */
  private readonly covAParts: Map<string, BatchedCoverage>[] = [];
  private readonly covBParts: Map<string, BatchedCoverage>[] = [];
  private readonly aPerBatch: Float64Array[] = [];
  private readonly bPerBatch: Float64Array[] = [];

  /**
   * @param aShapes micro-tile shapes of A ([M, K] terms) to cover; every one a later slice is asked about.
   * @param bShapes shapes of B ([K, N] terms), when B is an activation (else ignored).
   */
  constructor(
    private readonly layout: StatsLayout,
    private readonly aShapes: readonly string[],
    private readonly bShapes: readonly string[],
  ) {
    const aRows = (layout.axis === 'batch' && !layout.aShared ? layout.batch : 1) * layout.m;
    this.heat = new HeatmapAccumulator(aRows, layout.k);
    this.acc2d = layout.axis === 'rows' ? new CoverageAccumulator(layout.k) : null;
  }

  /**
   * Adds the next slice: `mm` is the problem of units `[u0, u0 + units)` (rows of M, or batches).
   * @throws RangeError when a row slice starts inside a micro-tile (see CoverageAccumulator).
   */
  add(mm: BatchedMatmul, u0: number): void {
    const { layout } = this;
    const firstSlice = this.slices++ === 0;
    if (layout.axis === 'rows') {
      const cov = coverageOf({ a: mm.a, m: mm.m, k: mm.k }, this.aShapes);
      const z = zeros(mm.a);
      this.aZeros += z;
      this.aCount += mm.a.length;
      this.heat.add(mm.a, u0, mm.m);
      if (firstSlice) this.first2d = cov;
      this.acc2d!.add(mm.m, cov, mm.a.length - z);
      // B is the same for every row slice.
      if (firstSlice && layout.bActivation) this.addB(mm);
      return;
    }
    this.covAParts.push(operandCoverage(mm, 'a', this.aShapes));
    this.aPerBatch.push(perBatchSparsity(mm, 'a').sparsity);
    const aMats = operandMatrices(mm, 'a');
    if (!layout.aShared || firstSlice) {
      const a = aMats === 1 && mm.batch > 1 ? mm.a.subarray(0, mm.m * mm.k) : mm.a;
      this.aZeros += zeros(a);
      this.aCount += a.length;
      this.heat.add(a, layout.aShared ? 0 : u0 * layout.m, a.length / layout.k);
    }
    if (layout.bActivation) {
      this.covBParts.push(operandCoverage(mm, 'b', this.bShapes));
      this.bPerBatch.push(perBatchSparsity(mm, 'b').sparsity);
      if (!layout.bShared || firstSlice) this.addB(mm);
    }
  }

  private addB(mm: BatchedMatmul): void {
    const b = this.layout.bShared && mm.batch > 1 ? mm.b.subarray(0, mm.k * mm.n) : mm.b;
    this.bZeros += zeros(b);
    this.bCount += b.length;
    if (this.layout.axis === 'rows') this.covBParts.push(operandCoverage(mm, 'b', this.bShapes));
  }

  /** The statistics of every slice added (the whole layer once every slice is in). */
  result(): LayerStatsResult {
    const { layout } = this;
    const ratio = (z: number, n: number) => (n ? z / n : 0);
    const base = { sparsity: ratio(this.aZeros, this.aCount), heatmap: this.heat.result(), bSparsity: layout.bActivation ? ratio(this.bZeros, this.bCount) : null };
    if (layout.axis === 'rows') {
      const covA2d = this.slices === 1 ? this.first2d! : this.acc2d!.result();
      const covA = new Map([...covA2d].map(([s, c]): [string, BatchedCoverage] => [s, { shape: s, density: c.density, effectiveDensity: c.effectiveDensity, perBatch: { density: Float64Array.of(c.density), effectiveDensity: Float64Array.of(c.effectiveDensity) } }]));
      return { ...base, covA, covA2d, covB: layout.bActivation ? this.covBParts[0]! : null, perBatch: null };
    }
    return {
      ...base,
      covA: concatCoverage(this.covAParts),
      covA2d: null,
      covB: layout.bActivation ? concatCoverage(this.covBParts) : null,
      perBatch: { a: concat(this.aPerBatch), b: layout.bActivation ? concat(this.bPerBatch) : null },
    };
  }
}

function concat(parts: readonly Float64Array[]): Float64Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function mean(x: Float64Array): number {
  let s = 0;
  for (const v of x) s += v;
  return x.length ? s / x.length : 0;
}

/** Batch-slice coverages joined in batch order; the overall densities the means over every batch (as batchedCoverage). */
function concatCoverage(parts: readonly Map<string, BatchedCoverage>[]): Map<string, BatchedCoverage> {
  if (parts.length === 1) return parts[0]!;
  const out = new Map<string, BatchedCoverage>();
  for (const shape of parts[0]!.keys()) {
    const density = concat(parts.map((p) => p.get(shape)!.perBatch.density));
    const effectiveDensity = concat(parts.map((p) => p.get(shape)!.perBatch.effectiveDensity));
    out.set(shape, { shape, density: mean(density), effectiveDensity: mean(effectiveDensity), perBatch: { density, effectiveDensity } });
  }
  return out;
}
