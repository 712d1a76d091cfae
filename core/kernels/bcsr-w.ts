/**
 * The `bcsr-w` kernel family: a block-sparse weight with 32x32 blocks (the Triton / OpenAI block-sparse and PyTorch
 * BSR baseline the tile-wise and HiNM papers compare with; `pit prune --pattern bw`). Per column block of 32 output
 * channels, the non-zero 32-row blocks of W are listed (BCSR of Wᵀ, i.e. block-compressed columns of W); the kernel
 * computes each output block (BM rows x 32 columns) over its listed k-blocks only. In PIT's terms a static k-axis
 * rule: SRead of 32-wide k-runs of A's columns and W's rows, no SWrite.
 *
 * **Index** (built on the CPU once per layer; `BcsrWIndex`): with `pit.prune` metadata `bw`, its kept blocks
 * (checked against the weight); without, the blocks of the weight holding a non-zero (partial edge blocks included).
 * Uploaded as `bw_tiles` [ceil(N/32), 4] u32 per column block j (`rowOff` = 32·first block, `rowCount` = 32·blocks,
 * `colOff` = 32·j, `colCount` = min(32, N − 32·j)), `bw_rows` [blocks] u32 (each block's k-block index: the BCSR
 * column-index array of Wᵀ, with `rowOff/32` as its row pointers) and `bw_w` [blocks·32, 32] f32 (each block's 32
 * rows, zero-padded at the edges of W).
 *
 * **Effective density**: the area of W under listed blocks (edge blocks by their real size) / (K·N): the fraction
 * of the weight's multiply-adds the kernel does.
 *
 * Template: `shaders/tile-wise-matmul.wgsl.ts` in block mode (column tiles of 32 contiguous columns, one k-list entry
 * per 32-row block): the BCSR weight kernel is the tile-wise kernel at block granularity.
 */
import { tileName, type ComputeTile } from '../../shaders/common.wgsl.ts';
import { tileWiseMatmulWgsl } from '../../shaders/tile-wise-matmul.wgsl.ts';
import type { LayerPattern } from '../prune/types.ts';
import { WeightPatternError, type KernelFamily } from './family.ts';
import { ceilDiv, N } from './grid.ts';
import { staticFamily, vec4TileProblem } from './static-family.ts';
import { ZEROS_DENSITY_LIMIT } from './static-pattern.ts';

/** The block edge (rows of K x columns of N). */
export const BCSR_W_BLOCK = 32;

/** A block-sparse weight index as uploaded (see the module comment). */
export interface BcsrWIndex {
  /** [ceil(N/32), 4]: rowOff, rowCount, colOff, colCount per column block. */
  tiles: Uint32Array;
  /** k-block of each listed block, column block by column block (ascending within one). */
  rows: Uint32Array;
  /** Packed blocks [blocks·32, 32]. */
  values: Float32Array;
  /** Listed blocks. */
  blocks: number;
  /** Area under listed blocks / (K·N), 0–1. */
  effectiveDensity: number;
}

/** Which 32x32 blocks of W [K, N] hold a non-zero: `occupied[kb * colBlocks + nb]`. */
export function occupiedBlocks(b: Float32Array, k: number, n: number): { occupied: Uint8Array; rowBlocks: number; colBlocks: number } {
  const rowBlocks = Math.ceil(k / BCSR_W_BLOCK);
  const colBlocks = Math.ceil(n / BCSR_W_BLOCK);
  const occupied = new Uint8Array(rowBlocks * colBlocks);
  for (let r = 0; r < k; r++) {
    const kb = Math.floor(r / BCSR_W_BLOCK) * colBlocks;
    for (let c = 0; c < n; c++) if (b[r * n + c] !== 0) occupied[kb + Math.floor(c / BCSR_W_BLOCK)] = 1;
  }
  return { occupied, rowBlocks, colBlocks };
}

/**
 * The blocks to list: the `bw` pattern's kept blocks (checked: its grid is W's, and no non-zero lies outside them),
 * or the weight's non-zero blocks.
 * @throws WeightPatternError naming the layer when the pattern does not fit the weight.
 */
export function blocksOf(b: Float32Array, k: number, n: number, pattern: LayerPattern | undefined, layer: string): Uint8Array {
  const { occupied, rowBlocks, colBlocks } = occupiedBlocks(b, k, n);
  if (pattern?.pattern !== 'bw') return occupied;
  if (pattern.block[0] !== BCSR_W_BLOCK || pattern.block[1] !== BCSR_W_BLOCK) throw new WeightPatternError(layer, `block-sparse blocks are ${pattern.block.join('x')}, this kernel computes ${BCSR_W_BLOCK}x${BCSR_W_BLOCK}`);
  if (pattern.grid[0] !== rowBlocks || pattern.grid[1] !== colBlocks) {
    throw new WeightPatternError(layer, `block grid ${pattern.grid.join('x')} of the pit.prune metadata is not W's ${rowBlocks}x${colBlocks} (K = ${k}, N = ${n})`);
  }
  const kept = new Uint8Array(rowBlocks * colBlocks);
  for (const [br, bc] of pattern.kept) {
    if (!(br >= 0 && br < rowBlocks && bc >= 0 && bc < colBlocks)) throw new WeightPatternError(layer, `kept block [${br}, ${bc}] is outside the ${rowBlocks}x${colBlocks} grid`);
    kept[br * colBlocks + bc] = 1;
  }
  for (let i = 0; i < kept.length; i++) {
    if (occupied[i] && !kept[i]) {
      throw new WeightPatternError(layer, `block [${Math.floor(i / colBlocks)}, ${i % colBlocks}] of W holds a non-zero but is not a kept block of its pit.prune pattern`);
    }
  }
  return kept;
}

