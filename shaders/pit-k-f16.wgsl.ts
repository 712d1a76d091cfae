/**
 * WGSL template of PIT's condense-K matmul with f16 operands and f32 accumulation (PIT §4; the fp32 template is
 * pit-k-matmul.wgsl.ts, whose SRead this follows exactly). A arrives transposed, `AT` [K, M] f16; for row block mb
 * the detection lists the k's whose `BM x 1` micro-tile is non-zero (`index[mb*K .. + count[mb])`, any order). The
 * workgroup owning output tile (mb, nb) walks that list BK entries at a time, gathers the listed AT rows (BM
 * contiguous halves each) and B rows into a staged computation tile in workgroup memory — double-buffered: the next
 * slice is gathered into registers while the current one is multiplied — and multiplies it densely:
 *
 * - subgroup-matrix path (tensor cores, tiles with `mma`): each gathered AT row (BM halves of one k) is written down
 *   a column of the m-major staged tile `As[m][slot]`, whose left fragments load row-major as in dense-f16.wgsl.ts;
 * - SIMT path: the vec4 register-tiled kernel with f16 loads widened to f32.
 *
 * No SWrite (one owner per output tile; a block with count 0 stores zeros). C is f32. Grid `(ceil(M/BM),
 * ceil(N/BN), 1)`: row blocks along x, so workgroups running together share B's column strip.
 * Baked into the text: the tile and the path; `params` `{m, n, k, _}`.
 */
import { bSlice, segmentStore, stridedSlots } from './dense-matmul.wgsl.ts';
import { detectedIndexBindings } from './matmul-snippets.wgsl.ts';
import {
  chunkRegs,
  chunkSlots,
  f16Directives,
  f16Loader8,
  f16SegmentLoader,
  f16Store8,
  f16Store8Column,
  mmaAccDecls,
  mmaDecls,
  mmaDirectStores,
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
  vec4RegDecls,
  vec4Stores,
  vec4ThreadIds,
  vec4TileDecls,
  type ComputeTile,
} from './common.wgsl.ts';

/** Parameters of the f16 condense-K template. */
export interface PitKF16WgslParams {
  tile: ComputeTile;
  /** 16-byte global access (M and N multiples of 8 on the subgroup-matrix path, of 4 on the SIMT path). */
  vecGlobal?: boolean;
}

/**
 * WGSL of the f16 condense-K matmul. Bindings (group 0): 0 `AT` [K,M] f16 read, 1 `B` [K,N] f16 read, 2 `count`
 * [ceil(M/BM)] u32 read, 3 `index` [ceil(M/BM)*K] u32 read, 4 `C` [M,N] f32 read_write, 5 `P` uniform `{m, n, k, _}`.
 * Grid `(ceil(M/BM), ceil(N/BN), 1)`.
 * @throws RangeError when the tile is invalid for its path.
 */
export function pitKF16Wgsl(params: PitKF16WgslParams): string {
  const t = params.tile;
  validateF16Tile(t);
  return t.mma ? mmaWgsl(t, params.vecGlobal ?? false) : simtWgsl(t, params.vecGlobal ?? false);
}

const HEAD = `struct Params { m: u32, n: u32, k: u32, _pad: u32 }`;

function simtWgsl(t: ComputeTile, vec: boolean): string {
  const nt = (t.bm / t.tm) * (t.bn / t.tn);
  const aTotal = (t.bk * t.bm) / 4;
  const aDecls = vec4RegDecls('ra', Math.ceil(aTotal / nt));
  const aLoad = (s0: string): string =>
    stridedSlots(aTotal, nt, (j) =>
      [
        `  let r = e / ${t.bm / 4}u; let c4 = e % ${t.bm / 4}u; let s = ${s0} + r;`,
        `  ra${j} = vec4<f32>();`,
        `  if (s < cnt) { let kv = index[base + s]; ra${j} = loadAT(kv, row0 + c4 * 4u, P.k, P.m, P.m); }`,
      ].join('\n'),
    );
  const aStore = stridedSlots(aTotal, nt, (j) => `  As[aOff + (e / ${t.bm / 4}u) * AS4 + e % ${t.bm / 4}u] = ra${j};`);
  const [bDecls, bLoad, bStore] = bSlice(t, (r, c) => `loadBRow(${r}, ${c})`);
  const arr = vec ? 'array<vec4<f16>>' : 'array<f16>';
  return `${f16Directives(false)}
// PIT Studio: pit-k (condense-K) matmul C[M,N] = A[M,K] * B[K,N], A and B f16, f32 accumulation and C; micro-tile ${t.bm}x1, computation tile ${tileName(t)}, SIMT vec4 register tiling, ${vec ? 'vec4' : 'scalar'} global access.
// A arrives transposed (AT [K,M]); index[mb*K + s], s < count[mb], lists the k's of row block mb with a non-zero micro-tile.
${HEAD}

${detectedIndexBindings('AT', 'B', arr, vec ? 'array<vec4<f32>>' : 'array<f32>')}

${vec4TileDecls(t, false)}
var<workgroup> blockCount: u32;

${f16SegmentLoader('loadAT', 'AT', vec)}

${f16SegmentLoader('loadB', 'B', vec)}

${segmentStore(vec)}

var<private> cnt: u32;
var<private> base: u32;
var<private> col0: u32;

// Row s (slot) of the gathered B slice: B row index[base + s], zero past the count.
fn loadBRow(s: u32, c: u32) -> vec4<f32> {
  if (s < cnt) { return loadB(index[base + s], c, P.k, P.n, P.n); }
  return vec4<f32>();
}

@compute @workgroup_size(${t.bn / t.tn}, ${t.bm / t.tm}, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
${vec4ThreadIds(t)}
  let mb = wid.x;
  let row0 = mb * BM;
  col0 = wid.y * BN;
  base = mb * P.k;
  // The loop bound must be workgroup-uniform (barriers inside): broadcast it through workgroup memory.
  if (tid == 0u) { blockCount = min(count[mb], P.k); }
  let cntU = workgroupUniformLoad(&blockCount);
  cnt = cntU;
${vec4AccDecls(t)}
${aDecls}
${bDecls}
${vec4MainLoop(t, '(cntU + BK - 1u) / BK', (s0) => `${aLoad(s0)}\n${bLoad(s0)}`, `${aStore}\n${bStore}`)}
${vec4Stores(
  t,
  (_i, tileRow) => [`{ let row = row0 + ${tileRow}; if (row < P.m) {`, `} }`],
  (i, h, tileCol) => `storeC(row, col0 + ${tileCol}, ${vec4AccName(i, h)});`,
)}
}
`;
}

