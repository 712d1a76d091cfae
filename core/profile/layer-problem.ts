/**
 * A lowered layer (core/model/batched.ts `BatchedMatmul`, 2-D layers being batch 1) as the profile job measures it:
 * the kernel shape (batch, shared operands, whether B is an activation), the operands the kernels read — thresholded
 * when near-zero values are treated as zero — the output every variant is verified against, per-batch error scales,
 * the layouts the producers write for free, and the micro-tile coverage of either operand over every batch.
 *
 * Verification reference: the reference runtime's output (onnxruntime / TF.js) normally; with near-zero as zero, the
 * CPU float64 product of the thresholded operands (epilogue included), so every variant is checked exactly against
 * what it was asked to compute, and the thresholded layer's distance from the runtime's output is reported apart
 * (`Approximation`). In an f16 run (issue 11) A and B are rounded to f16 (after any thresholding) and the reference is
 * the float64 product of the rounded operands: the f16 kernels are checked against what they were given, with the
 * fp32 summation bound (core/kernels/f16.ts).
 */
import type { OperandLayout, SparseOperand } from '../kernels/family.ts';
import { batchedErrorScales } from '../kernels/reference.ts';
import type { MatmulShape } from '../kernels/shape.ts';
import { referenceBatchedMatmul, type BatchedMatmul, type LoweringKind } from '../model/batched.ts';
import type { Approximation, ComputeDtype, MicroTileDensity } from '../protocol.ts';
import { approximationError, thresholdOperand, type NearZero } from '../sparsity/near-zero.ts';
import { batchedCoverage, type BatchedCoverage } from '../sparsity/per-batch.ts';
import { roundOperandsToF16 } from './dtype.ts';

/** A layer ready to measure (see the module comment). */
export interface LayerProblem {
  /** The layer with the operands the kernels read (thresholded copies when near-zero applies; else the lowering's). */
  mm: BatchedMatmul;
  /** The kernel shape: per-batch M, N, K, and batch, shared operands and B's kind when batched. */
  shape: MatmulShape;
  /** What every variant's output (after the epilogue) is verified against, [batch, M, N]. */
  reference: Float32Array;
  /** Per batch: the error scale of its tolerance (Σ|a||b| bound × |alpha| + max |bias|). */
  scales: Float64Array;
  /** Layouts the producers write at no cost: im2col writes Aᵀ too; a constant B can be laid out offline (`bt`). */
  freeLayouts: OperandLayout[];
  /** Near-zero as zero only: what was thresholded and the approximation error. */
  approximation?: Approximation;
  /** f16 runs: elements of A or B beyond the f16 range (±Inf in f16; the layer's f16 result is not meaningful). */
  f16Overflow?: number;
}

/**
 * Builds the layer's problem from its lowering, thresholding the activations (A, and B when it is one) when `zero`
 * is given, and rounding A and B to f16 when `dtype` is f16.
 * @throws RangeError on an invalid near-zero option.
 */
