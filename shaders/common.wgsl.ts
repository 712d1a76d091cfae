/**
 * Pieces shared by the matmul WGSL templates (dense, pit-k, pit-m): the computation tile's parameters and their
 * validation, the register-tiled inner product over one BK slice of workgroup memory, and a grid-stride zero-fill
 * kernel.
 *
 * Thread layout of every matmul template: a workgroup of `TX x TY` threads with `TX = BN/TN`, `TY = BM/TM` computes a
 * `BM x BN` output tile; thread (tx, ty) owns rows `ty + i*TY` (i < TM) and columns `tx + j*TX` (j < TN) of the
 * tile. The strided ownership (rather than a contiguous TM x TN block) makes neighbouring threads read neighbouring
 * workgroup-memory words of the B tile and write neighbouring words of C, so stores coalesce and reads are free of
 * bank conflicts. The accumulators are scalars emitted one per (i, j) so they stay in registers on every compiler.
 */

/** A computation tile: the dense `BM x BN x BK` block one workgroup computes, with `TM x TN` outputs per thread. */
export interface ComputeTile {
  /** Rows of C per workgroup (the M extent of the computation tile). */
  bm: number;
  /** Columns of C per workgroup. */
  bn: number;
  /** Reduction slice staged in workgroup memory per step. */
  bk: number;
  /** Rows per thread (register tile). */
  tm: number;
  /** Columns per thread (register tile). */
  tn: number;
  /**
   * Double buffering of the workgroup tiles (two copies of As/Bs: the next slice is fetched from global memory into
   * registers while the current one is multiplied, one barrier per slice). Only the vec4 path uses it (see
   * `isVec4Tile`); default true there. Ignored by the scalar path.
   */
  doubleBuffer?: boolean;
  /**
   * Subgroup-matrix (tensor-core) tiling, f16 families only (shaders/dense-f16.wgsl.ts): the tile is computed by
   * subgroups of `sg` invocations, each owning a `TM x TN` block of C made of `m x n` result fragments, with `k` the
   * fragment's reduction depth (one `GPUSubgroupMatrixConfig`). `tileName` appends `/mma{m}x{n}x{k}s{sg}`.
   */
  mma?: { m: number; n: number; k: number; sg: number };
  /**
   * Split-K (dense-splitk, dense-f16): K is cut into `splitK` ranges computed by separate workgroups (grid z) into
   * partial sums, which a second pass adds up; for layers whose M·N gives too few workgroups. `tileName` appends
   * `/k{splitK}`.
   */
  splitK?: number;
}

/** Invocations per workgroup of a matmul template: `(BM/TM) * (BN/TN)`. */
export function threadsPerWorkgroup(t: ComputeTile): number {
  return (t.bm / t.tm) * (t.bn / t.tn);
}

/**
 * Checks that a computation tile can be generated: positive integers, `BM % TM == 0`, `BN % TN == 0`, and at most
 * 1024 invocations (the largest `maxComputeInvocationsPerWorkgroup` WebGPU allows; the device's own limit is checked
 * when the variant runs).
 * @throws RangeError naming the offending field.
 */
export function validateComputeTile(t: ComputeTile): void {
  for (const key of ['bm', 'bn', 'bk', 'tm', 'tn'] as const) {
    const v = t[key];
    if (!Number.isInteger(v) || v < 1 || v > 4096) throw new RangeError(`computation tile: ${key} must be an integer in [1, 4096], got ${v}`);
  }
  if (t.bm % t.tm) throw new RangeError(`computation tile: BM (${t.bm}) must be a multiple of TM (${t.tm})`);
  if (t.bn % t.tn) throw new RangeError(`computation tile: BN (${t.bn}) must be a multiple of TN (${t.tn})`);
  const threads = threadsPerWorkgroup(t);
  if (threads > 1024) throw new RangeError(`computation tile ${tileName(t)}: ${threads} invocations per workgroup (> 1024)`);
  if (t.tm * t.tn > 256) throw new RangeError(`computation tile ${tileName(t)}: TM*TN = ${t.tm * t.tn} registers per thread (> 256)`);
}

/**
 * `BMxBNxBK/TMxTN`, the tile's name in labels and the tile database; `/sb` is appended when a vec4-path tile is
 * single-buffered (`doubleBuffer: false`), the non-default case.
 */