/** Packs listed blocks (`listed[kb * colBlocks + nb]`) of W [K, N] into the uploaded index. */
export function packBcsrW(b: Float32Array, k: number, n: number, listed: Uint8Array): BcsrWIndex {
  const B = BCSR_W_BLOCK;
  const rowBlocks = Math.ceil(k / B);
  const colBlocks = Math.ceil(n / B);
  const tiles = new Uint32Array(colBlocks * 4);
  const rows: number[] = [];
  let area = 0;
  for (let nb = 0; nb < colBlocks; nb++) {
    const first = rows.length;
    const width = Math.min(B, n - nb * B);
    for (let kb = 0; kb < rowBlocks; kb++) {
      if (!listed[kb * colBlocks + nb]) continue;
      rows.push(kb);
      area += Math.min(B, k - kb * B) * width;
    }
    tiles.set([first * B, (rows.length - first) * B, nb * B, width], 4 * nb);
  }
  const values = new Float32Array(rows.length * B * B);
  for (let nb = 0; nb < colBlocks; nb++) {
    const [rowOff, rowCount, colOff, width] = tiles.subarray(4 * nb, 4 * nb + 4);
    for (let s = 0; s < rowCount; s++) {
      const r = rows[Math.floor((rowOff + s) / B)]! * B + (s % B);
      if (r >= k) continue;
      for (let j = 0; j < width; j++) values[(rowOff + s) * B + j] = b[r * n + colOff + j];
    }
  }
  return { tiles, rows: Uint32Array.from(rows), values, blocks: rows.length, effectiveDensity: k * n ? area / (k * n) : 0 };
}

/** The computation tile at M rows: 128x32x16/8x4 (128 threads) from 128 rows, else 32x32x8/4x4. */
export function bcsrWTile(m: number): ComputeTile {
  return m >= 128 ? { bm: 128, bn: 32, bk: 16, tm: 8, tn: 4 } : { bm: 32, bn: 32, bk: 8, tm: 4, tn: 4 };
}

const KNOWN_TILES: readonly ComputeTile[] = [bcsrWTile(128), bcsrWTile(1)];

/**
 * The bcsr-w family (see the module comment). Its program binds `at` [K,M] f32, `bw_w`, `bw_tiles`, `bw_rows`, `c`,
 * `params` (static-family.ts); grid `(ceil(M/BM), ceil(N/32), 1)`.
 */
export const bcsrWFamily: KernelFamily = staticFamily<BcsrWIndex>({
  name: 'bcsr-w',
  summary: 'block-sparse weight (32x32 blocks, BCSR of Wᵀ): per 32-column block, SRead of its non-zero 32-row blocks (the Triton/PyTorch BSR baseline)',
  helperRoles: ['transpose'],
  aLayout: 'at',
  knownTiles: KNOWN_TILES,
  tileProblem(tile) {
    const problem = vec4TileProblem(tile, 'bcsr-w');
    if (problem) return problem;
    if (tile.bn !== BCSR_W_BLOCK) return `bcsr-w needs BN = ${BCSR_W_BLOCK} (one column block per workgroup), got ${tile.bn}`;
    return null;
  },
  buildIndex: (b, s, _tile, layer) => packBcsrW(b, s.k, s.n, blocksOf(b, s.k, s.n, layer.pattern, layer.name)),
  indexArrays: (ix) => ({ bw_w: ix.values, bw_tiles: ix.tiles, bw_rows: ix.rows }),
  kernel(s, tile) {
    const vecGlobal = s.m % 4 === 0 && s.n % 4 === 0;
    return {
      label: `bcsr-w 32x32 tile ${tileName(tile)}`,
      vecGlobal,
      wgsl: tileWiseMatmulWgsl({ tile, kMode: 'blocks', colMode: 'contiguous', kb: BCSR_W_BLOCK, vecGlobal }),
      columnTiles: ceilDiv(N, BCSR_W_BLOCK),
    };
  },
  rule: (tile) => `static block-sparse weight (32x32), axis k, per 32-column block SRead of its non-zero 32-row blocks into tile ${tileName(tile)}, no SWrite`,
  candidates(s, w) {
    const p = w.pattern;
    if (p && p.pattern !== 'bw') return [];
    const ix = packBcsrW(w.b, s.k, s.n, blocksOf(w.b, s.k, s.n, p, w.layer));
    if (!p && ix.effectiveDensity >= ZEROS_DENSITY_LIMIT) return [];
    const source = `${p ? 'pit.prune block-sparse pattern' : "the weight's zeros"}: ${ix.blocks} of ${Math.ceil(s.k / BCSR_W_BLOCK) * Math.ceil(s.n / BCSR_W_BLOCK)} 32x32 blocks`;
    return [{ tile: bcsrWTile(s.m), effectiveDensity: ix.effectiveDensity, source }];
  },
});
