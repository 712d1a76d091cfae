/**
 * Sparsity per batch of a batched matmul (`core/model/batched.ts`): for attention, per batch·head — how much of each
 * head's QKᵀ or AV operand is zero, which is what decides whether a head is worth a sparse kernel. "Zero" means
 * `x === 0`, as in `micro-tiles.ts`.
 */
import type { BatchedMatmul } from '../model/batched.ts';

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
