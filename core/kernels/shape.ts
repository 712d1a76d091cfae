/**
 * The matmul shape every kernel family computes, `C[M,N] = A[M,K] · B[K,N]`, and its validation. A shape may be
 * batched (core/model/batched.ts `BatchedMatmul`): `batch` independent matmuls `C_b = A_b · B_b`, each operand either
 * one matrix per batch (batch stride M·K, resp. K·N) or one matrix shared by every batch (batch stride 0). Kernels put
 * the batch on the grid's z axis and read the batch strides from their uniform; a batch of 1 is the 2-D case, whose
 * programs are exactly those of the unbatched families.
 */

/** Shape of `C[M,N] = A[M,K] · B[K,N]` (element counts, each >= 1), optionally batched. */
export interface MatmulShape {
  m: number;
  n: number;
  k: number;
  /** Independent matmuls `C_b = A_b · B_b`, b < batch (default 1: the 2-D case). C is [batch, M, N] row-major. */
  batch?: number;
  /** Batched only: A is one [M, K] matrix shared by every batch (batch stride 0) rather than [batch, M, K]. */
  aShared?: boolean;
  /** Batched only: B is one [K, N] matrix shared by every batch (batch stride 0) rather than [batch, K, N]. */
  bShared?: boolean;
  /**
   * B is a run-time value (an activation, e.g. Kᵀ of attention) rather than a model constant: families that detect
   * micro-tiles on B (pit-n) apply only then. Default false.
   */
  bActivation?: boolean;
}

/** The batch count of a shape (1 when not batched). */
export function batchOf(s: MatmulShape): number {
  return s.batch ?? 1;
}

/** Whether a shape is batched (more than one matmul): its programs then take the batched form of each template. */
export function isBatched(s: MatmulShape): boolean {
  return batchOf(s) > 1;
}

/**
 * Elements between consecutive batches of each operand and of C: `a` = M·K (0 when shared), `b` = K·N (0 when
 * shared), `c` = M·N. For a 2-D shape the strides are those of one matrix.
 */
export function batchStrides(s: MatmulShape): { a: number; b: number; c: number } {
  const batched = isBatched(s);
  return { a: batched && s.aShared ? 0 : s.m * s.k, b: batched && s.bShared ? 0 : s.k * s.n, c: s.m * s.n };
}

/**
 * Checks a matmul shape: positive integers whose operand sizes (all batches together) fit u32 indexing in WGSL.
 * @throws RangeError naming the offending dimension.
 */
export function validateShape(s: MatmulShape): void {
  for (const key of ['m', 'n', 'k'] as const) {
    const v = s[key];
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`matmul shape: ${key.toUpperCase()} must be a positive integer, got ${v}`);
  }
  const batch = batchOf(s);
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`matmul shape: batch must be a positive integer, got ${batch}`);
  const big = batch * Math.max(s.m * s.k, s.k * s.n, s.m * s.n);
  if (big >= 2 ** 32) {
    throw new RangeError(`matmul shape ${batch > 1 ? `${batch}x` : ''}${s.m}x${s.n}x${s.k}: an operand has >= 2^32 elements (WGSL indexes with u32)`);
  }
}

/** `ceil(a / b)` for positive integers. */
export function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}

/** The grid variables of a shape (`M`, `N`, `K`, and `B` = batch), for `core/kernels/grid.ts`. */
export function shapeVars(s: MatmulShape): { M: number; N: number; K: number; B: number } {
  return { M: s.m, N: s.n, K: s.k, B: batchOf(s) };
}
