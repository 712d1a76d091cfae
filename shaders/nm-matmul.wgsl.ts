/**
 * WGSL template of the N:M (2:4) sparse-weight matmul `C = A · W`, W [K, N] static with 2 non-zeros in every group
 * of 4 consecutive k's of a column, stored compressed: the 2 kept values and their 2-bit positions (NVIDIA's 2:4
 * format, as cuSPARSELt stores it; here for SIMT cores, which skip the pruned multiply-adds but pay a data-dependent
 * read of A per kept value instead of tensor-core metadata hardware). Two modes:
 * - `nm` (plain 2:4 along K): column tile t computes C columns `t*BN ..`; its groups are k = 4g .. 4g+3; A is
 *   read row-major.
 * - `hinm` (hierarchical N:M, arXiv 2407.20496; sminy67/hinm_sp): column tile t is a vector block of V = BN output
 *   channels sharing one gather list of K indices (`kept`, the input permutation folded in: SRead of A's columns),
 *   groups of 4 consecutive gathered slots are the 2:4 groups, and the block's result columns go to its channels
 *   (`chan`, the output permutation folded in: SWrite). A is read transposed (AT [K, M]) so a gathered k is BM
 *   contiguous floats.
 * Values `vals` [rows, BN] f32: tile t's group g keeps rows `valRow0 + 2g` and `+1` (the kept values, ascending
 * position; zero where a group holds fewer than 2). Positions `pos` [words, BN] u32: 4 bits per (group, column),
 * `p0 | p1 << 2`, 8 groups per word: group g at word row `posRow0 + g/8`, shift `4*(g%8)`.
 *
 * Per BK-slot slice the workgroup stages A (BK gathered k's x BM rows, as vec4s along m), the slice's BK/2 value
 * rows and BK/4 decoded position codes; each thread then, per group and column, reads the two A vectors its positions
 * select (4 rows each) and does 2 vector fmas where dense does 4. Every C element of the tile is stored (no zero-fill).
 *
 * Baked into the text: the computation tile and the mode. In `params`: `M, N, K`.
 */
import { tileName, validateComputeTile, vec4RegDecls, type ComputeTile } from './common.wgsl.ts';
import { aBlockTranspose, bindingDecls, matmulMain, matmulParamsStruct, SCALAR_THREAD_IDS, segmentLoader, stridedSlots } from './matmul-snippets.wgsl.ts';

/** Parameters of the N:M template. */
export interface NmMatmulWgslParams {
  /** The computation tile: BK a multiple of 4 (whole 2:4 groups per slice), TM a multiple of 4 (rows in vec4s). */
  tile: ComputeTile;
  mode: 'nm' | 'hinm';
  /** 16-byte global loads of A (nm: K a multiple of 4, always true for 2:4) or AT (hinm: M a multiple of 4). */
  vecGlobal?: boolean;
}

/**
 * WGSL of the N:M matmul. Bindings (group 0): `nm`: 0 `A` [M,K], 1 `vals`, 2 `pos`, 3 `C` [M,N], 4 `P`; `hinm`: 0 `AT`
 * [K,M], 1 `vals`, 2 `pos`, 3 `blocks` [T*4] u32 (`slotOff, slotCount, valRow0, posRow0`), 4 `kept`, 5 `chan`, 6 `C`,
 * 7 `P`. `P` = `{m, n, k, _}`. Workgroup size `(BN/TN, BM/TM, 1)`; grid `(ceil(M/BM), T, 1)`, T = ceil(N/BN) column
 * tiles (nm) or N/V vector blocks (hinm).
 * @throws RangeError when the tile is invalid, BK is not a multiple of 4 or TM not a multiple of 4.
 */
