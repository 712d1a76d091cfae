/**
 * WGSL template of the f16 dense matmul `C[M,N] = A[M,K] · B[K,N]`: A and B f16 (row-major), products and sums in
 * f32, C f32 (the accumulators are stored without rounding to f16: the output is what the f32 reference of the
 * f16-rounded operands gives, and pit-m's CAS accumulation needs 32-bit words). Two paths, chosen by the tile:
 *
 * - **subgroup matrices** (tensor cores; tiles with `mma`, adapters listing f16→f32 `subgroupMatrixConfigs`): a
 *   workgroup of `NSG` subgroups stages a `BM x BK` slice of A and a `BK x BN` slice of B in workgroup memory as f16,
 *   double-buffered (slice t+1 is fetched into registers while slice t is multiplied; one barrier per slice), and
 *   each subgroup multiplies its `TM x TN` block of C as `TM/m x TN/n` result fragments with
 *   `subgroupMatrixMultiplyAccumulate`. Rows of the staged tiles are padded by 8 halves (16 bytes) so fragment loads
 *   spread over the banks and stay 16-byte aligned. Fragment offsets depend on the subgroup (`subgroup_id`), which
 *   WGSL's uniformity analysis cannot prove subgroup-uniform: the module turns the diagnostic
 *   `chromium.subgroup_matrix_uniformity` off, as llama.cpp's and ONNX Runtime's WebGPU kernels do (every invocation
 *   of a subgroup computes the same offset, which is what the hardware needs). Interior tiles store their fragments
 *   straight to C; edge tiles go through a per-subgroup f32 scratch in workgroup memory with bounds checks.
 * - **SIMT** (every other adapter, e.g. lavapipe in CI): the vec4 register-tiled, double-buffered fp32 kernel of
 *   dense-matmul.wgsl.ts with loaders that read f16 and widen to f32 (staged as f32).
 *
 * Split-K (`tile.splitK` = S > 1): workgroup z computes the K range `[z·kc, min((z+1)·kc, K))` into slab z of a
 * partial buffer `[S, M, N]`, and `splitKReduceWgsl` (dense-splitk.wgsl.ts) adds the slabs into C.
 *
 * Baked into the text: the tile, the path, 16-byte global access, direct stores. In the `params` uniform: `M, N, K,
 * kc` (kc = K without split-K).
 */
import { splitKSimtWgsl } from './dense-splitk.wgsl.ts';
import {
  doubleBuffered,
  isVec4Tile,
  stagedMainLoop,
  tileName,
  validateComputeTile,
  type ComputeTile,
} from './common.wgsl.ts';

/** Halves of padding at the end of each staged row (16 bytes: keeps fragment rows 16-byte aligned). */
export const MMA_PAD = 8;

/** The subgroup-matrix parameters of a tile (`mma` must be set). */
export interface MmaShape {
  /** Subgroups per workgroup. */
  nsg: number;
  /** Invocations per workgroup (`nsg * sg`). */
  threads: number;
  /** Fragments per subgroup along m and n. */
  fm: number;
  fn: number;
  /** Subgroups along n. */
  sgn: number;
}

/** Most result fragments per subgroup: 16 f32 fragments of 16x16 hold 128 registers per invocation already. */
export const MMA_MAX_FRAGMENTS = 16;

/**
 * Checks a subgroup-matrix tile: positive sizes, `BM % TM == 0`, `BN % TN == 0`, `TM % m == 0`, `TN % n == 0`,
 * `BK % k == 0` and `BK % 8 == 0` (staging moves 8 halves at a time), at most 1024 invocations and
 * MMA_MAX_FRAGMENTS fragments per subgroup, split-K ≥ 1.
 * @throws RangeError naming the offending field.
 */
