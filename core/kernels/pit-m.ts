/**
 * Program descriptor of PIT's condense-M matmul (`pit-m`, PIT §4 SRead of rows along m, SWrite of result rows;
 * micro-tile `1 x W` of A). Template: `shaders/pit-m-matmul.wgsl.ts`; its index comes from `detectMProgram`, and C
 * must be zeroed first by `zeroFillProgram` (core/kernels/detect.ts) inside the timed work.
 */
import { PIT_M_ROW_TILES_PER_WORKGROUP, pitMMatmulWgsl } from '../../shaders/pit-m-matmul.wgsl.ts';
import { isVec4Tile, tileName, validateComputeTile, type ComputeTile } from '../../shaders/common.wgsl.ts';
import { ceilDiv, validateShape, type MatmulShape } from './dense.ts';
import type { KernelProgram } from './program.ts';

/** Sizes of the pit-m index for `[M, K]` and micro-tile width `w`: `chunks = ceil(K/w)` counts, `chunks*M` entries. */
export function pitMIndexSize(shape: MatmulShape, w: number): { chunks: number; indexLength: number } {
  const chunks = ceilDiv(shape.k, w);
  return { chunks, indexLength: chunks * shape.m };
}

/**
 * The condense-M program for micro-tile `1 x w` (w >= K means whole rows, one chunk, plain stores; otherwise partial
 * sums are CAS-accumulated). Bindings: `a` [M,K] f32, `b` [K,N] f32, `count` [ceil(K/w)] u32, `index`
 * [ceil(K/w)*M] u32 (rows of chunk c at `c*M ..`), `c` [M,N] f32 (must be zero before the dispatch), `params`
 * uniform `[M, N, K, 0]`. Grid `(ceil(N/BN), ceil(M/BM), ceil(K/W))`, sized for the worst case (all rows listed);
 * accumulating vec4 kernels use `ceil(ceil(M/BM)/8)` along y, each workgroup walking up to 8 row tiles.
 * Tiles with TM, TN, BK multiples of 4 take the vec4 register-tiled, double-buffered path, with 16-byte global
 * accesses when K, W and N are multiples of 4 (label suffix ` v4`).
 * @throws RangeError on an invalid shape, tile or w.
 */
export function pitMProgram(shape: MatmulShape, tile: ComputeTile, w: number): KernelProgram {
  validateShape(shape);
  validateComputeTile(tile);
  if (!Number.isInteger(w) || w < 1) throw new RangeError(`pit-m: micro-tile width must be a positive integer, got ${w}`);
  const { chunks } = pitMIndexSize(shape, w);
  const accumulate = chunks > 1;
  // Accumulating vec4 kernels walk several row tiles per workgroup (most row tiles of a sparse chunk are empty).
  const strided = isVec4Tile(tile) && accumulate;
  const rowGroups = strided ? ceilDiv(ceilDiv(shape.m, tile.bm), PIT_M_ROW_TILES_PER_WORKGROUP) : ceilDiv(shape.m, tile.bm);
  const vecGlobal = isVec4Tile(tile) && shape.k % 4 === 0 && (w >= shape.k || w % 4 === 0) && shape.n % 4 === 0;
  return {
    family: 'pit-m',
    label: `pit-m 1x${w} tile ${tileName(tile)}${accumulate ? ' cas' : ''}${vecGlobal ? ' v4' : ''}`,
    wgsl: pitMMatmulWgsl({ tile, w, accumulate, vecGlobal }),
    bindings: [
      { name: 'a', kind: 'read-only-storage' },
      { name: 'b', kind: 'read-only-storage' },
      { name: 'count', kind: 'read-only-storage' },
      { name: 'index', kind: 'read-only-storage' },
      { name: 'c', kind: 'storage' },
      { name: 'params', kind: 'uniform' },
    ],
    workgroupSize: [tile.bn / tile.tn, tile.bm / tile.tm, 1],
    workgroups: [ceilDiv(shape.n, tile.bn), rowGroups, chunks],
    params: [shape.m, shape.n, shape.k, 0],
    dispatchFormula: strided
      ? `ceil(N/${tile.bn}), ceil(ceil(M/${tile.bm})/${PIT_M_ROW_TILES_PER_WORKGROUP}), ceil(K/${w})`
      : `ceil(N/${tile.bn}), ceil(M/${tile.bm}), ceil(K/${w})`,
  };
}