export function tileName(t: ComputeTile): string {
  const sb = (isVec4Tile(t) || t.mma) && t.doubleBuffer === false ? '/sb' : '';
  const mma = t.mma ? `/mma${t.mma.m}x${t.mma.n}x${t.mma.k}s${t.mma.sg}` : '';
  const split = t.splitK && t.splitK > 1 ? `/k${t.splitK}` : '';
  return `${t.bm}x${t.bn}x${t.bk}/${t.tm}x${t.tn}${sb}${mma}${split}`;
}

/**
 * Row stride (in f32 words) of the k-major A tile `As[BK][BM + pad]` in workgroup memory. Templates whose A loads
 * walk along k (dense, pit-m) write As column-wise; one word of padding spreads those writes over the banks.
 */
export function aStride(t: ComputeTile, padded: boolean): number {
  return padded ? t.bm + 1 : t.bm;
}

/** Workgroup memory of a matmul template in bytes: the A and B tiles (f32) plus `extraWords` u32 of bookkeeping. */
export function workgroupStorageBytes(t: ComputeTile, paddedA: boolean, extraWords = 0): number {
  return 4 * (t.bk * aStride(t, paddedA) + t.bk * t.bn + extraWords);
}

/** The `const` lines every matmul template declares for its computation tile: its sizes and thread grid. */
function tileShapeConsts(t: ComputeTile): string[] {
  return [
    `const BM = ${t.bm}u;`,
    `const BN = ${t.bn}u;`,
    `const BK = ${t.bk}u;`,
    `const TM = ${t.tm}u;`,
    `const TN = ${t.tn}u;`,
    `const TX = ${t.bn / t.tn}u; // threads along N`,
    `const TY = ${t.bm / t.tm}u; // threads along M`,
    `const NT = ${threadsPerWorkgroup(t)}u; // threads per workgroup`,
  ];
}

/** WGSL `const` declarations of a computation tile (`BM`, `BN`, `BK`, `TM`, `TN`, `TX`, `TY`, `NT`, `AS`). */
export function tileConsts(t: ComputeTile, paddedA: boolean): string {
  return [
    ...tileShapeConsts(t),
    `const AS = ${aStride(t, paddedA)}u; // row stride of the k-major A tile`,
  ].join('\n');
}

/** WGSL workgroup tiles: `As` is k-major `[BK][AS]` (A tile transposed), `Bs` is `[BK][BN]`. */
export function tileStorage(t: ComputeTile, paddedA: boolean): string {
  return [
    `var<workgroup> As: array<f32, ${t.bk * aStride(t, paddedA)}>;`,
    `var<workgroup> Bs: array<f32, ${t.bk * t.bn}>;`,
  ].join('\n');
}

/** Name of accumulator (i, j). */
export function accName(i: number, j: number): string {
  return `acc_${i}_${j}`;
}

/** WGSL declaring the TM*TN zeroed accumulators (inside `main`). */
export function accDecls(t: ComputeTile, indent = '  '): string {
  const lines: string[] = [];
  for (let i = 0; i < t.tm; i++) {
    const row: string[] = [];
    for (let j = 0; j < t.tn; j++) row.push(`var ${accName(i, j)} = 0.0;`);
    lines.push(indent + row.join(' '));
  }
  return lines.join('\n');
}

/**
 * WGSL of the inner product over one staged BK slice: for each kk, TM values of A and TN of B go to registers, then
 * TM*TN fused multiply-adds. Expects `tx`, `ty` and the tiles in scope.
 */
export function tileInnerProduct(t: ComputeTile, indent = '    '): string {
  const lines: string[] = [`for (var kk = 0u; kk < BK; kk++) {`];
  for (let i = 0; i < t.tm; i++) lines.push(`  let a${i} = As[kk * AS + ty + ${i}u * TY];`);
  for (let j = 0; j < t.tn; j++) lines.push(`  let b${j} = Bs[kk * BN + tx + ${j}u * TX];`);
  for (let i = 0; i < t.tm; i++) {
    for (let j = 0; j < t.tn; j++) lines.push(`  ${accName(i, j)} = fma(a${i}, b${j}, ${accName(i, j)});`);
  }
  lines.push('}');
  return lines.map((l) => indent + l).join('\n');
}

/**
 * WGSL that stores the accumulators: calls `emitRow(i)` to open row i's guard, `emit(i, j)` for each element.
 * `emitRow` returns `[open, close]` lines around the row (e.g. a bounds check), `emit` the statement for (i, j)
 * given its column expression `col`.
 */