export function nmMatmulWgsl(params: NmMatmulWgslParams): string {
  const t = params.tile;
  validateComputeTile(t);
  if (t.bk % 4) throw new RangeError(`${params.mode}: BK must be a multiple of 4 (whole 2:4 groups per slice), got ${t.bk}`);
  if (t.tm % 4) throw new RangeError(`${params.mode}: TM must be a multiple of 4 (rows in vec4s), got ${t.tm}`);
  const hinm = params.mode === 'hinm';
  const vec = params.vecGlobal ?? false;
  const nt = (t.bm / t.tm) * (t.bn / t.tn);
  const g4 = t.tm / 4;
  const arr = vec ? 'array<vec4<f32>>' : 'array<f32>';
  const bindings = hinm
    ? [
        `var<storage, read> AT: ${arr};`,
        'var<storage, read> vals: array<f32>;',
        'var<storage, read> pos: array<u32>;',
        'var<storage, read> blocks: array<u32>;',
        'var<storage, read> kept: array<u32>;',
        'var<storage, read> chan: array<u32>;',
        'var<storage, read_write> C: array<f32>;',
        'var<uniform> P: Params;',
      ]
    : [`var<storage, read> A: ${arr};`, 'var<storage, read> vals: array<f32>;', 'var<storage, read> pos: array<u32>;', 'var<storage, read_write> C: array<f32>;', 'var<uniform> P: Params;'];

  // A staging: nm reads 4x4 blocks of A along k and writes them transposed (vec4s along m); hinm copies gathered AT rows.
  let aDecls: string;
  let aLoad: string;
  let aStore: string;
  if (hinm) {
    const total = (t.bk * t.bm) / 4;
    aDecls = vec4RegDecls('ra', Math.ceil(total / nt));
    aLoad = stridedSlots(total, nt, (j) =>
      [
        `  let r = e / ASW; let c4 = e % ASW; let s = s0 + r;`,
        `  ra${j} = vec4<f32>();`,
        `  if (s < cnt) { ra${j} = loadAT(kept[slotOff + s], row0 + c4 * 4u, P.k, P.m, P.m); }`,
      ].join('\n'),
    );
    aStore = stridedSlots(total, nt, (j) => `  As[(e / ASW) * AS4 + e % ASW] = ra${j};`);
  } else {
    const [decls, load, store] = aBlockTranspose(
      t,
      (row, k) => `loadA(${row}, ${k}, P.m, P.k, P.k)`,
      (tileRow) => `row0 + ${tileRow}`,
    );
    aDecls = decls;
    aLoad = load('s0');
    aStore = store;
  }
  const colOf = hinm ? (c: string) => `chan[tile * BN + ${c}]` : (c: string) => `tile * BN + ${c}`;
  const inner: string[] = [];
  for (let j = 0; j < t.tn; j++) {
    inner.push(`    { let c = tx + ${j}u * TX; let code = Ps[gg * BN + c];`);
    inner.push(`      let r0 = (4u * gg + (code & 3u)) * AS4 + ty; let r1 = (4u * gg + (code >> 2u)) * AS4 + ty;`);
    inner.push(`      let v0 = vec4<f32>(Vs[2u * gg * BN + c]); let v1 = vec4<f32>(Vs[(2u * gg + 1u) * BN + c]);`);
    for (let g = 0; g < g4; g++) {
      const acc = `acc_${g}_${j}`;
      inner.push(`      ${acc} = fma(As[r0 + ${g}u * TY], v0, ${acc}); ${acc} = fma(As[r1 + ${g}u * TY], v1, ${acc});`);
    }
    inner.push('    }');
  }
  const accDecls: string[] = [];
  for (let g = 0; g < g4; g++) accDecls.push('  ' + Array.from({ length: t.tn }, (_, j) => `var acc_${g}_${j} = vec4<f32>();`).join(' '));
  const stores: string[] = [];
  for (let g = 0; g < g4; g++) {
    for (let q = 0; q < 4; q++) {
      stores.push(`  { let row = row0 + (ty + ${g}u * TY) * 4u + ${q}u; if (row < P.m) {`);
      for (let j = 0; j < t.tn; j++) {
        const guard = hinm ? '' : `if (col < P.n) `;
        stores.push(`    { let col = ${colOf(`tx + ${j}u * TX`)}; ${guard}{ C[row * P.n + col] = acc_${g}_${j}.${'xyzw'[q]}; } }`);
      }
      stores.push('  } }');
    }
  }
  const loader = hinm ? segmentLoader('loadAT', 'AT', vec) : segmentLoader('loadA', 'A', vec);
  const setup = hinm
    ? `  if (tid == 0u) { blockInfo = vec4<u32>(blocks[4u * tile], blocks[4u * tile + 1u], blocks[4u * tile + 2u], blocks[4u * tile + 3u]); }
  let info = workgroupUniformLoad(&blockInfo);
  slotOff = info.x;
  cnt = info.y;
  let valRow0 = info.z;
  let posRow0 = info.w;`
    : `  cnt = P.k;
  let valRow0 = tile * (P.k / 2u);
  let posRow0 = tile * ((P.k + 31u) / 32u);`;
  const nTiles = hinm ? '(info.y + BK - 1u) / BK' : '(P.k + BK - 1u) / BK';
  return `// PIT Studio: ${params.mode} (2:4 compressed weight${hinm ? ', vector blocks with gather and scatter indices' : ''}) matmul C[M,N] = A[M,K] * W[K,N], fp32; computation tile ${tileName(t)}, ${vec ? 'vec4' : 'scalar'} global loads.
${matmulParamsStruct(false)}

${bindingDecls(bindings)}

const BM = ${t.bm}u;
const BN = ${t.bn}u;
const BK = ${t.bk}u;
const TX = ${t.bn / t.tn}u; // threads along N
const TY = ${t.bm / t.tm}u; // threads along M (each owns ${g4} vec4 row group(s))
const NT = ${nt}u;
const ASW = ${t.bm / 4}u; // vec4s of a staged k-row of A
// Row stride, one vec4 of padding: the threads of a subgroup read up to 4 different k-rows (their positions) of the
// same columns, which an unpadded stride of BM floats would put in the same banks.
const AS4 = ${t.bm / 4 + 1}u;

// A slice, k-major, vec4s along m; the slice's value rows and decoded 4-bit position codes.
var<workgroup> As: array<vec4<f32>, ${t.bk * (t.bm / 4 + 1)}>;
var<workgroup> Vs: array<f32, ${(t.bk / 2) * t.bn}>;
var<workgroup> Ps: array<u32, ${(t.bk / 4) * t.bn}>;
${hinm ? 'var<workgroup> blockInfo: vec4<u32>;' : ''}

${loader}

var<private> cnt: u32;
var<private> slotOff: u32;

${matmulMain(t)}
${SCALAR_THREAD_IDS}
  let mb = wid.x;
  let tile = wid.y;
  let row0 = mb * BM;
${setup}
${accDecls.join('\n')}
${aDecls}
  let nTiles = ${nTiles};
  for (var it = 0u; it < nTiles; it++) {
    let s0 = it * BK;
    {
      let aOff = 0u;
${aLoad}
${aStore}
    }
    // The slice's kept values (2 rows per group) and position codes (4 bits per group and column).
    for (var e = tid; e < (BK / 2u) * BN; e += NT) {
      let r = e / BN;
      var v = 0.0;
      if (s0 / 2u + r < cnt / 2u) { v = vals[(valRow0 + s0 / 2u + r) * BN + e % BN]; }
      Vs[e] = v;
    }
    for (var e = tid; e < (BK / 4u) * BN; e += NT) {
      let gq = s0 / 4u + e / BN;
      var code = 0u;
      if (gq < cnt / 4u) { code = (pos[(posRow0 + gq / 8u) * BN + e % BN] >> (4u * (gq % 8u))) & 15u; }
      Ps[e] = code;
    }
    workgroupBarrier();
    for (var gg = 0u; gg < BK / 4u; gg++) {
${inner.join('\n')}
    }
    workgroupBarrier();
  }
${stores.join('\n')}
}
`;
}