function mmaWgsl(t: ComputeTile, vec: boolean): string {
  const s = validateMmaTile(t);
  const aChunks = (t.bk * t.bm) / 8;
  const bChunks = (t.bk * t.bn) / 8;
  const ca = t.bm / 8;
  const cb = t.bn / 8;
  // SRead: slot r of the slice is micro-tile index[base + s0 + r]; slots at or past the count read zeros.
  const loadRegs = (s0: string): string =>
    [
      chunkSlots(aChunks, s.threads, (j) =>
        [`  let s = ${s0} + e / ${ca}u;`, `  ra${j} = vec4<u32>();`, `  if (s < cnt) { ra${j} = loadAT8(index[base + s], row0 + (e % ${ca}u) * 8u, P.k, P.m, P.m); }`].join('\n'),
      ),
      chunkSlots(bChunks, s.threads, (j) =>
        [`  let s = ${s0} + e / ${cb}u;`, `  rb${j} = vec4<u32>();`, `  if (s < cnt) { rb${j} = loadB8(index[base + s], col0 + (e % ${cb}u) * 8u, P.k, P.n, P.n); }`].join('\n'),
      ),
    ].join('\n');
  // Staged m-major (As[m][slot]): the 8 halves of a chunk go down a column.
  const storeRegs = [
    chunkSlots(aChunks, s.threads, (j) => `  storeA8T(aOff + (e % ${ca}u) * 8u * AST + e / ${ca}u, ra${j});`),
    chunkSlots(bChunks, s.threads, (j) => `  storeB8(bOff + (e / ${cb}u) * BST + (e % ${cb}u) * 8u, rb${j});`),
  ].join('\n');
  const arr = vec ? 'array<vec4<u32>>' : 'array<f16>';
  return `${f16Directives(true)}
// PIT Studio: pit-k (condense-K) matmul C[M,N] = A[M,K] * B[K,N], A and B f16, f32 accumulation and C; micro-tile ${t.bm}x1, computation tile ${tileName(t)}: ${s.nsg} subgroup(s) of ${t.mma!.sg}, each ${t.tm}x${t.tn} of C in ${t.mma!.m}x${t.mma!.n}x${t.mma!.k} subgroup-matrix fragments; ${vec ? '16-byte' : 'scalar'} global access.
// A arrives transposed (AT [K,M]); index[mb*K + s], s < count[mb], lists the k's of row block mb with a non-zero micro-tile.
${HEAD}

${detectedIndexBindings('AT', 'B', arr, 'array<f32>')}

// As is m-major, As[m][slot]: gathered AT rows are written down its columns, so the left fragments load row-major
// (as dense-f16's). Column-major left loads from a k-major tile gave wrong results on the H200 (580.159.04), while
// the same template under an emulation of the documented layout rules was right.
${mmaDecls(t, { aRows: t.bm, aCols: t.bk, bRows: t.bk, bCols: t.bn })}
const DIRECT = ${vec};
// 16 bytes, not 4: subgroup-matrix loads need 16-byte-aligned tiles, and the driver lays workgroup variables out in
// an order of its own (a 4-byte one before Bs shifted every right fragment by 1–2 halves on the H200).
var<workgroup> blockCount: vec4<u32>;

${f16Loader8('loadAT8', 'AT', vec)}

${f16Loader8('loadB8', 'B', vec)}

${f16Store8Column('storeA8T', 'As', 'AST')}

${f16Store8('storeB8', 'Bs')}

@compute @workgroup_size(${s.threads}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32${s.nsg > 1 ? ', @builtin(subgroup_id) sgId: u32' : ''}) {
${mmaSubgroupIds(t)}
  let mb = wid.x;
  let row0 = mb * BM;
  let col0 = wid.y * BN;
  let base = mb * P.k;
  let cOff = 0u;
  // The loop bound must be workgroup-uniform (barriers inside): broadcast it through workgroup memory.
  if (li == 0u) { blockCount = vec4<u32>(min(count[mb], P.k)); }
  let cnt = workgroupUniformLoad(&blockCount).x;
${mmaAccDecls(t)}
${chunkRegs('ra', aChunks, s.threads)}
${chunkRegs('rb', bChunks, s.threads)}
${mmaMainLoop(t, '(cnt + BK - 1u) / BK', loadRegs, storeRegs, false)}
  let interior = row0 + BM <= P.m && col0 + BN <= P.n;
  if (DIRECT && interior) {
${mmaDirectStores(t)}
  } else {
${mmaScratchStores(t, (r, c, v) => `let row = row0 + ${r}; let col = col0 + ${c}; if (row < P.m && col < P.n) { C[row * P.n + col] = ${v}; }`)}
  }
}
`;
}
