/**
 * Sparsity per batch of a batched matmul (`core/model/batched.ts`): for attention, per batch·head — how much of each
 * head's QKᵀ or AV operand is zero, which is what decides whether a head is worth a sparse kernel. "Zero" means
 * `x === 0`, as in `micro-tiles.ts`.
 */
import type { BatchedMatmul } from '../model/batched.ts';
import { coverageOf } from '../pit/coverage.ts';

/** Fraction of zeros of one operand, per batch. */
export interface PerBatchSparsity {
  /** The layer's batch axes (`BatchedMatmul.batchDims`, e.g. [B, H]); [] for a batch of 1. */
  batchDims: number[];
  /** Fraction (0–1) of exactly-zero elements of each batch's matrix, row-major over `batchDims` (length `batch`). */
  sparsity: Float64Array;
  /** Fraction of zeros over every batch together (the mean of `sparsity`: every batch has the same size). */
  overall: number;
  /** Smallest and largest per-batch fraction. */
  min: number;
  max: number;
}

/**
 * Per-batch (per batch·head) sparsity of operand A (default) or B of a batched matmul. A shared operand (batch stride
 * 0) has the same sparsity in every batch.
 *
 * @param mm a lowered layer (`lowerToBatchedMatmul`)
 * @param operand `a` (A_b [M, K]) or `b` (B_b [K, N]: for attention QKᵀ, the keys)
 */
export function perBatchSparsity(mm: Pick<BatchedMatmul, 'batch' | 'batchDims' | 'm' | 'n' | 'k' | 'a' | 'b' | 'aBatchStride' | 'bBatchStride'>, operand: 'a' | 'b' = 'a'): PerBatchSparsity {
  const data = operand === 'a' ? mm.a : mm.b;
  const stride = operand === 'a' ? mm.aBatchStride : mm.bBatchStride;
  const size = operand === 'a' ? mm.m * mm.k : mm.k * mm.n;
  const sparsity = new Float64Array(mm.batch);
  for (let b = 0; b < mm.batch; b++) {
    if (stride === 0 && b > 0) {
      sparsity[b] = sparsity[0]!;
      continue;
    }
    let zeros = 0;
    const off = b * stride;
    for (let i = 0; i < size; i++) if (data[off + i] === 0) zeros++;
    sparsity[b] = size ? zeros / size : 0;
  }
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const s of sparsity) {
    sum += s;
    min = Math.min(min, s);
    max = Math.max(max, s);
  }
  return { batchDims: mm.batchDims.slice(), sparsity, overall: mm.batch ? sum / mm.batch : 0, min: mm.batch ? min : 0, max: mm.batch ? max : 0 };
}

/** Coverage of one micro-tile shape over every matrix of a batched operand, with its per-batch values. */
export interface BatchedCoverage {
  /** `HxW` as requested, in the operand's own [rows, cols] terms. */
  shape: string;
  /** Non-zero micro-tiles / all micro-tiles over every batch, 0–1. */
  density: number;
  /** Elements under non-zero micro-tiles / all elements, over every batch, 0–1 (what a PIT kernel computes). */
  effectiveDensity: number;
  /** Per batch (row-major over the batch dims), length `batch`. */
  perBatch: { density: Float64Array; effectiveDensity: Float64Array };
}

/**
 * Micro-tile coverage of a batched operand X: `mats` row-major [rows, cols] matrices one after the other (`mats` = 1
 * for an operand shared by all `batch` batches: its values repeat per batch). Shapes are in X's own terms (A [M, K]:
 * `32x1`, `1x64`; B [K, N]: pit-n's `Wx1`). Micro-tiles never straddle two batches; the overall densities are over
 * every batch (each batch has the same number of tiles and elements, so they are the means of the per-batch ones).
 * @throws RangeError on a bad shape or a length mismatch.
 */
export function batchedCoverage(x: Float32Array, layout: { mats: number; batch: number; rows: number; cols: number }, shapes: readonly string[]): Map<string, BatchedCoverage> {
  const { mats, batch, rows, cols } = layout;
  if (mats !== 1 && mats !== batch) throw new RangeError(`batched coverage: ${mats} matrices for a batch of ${batch} (must be 1 or ${batch})`);
  if (x.length !== mats * rows * cols) throw new RangeError(`batched coverage: ${x.length} elements, ${mats}x[${rows}, ${cols}] needs ${mats * rows * cols}`);
  const size = rows * cols;
  const asked = [...new Set(shapes)];
  const perMat = Array.from({ length: mats }, (_, i) => coverageOf({ a: x.subarray(i * size, (i + 1) * size), m: rows, k: cols }, asked));
  const out = new Map<string, BatchedCoverage>();
  for (const shape of asked) {
    const density = new Float64Array(batch);
    const effectiveDensity = new Float64Array(batch);
    for (let b = 0; b < batch; b++) {
      const c = perMat[mats === 1 ? 0 : b]!.get(shape)!;
      density[b] = c.density;
      effectiveDensity[b] = c.effectiveDensity;
    }
    out.set(shape, { shape, density: mean(density), effectiveDensity: mean(effectiveDensity), perBatch: { density, effectiveDensity } });
  }
  return out;
}

function mean(x: Float64Array): number {
  let s = 0;
  for (const v of x) s += v;
  return x.length ? s / x.length : 0;
}
