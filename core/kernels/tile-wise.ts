/**
 * The `tile-wise` kernel family: a static weight pattern in which every column tile of W [K, N] keeps its own subset
 * of K rows (Guo et al., SC'20 §4–5, clevercool/TileSparsity; `pit prune --pattern tw`), so each tile is a dense GEMM
 * on compacted operands. In PIT's terms a static k-axis rule with a per-column-tile index: SRead of A's columns and
 * W's rows by the tile's k-list, SWrite of the tile's columns to their places in C. The same kernel runs the
 * vector-wise pattern (`--pattern vw`, HiNM's column-vector level): a block of V output channels is a column tile
 * of width V whose columns are the block's (permuted) channels and whose k-list is the block's kept K indices.
 *
 * **Index** (built on the CPU once per layer from the weight; `TileWiseIndex`): column tiles of at most G columns,
 * each with its column list and ascending k-list. With `pit.prune` metadata `tw` the tiles are the metadata's
 * (G = its `g`, 128); with `vw` the vector blocks (G = V); without metadata they come from the weight's zeros: the
 * columns holding a non-zero, in order, cut into tiles of G = 128, each keeping the rows with a non-zero in its
 * columns. All-zero columns go to tiles with no rows (so the kernel writes every column of C and needs no zero-fill).
 * Uploaded as `tw_tiles` [T, 4] u32 (`rowOff, rowCount, colOff, colCount`), `tw_rows` [Σ rowCount] u32 (the k's),
 * `tw_cols` [N] u32 (each tile's columns), `tw_w` [Σ rowCount, G] f32 (W[k, tile column], zero-padded to G).
 *
 * **Effective density**: Σ_tiles rowCount·colCount / (K·N) — the fraction of the weight's multiply-adds the kernel
 * does (the kept rows of each tile times the tile's real columns; the padding of a tile narrower than G is not
 * counted, as a partial edge micro-tile counts by its area). SC'20 at sparsity S: (1 − s′)² = 1 − S.
 *
 * Template: `shaders/tile-wise-matmul.wgsl.ts` (k-list mode, listed columns).
 */
import { tileName, type ComputeTile } from '../../shaders/common.wgsl.ts';
import { tileWiseMatmulWgsl } from '../../shaders/tile-wise-matmul.wgsl.ts';
import type { LayerPattern } from '../prune/types.ts';
import { WeightPatternError, type KernelFamily } from './family.ts';
import { constant } from './grid.ts';
import { staticFamily, vec4TileProblem } from './static-family.ts';
import { ZEROS_DENSITY_LIMIT } from './static-pattern.ts';

/** Column tile width G when the tiles come from the weight's zeros (SC'20: 128). */
export const TILE_WISE_G = 128;

/** One column tile: its C columns (the SWrite list, at most G) and its k-list (the SRead list, ascending). */
export interface ColumnTileSpec {
  columns: number[];
  rows: number[];
}

/** A tile-wise index as uploaded (see the module comment). */
export interface TileWiseIndex {
  /** Column tile width (packed row width, the computation tile's BN). */
  g: number;
  /** [T, 4]: rowOff, rowCount, colOff, colCount per tile. */
  tiles: Uint32Array;
  /** The k-lists, concatenated. */
  rows: Uint32Array;
  /** The column lists, concatenated (every column of W exactly once). */
  cols: Uint32Array;
  /** Packed W [Σ rowCount, g]. */
  values: Float32Array;
  /** Σ rowCount·colCount / (K·N), 0–1. */
  effectiveDensity: number;
}

/**
 * Column tiles from the weight's zeros: the columns of W [K, N] holding a non-zero, in order, in tiles of `g`, each
 * keeping its rows with a non-zero; then the all-zero columns in tiles of `g` with no rows.
 */
export function tilesFromZeros(b: Float32Array, k: number, n: number, g = TILE_WISE_G): ColumnTileSpec[] {
  const live = new Uint8Array(n);
  for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) if (b[r * n + c] !== 0) live[c] = 1;
  const alive: number[] = [];
  const dead: number[] = [];
  for (let c = 0; c < n; c++) (live[c] ? alive : dead).push(c);
  const tiles: ColumnTileSpec[] = [];
  for (let i = 0; i < alive.length; i += g) {
    const columns = alive.slice(i, i + g);
    const rows: number[] = [];
    for (let r = 0; r < k; r++) if (columns.some((c) => b[r * n + c] !== 0)) rows.push(r);
    tiles.push({ columns, rows });
  }
  for (let i = 0; i < dead.length; i += g) tiles.push({ columns: dead.slice(i, i + g), rows: [] });
  return tiles;
}