export function accStores(
  t: ComputeTile,
  emitRow: (i: number) => [string, string],
  emit: (i: number, j: number, col: string) => string,
  indent = '  ',
): string {
  const lines: string[] = [];
  for (let i = 0; i < t.tm; i++) {
    const [open, close] = emitRow(i);
    lines.push(open);
    for (let j = 0; j < t.tn; j++) {
      const col = `col0 + tx + ${j}u * TX`;
      lines.push(`  ${emit(i, j, col)}`);
    }
    lines.push(close);
  }
  return lines.map((l) => indent + l).join('\n');
}

/** Invocations per workgroup of the zero-fill kernel. */
export const FILL_WORKGROUP = 256;

/**
 * WGSL of a grid-stride zero-fill of a whole `array<u32>` binding (`X`, binding 0). Used to clear detection counts
 * and the pit-m output inside the timed work: WebGPU compute passes have no clear command, and `clearBuffer` is a
 * command-encoder operation that a timestamped compute pass cannot include.
 */
export function fillZeroWgsl(): string {
  return `// PIT Studio: zero-fill of a u32/f32 buffer (grid-stride loop over arrayLength).
@group(0) @binding(0) var<storage, read_write> X: array<u32>;

@compute @workgroup_size(${FILL_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n = arrayLength(&X);
  let stride = nwg.x * ${FILL_WORKGROUP}u;
  for (var i = gid.x; i < n; i += stride) {
    X[i] = 0u;
  }
}
`;
}

// ---------------------------------------------------------------------------------------------------------------
// The vec4 register-tiled path (dense, pit-k and pit-m share it).
//
// Thread (tx, ty) of a `TX x TY` workgroup owns TM/4 groups of 4 consecutive rows, group g at tile rows
// `(ty + g*TY)*4 .. +3`, and TN/4 groups of 4 consecutive columns, group h at `(tx + h*TX)*4 .. +3`, so every
// workgroup-memory read of the inner product is one 16-byte vector and neighbouring threads read neighbouring
// vectors (the layout of the classic CUDA SGEMM kernels, e.g. the one PIT's condense kernels are built on; written
// afresh here). Workgroup tiles are k-major: `As[k][m]` and `Bs[k][n]`, as `array<vec4<f32>>`. Invocations are
// mapped to (tx, ty) so that each 32-wide subgroup covers an 8 (n) x 4 (m) block of threads: it then reads 4
// distinct A vectors and 8 distinct B vectors per k (64 + 128 bytes, one shared-memory wavefront each on NVIDIA)
// instead of 2 and 16. Double buffering keeps two copies of the tiles: slice t+1 is fetched from global memory into
// registers before slice t is multiplied, and stored into the other copy afterwards, one barrier per slice.
// ---------------------------------------------------------------------------------------------------------------

/**
 * Whether a computation tile takes the vec4 register-tiled path: TM, TN and BK multiples of 4 (then BM and BN are
 * too). Other tiles use the scalar path (one accumulator per output, no double buffering).
 */
export function isVec4Tile(t: ComputeTile): boolean {
  return t.tm % 4 === 0 && t.tn % 4 === 0 && t.bk % 4 === 0;
}

/** Whether the vec4 path double-buffers this tile (default yes). */
export function doubleBuffered(t: ComputeTile): boolean {
  return t.doubleBuffer !== false;
}

/**
 * Row stride, in vec4s, of the vec4 path's `As[k][m]` tile. Padded by one vector where A is written transposed
 * from registers (dense, pit-m: the 4x4 register transpose writes 4 k-rows at once; the pad moves neighbouring
 * k-rows 16 banks apart) unless the padded tiles (plus pit-m's row list) would exceed 32 KiB; unpadded where rows
 * of AT are copied straight (pit-k).
 */
export function vec4AStride(t: ComputeTile, padded: boolean): number {
  if (!padded) return t.bm / 4;
  // The pad only spreads stores; drop it where it would push the tiles past 32 KiB (a common workgroup limit).
  const copies = doubleBuffered(t) ? 2 : 1;
  const paddedBytes = 4 * copies * t.bk * 4 * (t.bm / 4 + 1 + t.bn / 4);
  return t.bm / 4 + (paddedBytes + 4 * (t.bm + 1) > 32768 ? 0 : 1);
}

/**
 * Workgroup memory, in bytes, of any matmul template for `t`: the A and B tiles (both copies when double-buffered
 * on the vec4 path) plus `extraWords` u32 of bookkeeping. `paddedA` as in `vec4AStride` / `aStride`.
 */
