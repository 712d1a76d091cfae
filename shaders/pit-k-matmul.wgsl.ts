/**
 * WGSL template of PIT's condense-K matmul (PIT §4, SRead along the permutation-invariant reduction axis k; the
 * idea of SparTA pit_sm80 `csrc/openai_bmm_forward_kernel.cu`, written afresh for WGSL).
 *
 * Micro-tile `BM x 1` in [M, K] terms. A is given transposed, `AT` [K, M] row-major, so one micro-tile (rows
 * m0..m0+BM of column k of A) is BM contiguous floats of AT row k. For row block `mb`, the detection lists the k's
 * whose micro-tile is non-zero: `index[mb*K .. mb*K + count[mb])`, in any order (k is permutation invariant). The
 * workgroup owning output tile (mb, nb) walks that list BK entries at a time, gathers the listed AT rows and B rows
 * into dense workgroup tiles (the computation tile) and multiplies them densely; zero micro-tiles are never loaded.
 * Each output tile has exactly one owner, so the result is a plain store (no SWrite), and a block with count 0
 * stores zeros.
 *
 * Baked into the text: the computation tile (its BM is the micro-tile height). In the `params` uniform: `M, N, K`.
 */
import { accDecls, isVec4Tile, tileConsts, tileName, tileStorage, validateComputeTile, vec4ThreadIds, vec4TileDecls, type ComputeTile } from './common.wgsl.ts';
import {
  BATCH_BASE_DECLS,
  batchBaseLets,
  batchBases,
  broadcastBlockCount,
  bSlice,
  detectedIndexBindings,
  gatheredAtSlice,
  gatheredBRow,
  matmulMain,
  matmulParamsStruct,
  SCALAR_THREAD_IDS,
  scalarGatheredSlices,
  scalarRowStores,
  scalarSliceLoop,
  vec4Accessors,
  vec4RowStores,
  vec4SliceLoop,
} from './matmul-snippets.wgsl.ts';

/** Parameters of the condense-K template: the computation tile (micro-tile `${tile.bm}x1`). */
export interface PitKMatmulWgslParams {
  tile: ComputeTile;
  /**
   * 16-byte global accesses on the vec4 path: AT, B and C as `array<vec4<f32>>`. Valid only when M and N are
   * multiples of 4; the program builder sets it from the shape. Default false.
   */
  vecGlobal?: boolean;
  /**
   * The batched form: grid z = batch; `P` is `{m, n, k, batch, sa, sb, sc, si}` with the batch strides of AT, B, the
   * counts and the index (0 for a shared A: one index serves every batch). Default false: the 2-D text, unchanged.
   */
  batched?: boolean;
}

/**
 * WGSL of the condense-K matmul. Bindings (group 0): 0 `AT` [K,M] f32 read, 1 `B` [K,N] f32 read, 2 `count`
 * [ceil(M/BM)] u32 read, 3 `index` [ceil(M/BM)*K] u32 read, 4 `C` [M,N] f32 read_write, 5 `P` uniform
 * `{m, n, k, _}`. Workgroup size `(BN/TN, BM/TM, 1)`; grid `(ceil(N/BN), ceil(M/BM), 1)` on the scalar path,
 * `(ceil(M/BM), ceil(N/BN), 1)` on the vec4 path (`isVec4Tile`).
 * @throws RangeError when the tile is invalid.
 */
