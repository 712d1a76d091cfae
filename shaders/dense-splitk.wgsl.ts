/**
 * WGSL templates of split-K dense matmul (fp32): for layers whose output M·N gives too few workgroups to fill the
 * GPU while K is long (the det model's `600×24×864` and `1×96×384` convolutions), K is cut into S ranges of `kc`
 * (a multiple of BK): workgroup z of the grid `(ceil(N/BN), ceil(M/BM), S)` computes `A[:, z·kc ..] · B[z·kc .., :]`
 * into slab z of a partial-sum buffer `[S, M, N]`, and a second pass adds the S slabs into C — no float atomics
 * (WGSL has none) and a deterministic order. The kernel is the vec4 register-tiled, double-buffered kernel of
 * dense-matmul.wgsl.ts with a K range and a slab offset; the reduction is shared with the f16 family (dense-f16).
 *
 * Baked into the text: the computation tile and the global access width. In the `params` uniform: `M, N, K, kc`.
 */
import { aBlockTranspose, bSlice, segmentLoader } from './dense-matmul.wgsl.ts';
import { f32SlabStore } from './dense-f16.wgsl.ts';
import {
  isVec4Tile,
  tileName,
  validateComputeTile,
  vec4AccDecls,
  vec4AccName,
  vec4MainLoop,
  vec4Stores,
  vec4ThreadIds,
  vec4TileDecls,
  type ComputeTile,
} from './common.wgsl.ts';

/** Invocations per workgroup of the split-K reduction. */
export const SPLITK_REDUCE_WORKGROUP = 256;

/**
 * WGSL of the split-K partial kernel (fp32). Bindings (group 0): 0 `A` [M,K] f32 read, 1 `B` [K,N] f32 read,
 * 2 `C` the partial sums [S,M,N] f32 read_write (every element of the S slabs written), 3 `P` uniform
 * `{m, n, k, kc}`. Workgroup size `(BN/TN, BM/TM, 1)`; grid `(ceil(N/BN), ceil(M/BM), S)`. With `vecGlobal` (K and N
 * multiples of 4) A, B and C are accessed as vec4.
 * @throws RangeError when the tile is invalid or not on the vec4 path (TM, TN, BK multiples of 4).
 */
export function denseSplitKWgsl(params: { tile: ComputeTile; vecGlobal?: boolean }): string {
  const t = params.tile;
  validateComputeTile(t);
  if (!isVec4Tile(t)) throw new RangeError(`dense-splitk tile ${tileName(t)}: TM, TN and BK must be multiples of 4`);
  const vec = params.vecGlobal ?? false;
  const arr = vec ? 'array<vec4<f32>>' : 'array<f32>';
  return splitKSimtWgsl(t, vec, {
    head: `// PIT Studio: split-K dense matmul, partial sums P[z] = A[:, z*kc ..] * B[z*kc .., :], fp32 row-major; computation tile ${tileName(t)}, vec4 register tiling, ${vec ? 'vec4' : 'scalar'} global access.`,
    operand: arr,
    c: arr,
    loader: segmentLoader,
  });
}

/**
 * WGSL of the vec4 register-tiled kernel over one K range per grid z, its result in slab z of C (`f32SlabStore`):
 * the fp32 split-K partial kernel and the f16 SIMT dense kernel (dense-f16.wgsl.ts, one range without split-K) differ
 * only in what `o` gives — the text before the `Params` struct (directives, the header comment), the operands' and
 * C's array types, the global loader, and an optional comment line (with its newline) before the K range.
 */
export function splitKSimtWgsl(
  t: ComputeTile,
  vec: boolean,
  o: { head: string; operand: string; c: string; loader: (name: string, buffer: string, vec: boolean) => string; kComment?: string },
): string {
  const [aDecls, aLoad, aStore] = aBlockTranspose(
    t,
    (row, k) => `loadA(${row}, ${k}, P.m, kEnd, P.k)`,
    (tileRow) => `row0 + ${tileRow}`,
  );
  const [bDecls, bLoad, bStore] = bSlice(t, (r, c) => `loadB(kBeg + ${r}, ${c}, kEnd, P.n, P.n)`);
  return `${o.head}
struct Params { m: u32, n: u32, k: u32, kc: u32 }

@group(0) @binding(0) var<storage, read> A: ${o.operand};
@group(0) @binding(1) var<storage, read> B: ${o.operand};
@group(0) @binding(2) var<storage, read_write> C: ${o.c};
@group(0) @binding(3) var<uniform> P: Params;

${vec4TileDecls(t, true)}

${o.loader('loadA', 'A', vec)}

${o.loader('loadB', 'B', vec)}

var<private> cOff: u32;

${f32SlabStore(vec)}

@compute @workgroup_size(${t.bn / t.tn}, ${t.bm / t.tm}, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
${vec4ThreadIds(t)}
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
${o.kComment ?? ''}  let kBeg = wid.z * P.kc;
  let kEnd = min(kBeg + P.kc, P.k);
  cOff = wid.z * P.m * P.n;
${vec4AccDecls(t)}
${aDecls}
${bDecls}
${vec4MainLoop(t, '(kEnd - kBeg + BK - 1u) / BK', (s0) => `${aLoad(`(kBeg + ${s0})`)}\n${bLoad(s0)}`, `${aStore}\n${bStore}`)}
${vec4Stores(
  t,
  (_i, tileRow) => [`{ let row = row0 + ${tileRow}; if (row < P.m) {`, `} }`],
  (i, h, tileCol) => `storeC(row, col0 + ${tileCol}, ${vec4AccName(i, h)});`,
)}
}
`;
}

/**
 * WGSL of the split-K reduction `C[i] = Σ_z Pt[z·MN + i]` (f32), grid-stride. Bindings: 0 `Pt` [S, M·N] read,
 * 1 `C` [M·N] read_write, 2 `P` uniform `{words, s, stride, _}` where `words` = M·N (or M·N/4 with `vec`), `stride`
 * the slab length in the same units. Workgroup size 256.
 */
export function splitKReduceWgsl(vec: boolean): string {
  const ty = vec ? 'vec4<f32>' : 'f32';
  return `// PIT Studio: split-K reduction C = sum over z of the partial sums Pt[z], f32${vec ? ' (vec4)' : ''}.
struct Params { words: u32, s: u32, stride: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> Pt: array<${ty}>;
@group(0) @binding(1) var<storage, read_write> C: array<${ty}>;
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size(${SPLITK_REDUCE_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let step = nwg.x * ${SPLITK_REDUCE_WORKGROUP}u;
  for (var i = gid.x; i < P.words; i += step) {
    var acc = ${ty}();
    for (var z = 0u; z < P.s; z++) { acc += Pt[z * P.stride + i]; }
    C[i] = acc;
  }
}
`;
}