export function matmulWorkgroupBytes(t: ComputeTile, paddedA: boolean, extraWords = 0): number {
  if (!isVec4Tile(t)) return workgroupStorageBytes(t, paddedA, extraWords);
  const copies = doubleBuffered(t) ? 2 : 1;
  return 4 * (copies * t.bk * 4 * (vec4AStride(t, paddedA) + t.bn / 4) + extraWords);
}

/** Whether the subgroup-shaped thread mapping applies: TX multiple of 8, TY multiple of 4. */
function warpTiled(t: ComputeTile): boolean {
  return (t.bn / t.tn) % 8 === 0 && (t.bm / t.tm) % 4 === 0;
}

/**
 * WGSL constants and workgroup tiles of the vec4 path: `BM BN BK TM TN TX TY NT`, `AS4`/`BS4` (row strides in
 * vec4s), `ASZ`/`BSZ` (one copy, vec4s), and `As`, `Bs` (`NBUF` copies).
 */
export function vec4TileDecls(t: ComputeTile, paddedA: boolean): string {
  const copies = doubleBuffered(t) ? 2 : 1;
  const as4 = vec4AStride(t, paddedA);
  return [
    ...tileShapeConsts(t),
    `const AS4 = ${as4}u; // row stride of As[k][m], vec4s`,
    `const BS4 = ${t.bn / 4}u; // row stride of Bs[k][n], vec4s`,
    `const ASZ = ${t.bk * as4}u; // one copy of As, vec4s`,
    `const BSZ = ${(t.bk * t.bn) / 4}u; // one copy of Bs, vec4s`,
    `const NBUF = ${copies}u; // ${copies === 2 ? 'double' : 'single'} buffering`,
    '',
    `var<workgroup> As: array<vec4<f32>, ${copies * t.bk * as4}>;`,
    `var<workgroup> Bs: array<vec4<f32>, ${(copies * t.bk * t.bn) / 4}>;`,
  ].join('\n');
}

/** WGSL (inside `main`, `lid` in scope) defining `tid`, `tx`, `ty` of the vec4 path. */
export function vec4ThreadIds(t: ComputeTile, indent = '  '): string {
  const lines = ['let tid = lid.y * TX + lid.x;'];
  if (warpTiled(t)) {
    lines.push(
      '// 32 consecutive invocations (one subgroup on NVIDIA) cover 8 x 4 thread positions.',
      'let lane = tid % 32u;',
      'let warp = tid / 32u;',
      'let tx = (warp % (TX / 8u)) * 8u + lane % 8u;',
      'let ty = (warp / (TX / 8u)) * 4u + lane / 8u;',
    );
  } else {
    lines.push('let tx = lid.x;', 'let ty = lid.y;');
  }
  return lines.map((l) => indent + l).join('\n');
}

/** Name of the vec4 accumulator of thread row i (0..TM-1) and column group h (0..TN/4-1). */
export function vec4AccName(i: number, h: number): string {
  return `acc_${i}_${h}`;
}

/** WGSL declaring the TM x TN/4 zeroed vec4 accumulators. */
export function vec4AccDecls(t: ComputeTile, indent = '  '): string {
  const lines: string[] = [];
  for (let i = 0; i < t.tm; i++) {
    const row: string[] = [];
    for (let h = 0; h < t.tn / 4; h++) row.push(`var ${vec4AccName(i, h)} = vec4<f32>();`);
    lines.push(indent + row.join(' '));
  }
  return lines.join('\n');
}

/**
 * WGSL of the inner product over one staged BK slice, fully unrolled: per k, TM/4 vectors of A and TN/4 of B go to
 * registers, then TM x TN/4 vector fmas. `aOff`, `bOff` (the copy's offsets), `tx`, `ty` must be in scope.
 */
export function vec4InnerProduct(t: ComputeTile, indent = '    '): string {
  const lines: string[] = [];
  const gm = t.tm / 4;
  const gn = t.tn / 4;
  for (let kk = 0; kk < t.bk; kk++) {
    lines.push(`{ // k = ${kk}`);
    for (let g = 0; g < gm; g++) lines.push(`  let a${g} = As[aOff + ${kk * 1}u * AS4 + ty + ${g}u * TY];`);
    for (let h = 0; h < gn; h++) lines.push(`  let b${h} = Bs[bOff + ${kk}u * BS4 + tx + ${h}u * TX];`);
    for (let i = 0; i < t.tm; i++) {
      const a = `a${i >> 2}.${'xyzw'[i & 3]}`;
      for (let h = 0; h < gn; h++) lines.push(`  ${vec4AccName(i, h)} = fma(vec4<f32>(${a}), b${h}, ${vec4AccName(i, h)});`);
    }
    lines.push('}');
  }
  return lines.map((l) => indent + l).join('\n');
}

