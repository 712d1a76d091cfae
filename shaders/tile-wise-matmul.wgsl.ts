/**
 * WGSL template of the tile-wise sparse matmul `C = A · W` with a static sparse weight W [K, N] (Guo et al., SC'20
 * §4–5, clevercool/TileSparsity: each column tile of W keeps its own subset of K rows, so every tile is a dense GEMM
 * on compacted operands; the idea only, written afresh for WGSL). In PIT's terms a static k-axis rule whose index is
 * per column tile: SRead of A's columns (rows of Aᵀ) and W's rows by the tile's k-list, and — when the tile's columns
 * are a list rather than a contiguous range — SWrite of the tile's result columns to their places in C.
 *
 * The index and the packed weight are built once per model on the CPU (core/kernels/tile-wise.ts, bcsr-w.ts):
 * - `tiles` [T, 4] u32: per column tile t, `rowOff` (its first slot in the k-list and in the packed rows),
 *   `rowCount` (its slots), `colOff` (its first column: into `cols`, or C's first column when contiguous),
 *   `colCount` (its columns, at most BN);
 * - `rows` u32: the k-list. Mode `list`: one k per slot (`k = rows[rowOff + s]`). Mode `blocks` (block-sparse W,
 *   blocks of KB rows): one k-block per KB slots (`p = rowOff + s`, `k = rows[p / KB] * KB + p % KB`);
 * - `cols` u32 (column mode `list`): the C column of each tile column;
 * - `W` [Σ rowCount, BN] f32: row `rowOff + s` holds W[k(s), tile's columns], zero-padded to BN.
 * The workgroup owning (row block mb, tile t) walks the tile's slots BK at a time: it gathers AT rows (BM contiguous
 * floats each) and the packed W rows into the computation tile, multiplies densely, and stores its BN columns. Every
 * column of C belongs to exactly one tile (all-zero columns to tiles with no rows), so C is fully overwritten.
 *
 * Baked into the text: the computation tile (BN = the tile width G), the modes and KB. In `params`: `M, N, K`.
 */
import { isVec4Tile, tileName, validateComputeTile, vec4ThreadIds, vec4TileDecls, type ComputeTile } from './common.wgsl.ts';
import {
  bindingDecls,
  bSlice,
  gatheredAtSlice,
  matmulMain,
  matmulParamsStruct,
  segmentLoader,
  segmentStore,
  vec4RowStores,
  vec4SliceLoop,
} from './matmul-snippets.wgsl.ts';

/** Parameters of the tile-wise template. */
export interface TileWiseMatmulWgslParams {
  /** The computation tile (vec4 path: TM, TN, BK multiples of 4); BN is the column tile width G. */
  tile: ComputeTile;
  /** `list`: one k per slot (tile-wise); `blocks`: one k-block of `kb` rows per `kb` slots (block-sparse W). */
  kMode: 'list' | 'blocks';
  /** `list`: tile columns are scattered to C through `cols` (SWrite); `contiguous`: `colOff + c`. */
  colMode: 'list' | 'contiguous';
  /** Block height of `blocks` mode. */
  kb?: number;
  /** 16-byte global accesses of AT (and of C with contiguous columns): only when M (and N) are multiples of 4. */
  vecGlobal?: boolean;
}

/**
 * WGSL of the tile-wise matmul. Bindings (group 0), in order: `AT` [K,M] f32 read, `W` packed f32 read (as vec4s),
 * `tiles` [T*4] u32 read, `rows` u32 read, `cols` u32 read (column mode `list` only), `C` [M,N] f32 read_write,
 * `P` uniform `{m, n, k, _}`. Workgroup size `(BN/TN, BM/TM, 1)`; grid `(ceil(M/BM), T, 1)`.
 * @throws RangeError when the tile is not a valid vec4-path tile, or `blocks` mode has no positive `kb`.
 */
