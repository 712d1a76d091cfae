/**
 * WGSL template of PIT's condense-M matmul with f16 operands and f32 accumulation (PIT §4; the fp32 template is
 * pit-m-matmul.wgsl.ts, whose SRead/SWrite this follows). Micro-tile `1 x W` of A [M, K] f16: K is split into chunks
 * of W columns; for chunk c the detection lists the rows with a non-zero there (`index[c*M .. + count[c])`, any
 * order). Workgroup (nb, t, c) gathers listed rows `t*BM ..` of chunk c into a staged computation tile (double-
 * buffered through workgroup memory), multiplies it with B's chunk rows, and scatters the result rows back to C
 * (SWrite): plain stores with one chunk (W ≥ K, C zeroed first for the unlisted rows), a compare-and-swap float add
 * on C's bits with several (WGSL has no float atomics; DESIGN.md §3). C is f32.
 *
 * - subgroup-matrix path (tensor cores, tiles with `mma`): result fragments go through the per-subgroup scratch
 *   (dense-f16.wgsl.ts) and are scattered element by element;
 * - SIMT path: the vec4 register-tiled kernel with f16 loads widened to f32, its SWrite as in pit-m-matmul.wgsl.ts.
 *
 * Every workgroup walks row tiles `wid.y, wid.y + gridY, …` of its chunk (grid-stride; uniform bounds), so a grid
 * sized for the worst case costs little where most row tiles are empty.
 * Baked into the text: the tile, W, the store mode, the path. `params` `{m, n, k, _}`.
 */
import { aBlockTranspose, bSlice } from './dense-matmul.wgsl.ts';
import { detectedIndexBindings } from './matmul-snippets.wgsl.ts';
import {
  chunkRegs,
  chunkSlots,
  f16Directives,
  f16Loader8,
  f16SegmentLoader,
  f16Store8,
  mmaAccDecls,
  mmaDecls,
  mmaMainLoop,
  mmaScratchStores,
  mmaSubgroupIds,
  validateF16Tile,
  validateMmaTile,
} from './dense-f16.wgsl.ts';
import {
  tileName,
  vec4AccDecls,
  vec4AccName,
  vec4MainLoop,
  vec4Stores,
  vec4ThreadIds,
  vec4TileDecls,
  type ComputeTile,
} from './common.wgsl.ts';

/** Parameters of the f16 condense-M template. */
export interface PitMF16WgslParams {
  tile: ComputeTile;
  /** Micro-tile width W (columns of A per chunk), >= 1. */
  w: number;
  /** CAS-accumulated SWrite (needed when ceil(K/W) > 1); plain stores otherwise. */
  accumulate: boolean;
  /**
   * 16-byte global loads of A and B: K, W (or K when W ≥ K) and N multiples of 8 (subgroup matrices) or 4 (SIMT,
   * which then also stores C rows as vectors when not accumulating).
   */
  vecGlobal?: boolean;
}

/** Row tiles one pit-m-f16 workgroup walks at most (grid y is sized `ceil(ceil(M/BM) / 8)` when accumulating). */
export const PIT_M_F16_ROW_TILES_PER_WORKGROUP = 8;

/**
 * WGSL of the f16 condense-M matmul. Bindings (group 0): 0 `A` [M,K] f16 read, 1 `B` [K,N] f16 read, 2 `count`
 * [nChunks] u32 read, 3 `index` [nChunks*M] u32 read, 4 `C` [M,N] f32 (its bits as atomic u32 when accumulating)
 * read_write, 5 `P` uniform `{m, n, k, _}`. Grid `(ceil(N/BN), rows, nChunks)`.
 * @throws RangeError when the tile or W is invalid.
 */
export function pitMF16Wgsl(params: PitMF16WgslParams): string {
  const { tile: t, w, accumulate } = params;
  validateF16Tile(t);
  if (!Number.isInteger(w) || w < 1) throw new RangeError(`pit-m-f16: micro-tile width W must be a positive integer, got ${w}`);
  return t.mma ? mmaWgsl(t, w, accumulate, params.vecGlobal ?? false) : simtWgsl(t, w, accumulate, params.vecGlobal ?? false);
}

/** Float add on an atomic u32 C element: compare-exchange until no other workgroup changed the word meanwhile. */
const ADD_TO_C = `
// Float add on an atomic u32 (WGSL has no float atomics): retry until no other workgroup changed the word meanwhile.
fn addToC(i: u32, v: f32) {
  var old = atomicLoad(&C[i]);
  loop {
    let r = atomicCompareExchangeWeak(&C[i], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}
`;