export function validateMmaTile(t: ComputeTile): MmaShape {
  const mma = t.mma;
  if (!mma) throw new RangeError(`computation tile ${tileName(t)} has no subgroup-matrix shape`);
  for (const key of ['bm', 'bn', 'bk', 'tm', 'tn'] as const) {
    const v = t[key];
    if (!Number.isInteger(v) || v < 1 || v > 4096) throw new RangeError(`computation tile: ${key} must be an integer in [1, 4096], got ${v}`);
  }
  for (const key of ['m', 'n', 'k', 'sg'] as const) {
    const v = mma[key];
    if (!Number.isInteger(v) || v < 1 || v > 128) throw new RangeError(`subgroup matrix: ${key} must be an integer in [1, 128], got ${v}`);
  }
  const name = tileName(t);
  if (t.bm % t.tm || t.bn % t.tn) throw new RangeError(`computation tile ${name}: BM and BN must be multiples of the subgroup tile TM x TN`);
  if (t.tm % mma.m || t.tn % mma.n) throw new RangeError(`computation tile ${name}: TM x TN must be whole ${mma.m}x${mma.n} fragments`);
  if (t.bk % mma.k || t.bk % 8) throw new RangeError(`computation tile ${name}: BK must be a multiple of ${mma.k} and of 8`);
  const nsg = (t.bm / t.tm) * (t.bn / t.tn);
  const threads = nsg * mma.sg;
  if (threads > 1024) throw new RangeError(`computation tile ${name}: ${threads} invocations per workgroup (> 1024)`);
  const fm = t.tm / mma.m;
  const fn = t.tn / mma.n;
  if (fm * fn > MMA_MAX_FRAGMENTS) throw new RangeError(`computation tile ${name}: ${fm * fn} result fragments per subgroup (> ${MMA_MAX_FRAGMENTS})`);
  if (t.splitK !== undefined && (!Number.isInteger(t.splitK) || t.splitK < 1)) throw new RangeError(`computation tile ${name}: splitK must be a positive integer`);
  return { nsg, threads, fm, fn, sgn: t.bn / t.tn };
}

/** Invocations per workgroup of an f16 tile on either path. */
export function f16Threads(t: ComputeTile): number {
  return t.mma ? validateMmaTile(t).threads : (t.bm / t.tm) * (t.bn / t.tn);
}

/** Checks an f16 tile on either path (SIMT tiles must take the vec4 path). @throws RangeError. */
export function validateF16Tile(t: ComputeTile): void {
  if (t.mma) {
    validateMmaTile(t);
    return;
  }
  validateComputeTile(t);
  if (!isVec4Tile(t)) throw new RangeError(`f16 SIMT tile ${tileName(t)}: TM, TN and BK must be multiples of 4 (vec4 path)`);
  if (t.splitK !== undefined && (!Number.isInteger(t.splitK) || t.splitK < 1)) throw new RangeError(`computation tile ${tileName(t)}: splitK must be a positive integer`);
}

/** The directives of an f16 module; with `mma`, subgroups, subgroup matrices and the uniformity diagnostic off. */
export function f16Directives(mma: boolean): string {
  if (!mma) return 'enable f16;';
  return [
    '// Fragment offsets derive from subgroup_id: subgroup-uniform, which the uniformity analysis cannot prove.',
    'diagnostic(off, chromium.subgroup_matrix_uniformity);',
    'enable f16;',
    'enable subgroups;',
    'enable chromium_experimental_subgroup_matrix;',
  ].join('\n');
}

/**
 * WGSL `name(r, c, rLim, cLim, ld) -> vec4<f32>`: `X[r, c..c+3]` of a row-major f16 matrix widened to f32, elements
 * with `r >= rLim` or column `>= cLim` read as 0. With `vec`, X is `array<vec4<f16>>` and the caller guarantees `ld`,
 * `c` and `cLim` are multiples of 4; otherwise `array<f16>`.
 */
