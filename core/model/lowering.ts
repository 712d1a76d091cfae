/**
 * Lowering of a captured sparse op to a plain 2-D matmul C[M,N] = alpha·A[M,K]·B[K,N] + bias[N], all float32
 * row-major, with A the activation operand (the one PIT exploits) and the reference output rearranged to [M, N].
 * This is the batch-1 case of `batched.ts` (`lowerToBatchedMatmul`), which holds the layouts:
 *
 * - Conv with group = 1 and 1–3 spatial dims (NC[D]H[W]): A = im2col(X) [batch·prod(out), Cin·prod(k)] with rows
 *   ordered (n, o_1…o_d) and columns (ci, j_1…j_d); B = W reshaped [Cout, K] and transposed to [K, Cout]; bias [Cout];
 *   expected = Y [N, Cout, *out] as [N·prod(out), Cout]. A pointwise conv (1x1, stride 1, no pads) is `conv1x1`.
 * - MatMul (numpy semantics) whose B has no batch: A [..., M', K] flattened to [prod(...)·M', K] (1-D A is one row);
 *   B [K, N] (1-D B is [K, 1]; leading dims of 1 are dropped); expected = Y flattened to [M, N].
 * - Gemm: A = transA ? Aᵀ : A, B = transB ? Bᵀ : B; alpha scales the product; bias = beta·C when C is a row bias.
 *
 * Grouped / depthwise Conv, batched MatMul (B with batch dims: attention QKᵀ and AV) and ConvTranspose lower only to
 * the batched form (the profile job runs every layer through it, with batched kernels); `checkLowerable` says so for
 * them.
 */
import { lowerToBatchedMatmul, loweringOf, type LoweringForm } from './batched.ts';
import { ModelError } from './errors.ts';
import type { Constants } from './operands.ts';
import type { CapturedOp, ReferenceCapture } from './reference.ts';
import type { SparseOp } from './sparse-ops.ts';

export { convGeometry, type ConvGeometry } from './conv.ts';

/**
 * A layer as a matmul problem. All arrays are float32, row-major. They may alias the captured tensors or the model
 * constants (MatMul A, untransposed B): treat them as read-only.
 */
export interface LoweredMatmul {
  /** Rows of A and C: Conv batch·prod(out), MatMul prod(batch dims)·rows, Gemm M. */
  m: number;
  /** Columns of B and C: Conv Cout, MatMul/Gemm N. */
  n: number;
  /** Reduction length: Conv Cin·prod(kernel), MatMul/Gemm K. */
  k: number;
  /** The activation operand, [M, K] row-major. */
  a: Float32Array;
  /** The weight operand, [K, N] row-major. */
  b: Float32Array;
  /** Added to every row of alpha·A·B, [N]; absent when the layer has none (already scaled by Gemm beta). */
  bias?: Float32Array;
  /** Scale of the product (Gemm alpha); absent when 1. */
  alpha?: number;
  /** The reference output (ORT) rearranged to [M, N] row-major: C = alpha·A·B + bias should match it. */
  expected: Float32Array;
  /** How it was lowered. */
  lowering: 'im2col' | 'conv1x1' | 'matmul' | 'gemm';
}

/**
 * Why an op whose shapes lower only to a batched matmul is not taken by the 2-D lowering. One text per kind, without
 * per-layer sizes; `loweringOf` gives the sizes.
 */
function batchedOnlyReason(op: SparseOp, f: Extract<LoweringForm, { form: 'batched' }>): string {
  if (op.op === 'ConvTranspose') return 'ConvTranspose: lowers to a matmul over a zero-inserted im2col (lowerToBatchedMatmul), not to the 2-D form';
  if (f.batchKind === 'groups') return 'grouped conv (group > 1): lowers to a batched matmul with the groups as the batch (lowerToBatchedMatmul), not to the 2-D form';
  return 'batched MatMul (B has batch dims, e.g. attention QKᵀ / AV): lowers to a batched matmul (lowerToBatchedMatmul), not to the 2-D form';
}

/**
 * Why this op cannot be lowered by `lowerToMatmul` with the captured shapes, or null when it can. Covers what
 * `findSparseOps` cannot know without shapes, and the ops that lower only to the batched form (`loweringOf`).
 */
export function checkLowerable(op: SparseOp, captured: CapturedOp | ReferenceCapture, model: Constants): string | null {
  const f = loweringOf(op, captured, model);
  if (f.form === 'matmul') return null;
  return f.form === 'none' ? f.reason : batchedOnlyReason(op, f);
}

/**
 * Lowers one captured op to a 2-D matmul problem (see the module comment for the layouts).
 *
 * @param op a supported op from `findSparseOps`
 * @param captured the op's captured tensors, or the whole `ReferenceCapture` (looked up by `op.index`)
 * @param model the imported model (or its constants map), for constant B / bias
 * @returns A [M, K], B [K, N], bias [N], alpha, and the reference output as [M, N], all float32 row-major
 * @throws ModelError `NAME: …` when the op is unsupported, not captured, lowers only to a batched matmul (grouped
 *   conv, batched MatMul, ConvTranspose), or its shapes do not lower (a Gemm C that is not a row bias, an output size
 *   that disagrees with the ONNX Conv formula)
 */
export function lowerToMatmul(op: SparseOp, captured: CapturedOp | ReferenceCapture, model: Constants): LoweredMatmul {
  const reason = checkLowerable(op, captured, model);
  if (reason) {
    throw new ModelError(op.supported ? `${op.name}: ${reason}` : `${op.name}: not lowerable: ${reason}`, { node: op.name });
  }
  const mm = lowerToBatchedMatmul(op, captured, model);
  const lowering = mm.lowering === 'conv-transpose' ? 'im2col' : mm.lowering;
  return { m: mm.m, n: mm.n, k: mm.k, a: mm.a, b: mm.b, bias: mm.bias, alpha: mm.alpha, expected: mm.expected, lowering };
}
