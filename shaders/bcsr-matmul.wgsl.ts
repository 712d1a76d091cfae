/**
 * WGSL template of the block-sparse (BCSR) matmul over a dynamically sparse A: the Triton / OpenAI block-sparse
 * baseline (`blocksparse` matmul with a BCSR layout of the sparse operand; its idea only, written afresh for WGSL),
 * with the BCSR index of A built online by PIT's detection (`detect-k` with micro-tile `BM x KB`).
 *
 * Micro-tile `BM x KB` (32x32) in [M, K] terms. A is given transposed, `AT` [K, M] row-major. For row block `mb`
 * the detection lists the k-blocks `kb` (k in `kb*KB .. kb*KB + KB`) whose micro-tile holds a non-zero:
 * `index[mb*KBLOCKS .. mb*KBLOCKS + count[mb])`, KBLOCKS = ceil(K/KB), in any order (that is BCSR's column-index
 * array, with `count` in place of the row pointers). The workgroup owning output tile (mb, nb) walks the listed
 * blocks as `count[mb] * KB` k-slots, BK at a time: slot s is `k = index[base + s / KB] * KB + s % KB`; it stages AT
 * rows (BM contiguous floats each) and B rows of those k's and multiplies them densely. Zero blocks are never loaded;
 * a partial last k-block (K not a multiple of KB) reads zeros past K. Each output tile has one owner, so C is a plain
 * store and a block with count 0 stores zeros.
 *
 * Baked into the text: the computation tile (its BM is the micro-tile height) and KB. In `params`: `M, N, K, KBLOCKS`.
 */
import { accDecls, isVec4Tile, tileConsts, tileName, tileStorage, validateComputeTile, vec4ThreadIds, vec4TileDecls, type ComputeTile } from './common.wgsl.ts';
import {
  broadcastBlockCount,
  bSlice,
  detectedIndexBindings,
  gatheredAtSlice,
  gatheredBRow,
  matmulMain,
  SCALAR_THREAD_IDS,
  scalarGatheredSlices,
  scalarRowStores,
  scalarSliceLoop,
  vec4Accessors,
  vec4RowStores,
  vec4SliceLoop,
} from './matmul-snippets.wgsl.ts';

/** Parameters of the BCSR template. */
export interface BcsrMatmulWgslParams {
  /** The computation tile; BM is the micro-tile height, BK must divide `kb`. */
  tile: ComputeTile;
  /** Micro-tile width along k (the block's k extent), e.g. 32. */
  kb: number;
  /** 16-byte global accesses on the vec4 path (AT, B, C as `array<vec4<f32>>`): only when M and N are multiples of 4. */
  vecGlobal?: boolean;
}

/**
 * WGSL of the BCSR matmul. Bindings (group 0): 0 `AT` [K,M] f32 read, 1 `B` [K,N] f32 read, 2 `count` [ceil(M/BM)]
 * u32 read, 3 `index` [ceil(M/BM)*ceil(K/KB)] u32 read, 4 `C` [M,N] f32 read_write (fully overwritten), 5 `P`
 * uniform `{m, n, k, kblocks}`. Workgroup size `(BN/TN, BM/TM, 1)`; grid `(ceil(M/BM), ceil(N/BN), 1)` (row blocks
 * along x, so workgroups running together share B's column strip).
 * @throws RangeError when the tile is invalid or BK does not divide KB.
 */
export function bcsrMatmulWgsl(params: BcsrMatmulWgslParams): string {
  const t = params.tile;
  validateComputeTile(t);
  const kb = params.kb;
  if (!Number.isInteger(kb) || kb < 1 || kb % t.bk !== 0) throw new RangeError(`bcsr: BK (${t.bk}) must divide the block width ${kb}`);
  return isVec4Tile(t) ? bcsrVec4Wgsl(t, kb, params.vecGlobal ?? false) : bcsrScalarWgsl(t, kb);
}

const header = (t: ComputeTile, kb: number, what: string) =>
  `// PIT Studio: bcsr (block-sparse A, BCSR index detected online) matmul C[M,N] = A[M,K] * B[K,N], fp32; micro-tile ${t.bm}x${kb}, computation tile ${tileName(t)}${what}.
// A arrives transposed (AT [K,M]); index[mb*KBLOCKS + j], j < count[mb], lists the k-blocks of row block mb with a non-zero micro-tile.
struct Params { m: u32, n: u32, k: u32, kblocks: u32 }`;

/** The slot → k mapping both paths share: slot s of row block `mb` is k-block `index[base + s/KB]`, offset s%KB. */
const slotK = `// k of slot s (s < cnt): the (s / KB)-th listed k-block, column s % KB inside it.
fn slotK(s: u32) -> u32 {
  return index[base + s / KB] * KB + s % KB;
}`;

function bcsrScalarWgsl(t: ComputeTile, kb: number): string {
  return `${header(t, kb, '')}

${detectedIndexBindings('AT', 'B', 'array<f32>', 'array<f32>')}

${tileConsts(t, false)}
const KB = ${kb}u; // micro-tile width along k

${tileStorage(t, false)}
var<workgroup> blockCount: u32;
var<private> base: u32;

${slotK}

${matmulMain(t)}
${SCALAR_THREAD_IDS}
  let mb = wid.x;
  let row0 = mb * BM;
  let col0 = wid.y * BN;
  base = mb * P.kblocks;
${broadcastBlockCount('min(count[mb], P.kblocks) * KB', false)}
${accDecls(t)}
${scalarSliceLoop(t, 'var s0 = 0u; s0 < cnt; s0 += BK', scalarGatheredSlices((slot) => `slotK(${slot})`))}
${scalarRowStores(t)}
}
`;
}

function bcsrVec4Wgsl(t: ComputeTile, kb: number, vec: boolean): string {
  // SRead of A: slot r of the slice is AT row slotK(s); its BM floats go straight into As[r] (no transpose).
  const a = gatheredAtSlice(t, 'slotK(s)');
  const b = bSlice(t, (r, c) => `loadBRow(${r}, ${c})`);
  const arr = vec ? 'array<vec4<f32>>' : 'array<f32>';
  return `${header(t, kb, `, vec4 register tiling, ${vec ? 'vec4' : 'scalar'} global access`)}

${detectedIndexBindings('AT', 'B', arr, arr)}

${vec4TileDecls(t, false)}
const KB = ${kb}u; // micro-tile width along k
var<workgroup> blockCount: u32;

${vec4Accessors('AT', vec)}

var<private> cnt: u32;
var<private> base: u32;
var<private> col0: u32;

${slotK}

${gatheredBRow('slotK(s)', 'zero past the slot count (and past K, by loadB).')}

${matmulMain(t)}
${vec4ThreadIds(t)}
  let mb = wid.x;
  let row0 = mb * BM;
  col0 = wid.y * BN;
  base = mb * P.kblocks;
${broadcastBlockCount('min(count[mb], P.kblocks) * KB', true)}
${vec4SliceLoop(t, '(cntU + BK - 1u) / BK', a, b)}
${vec4RowStores(t)}
}
`;
}