export function f16SegmentLoader(name: string, buffer: string, vec: boolean): string {
  if (vec) {
    return `fn ${name}(r: u32, c: u32, rLim: u32, cLim: u32, ld: u32) -> vec4<f32> {
  if (r < rLim && c < cLim) { return vec4<f32>(${buffer}[(r * ld + c) / 4u]); }
  return vec4<f32>();
}`;
  }
  return `fn ${name}(r: u32, c: u32, rLim: u32, cLim: u32, ld: u32) -> vec4<f32> {
  var v = vec4<f32>();
  if (r < rLim) {
    let b = r * ld + c;
    if (c < cLim) { v.x = f32(${buffer}[b]); }
    if (c + 1u < cLim) { v.y = f32(${buffer}[b + 1u]); }
    if (c + 2u < cLim) { v.z = f32(${buffer}[b + 2u]); }
    if (c + 3u < cLim) { v.w = f32(${buffer}[b + 3u]); }
  }
  return v;
}`;
}

/**
 * WGSL `name(r, c, rLim, cLim, ld) -> vec4<u32>`: 8 halves `X[r, c..c+8)` of a row-major f16 matrix, packed two per
 * word, zero outside `[0, rLim) x [0, cLim)`. With `vec`, X is `array<vec4<u32>>` (16-byte loads; the caller
 * guarantees `ld`, `c`, `cLim` are multiples of 8); otherwise `array<f16>` read element by element.
 */
export function f16Loader8(name: string, buffer: string, vec: boolean): string {
  if (vec) {
    return `fn ${name}(r: u32, c: u32, rLim: u32, cLim: u32, ld: u32) -> vec4<u32> {
  if (r < rLim && c < cLim) { return ${buffer}[(r * ld + c) / 8u]; }
  return vec4<u32>();
}`;
  }
  const h = (q: number) => `${name}_1(b + ${q}u, c + ${q}u < cLim)`;
  const w = (q: number) => `bitcast<u32>(vec2<f16>(${h(2 * q)}, ${h(2 * q + 1)}))`;
  return `fn ${name}_1(i: u32, ok: bool) -> f16 {
  if (ok) { return ${buffer}[i]; }
  return 0.0h;
}
fn ${name}(r: u32, c: u32, rLim: u32, cLim: u32, ld: u32) -> vec4<u32> {
  if (r >= rLim) { return vec4<u32>(); }
  let b = r * ld + c;
  return vec4<u32>(${w(0)}, ${w(1)}, ${w(2)}, ${w(3)});
}`;
}

/** WGSL `name(e, w)`: stores the 8 halves packed in `w` into `tile[e .. e+8)` (an `array<f16>` in workgroup memory). */
export function f16Store8(name: string, tile: string): string {
  const lines = ['x', 'y', 'z', 'w'].map((c, q) => `  { let h = bitcast<vec2<f16>>(w.${c}); ${tile}[e + ${2 * q}u] = h.x; ${tile}[e + ${2 * q + 1}u] = h.y; }`);
  return `fn ${name}(e: u32, w: vec4<u32>) {\n${lines.join('\n')}\n}`;
}

/**
 * WGSL `name(e, w)`: stores the 8 halves packed in `w` down a column of `tile` (an `array<f16>` in workgroup memory
 * with row stride `stride`): `tile[e + q·stride] = half q`. pit-k-f16 uses it to stage gathered AT rows (8 consecutive
 * m's of one k) m-major, so its left fragments load row-major as dense-f16's do.
 */
export function f16Store8Column(name: string, tile: string, stride: string): string {
  const lines = ['x', 'y', 'z', 'w'].map(
    (c, q) => `  { let h = bitcast<vec2<f16>>(w.${c}); ${tile}[e + ${2 * q}u * ${stride}] = h.x; ${tile}[e + ${2 * q + 1}u * ${stride}] = h.y; }`,
  );
  return `fn ${name}(e: u32, w: vec4<u32>) {\n${lines.join('\n')}\n}`;
}

/**
 * Strided register staging: `count` chunks of 8 halves over `threads` invocations; `body(j)` runs with `e` bound
 * (guarded where the last round is partial). Returns the statements, indented.
 */