export function layerProblem(lowered: BatchedMatmul, zero?: NearZero, dtype: ComputeDtype = 'f32'): LayerProblem {
  let mm = lowered;
  let approximation: Approximation | undefined;
  let reference = lowered.expected;
  if (zero) {
    const ta = thresholdOperand(lowered.a, zero);
    const tb = lowered.activations.b ? thresholdOperand(lowered.b, zero) : null;
    mm = { ...lowered, a: ta.data, ...(tb ? { b: tb.data } : {}) };
    reference = referenceBatchedMatmul(mm);
    const err = approximationError(reference, lowered.expected);
    const op = (operand: 'a' | 'b', t: typeof ta) => ({ operand, cut: t.cut, sparsityBefore: t.sparsityBefore, sparsityAfter: t.sparsityAfter });
    approximation = {
      ...(zero.threshold !== undefined ? { threshold: zero.threshold } : { keep: zero.keep! }),
      operands: [op('a', ta), ...(tb ? [op('b', tb)] : [])],
      ...err,
    };
  }
  let f16Overflow: number | undefined;
  if (dtype === 'f16') {
    const r = roundOperandsToF16(mm.a, mm.b);
    mm = { ...mm, a: r.a, b: r.b };
    reference = referenceBatchedMatmul(mm);
    f16Overflow = r.overflow;
  }
  const batched = mm.batch > 1;
  const shape: MatmulShape = {
    m: mm.m,
    n: mm.n,
    k: mm.k,
    ...(batched ? { batch: mm.batch, ...(mm.aBatchStride === 0 ? { aShared: true } : {}), ...(mm.bBatchStride === 0 ? { bShared: true } : {}) } : {}),
    ...(mm.activations.b ? { bActivation: true } : {}),
  };
  const scales = batchedErrorScales(mm.a, mm.b, shape);
  const alpha = Math.abs(mm.alpha ?? 1);
  for (let b = 0; b < mm.batch; b++) {
    let biasMax = 0;
    // Where the runtime computes unfused what the import folded into the bias, its rounding is at those terms' size.
    if (mm.bias) for (let j = 0; j < mm.n; j++) biasMax = Math.max(biasMax, Math.abs(mm.bias[b * mm.n + j]!), mm.biasErrorScale ? mm.biasErrorScale[b * mm.n + j]! : 0);
    scales[b] = scales[b]! * alpha + biasMax;
  }
  return { mm, shape, reference, scales, freeLayouts: freeLayoutsOf(mm.lowering, mm.activations.b), ...(approximation ? { approximation } : {}), ...(f16Overflow !== undefined ? { f16Overflow } : {}) };
}

/** Layouts the producers of a layer's operands write at no cost: im2col writes Aᵀ too; a constant B can be laid out offline (`bt`). */
export function freeLayoutsOf(lowering: LoweringKind, bActivation: boolean): OperandLayout[] {
  const conv = lowering === 'im2col' || lowering === 'conv1x1' || lowering === 'conv-transpose';
  return [...(conv ? (['a', 'at'] as const) : (['a'] as const)), ...(bActivation ? [] : (['bt'] as const))];
}

/**
 * The kernels compute A·B; the layer's own epilogue (Gemm alpha, bias per batch) is applied here before comparing.
 * Returns `c` itself when there is no epilogue.
 */
export function applyEpilogue(c: Float32Array, mm: Pick<BatchedMatmul, 'batch' | 'm' | 'n' | 'alpha' | 'bias'>): Float32Array {
  const alpha = mm.alpha ?? 1;
  if (alpha === 1 && !mm.bias) return c;
  const out = c.slice();
  const { m, n } = mm;
  for (let b = 0; b < mm.batch; b++) {
    for (let y = 0; y < m; y++) {
      const row = (b * m + y) * n;
      for (let x = 0; x < n; x++) out[row + x] = alpha * out[row + x]! + (mm.bias ? mm.bias[b * n + x]! : 0);
    }
  }
  return out;
}

/** How many distinct matrices an operand stores: 1 when shared by every batch (stride 0), else the batch. */
export function operandMatrices(mm: Pick<BatchedMatmul, 'batch' | 'aBatchStride' | 'bBatchStride'>, operand: SparseOperand): number {
  const stride = operand === 'a' ? mm.aBatchStride : mm.bBatchStride;
  return mm.batch > 1 && stride === 0 ? 1 : mm.batch;
}

/**
 * Micro-tile coverage over every batch of operand A ([M, K] terms) or B ([K, N] terms: pit-n's `Wx1`).
 * @throws RangeError on a bad shape string.
 */
export function operandCoverage(mm: BatchedMatmul, operand: SparseOperand, shapes: readonly string[]): Map<string, BatchedCoverage> {
  const [rows, cols] = operand === 'a' ? [mm.m, mm.k] : [mm.k, mm.n];
  return batchedCoverage(operand === 'a' ? mm.a : mm.b, { mats: operandMatrices(mm, operand), batch: mm.batch, rows, cols }, shapes);
}

/** Densities as the report lists them, from a coverage map, in the order of `shapes`. */
export function densitiesOf(cov: Map<string, BatchedCoverage>, shapes: readonly string[]): MicroTileDensity[] {
  return [...new Set(shapes)].map((shape) => {
    const c = cov.get(shape)!;
    return { shape, density: c.density, effectiveDensity: c.effectiveDensity };
  });
}
