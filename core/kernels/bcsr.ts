/**
 * The `bcsr` kernel family: block-sparse A with 32x32 blocks (BCSR), the Triton / OpenAI block-sparse baseline
 * (`blocksparse` matmul; its idea only) applied to dynamic activation sparsity. Its index is built online by PIT's
 * detection (`detect-k` with micro-tile `32x32`: per row block of 32 rows, the k-blocks of 32 holding a non-zero,
 * appended with atomics), so in PIT's terms it is the k-axis rule with micro-tile `32x32`: SRead of whole 32-wide
 * k-blocks of A's columns and B's rows, no SWrite. Against pit-k `32x1` it trades coverage (a 32x32 block is
 * non-zero when any of its 1024 elements is) for contiguous k-runs (one index entry per 32 k's).
 * Template: `shaders/bcsr-matmul.wgsl.ts`; detection: `shaders/detect.wgsl.ts`.
 */
import { bcsrMatmulWgsl } from '../../shaders/bcsr-matmul.wgsl.ts';
import { isVec4Tile, tileName, validateComputeTile, type ComputeTile } from '../../shaders/common.wgsl.ts';
import { microTileOccupancy, parseMicroTile } from '../sparsity/micro-tiles.ts';
import { extents, zeroFillProgram } from './detect.ts';
import type { FamilyConfig, KernelFamily } from './family.ts';
import { ceilDiv, grid, M, N } from './grid.ts';
import { detectKProgram } from './pit-k.ts';
import { makeProgram, type KernelProgram } from './program.ts';
import { ceilDiv as ceilDivN, shapeVars, validateShape, type MatmulShape } from './shape.ts';
import { parseTileName, sameTile } from './tiles.ts';

/** The block edge: micro-tile `32x32` of A (rows x k). */
export const BCSR_BLOCK = 32;

/** The micro-tile label. */
export const BCSR_MICRO_TILE = `${BCSR_BLOCK}x${BCSR_BLOCK}`;

/**
 * Computation tiles: BM = 32 (the block height); BK divides 32, so a k-block is a whole number of slices. The
 * first (the PIT tile, 32x128x8/4x4) is the default; the second stages a block in two slices of 16.
 */
export const BCSR_TILES: readonly ComputeTile[] = [
  { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4 },
  { bm: 32, bn: 128, bk: 16, tm: 8, tn: 8, doubleBuffer: false },
];

/** Sizes of the index for A [M, K]: `rowBlocks = ceil(M/32)` counts, `kBlocks = ceil(K/32)` entries per row block. */
export function bcsrIndexSize(s: MatmulShape): { rowBlocks: number; kBlocks: number; indexLength: number } {
  const rowBlocks = ceilDivN(s.m, BCSR_BLOCK);
  const kBlocks = ceilDivN(s.k, BCSR_BLOCK);
  return { rowBlocks, kBlocks, indexLength: rowBlocks * kBlocks };
}

/**
 * The BCSR program. Bindings: `at` [K,M] f32, `b` [K,N] f32, `count` [ceil(M/32)] u32, `index`
 * [ceil(M/32)*ceil(K/32)] u32 (k-blocks of row block mb at `mb*ceil(K/32) ..`), `c` [M,N] f32 (fully overwritten),
 * `params` uniform `[M, N, K, ceil(K/32)]`. Grid `(ceil(M/32), ceil(N/BN), 1)`. Vec4 tiles take 16-byte global
 * accesses when M and N are multiples of 4 (label suffix ` v4`).
 * @throws RangeError on an invalid shape or tile (BM must be 32, BK must divide 32).
 */
export function bcsrProgram(s: MatmulShape, tile: ComputeTile): KernelProgram {
  validateShape(s);
  validateComputeTile(tile);
  if (tile.bm !== BCSR_BLOCK) throw new RangeError(`bcsr: the computation tile's BM must be the block height ${BCSR_BLOCK}, got ${tile.bm}`);
  const vecGlobal = isVec4Tile(tile) && s.m % 4 === 0 && s.n % 4 === 0;
  const { kBlocks } = bcsrIndexSize(s);
  return makeProgram(
    {
      family: 'bcsr',
      label: `bcsr ${BCSR_MICRO_TILE} tile ${tileName(tile)}${vecGlobal ? ' v4' : ''}`,
      wgsl: bcsrMatmulWgsl({ tile, kb: BCSR_BLOCK, vecGlobal }),
      bindings: [
        { name: 'at', kind: 'read-only-storage' },
        { name: 'b', kind: 'read-only-storage' },
        { name: 'count', kind: 'read-only-storage' },
        { name: 'index', kind: 'read-only-storage' },
        { name: 'c', kind: 'storage' },
        { name: 'params', kind: 'uniform' },
      ],
      workgroupSize: [tile.bn / tile.tn, tile.bm / tile.tm, 1],
      grid: grid(ceilDiv(M, tile.bm), ceilDiv(N, tile.bn), 1),
      params: [s.m, s.n, s.k, kBlocks],
    },
    shapeVars(s),
  );
}

