/**
 * Program descriptor of PIT's condense-K matmul (`pit-k`, PIT §4 SRead along k; micro-tile `BM x 1` of A).
 * Template: `shaders/pit-k-matmul.wgsl.ts`; its index comes from `detectKProgram` (core/kernels/detect.ts).
 */
import { MERGE_K_WORKGROUP, mergeKWgsl, pitKMatmulWgsl } from '../../shaders/pit-k-matmul.wgsl.ts';
import { isVec4Tile, tileName, validateComputeTile, type ComputeTile } from '../../shaders/common.wgsl.ts';
import { ceilDiv, validateShape, type MatmulShape } from './dense.ts';
import type { KernelProgram } from './program.ts';

/** Sizes of the pit-k index for `[M, K]` and micro-tile height `bm`: `blocks = ceil(M/bm)` counts, `blocks*K` entries. */
export function pitKIndexSize(shape: MatmulShape, bm: number): { blocks: number; indexLength: number } {
  const blocks = ceilDiv(shape.m, bm);
  return { blocks, indexLength: blocks * shape.k };
}

/**
 * The condense-K program. Bindings: `at` [K,M] f32 (A transposed), `b` [K,N] f32, `count` [ceil(M/BM)] u32,
 * `index` [ceil(M/BM)*K] u32 (k's of block mb at `mb*K ..`), `c` [M,N] f32 (fully overwritten), `params` uniform
 * `[M, N, K, 0]`. Grid `(ceil(N/BN), ceil(M/BM), 1)`, or `(ceil(M/BM), ceil(N/BN), 1)` on the vec4 path. The micro-tile is `${tile.bm}x1`. Tiles with TM, TN, BK
 * multiples of 4 take the vec4 register-tiled, double-buffered path, with 16-byte global accesses when M and N are
 * multiples of 4 (label suffix ` v4`).
 * @throws RangeError on an invalid shape or tile.
 */
export function pitKProgram(shape: MatmulShape, tile: ComputeTile): KernelProgram {
  validateShape(shape);
  validateComputeTile(tile);
  const vecGlobal = isVec4Tile(tile) && shape.m % 4 === 0 && shape.n % 4 === 0;
  return {
    family: 'pit-k',
    label: `pit-k ${tile.bm}x1 tile ${tileName(tile)}${vecGlobal ? ' v4' : ''}`,
    wgsl: pitKMatmulWgsl({ tile, vecGlobal }),
    bindings: [
      { name: 'at', kind: 'read-only-storage' },
      { name: 'b', kind: 'read-only-storage' },
      { name: 'count', kind: 'read-only-storage' },
      { name: 'index', kind: 'read-only-storage' },
      { name: 'c', kind: 'storage' },
      { name: 'params', kind: 'uniform' },
    ],
    workgroupSize: [tile.bn / tile.tn, tile.bm / tile.tm, 1],
    // The vec4 path walks row blocks along x (see its template); the scalar path column tiles.
    workgroups: isVec4Tile(tile) ? [ceilDiv(shape.m, tile.bm), ceilDiv(shape.n, tile.bn), 1] : [ceilDiv(shape.n, tile.bn), ceilDiv(shape.m, tile.bm), 1],
    params: [shape.m, shape.n, shape.k, 0],
    dispatchFormula: isVec4Tile(tile) ? `ceil(M/${tile.bm}), ceil(N/${tile.bn}), 1` : `ceil(N/${tile.bn}), ceil(M/${tile.bm}), 1`,
  };
}

/**
 * The k-list merge (`merge-k`): coarsens a pit-k index of micro-tile `h x 1` into one of `r*h x 1` by taking, for
 * each group of r consecutive row blocks, the union of their k-lists (ascending). Bindings: `count`, `index` (the
 * `h x 1` index, read), `countm` [ceil(M/(r*h))] u32 and `indexm` [ceil(M/(r*h))*K] u32 (written in full),
 * `params` uniform `[ceil(M/h), K, r, 0]`. Grid `(ceil(M/(r*h)), 1, 1)`.
 * @throws RangeError on an invalid shape, h or r.
 */
export function mergeKProgram(shape: MatmulShape, h: number, r: number): KernelProgram {
  validateShape(shape);
  if (!Number.isInteger(h) || h < 1 || !Number.isInteger(r) || r < 1) throw new RangeError(`merge-k: h and r must be positive integers, got ${h}, ${r}`);
  const blocks = ceilDiv(shape.m, h);
  return {
    family: 'merge-k',
    label: `merge-k ${h}x1 x${r}`,
    wgsl: mergeKWgsl(),
    bindings: [
      { name: 'count', kind: 'read-only-storage' },
      { name: 'index', kind: 'read-only-storage' },
      { name: 'countm', kind: 'storage' },
      { name: 'indexm', kind: 'storage' },
      { name: 'params', kind: 'uniform' },
    ],
    workgroupSize: [MERGE_K_WORKGROUP, 1, 1],
    workgroups: [ceilDiv(blocks, r), 1, 1],
    params: [blocks, shape.k, r, 0],
    dispatchFormula: `ceil(ceil(M/${h})/${r}), 1, 1`,
  };
}