const HEAD = `struct Params { m: u32, n: u32, k: u32, _pad: u32 }`;

/** The row gather shared by both paths: rows[e] = listed row slot0 + e of this chunk, or NO_ROW. */
function rowGather(threads: string, tid: string): string {
  return `    for (var e = ${tid}; e < BM; e += ${threads}) {
      var r = NO_ROW;
      if (slot0 + e < cnt) {
        r = index[chunk * P.m + slot0 + e];
        if (r >= P.m) { r = NO_ROW; }
      }
      rows[e] = r;
    }
    workgroupBarrier();`;
}

function simtWgsl(t: ComputeTile, w: number, accumulate: boolean, vec: boolean): string {
  const [aDecls, aLoad, aStore] = aBlockTranspose(
    t,
    (row, k) => `loadA(${row}, ${k}, P.m, kEnd, P.k)`,
    (tileRow) => `rows[${tileRow}]`,
  );
  const [bDecls, bLoad, bStore] = bSlice(t, (r, c) => `loadB(kBeg + ${r}, ${c}, kEnd, P.n, P.n)`);
  const arr = vec ? 'array<vec4<f16>>' : 'array<f16>';
  const cType = accumulate ? 'array<atomic<u32>>' : 'array<f32>';
  const stores = vec4Stores(
    t,
    (_i, tileRow) => [`{ let row = rows[${tileRow}]; if (row != NO_ROW) {`, `} }`],
    (i, h, tileCol) =>
      ['x', 'y', 'z', 'w']
        .map((c, d) => {
          const col = `col0 + ${tileCol} + ${d}u`;
          const v = `${vec4AccName(i, h)}.${c}`;
          return accumulate
            ? `{ let col = ${col}; if (col < P.n && ${v} != 0.0) { addToC(row * P.n + col, ${v}); } }`
            : `{ let col = ${col}; if (col < P.n) { C[row * P.n + col] = ${v}; } }`;
        })
        .join(' '),
    '    ',
  );
  return `${f16Directives(false)}
// PIT Studio: pit-m (condense-M) matmul C[M,N] = A[M,K] * B[K,N], A and B f16, f32 accumulation and C; micro-tile 1x${w}, computation tile ${tileName(t)}, ${accumulate ? 'CAS-accumulated' : 'plain'} SWrite, SIMT vec4 register tiling, ${vec ? 'vec4' : 'scalar'} global access.
// index[c*M + s], s < count[c], lists the rows of A with a non-zero in k-chunk c = [c*W, (c+1)*W).
${HEAD}

${detectedIndexBindings('A', 'B', arr, cType)}

${vec4TileDecls(t, true)}
const W = ${w}u; // micro-tile width: k-chunk length
const NO_ROW = 0xffffffffu;

var<workgroup> rows: array<u32, ${t.bm}>;
var<workgroup> chunkCount: u32;

${f16SegmentLoader('loadA', 'A', vec)}

${f16SegmentLoader('loadB', 'B', vec)}
${accumulate ? ADD_TO_C : ''}
@compute @workgroup_size(${t.bn / t.tn}, ${t.bm / t.tm}, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
${vec4ThreadIds(t)}
  let chunk = wid.z;
  let col0 = wid.x * BN;
  if (tid == 0u) { chunkCount = min(count[chunk], P.m); }
  let cnt = workgroupUniformLoad(&chunkCount);
  let kBeg = chunk * W;
  let kEnd = min(kBeg + W, P.k);
  // Row tiles of this chunk, grid-stride (workgroup-uniform bounds: barriers inside).
  for (var rt = wid.y; rt * BM < cnt; rt += nwg.y) {
    let slot0 = rt * BM;
${rowGather('NT', 'tid')}
${vec4AccDecls(t, '    ')}
${aDecls.replace(/^ {2}/gm, '    ')}
${bDecls.replace(/^ {2}/gm, '    ')}
${vec4MainLoop(t, '(kEnd - kBeg + BK - 1u) / BK', (s0) => `${aLoad(`kBeg + ${s0}`)}\n${bLoad(s0)}`, `${aStore}\n${bStore}`, '    ')}
    // SWrite: result row r goes back to C row rows[r].
${stores}
    workgroupBarrier(); // rows[] is rewritten by the next row tile
  }
}
`;
}

