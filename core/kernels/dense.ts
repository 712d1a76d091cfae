/**
 * Program descriptor of the dense tiled matmul (the baseline variant), and the matmul shape type shared by every
 * matmul program. Template: `shaders/dense-matmul.wgsl.ts`.
 */
import { denseMatmulWgsl } from '../../shaders/dense-matmul.wgsl.ts';
import { isVec4Tile, tileName, validateComputeTile, type ComputeTile } from '../../shaders/common.wgsl.ts';
import type { KernelProgram } from './program.ts';

export type { ComputeTile } from '../../shaders/common.wgsl.ts';

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

/**
 * The dense matmul program. Bindings: `a` [M,K] f32, `b` [K,N] f32, `c` [M,N] f32 (fully overwritten, no zeroing
 * needed), `params` uniform `[M, N, K, 0]`. Grid `(ceil(N/BN), ceil(M/BM), 1)`. Tiles with TM, TN, BK multiples of 4
 * take the vec4 register-tiled, double-buffered path (`isVec4Tile`), with 16-byte global accesses when K and N are
 * multiples of 4 (the label then ends in ` v4`); other tiles the scalar path.
 * @throws RangeError on an invalid shape or tile.
 */
export function denseProgram(shape: MatmulShape, tile: ComputeTile): KernelProgram {
  validateShape(shape);
  validateComputeTile(tile);
  const vecGlobal = isVec4Tile(tile) && shape.k % 4 === 0 && shape.n % 4 === 0;
  return {
    family: 'dense',
    label: `dense tile ${tileName(tile)}${vecGlobal ? ' v4' : ''}`,
    wgsl: denseMatmulWgsl({ tile, vecGlobal }),
    bindings: [
      { name: 'a', kind: 'read-only-storage' },
      { name: 'b', kind: 'read-only-storage' },
      { name: 'c', kind: 'storage' },
      { name: 'params', kind: 'uniform' },
    ],
    workgroupSize: [tile.bn / tile.tn, tile.bm / tile.tm, 1],
    workgroups: [ceilDiv(shape.n, tile.bn), ceilDiv(shape.m, tile.bm), 1],
    params: [shape.m, shape.n, shape.k, 0],
    dispatchFormula: `ceil(N/${tile.bn}), ceil(M/${tile.bm}), 1`,
  };
}