/**
 * Column tiles and G from a `pit.prune` pattern (`tw` tiles, or `vw` vector blocks), checked against W [K, N]:
 * columns unique and in range, at most G per tile, k's in range, and every non-zero of W inside its tile's k-list
 * (all-zero columns outside any tile are added as tiles with no rows).
 * @throws WeightPatternError naming the layer and the first thing that does not fit.
 */
export function tilesFromPattern(pattern: Extract<LayerPattern, { pattern: 'tw' | 'vw' }>, b: Float32Array, k: number, n: number, layer: string): { g: number; tiles: ColumnTileSpec[] } {
  const g = pattern.pattern === 'tw' ? pattern.g : pattern.v;
  const what = pattern.pattern === 'tw' ? 'tile-wise' : 'vector-wise';
  if (!Number.isInteger(g) || g < 4 || g > 128 || g % 4) throw new WeightPatternError(layer, `${what} tile width ${g} is not a multiple of 4 up to 128`);
  const given = pattern.pattern === 'tw' ? pattern.tiles.map((t) => ({ columns: t.columns, rows: t.rows })) : pattern.blocks.map((bl) => ({ columns: bl.channels, rows: [...bl.kept].sort((x, y) => x - y) }));
  const tileOf = new Int32Array(n).fill(-1);
  given.forEach((t, i) => {
    if (t.columns.length > g) throw new WeightPatternError(layer, `${what} tile ${i} has ${t.columns.length} columns, more than its width ${g}`);
    for (const c of t.columns) {
      if (!Number.isInteger(c) || c < 0 || c >= n) throw new WeightPatternError(layer, `${what} tile ${i} names column ${c}, outside W's N = ${n} (pit.prune metadata for another shape?)`);
      if (tileOf[c] >= 0) throw new WeightPatternError(layer, `${what} column ${c} is in tiles ${tileOf[c]} and ${i}`);
      tileOf[c] = i;
    }
    for (const r of t.rows) if (!Number.isInteger(r) || r < 0 || r >= k) throw new WeightPatternError(layer, `${what} tile ${i} keeps row ${r}, outside W's K = ${k}`);
  });
  const keeps = given.map((t) => {
    const keep = new Uint8Array(k);
    for (const r of t.rows) keep[r] = 1;
    return keep;
  });
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < n; c++) {
      const v = b[r * n + c];
      if (v === 0) continue;
      const t = tileOf[c];
      if (t < 0) throw new WeightPatternError(layer, `W[k=${r}, n=${c}] = ${v} is non-zero, but column ${c} is in no ${what} tile of the pit.prune metadata`);
      if (!keeps[t][r]) throw new WeightPatternError(layer, `W[k=${r}, n=${c}] = ${v} is non-zero, but ${what} tile ${t} does not keep row ${r} (the weight does not follow its pit.prune pattern)`);
    }
  }
  const loose: number[] = [];
  for (let c = 0; c < n; c++) if (tileOf[c] < 0) loose.push(c);
  const tiles = given.map((t) => ({ columns: [...t.columns], rows: [...t.rows] }));
  for (let i = 0; i < loose.length; i += g) tiles.push({ columns: loose.slice(i, i + g), rows: [] });
  return { g, tiles };
}

/**
 * Packs column tiles into the uploaded index (see the module comment).
 * @throws RangeError when the tiles do not cover every column of W [K, N] exactly once or a tile is wider than `g`.
 */
export function packTileWise(b: Float32Array, k: number, n: number, g: number, tiles: readonly ColumnTileSpec[]): TileWiseIndex {
  const seen = new Uint8Array(n);
  let slots = 0;
  let work = 0;
  for (const t of tiles) {
    if (t.columns.length > g) throw new RangeError(`tile-wise: a tile has ${t.columns.length} columns, more than G = ${g}`);
    for (const c of t.columns) {
      if (seen[c]) throw new RangeError(`tile-wise: column ${c} is in two tiles`);
      seen[c] = 1;
    }
    slots += t.rows.length;
    work += t.rows.length * t.columns.length;
  }
  if (seen.some((x) => !x)) throw new RangeError('tile-wise: the tiles do not cover every column of W');
  const meta = new Uint32Array(tiles.length * 4);
  const rows = new Uint32Array(slots);
  const cols = new Uint32Array(n);
  const values = new Float32Array(slots * g);
  let rowOff = 0;
  let colOff = 0;
  tiles.forEach((t, i) => {
    meta.set([rowOff, t.rows.length, colOff, t.columns.length], 4 * i);
    cols.set(t.columns, colOff);
    t.rows.forEach((r, s) => {
      rows[rowOff + s] = r;
      const dst = (rowOff + s) * g;
      t.columns.forEach((c, j) => (values[dst + j] = b[r * n + c]));
    });
    rowOff += t.rows.length;
    colOff += t.columns.length;
  });
  return { g, tiles: meta, rows, cols, values, effectiveDensity: k * n ? work / (k * n) : 0 };
}