export function chunkSlots(count: number, threads: number, body: (j: number) => string, indent = '    '): string {
  const rounds = Math.ceil(count / threads);
  const out: string[] = [];
  for (let j = 0; j < rounds; j++) {
    const guard = (j + 1) * threads > count;
    out.push(`{ let e = li + ${j * threads}u;${guard ? ` if (e < ${count}u) {` : ''}`);
    out.push(body(j));
    out.push(guard ? '} }' : '}');
  }
  return out.map((l) => indent + l).join('\n');
}

/** Staging registers `${prefix}${j}` (vec4<u32>, 8 halves each) for `count` chunks over `threads` invocations. */
export function chunkRegs(prefix: string, count: number, threads: number, indent = '  '): string {
  const rounds = Math.ceil(count / threads);
  return indent + Array.from({ length: rounds }, (_, j) => `var ${prefix}${j} = vec4<u32>();`).join(' ');
}

/** The result fragment (i, j) of a subgroup. */
export function mmaAccName(i: number, j: number): string {
  return `acc_${i}_${j}`;
}

/** WGSL constants of a subgroup-matrix tile and the staged tiles' declarations (`As`, `Bs`, scratch `Cs`). */
export function mmaDecls(t: ComputeTile, layout: { aRows: number; aCols: number; bRows: number; bCols: number }): string {
  const s = validateMmaTile(t);
  const mma = t.mma!;
  const copies = t.doubleBuffer === false ? 1 : 2;
  const ast = layout.aCols + MMA_PAD;
  const bst = layout.bCols + MMA_PAD;
  return [
    `const BM = ${t.bm}u;`,
    `const BN = ${t.bn}u;`,
    `const BK = ${t.bk}u;`,
    `const TM = ${t.tm}u; // subgroup tile rows`,
    `const TN = ${t.tn}u; // subgroup tile columns`,
    `const MM = ${mma.m}u; // fragment rows`,
    `const MN = ${mma.n}u; // fragment columns`,
    `const MK = ${mma.k}u; // fragment depth`,
    `const SG = ${mma.sg}u; // invocations per subgroup`,
    `const NSG = ${s.nsg}u; // subgroups per workgroup`,
    `const NT = ${s.threads}u;`,
    `const SGN = ${s.sgn}u; // subgroups along n`,
    `const AST = ${ast}u; // row stride of the staged A tile (halves)`,
    `const BST = ${bst}u; // row stride of the staged B tile (halves)`,
    `const ASZ = ${layout.aRows * ast}u;`,
    `const BSZ = ${layout.bRows * bst}u;`,
    '',
    `var<workgroup> As: array<f16, ${copies * layout.aRows * ast}>;`,
    `var<workgroup> Bs: array<f16, ${copies * layout.bRows * bst}>;`,
    `var<workgroup> Cs: array<f32, ${s.nsg * mma.m * mma.n}>; // per-subgroup scratch of one result fragment`,
  ].join('\n');
}

/** Workgroup memory of an f16 subgroup-matrix kernel, bytes (both copies when double-buffered, plus the scratch). */
export function mmaWorkgroupBytes(t: ComputeTile, layout: { aRows: number; aCols: number; bRows: number; bCols: number }): number {
  const s = validateMmaTile(t);
  const copies = t.doubleBuffer === false ? 1 : 2;
  return 2 * copies * (layout.aRows * (layout.aCols + MMA_PAD) + layout.bRows * (layout.bCols + MMA_PAD)) + 4 * s.nsg * t.mma!.m * t.mma!.n;
}

/**
 * WGSL (inside `main`) declaring the zeroed result fragments of a subgroup. The zero value is explicit: Dawn's WGSL
 * compiler (webgpu 0.6.2) does not re-zero a `var x: T;` without initializer each time a loop body runs it (measured
 * on lavapipe: a loop-local `var b: f32; b += 1.0;` over 3 iterations sums to 6, not 3), which made pit-m's
 * grid-stride row tiles add the previous tile's results.
 */
export function mmaAccDecls(t: ComputeTile, indent = '  '): string {
  const { fm, fn } = validateMmaTile(t);
  const lines: string[] = [];
  for (let i = 0; i < fm; i++) {
    lines.push(indent + Array.from({ length: fn }, (_, j) => `var ${mmaAccName(i, j)} = subgroup_matrix_result<f32, MN, MM>();`).join(' '));
  }
  return lines.join('\n');
}

/**
 * WGSL of the fragment products over one staged BK slice at copy offsets `aOff`, `bOff`: per k-step, TM/m left
 * fragments and TN/n right fragments, then every product accumulated. `aColMajor`: As is k-major (`As[k][m]`, pit-k)
 * rather than m-major (`As[m][k]`). Expects `wm0`, `wn0` (the subgroup's block) in scope.
 */
export function mmaSlice(t: ComputeTile, aColMajor: boolean, indent = '    '): string {
  const { fm, fn } = validateMmaTile(t);
  const mma = t.mma!;
  const lines: string[] = [];
  for (let kk = 0; kk < t.bk / mma.k; kk++) {
    lines.push(`{ // k-step ${kk}`);
    for (let i = 0; i < fm; i++) {
      const off = aColMajor ? `aOff + ${kk * mma.k}u * AST + wm0 + ${i * mma.m}u` : `aOff + (wm0 + ${i * mma.m}u) * AST + ${kk * mma.k}u`;
      lines.push(`  let a${i} = subgroupMatrixLoad<subgroup_matrix_left<f16, MK, MM>>(&As, ${off}, ${aColMajor}, AST);`);
    }
    for (let j = 0; j < fn; j++) {
      lines.push(`  let b${j} = subgroupMatrixLoad<subgroup_matrix_right<f16, MN, MK>>(&Bs, bOff + ${kk * mma.k}u * BST + wn0 + ${j * mma.n}u, false, BST);`);
    }
    for (let i = 0; i < fm; i++) {
      for (let j = 0; j < fn; j++) lines.push(`  ${mmaAccName(i, j)} = subgroupMatrixMultiplyAccumulate(a${i}, b${j}, ${mmaAccName(i, j)});`);
    }
    lines.push('}');
  }
  return lines.map((l) => indent + l).join('\n');
}

/**
 * WGSL of the k-loop skeleton of the subgroup-matrix path (as `vec4MainLoop`): `loadRegs(s0)` fetches slice `s0`
 * into the staging registers, `storeRegs` writes them into the copy at `aOff`/`bOff`; `nTiles` is a
 * workgroup-uniform expression. Double-buffered unless `doubleBuffer === false`.
 */
export function mmaMainLoop(t: ComputeTile, nTiles: string, loadRegs: (s0: string) => string, storeRegs: string, aColMajor: boolean, indent = '  '): string {
  return stagedMainLoop(doubleBuffered(t), nTiles, loadRegs, storeRegs, mmaSlice(t, aColMajor, '    '), indent);
}

/**
 * WGSL storing every result fragment through the per-subgroup scratch `Cs`: fragment (i, j) is stored there, then
 * each invocation of the subgroup handles elements `lane, lane + SG, …` with `emit(tileRow, tileCol, v)`, where
 * `tileRow`/`tileCol` are the element's row and column in the workgroup's tile and `v` its f32 value. Two
 * workgroup barriers per fragment (the loop is unrolled, so every invocation meets them): must run in
 * workgroup-uniform control flow.
 */
export function mmaScratchStores(t: ComputeTile, emit: (tileRow: string, tileCol: string, v: string) => string, indent = '    '): string {
  const { fm, fn } = validateMmaTile(t);
  const mma = t.mma!;
  const lines: string[] = ['let sbase = sg * MM * MN;'];
  for (let i = 0; i < fm; i++) {
    for (let j = 0; j < fn; j++) {
      lines.push(`subgroupMatrixStore(&Cs, sbase, ${mmaAccName(i, j)}, false, MN);`);
      lines.push('workgroupBarrier();');
      lines.push(`for (var e = lane; e < MM * MN; e += SG) {`);
      lines.push(`  ${emit(`wm0 + ${i * mma.m}u + e / MN`, `wn0 + ${j * mma.n}u + e % MN`, 'Cs[sbase + e]')}`);
      lines.push('}');
      lines.push('workgroupBarrier();');
    }
  }
  return lines.map((l) => indent + l).join('\n');
}

/** WGSL storing every result fragment straight to `C` (f32, row stride `P.n`) at tile origin `(row0, col0)` plus `cOff`. */
export function mmaDirectStores(t: ComputeTile, indent = '    '): string {
  const { fm, fn } = validateMmaTile(t);
  const mma = t.mma!;
  const lines: string[] = [];
  for (let i = 0; i < fm; i++) {
    for (let j = 0; j < fn; j++) {
      lines.push(`subgroupMatrixStore(&C, cOff + (row0 + wm0 + ${i * mma.m}u) * P.n + col0 + wn0 + ${j * mma.n}u, ${mmaAccName(i, j)}, false, P.n);`);
    }
  }
  return lines.map((l) => indent + l).join('\n');
}

/** WGSL (inside `main`) binding `sg`, `lane`, `wm0`, `wn0`: the subgroup, its invocation and its block of the tile. */
export function mmaSubgroupIds(t: ComputeTile, indent = '  '): string {
  const { nsg } = validateMmaTile(t);
  return [
    // One subgroup: constant, so the offsets are workgroup-uniform even without the diagnostic.
    nsg === 1 ? 'let sg = 0u;' : 'let sg = sgId;',
    'let lane = li % SG;',
    'let wm0 = (sg / SGN) * TM;',
    'let wn0 = (sg % SGN) * TN;',
  ]
    .map((l) => indent + l)
    .join('\n');
}

/**
 * WGSL `storeC(r, c, v)`: writes `C[cOff + r·N + c .. +3] = v` (f32, row-major, N columns; `cOff` a private
 * variable, the split-K slab), skipping columns >= N. With `vec`, C is `array<vec4<f32>>` (N and cOff multiples of 4).
 */
export function f32SlabStore(vec: boolean): string {
  if (vec) {
    return `fn storeC(r: u32, c: u32, v: vec4<f32>) {
  if (c < P.n) { C[(cOff + r * P.n + c) / 4u] = v; }
}`;
  }
  return `fn storeC(r: u32, c: u32, v: vec4<f32>) {
  let b = cOff + r * P.n + c;
  if (c < P.n) { C[b] = v.x; }
  if (c + 1u < P.n) { C[b + 1u] = v.y; }
  if (c + 2u < P.n) { C[b + 2u] = v.z; }
  if (c + 3u < P.n) { C[b + 3u] = v.w; }
}`;
}

/** Parameters of the f16 dense template. */
export interface DenseF16WgslParams {
  tile: ComputeTile;
  /**
   * 16-byte global access: A, B as `array<vec4<u32>>` (subgroup-matrix path; needs K, N multiples of 8) or
   * `array<vec4<f16>>` (SIMT; K, N multiples of 4), and, on the subgroup-matrix path, fragments stored straight to C
   * in interior tiles. The program builder sets it from the shape. Default false.
   */
  vecGlobal?: boolean;
}

/**
 * WGSL of the f16 dense matmul. Bindings (group 0): 0 `A` [M,K] f16 read, 1 `B` [K,N] f16 read, 2 `C` [M,N] f32 (or
 * the partial sums [S,M,N] with split-K) read_write, 3 `P` uniform `{m, n, k, kc}`. Workgroup size: `(NSG·SG, 1, 1)`
 * on the subgroup-matrix path, `(BN/TN, BM/TM, 1)` on the SIMT path; grid `(ceil(N/BN), ceil(M/BM), S)`.
 * @throws RangeError when the tile is invalid for its path.
 */
export function denseF16Wgsl(params: DenseF16WgslParams): string {
  const t = params.tile;
  validateF16Tile(t);
  return t.mma ? denseMmaWgsl(t, params.vecGlobal ?? false) : denseSimtWgsl(t, params.vecGlobal ?? false);
}

function denseSimtWgsl(t: ComputeTile, vec: boolean): string {
  return splitKSimtWgsl(t, vec, {
    head: `${f16Directives(false)}
// PIT Studio: dense matmul C[M,N] = A[M,K] * B[K,N], A and B f16, f32 accumulation and C; computation tile ${tileName(t)}, SIMT vec4 register tiling, ${vec ? 'vec4' : 'scalar'} global access.`,
    operand: vec ? 'array<vec4<f16>>' : 'array<f16>',
    c: vec ? 'array<vec4<f32>>' : 'array<f32>',
    loader: f16SegmentLoader,
    kComment: "  // Split-K: this workgroup's K range and slab of the partial sums (one range, slab 0, without split-K).\n",
  });
}

function denseMmaWgsl(t: ComputeTile, vec: boolean): string {
  const s = validateMmaTile(t);
  const aChunks = (t.bm * t.bk) / 8;
  const bChunks = (t.bk * t.bn) / 8;
  const ca = t.bk / 8;
  const cb = t.bn / 8;
  const loadRegs = (s0: string): string =>
    [
      chunkSlots(aChunks, s.threads, (j) => `  ra${j} = loadA8(row0 + e / ${ca}u, kBeg + ${s0} + (e % ${ca}u) * 8u, P.m, kEnd, P.k);`),
      chunkSlots(bChunks, s.threads, (j) => `  rb${j} = loadB8(kBeg + ${s0} + e / ${cb}u, col0 + (e % ${cb}u) * 8u, kEnd, P.n, P.n);`),
    ].join('\n');
  const storeRegs = [
    chunkSlots(aChunks, s.threads, (j) => `  storeA8(aOff + (e / ${ca}u) * AST + (e % ${ca}u) * 8u, ra${j});`),
    chunkSlots(bChunks, s.threads, (j) => `  storeB8(bOff + (e / ${cb}u) * BST + (e % ${cb}u) * 8u, rb${j});`),
  ].join('\n');
  const arr = vec ? 'array<vec4<u32>>' : 'array<f16>';
  return `${f16Directives(true)}
// PIT Studio: dense matmul C[M,N] = A[M,K] * B[K,N], A and B f16, f32 accumulation and C; computation tile ${tileName(t)}: ${s.nsg} subgroup(s) of ${t.mma!.sg}, each ${t.tm}x${t.tn} of C in ${t.mma!.m}x${t.mma!.n}x${t.mma!.k} subgroup-matrix fragments; ${vec ? '16-byte' : 'scalar'} global access.
struct Params { m: u32, n: u32, k: u32, kc: u32 }

@group(0) @binding(0) var<storage, read> A: ${arr};
@group(0) @binding(1) var<storage, read> B: ${arr};
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;

${mmaDecls(t, { aRows: t.bm, aCols: t.bk, bRows: t.bk, bCols: t.bn })}
const DIRECT = ${vec}; // interior tiles store fragments straight to C (16-byte aligned rows)

${f16Loader8('loadA8', 'A', vec)}

${f16Loader8('loadB8', 'B', vec)}

${f16Store8('storeA8', 'As')}

${f16Store8('storeB8', 'Bs')}

@compute @workgroup_size(${s.threads}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32${s.nsg > 1 ? ', @builtin(subgroup_id) sgId: u32' : ''}) {
${mmaSubgroupIds(t)}
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  // Split-K: this workgroup's K range and slab of the partial sums (one range, slab 0, without split-K).
  let kBeg = wid.z * P.kc;
  let kEnd = min(kBeg + P.kc, P.k);
  let cOff = wid.z * P.m * P.n;
${mmaAccDecls(t)}
${chunkRegs('ra', aChunks, s.threads)}
${chunkRegs('rb', bChunks, s.threads)}
${mmaMainLoop(t, '(kEnd - kBeg + BK - 1u) / BK', loadRegs, storeRegs, false)}
  // Workgroup-uniform: depends on the workgroup and the shape only (barriers in the scratch path).
  let interior = row0 + BM <= P.m && col0 + BN <= P.n;
  if (DIRECT && interior) {
${mmaDirectStores(t)}
  } else {
${mmaScratchStores(t, (r, c, v) => `let row = row0 + ${r}; let col = col0 + ${c}; if (row < P.m && col < P.n) { C[cOff + row * P.n + col] = ${v}; }`)}
  }
}
`;
}
