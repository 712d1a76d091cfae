/** The matmul shape every kernel family computes, `C[M,N] = A[M,K] · B[K,N]`, and its validation. */

/** Shape of `C[M,N] = A[M,K] · B[K,N]` (element counts, each >= 1). */
export interface MatmulShape {
  m: number;
  n: number;
  k: number;
}

/**
 * Checks a matmul shape: positive integers whose operand sizes fit u32 indexing in WGSL.
 * @throws RangeError naming the offending dimension.
 */
export function validateShape(s: MatmulShape): void {
  for (const key of ['m', 'n', 'k'] as const) {
    const v = s[key];
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`matmul shape: ${key.toUpperCase()} must be a positive integer, got ${v}`);
  }
  const big = Math.max(s.m * s.k, s.k * s.n, s.m * s.n);
  if (big >= 2 ** 32) throw new RangeError(`matmul shape ${s.m}x${s.n}x${s.k}: an operand has >= 2^32 elements (WGSL indexes with u32)`);
}

/** `ceil(a / b)` for positive integers. */
export function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}

/** The grid variables of a shape (`M`, `N`, `K`), for `core/kernels/grid.ts`. */
export function shapeVars(s: MatmulShape): { M: number; N: number; K: number } {
  return { M: s.m, N: s.n, K: s.k };
}