/**
 * The tile-wise index of a layer: from its `tw` / `vw` pattern when given, else from the weight's zeros with G = `g`.
 * @throws WeightPatternError when the pattern does not fit the weight; RangeError when a pattern's G is not `g`.
 */
export function tileWiseIndex(b: Float32Array, k: number, n: number, g: number, pattern: LayerPattern | undefined, layer: string): TileWiseIndex {
  if (pattern && (pattern.pattern === 'tw' || pattern.pattern === 'vw')) {
    const p = tilesFromPattern(pattern, b, k, n, layer);
    if (p.g !== g) throw new RangeError(`tile-wise: layer ${layer}'s pattern has tiles of ${p.g} columns, the computation tile ${g}`);
    return packTileWise(b, k, n, g, p.tiles);
  }
  return packTileWise(b, k, n, g, tilesFromZeros(b, k, n, g));
}

/** The computation tile for tiles of G columns at M rows: 128x128x16/8x8 (single-buffered) for G = 128 and M ≥ 128, else 32 rows by G. */
export function tileWiseTile(m: number, g: number): ComputeTile {
  if (g === 128 && m >= 128) return { bm: 128, bn: 128, bk: 16, tm: 8, tn: 8, doubleBuffer: false };
  return { bm: 32, bn: g, bk: 8, tm: 4, tn: 4 };
}

/** Tiles the family uses (for parsing stored tile names). */
const KNOWN_TILES: readonly ComputeTile[] = [tileWiseTile(128, 128), ...[128, 64, 32, 16].map((g) => tileWiseTile(1, g))];

/** The G a layer's tiles have: the pattern's (tw g, vw V), else TILE_WISE_G. */
function gOf(pattern: LayerPattern | undefined): number {
  if (pattern?.pattern === 'tw') return pattern.g;
  if (pattern?.pattern === 'vw') return pattern.v;
  return TILE_WISE_G;
}

/**
 * The tile-wise family (see the module comment). Its program binds `at` [K,M] f32, `tw_w`, `tw_tiles`, `tw_rows`,
 * `tw_cols`, `c`, `params` (static-family.ts); grid `(ceil(M/BM), T, 1)`, T the layer's tile count (a constant of
 * the plan).
 */
export const tileWiseFamily: KernelFamily = staticFamily<TileWiseIndex>({
  name: 'tile-wise',
  summary: "tile-wise sparse weight (SC'20): per column tile of W a compacted k-list; SRead of A's columns and W's rows, SWrite of the tile's columns",
  helperRoles: ['transpose'],
  aLayout: 'at',
  knownTiles: KNOWN_TILES,
  tileProblem(tile) {
    const problem = vec4TileProblem(tile, 'tile-wise');
    if (problem) return problem;
    if (tile.bn > 128) return `tile-wise column tiles are at most 128 wide, got BN = ${tile.bn}`;
    return null;
  },
  buildIndex: (b, s, tile, layer) => tileWiseIndex(b, s.k, s.n, tile.bn, layer.pattern, layer.name),
  indexArrays: (ix) => ({ tw_w: ix.values, tw_tiles: ix.tiles, tw_rows: ix.rows, tw_cols: ix.cols }),
  kernel(s, tile, ix) {
    const vecGlobal = s.m % 4 === 0;
    return {
      label: `tile-wise G=${tile.bn} tile ${tileName(tile)}`,
      vecGlobal,
      wgsl: tileWiseMatmulWgsl({ tile, kMode: 'list', colMode: 'list', vecGlobal }),
      columnTiles: constant(ix.tiles.length / 4),
    };
  },
  rule: (tile) => `static weight pattern, axis k, per ${tile.bn}-column tile of W a k-list (SRead of A's columns and W's rows) into tile ${tileName(tile)}, SWrite of the tile's columns`,
  candidates(s, w) {
    const p = w.pattern;
    if (p && p.pattern !== 'tw' && p.pattern !== 'vw') return [];
    const g = gOf(p);
    const ix = tileWiseIndex(w.b, s.k, s.n, g, p, w.layer);
    if (!p && ix.effectiveDensity >= ZEROS_DENSITY_LIMIT) return [];
    const source = p
      ? `pit.prune ${p.pattern === 'tw' ? 'tile-wise' : 'vector-wise'} pattern: ${ix.tiles.length / 4} column tiles of ${g}`
      : `the weight's zeros: ${ix.tiles.length / 4} column tiles of ${g}`;
    return [{ tile: tileWiseTile(s.m, g), effectiveDensity: ix.effectiveDensity, source }];
  },
});