/**
 * WGSL storing the vec4 accumulators. `rowOf(i)` is the WGSL expression of thread row i's tile row (0..BM-1) given
 * as text; `open(i, tileRow)` returns `[open, close]` lines around row i (e.g. a bounds check binding `row`);
 * `emit(i, h, tileCol)` the statement storing accumulator (i, h) whose first tile column is `tileCol`.
 */
export function vec4Stores(
  t: ComputeTile,
  open: (i: number, tileRow: string) => [string, string],
  emit: (i: number, h: number, tileCol: string) => string,
  indent = '  ',
): string {
  const lines: string[] = [];
  for (let i = 0; i < t.tm; i++) {
    const [o, c] = open(i, `((ty + ${i >> 2}u * TY) * 4u + ${i & 3}u)`);
    lines.push(o);
    for (let h = 0; h < t.tn / 4; h++) lines.push(`  ${emit(i, h, `((tx + ${h}u * TX) * 4u)`)}`);
    lines.push(c);
  }
  return lines.map((l) => indent + l).join('\n');
}

/**
 * WGSL of the k-loop skeleton of the vec4 path. `loadRegs(s0)` returns statements fetching slice `s0` (a WGSL
 * expression) from global memory into registers, `storeRegs` statements writing those registers into the copy at
 * `aOff`/`bOff`; `nTiles` is a workgroup-uniform WGSL expression (the number of BK slices). Double-buffered: one
 * barrier per slice; single-buffered: two.
 */
export function vec4MainLoop(
  t: ComputeTile,
  nTiles: string,
  loadRegs: (s0: string) => string,
  storeRegs: string,
  indent = '  ',
): string {
  return stagedMainLoop(doubleBuffered(t), nTiles, loadRegs, storeRegs, vec4InnerProduct(t, '    '), indent);
}

/**
 * WGSL of the k-loop skeleton shared by the staged kernels (the vec4 path, the f16 subgroup-matrix path): slices of
 * BK staged through workgroup memory at `aOff`/`bOff`, `body` (statements over the staged copy) run on each.
 * `loadRegs(s0)` fetches slice `s0` into registers, `storeRegs` writes them into the copy; `nTiles` is a
 * workgroup-uniform expression. Double-buffered (copies `ASZ`/`BSZ` apart): one barrier per slice; else two.
 */
export function stagedMainLoop(double: boolean, nTiles: string, loadRegs: (s0: string) => string, storeRegs: string, body: string, indent = '  '): string {
  let code: string;
  if (double) {
    code = `let nTiles = ${nTiles};
if (nTiles > 0u) {
  { let aOff = 0u; let bOff = 0u;
${loadRegs('0u')}
${storeRegs}
  }
  workgroupBarrier();
}
for (var t = 0u; t < nTiles; t++) {
  let cur = t % 2u;
  let more = t + 1u < nTiles;
  if (more) {
${loadRegs('(t + 1u) * BK')}
  }
  {
    let aOff = cur * ASZ;
    let bOff = cur * BSZ;
${body}
  }
  if (more) {
    let aOff = (1u - cur) * ASZ;
    let bOff = (1u - cur) * BSZ;
${storeRegs}
  }
  workgroupBarrier();
}`;
  } else {
    code = `let nTiles = ${nTiles};
for (var t = 0u; t < nTiles; t++) {
  let aOff = 0u;
  let bOff = 0u;
${loadRegs('t * BK')}
${storeRegs}
  workgroupBarrier();
  {
${body}
  }
  workgroupBarrier();
}`;
  }
  return code
    .split('\n')
    .map((l) => (l.length ? indent + l : l))
    .join('\n');
}

/** Register-staging variables of the vec4 path: `count` vec4s named `${prefix}${j}`. */
export function vec4RegDecls(prefix: string, count: number, indent = '  '): string {
  const names = Array.from({ length: count }, (_, j) => `var ${prefix}${j} = vec4<f32>();`);
  return indent + names.join(' ');
}