export function pitKMatmulWgsl(params: PitKMatmulWgslParams): string {
  const t = params.tile;
  validateComputeTile(t);
  const batched = params.batched ?? false;
  if (isVec4Tile(t)) return pitKVec4Wgsl(t, params.vecGlobal ?? false, batched);
  const [oa, ob, oc] = batched ? ['offA + ', 'offB + ', 'offC + '] : ['', '', ''];
  return `// PIT Studio: pit-k (condense-K) matmul C[M,N] = A[M,K] * B[K,N], fp32; micro-tile ${t.bm}x1, computation tile ${tileName(t)}${batched ? '; batched (grid z = batch)' : ''}.
// A arrives transposed (AT [K,M]); index[mb*K + s], s < count[mb], lists the k's of row block mb with a non-zero micro-tile.
${matmulParamsStruct(batched, ['sc', 'si'])}

${detectedIndexBindings('AT', 'B', 'array<f32>', 'array<f32>')}

${tileConsts(t, false)}

${tileStorage(t, false)}
var<workgroup> blockCount: u32;

${matmulMain(t)}
${SCALAR_THREAD_IDS}
  let mb = wid.y;
  let row0 = mb * BM;
  let col0 = wid.x * BN;
${batched ? `${batchBaseLets('wid.z')}\n` : ''}  let base = ${batched ? 'wid.z * P.si + ' : ''}mb * P.k;
${broadcastBlockCount(`min(count[${batched ? 'wid.z * P.sc + ' : ''}mb], P.k)`, false)}
${accDecls(t)}
${scalarSliceLoop(
  t,
  'var s0 = 0u; s0 < cnt; s0 += BK',
  `    // SRead: slot r of the computation tile is micro-tile index[base + s0 + r]; AT rows are contiguous in m.
${scalarGatheredSlices((slot) => `index[base + ${slot}]`, oa, ob)}`,
)}
${scalarRowStores(t, oc)}
}
`;
}

/**
 * The vec4 register-tiled, double-buffered condense-K kernel; grid `(ceil(M/BM), ceil(N/BN), 1)` (row blocks along x).
 * SRead per slice: slot r of the computation tile is
 * micro-tile `index[base + s0 + r]`; its A part is BM contiguous floats of AT row k (copied straight into As[r], no
 * transpose), its B part row k of B. Slots at or past `count[mb]` read zeros.
 */
function pitKVec4Wgsl(t: ComputeTile, vec: boolean, batched: boolean): string {
  const a = gatheredAtSlice(t, 'kv', 'let kv = index[base + s]; ');
  const b = bSlice(t, (r, c) => `loadBRow(${r}, ${c})`);
  const arr = vec ? 'array<vec4<f32>>' : 'array<f32>';
  return `// PIT Studio: pit-k (condense-K) matmul C[M,N] = A[M,K] * B[K,N], fp32; micro-tile ${t.bm}x1, computation tile ${tileName(t)}, vec4 register tiling, ${vec ? 'vec4' : 'scalar'} global access${batched ? '; batched (grid z = batch)' : ''}.
// A arrives transposed (AT [K,M]); index[mb*K + s], s < count[mb], lists the k's of row block mb with a non-zero micro-tile.
${matmulParamsStruct(batched, ['sc', 'si'])}

${detectedIndexBindings('AT', 'B', arr, arr)}

${vec4TileDecls(t, false)}
var<workgroup> blockCount: u32;
${batched ? `${BATCH_BASE_DECLS}\n` : ''}
${vec4Accessors('AT', vec, batched)}

var<private> cnt: u32;
var<private> base: u32;
var<private> col0: u32;

${gatheredBRow('index[base + s]', 'zero past the count.')}

${matmulMain(t)}
${vec4ThreadIds(t)}
  // Row blocks vary fastest along the grid: workgroups running together share B's column strip (L2-resident)
  // instead of each row block's own random set of B rows across all columns.
  let mb = wid.x;
  let row0 = mb * BM;
  col0 = wid.y * BN;
${batched ? `${batchBases('wid.z')}\n` : ''}  base = ${batched ? 'wid.z * P.si + ' : ''}mb * P.k;
${broadcastBlockCount(`min(count[${batched ? 'wid.z * P.sc + ' : ''}mb], P.k)`, true)}
${vec4SliceLoop(t, '(cntU + BK - 1u) / BK', a, b)}
${vec4RowStores(t)}
}
`;
}

/** Invocations per workgroup of the k-list merge kernel. */
export const MERGE_K_WORKGROUP = 256;
/** k's per pass of the merge kernel's bitmap (128 u32 words of workgroup memory). */
export const MERGE_K_WINDOW = 4096;