const config = (tile: ComputeTile): FamilyConfig => ({ family: 'bcsr', microTile: BCSR_MICRO_TILE, tile: { ...tile } });

/** The bcsr family (see the module comment). */
export const bcsrFamily: KernelFamily = {
  name: 'bcsr',
  axis: 'k',
  summary: 'block-sparse A (BCSR, 32x32 blocks detected online): SRead of non-zero 32-wide k-blocks, the Triton/OpenAI block-sparse baseline',
  helperRoles: ['detect-k', 'fill', 'transpose'],
  // A baseline, not one of PIT's rules: measured when asked for (--variants) or by the tile-database policy.
  defaultOn: false,
  tuningConfigs: () => BCSR_TILES.map(config),
  layerConfigs: () => [config(BCSR_TILES[0]!)],
  illegalReason(c) {
    if (c.microTile !== BCSR_MICRO_TILE) return `bcsr computes ${BCSR_MICRO_TILE} micro-tiles, not ${c.microTile}`;
    if (c.tile.bm !== BCSR_BLOCK) return `bcsr needs a computation tile with BM = ${BCSR_BLOCK}, got ${c.tile.bm}`;
    if (BCSR_BLOCK % c.tile.bk !== 0) return `bcsr needs BK dividing ${BCSR_BLOCK}, got ${c.tile.bk}`;
    return null;
  },
  microTile: () => BCSR_MICRO_TILE,
  blockCounts: (cov) => cov.rowCounts,
  plan(s, c) {
    validateShape(s);
    const reason = bcsrFamily.illegalReason(c, s);
    if (reason) throw new RangeError(reason);
    const { rowBlocks, indexLength } = bcsrIndexSize(s);
    const e = extents(s);
    return {
      aLayout: 'at',
      buffers: [
        { name: 'count', dtype: 'u32', shape: [rowBlocks], role: 'scratch' },
        { name: 'index', dtype: 'u32', shape: [indexLength], role: 'scratch' },
        { name: 'c', dtype: 'f32', shape: [s.m, s.n], role: 'output' },
      ],
      detect: [zeroFillProgram('count', { value: rowBlocks, term: ceilDiv(M, BCSR_BLOCK) }, e.vars), detectKProgram(s, BCSR_BLOCK, BCSR_BLOCK)],
      compute: [bcsrProgram(s, c.tile)],
      counts: { buffer: 'count', length: rowBlocks, microTiles: indexLength, microTile: BCSR_MICRO_TILE },
    };
  },
  costFeatures: { names: ['1', 'G', 'U'], work: 1 },
  kernelFeatures(c, s, counts, g) {
    // U: per column tile, each listed 32x32 block is 32/BK slices of BM×BN×BK.
    let blocks = 0;
    for (let i = 0; i < counts.length; i++) blocks += counts[i]!;
    return [1, g, Math.ceil(s.n / c.tile.bn) * blocks * (BCSR_BLOCK / c.tile.bk)];
  },
  detectKey: () => `detect-k ${BCSR_MICRO_TILE}`,
  variantName: (c) => (sameTile(c.tile, BCSR_TILES[0]!) ? 'bcsr' : `bcsr ${tileName(c.tile)}`),
  describe: (op, c) =>
    `${op}${op === 'Conv' ? ' (im2col)' : ''}: axis k, micro-tile ${BCSR_MICRO_TILE} of A (BCSR), SRead of non-zero 32-wide k-blocks into tile ${tileName(c.tile)}, no SWrite`,
  configOf: (v) => config(parseTileName(v.computeTile, BCSR_TILES, BCSR_TILES[0]!)),
  referenceIndex(_c, a, s) {
    // Per row block of 32 rows, the k-blocks with a non-zero, ascending (the GPU's order is arbitrary).
    const occ = microTileOccupancy(a, s.m, s.k, parseMicroTile(BCSR_MICRO_TILE));
    const { rowBlocks, kBlocks, indexLength } = bcsrIndexSize(s);
    const count = new Uint32Array(rowBlocks);
    const index = new Uint32Array(indexLength);
    for (let mb = 0; mb < rowBlocks; mb++) {
      for (let kb = 0; kb < kBlocks; kb++) if (occ.occupied[mb * kBlocks + kb]) index[mb * kBlocks + count[mb]!++] = kb;
    }
    return { count, index };
  },
};