function mmaWgsl(t: ComputeTile, w: number, accumulate: boolean, vec: boolean): string {
  const s = validateMmaTile(t);
  const aChunks = (t.bm * t.bk) / 8;
  const bChunks = (t.bk * t.bn) / 8;
  const ca = t.bk / 8;
  const cb = t.bn / 8;
  // SRead: row r of the tile is A row rows[r] (NO_ROW reads zeros: it is >= M).
  const loadRegs = (s0: string): string =>
    [
      chunkSlots(aChunks, s.threads, (j) => `  ra${j} = loadA8(rows[e / ${ca}u], kBeg + ${s0} + (e % ${ca}u) * 8u, P.m, kEnd, P.k);`, '      '),
      chunkSlots(bChunks, s.threads, (j) => `  rb${j} = loadB8(kBeg + ${s0} + e / ${cb}u, col0 + (e % ${cb}u) * 8u, kEnd, P.n, P.n);`, '      '),
    ].join('\n');
  const storeRegs = [
    chunkSlots(aChunks, s.threads, (j) => `  storeA8(aOff + (e / ${ca}u) * AST + (e % ${ca}u) * 8u, ra${j});`, '      '),
    chunkSlots(bChunks, s.threads, (j) => `  storeB8(bOff + (e / ${cb}u) * BST + (e % ${cb}u) * 8u, rb${j});`, '      '),
  ].join('\n');
  const arr = vec ? 'array<vec4<u32>>' : 'array<f16>';
  const cType = accumulate ? 'array<atomic<u32>>' : 'array<f32>';
  const emit = (r: string, c: string, v: string): string =>
    `let row = rows[${r}]; let col = col0 + ${c}; let v = ${v}; ` +
    (accumulate ? 'if (row != NO_ROW && col < P.n && v != 0.0) { addToC(row * P.n + col, v); }' : 'if (row != NO_ROW && col < P.n) { C[row * P.n + col] = v; }');
  return `${f16Directives(true)}
// PIT Studio: pit-m (condense-M) matmul C[M,N] = A[M,K] * B[K,N], A and B f16, f32 accumulation and C; micro-tile 1x${w}, computation tile ${tileName(t)}: ${s.nsg} subgroup(s) of ${t.mma!.sg}, each ${t.tm}x${t.tn} of C in ${t.mma!.m}x${t.mma!.n}x${t.mma!.k} subgroup-matrix fragments; ${accumulate ? 'CAS-accumulated' : 'plain'} SWrite; ${vec ? '16-byte' : 'scalar'} global access.
// index[c*M + s], s < count[c], lists the rows of A with a non-zero in k-chunk c = [c*W, (c+1)*W).
${HEAD}

${detectedIndexBindings('A', 'B', arr, cType)}

${mmaDecls(t, { aRows: t.bm, aCols: t.bk, bRows: t.bk, bCols: t.bn })}
const W = ${w}u; // micro-tile width: k-chunk length
const NO_ROW = 0xffffffffu;

// Sizes multiples of 16 bytes: subgroup-matrix loads need 16-byte-aligned tiles, and the driver lays workgroup
// variables out in an order of its own (a 4-byte one before the tiles shifted fragments by 1–2 halves on the H200).
var<workgroup> rows: array<u32, ${Math.ceil(t.bm / 4) * 4}>;
var<workgroup> chunkCount: vec4<u32>;

${f16Loader8('loadA8', 'A', vec)}

${f16Loader8('loadB8', 'B', vec)}

${f16Store8('storeA8', 'As')}

${f16Store8('storeB8', 'Bs')}
${accumulate ? ADD_TO_C : ''}
@compute @workgroup_size(${s.threads}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32, @builtin(num_workgroups) nwg: vec3u${s.nsg > 1 ? ', @builtin(subgroup_id) sgId: u32' : ''}) {
${mmaSubgroupIds(t)}
  let chunk = wid.z;
  let col0 = wid.x * BN;
  if (li == 0u) { chunkCount = vec4<u32>(min(count[chunk], P.m)); }
  let cnt = workgroupUniformLoad(&chunkCount).x;
  let kBeg = chunk * W;
  let kEnd = min(kBeg + W, P.k);
  // Row tiles of this chunk, grid-stride (workgroup-uniform bounds: barriers inside).
  for (var rt = wid.y; rt * BM < cnt; rt += nwg.y) {
    let slot0 = rt * BM;
${rowGather('NT', 'li')}
${mmaAccDecls(t, '    ')}
${chunkRegs('ra', aChunks, s.threads, '    ')}
${chunkRegs('rb', bChunks, s.threads, '    ')}
${mmaMainLoop(t, '(kEnd - kBeg + BK - 1u) / BK', loadRegs, storeRegs, false, '    ')}
    // SWrite: result row r goes back to C row rows[r], through the subgroup's scratch.
${mmaScratchStores(t, emit, '    ')}
    workgroupBarrier(); // rows[] is rewritten by the next row tile
  }
}
`;
}