/**
 * WGSL of the k-list merge (coarsening a pit-k index): for each group g of `R` consecutive row blocks of a pit-k
 * index with micro-tile `h x 1`, writes the union of their k-lists, ascending, as the index of one `R*h`-row block:
 * `countM[g]` and `indexM[g*K ..]`. Lets a 32x1 index (detected once, at full granularity) drive the 128-row
 * computation tile where the lists are nearly full (low sparsity): micro-tiles a block does not list are all-zero
 * in A, so the taller tile reading them is exact. One workgroup per group; per window of `MERGE_K_WINDOW` k's the
 * lists are OR-ed into a bitmap in workgroup memory, then compacted in k order (popcount prefix over the words).
 *
 * Bindings (group 0): 0 `count` [ceil(M/h)] u32 read, 1 `index` [ceil(M/h)*K] u32 read, 2 `countM` [ceil(M/(R*h))]
 * u32 read_write, 3 `indexM` [ceil(M/(R*h))*K] u32 read_write, 4 `P` uniform `{blocks, k, r, _}` (blocks = ceil(M/h)).
 * Grid `(ceil(M/(R*h)), 1, 1)`.
 */
export function mergeKWgsl(): string {
  const nw = MERGE_K_WINDOW / 32;
  return `// PIT Studio: merge-k, the union of R consecutive pit-k row blocks' k-lists, ascending (coarsens a pit-k index).
struct Params { blocks: u32, k: u32, r: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> count: array<u32>;
@group(0) @binding(1) var<storage, read> index: array<u32>;
@group(0) @binding(2) var<storage, read_write> countM: array<u32>;
@group(0) @binding(3) var<storage, read_write> indexM: array<u32>;
@group(0) @binding(4) var<uniform> P: Params;

const NT = ${MERGE_K_WORKGROUP}u;
const WIN = ${MERGE_K_WINDOW}u;
const NW = ${nw}u; // bitmap words per window (<= NT: one word per thread)
var<workgroup> kbits: array<atomic<u32>, ${nw}>;
var<workgroup> psum: array<u32, ${MERGE_K_WORKGROUP}>;
var<workgroup> total: u32;

@compute @workgroup_size(${MERGE_K_WORKGROUP}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let tid = lid.x;
  let g = wid.x;
  let out0 = g * P.k;
  var done = 0u; // entries written by earlier windows (uniform)
  for (var w0 = 0u; w0 < P.k; w0 += WIN) {
    if (tid < NW) { atomicStore(&kbits[tid], 0u); }
    workgroupBarrier();
    for (var q = 0u; q < P.r; q++) {
      let mb = g * P.r + q;
      if (mb < P.blocks) {
        let c = min(count[mb], P.k);
        let b0 = mb * P.k;
        for (var s = tid; s < c; s += NT) {
          let kw = index[b0 + s] - w0; // wraps above WIN for k < w0
          if (kw < WIN) { atomicOr(&kbits[kw / 32u], 1u << (kw % 32u)); }
        }
      }
    }
    workgroupBarrier();
    var bits = 0u;
    if (tid < NW) { bits = atomicLoad(&kbits[tid]); }
    let mine = countOneBits(bits);
    psum[tid] = mine;
    workgroupBarrier();
    // Inclusive scan of the per-word counts (Hillis-Steele over NT entries).
    for (var d = 1u; d < NT; d *= 2u) {
      var v = psum[tid];
      if (tid >= d) { v += psum[tid - d]; }
      workgroupBarrier();
      psum[tid] = v;
      workgroupBarrier();
    }
    var pos = out0 + done + psum[tid] - mine;
    while (bits != 0u) {
      indexM[pos] = w0 + tid * 32u + firstTrailingBit(bits);
      pos++;
      bits &= bits - 1u;
    }
    if (tid == NT - 1u) { total = psum[NT - 1u]; }
    done += workgroupUniformLoad(&total);
  }
  if (tid == 0u) { countM[g] = done; }
}
`;
}