export function tileWiseMatmulWgsl(params: TileWiseMatmulWgslParams): string {
  const t = params.tile;
  validateComputeTile(t);
  if (!isVec4Tile(t)) throw new RangeError(`tile-wise: computation tile ${tileName(t)} must have TM, TN and BK multiples of 4`);
  const kb = params.kb ?? 0;
  if (params.kMode === 'blocks' && (!Number.isInteger(kb) || kb < 1)) throw new RangeError(`tile-wise: blocks mode needs a positive block height, got ${kb}`);
  const vec = params.vecGlobal ?? false;
  const listCols = params.colMode === 'list';
  // SRead of A: slot r of the slice is AT row kOf(rowOff + s), BM contiguous floats straight into As[r].
  const a = gatheredAtSlice(t, 'kOf(rowOff + s)');
  // SRead of W: the packed rows of the tile's slots are contiguous, BN wide (loadWRow takes the vec4 column c4).
  const b = bSlice(t, (r) => `loadWRow(${r}, c4)`);
  const arr = vec ? 'array<vec4<f32>>' : 'array<f32>';
  const cArr = vec && !listCols ? 'array<vec4<f32>>' : 'array<f32>';
  const bindings = bindingDecls([
    `var<storage, read> AT: ${arr};`,
    'var<storage, read> W: array<vec4<f32>>;',
    'var<storage, read> tiles: array<u32>;',
    'var<storage, read> rows: array<u32>;',
    ...(listCols ? ['var<storage, read> cols: array<u32>;'] : []),
    `var<storage, read_write> C: ${cArr};`,
    'var<uniform> P: Params;',
  ]);
  const kOf =
    params.kMode === 'list'
      ? `// k of packed slot p: the k-list entry.
fn kOf(p: u32) -> u32 { return rows[p]; }`
      : `// k of packed slot p: row p % KB of the (p / KB)-th listed k-block.
const KB = ${kb}u;
fn kOf(p: u32) -> u32 { return rows[p / KB] * KB + p % KB; }`;
  const store = listCols
    ? `// SWrite: tile column c goes to C column colsS[c]; columns past the tile's count are padding.
fn storeCols(r: u32, tc: u32, v: vec4<f32>) {
  let b = r * P.n;
  if (tc < colCnt) { C[b + colsS[tc]] = v.x; }
  if (tc + 1u < colCnt) { C[b + colsS[tc + 1u]] = v.y; }
  if (tc + 2u < colCnt) { C[b + colsS[tc + 2u]] = v.z; }
  if (tc + 3u < colCnt) { C[b + colsS[tc + 3u]] = v.w; }
}`
    : segmentStore(vec && !listCols);
  return `// PIT Studio: tile-wise (static weight pattern, per column tile k-list) matmul C[M,N] = A[M,K] * W[K,N], fp32; computation tile ${tileName(t)}, k ${params.kMode}, columns ${params.colMode}, ${vec ? 'vec4' : 'scalar'} global access.
// A arrives transposed (AT [K,M]); tile t's slots s < tiles[4t+1] gather k = kOf(tiles[4t] + s) and packed W row tiles[4t] + s.
${matmulParamsStruct(false)}

${bindings}

${vec4TileDecls(t, false)}
var<workgroup> tileInfo: vec4<u32>;
${listCols ? `var<workgroup> colsS: array<u32, ${t.bn}>;` : ''}

${segmentLoader('loadAT', 'AT', vec)}

var<private> cnt: u32;
var<private> rowOff: u32;
var<private> colOff: u32;
var<private> colCnt: u32;

${kOf}

// Packed W row of slot s, vec4 c4 of the tile's BN columns; zero past the tile's slots.
fn loadWRow(s: u32, c4: u32) -> vec4<f32> {
  if (s < cnt) { return W[(rowOff + s) * BS4 + c4]; }
  return vec4<f32>();
}

${store}

${matmulMain(t)}
${vec4ThreadIds(t)}
  let mb = wid.x;
  let tile = wid.y;
  let row0 = mb * BM;
  // The loop bound must be workgroup-uniform (barriers inside): broadcast the tile's entry through workgroup memory.
  if (tid == 0u) { tileInfo = vec4<u32>(tiles[4u * tile], tiles[4u * tile + 1u], tiles[4u * tile + 2u], tiles[4u * tile + 3u]); }
  let info = workgroupUniformLoad(&tileInfo);
  rowOff = info.x;
  cnt = info.y;
  colOff = info.z;
  colCnt = min(info.w, BN);
${listCols ? '  for (var c = tid; c < BN; c += NT) { if (c < colCnt) { colsS[c] = cols[colOff + c]; } }\n  workgroupBarrier();' : ''}
${vec4SliceLoop(t, '(info.y + BK - 1u) / BK', a, b)}
${vec4RowStores(t, (tileCol, acc) => (listCols ? `storeCols(row, ${tileCol}, ${acc});` : `storeC(row, colOff + ${tileCol}, ${acc});`))}
}
`;
}
