/**
 * WGSL template of the dense tiled matmul `C[M,N] = A[M,K] · B[K,N]` (fp32, all row-major): the baseline every PIT
 * variant is compared with. Classic two-level tiling (as in ONNX Runtime Web's and TF.js's WebGPU matmuls): a
 * workgroup stages `BM x BK` of A and `BK x BN` of B in workgroup memory, each thread accumulates a `TM x TN`
 * register tile. Ragged shapes are handled by zero padding in the loads and bounds checks in the stores.
 *
 * Baked into the text (so the pipeline cache key covers them): the computation tile. Passed in the `params`
 * uniform: `M, N, K` (one pipeline serves every shape).
 */
import {
  isVec4Tile,
  vec4AccDecls,
  vec4AccName,
  vec4MainLoop,
  vec4RegDecls,
  vec4Stores,
  vec4ThreadIds,
  vec4TileDecls,
  accDecls,
  accName,
  accStores,
  tileConsts,
  tileInnerProduct,
  tileName,
  tileStorage,
  validateComputeTile,
  type ComputeTile,
} from './common.wgsl.ts';

/** Parameters of the dense template. */
export interface DenseMatmulWgslParams {
  tile: ComputeTile;
  /**
   * Global memory accessed as 16-byte vectors (vec4 path only): A and B bound as `array<vec4<f32>>`, C written as
   * vectors. Valid only when K and N are multiples of 4 (then every row of A, B and C starts on a vector); the
   * program builder sets it from the shape. Default false: scalar global accesses (any shape).
   */
  vecGlobal?: boolean;
}

/**
 * WGSL of the dense matmul. Bindings (group 0): 0 `A` [M,K] f32 read, 1 `B` [K,N] f32 read, 2 `C` [M,N] f32
 * read_write, 3 `P` uniform `{m, n, k, _}` (u32). Workgroup size `(BN/TN, BM/TM, 1)`; grid `(ceil(N/BN), ceil(M/BM), 1)`.
 * @throws RangeError when the tile is invalid (see `validateComputeTile`).
 */
export function denseMatmulWgsl(params: DenseMatmulWgslParams): string {
  const t = params.tile;
  validateComputeTile(t);
  if (isVec4Tile(t)) return denseVec4Wgsl(t, params.vecGlobal ?? false);
  return `// PIT Studio: dense matmul C[M,N] = A[M,K] * B[K,N], fp32 row-major; computation tile ${tileName(t)}.
struct Params { m: u32, n: u32, k: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;

${tileConsts(t, true)}

${tileStorage(t, true)}

@compute @workgroup_size(${t.bn / t.tn}, ${t.bm / t.tm}, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * TX + tx;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
${accDecls(t)}
  for (var k0 = 0u; k0 < P.k; k0 += BK) {
    // A tile, read along k (coalesced), stored k-major so the inner product reads TM rows with one index.
    for (var e = tid; e < BM * BK; e += NT) {
      let r = e / BK;
      let c = e % BK;
      let gr = row0 + r;
      let gk = k0 + c;
      var v = 0.0;
      if (gr < P.m && gk < P.k) { v = A[gr * P.k + gk]; }
      As[c * AS + r] = v;
    }
    for (var e = tid; e < BK * BN; e += NT) {
      let r = e / BN;
      let c = e % BN;
      let gk = k0 + r;
      let gc = col0 + c;
      var v = 0.0;
      if (gk < P.k && gc < P.n) { v = B[gk * P.n + gc]; }
      Bs[e] = v;
    }
    workgroupBarrier();
${tileInnerProduct(t)}
    workgroupBarrier();
  }
${accStores(
  t,
  (i) => [`{ let row = row0 + ty + ${i}u * TY; if (row < P.m) {`, `} }`],
  (i, j, col) => `{ let col = ${col}; if (col < P.n) { C[row * P.n + col] = ${accName(i, j)}; } }`,
)}
}
`;
}

/**
 * `count` statements for per-thread slots `j` of a strided loop over `total` items: `body(j)` runs with `e` (the
 * item) bound, guarded by `e < total` only where the last round is partial.
 */
export function stridedSlots(total: number, threads: number, body: (j: number) => string, indent = '    '): string {
  const rounds = Math.ceil(total / threads);
  const out: string[] = [];
  for (let j = 0; j < rounds; j++) {
    const guard = (j + 1) * threads > total;
    out.push(`{ let e = tid + ${j * threads}u;${guard ? ` if (e < ${total}u) {` : ''}`);
    out.push(body(j));
    out.push(guard ? '} }' : '}');
  }
  return out.map((l) => indent + l).join('\n');
}

/**
 * WGSL helpers reading a 4-wide row segment of a row-major f32 matrix `X` with zero padding: `name(r, c, rLim,
 * cLim, ld)` returns `X[r, c..c+3]`, elements with `r >= rLim` or column `>= cLim` read as 0. With `vec`, X is
 * `array<vec4<f32>>` and the caller guarantees `ld`, `c` and `cLim` are multiples of 4.
 */
export function segmentLoader(name: string, buffer: string, vec: boolean): string {
  if (vec) {
    return `fn ${name}(r: u32, c: u32, rLim: u32, cLim: u32, ld: u32) -> vec4<f32> {
  if (r < rLim && c < cLim) { return ${buffer}[(r * ld + c) / 4u]; }
  return vec4<f32>();
}`;
  }
  return `fn ${name}(r: u32, c: u32, rLim: u32, cLim: u32, ld: u32) -> vec4<f32> {
  var v = vec4<f32>();
  if (r < rLim) {
    let b = r * ld + c;
    if (c < cLim) { v.x = ${buffer}[b]; }
    if (c + 1u < cLim) { v.y = ${buffer}[b + 1u]; }
    if (c + 2u < cLim) { v.z = ${buffer}[b + 2u]; }
    if (c + 3u < cLim) { v.w = ${buffer}[b + 3u]; }
  }
  return v;
}`;
}

/** WGSL of `storeC(r, c, v)`: writes `C[r, c..c+3] = v` (row-major, N columns), skipping columns >= N. */
export function segmentStore(vec: boolean): string {
  if (vec) {
    return `fn storeC(r: u32, c: u32, v: vec4<f32>) {
  if (c < P.n) { C[(r * P.n + c) / 4u] = v; }
}`;
  }
  return `fn storeC(r: u32, c: u32, v: vec4<f32>) {
  let b = r * P.n + c;
  if (c < P.n) { C[b] = v.x; }
  if (c + 1u < P.n) { C[b + 1u] = v.y; }
  if (c + 2u < P.n) { C[b + 2u] = v.z; }
  if (c + 3u < P.n) { C[b + 3u] = v.w; }
}`;
}

/**
 * WGSL that fetches a k-major A slice of rows read along k (dense and pit-m): 4x4 blocks, each thread loading 4 row
 * segments (`rowExpr(q)` gives row q's global row, or a sentinel the loader treats as out of range) and writing them
 * transposed as 4 vectors along m. Returns `[decls, load(s0), store]`.
 */
export function aBlockTranspose(
  t: ComputeTile,
  load: (rowExpr: string, kExpr: string) => string,
  rowOf: (tileRowExpr: string) => string,
): [string, (s0: string) => string, string] {
  const nt = threadsPerWorkgroupOf(t);
  const blocks = (t.bm / 4) * (t.bk / 4);
  const rounds = Math.ceil(blocks / nt);
  const decls = Array.from({ length: rounds }, (_, j) => vec4RegDecls(`ra${j}_`, 4)).join('\n');
  const loadFn = (s0: string): string =>
    stridedSlots(blocks, nt, (j) => {
      const lines = [`  let kq = e % ${t.bk / 4}u; let r4 = e / ${t.bk / 4}u; let gk = ${s0} + kq * 4u;`];
      for (let q = 0; q < 4; q++) lines.push(`  ra${j}_${q} = ${load(rowOf(`r4 * 4u + ${q}u`), 'gk')};`);
      return lines.join('\n');
    });
  const store = stridedSlots(blocks, nt, (j) => {
    const lines = [`  let kq = e % ${t.bk / 4}u; let r4 = e / ${t.bk / 4}u; let base = aOff + kq * 4u * AS4 + r4;`];
    ['x', 'y', 'z', 'w'].forEach((c, i) => {
      lines.push(`  As[base + ${i}u * AS4] = vec4<f32>(ra${j}_0.${c}, ra${j}_1.${c}, ra${j}_2.${c}, ra${j}_3.${c});`);
    });
    return lines.join('\n');
  });
  return [decls, loadFn, store];
}

/** WGSL that fetches a `BK x BN` B slice (rows `kRow(r)` of B, columns col0..) into `rb*` and stores it into Bs. */
export function bSlice(t: ComputeTile, load: (rExpr: string, cExpr: string) => string): [string, (s0: string) => string, string] {
  const nt = threadsPerWorkgroupOf(t);
  const total = (t.bk * t.bn) / 4;
  const rounds = Math.ceil(total / nt);
  const decls = vec4RegDecls('rb', rounds);
  const loadFn = (s0: string): string =>
    stridedSlots(total, nt, (j) => `  let r = e / BS4; let c4 = e % BS4; rb${j} = ${load(`${s0} + r`, 'col0 + c4 * 4u')};`);
  const store = stridedSlots(total, nt, (j) => `  Bs[bOff + e] = rb${j};`);
  return [decls, loadFn, store];
}

function threadsPerWorkgroupOf(t: ComputeTile): number {
  return (t.bm / t.tm) * (t.bn / t.tn);
}

/** The vec4 register-tiled, double-buffered dense matmul (see the vec4 path in common.wgsl.ts). */
function denseVec4Wgsl(t: ComputeTile, vec: boolean): string {
  const [aDecls, aLoad, aStore] = aBlockTranspose(
    t,
    (row, k) => `loadA(${row}, ${k}, P.m, P.k, P.k)`,
    (tileRow) => `row0 + ${tileRow}`,
  );
  const [bDecls, bLoad, bStore] = bSlice(t, (r, c) => `loadB(${r}, ${c}, P.k, P.n, P.n)`);
  const arr = vec ? 'array<vec4<f32>>' : 'array<f32>';
  return `// PIT Studio: dense matmul C[M,N] = A[M,K] * B[K,N], fp32 row-major; computation tile ${tileName(t)}, vec4 register tiling, ${vec ? 'vec4' : 'scalar'} global access.
struct Params { m: u32, n: u32, k: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> A: ${arr};
@group(0) @binding(1) var<storage, read> B: ${arr};
@group(0) @binding(2) var<storage, read_write> C: ${arr};
@group(0) @binding(3) var<uniform> P: Params;

${vec4TileDecls(t, true)}

${segmentLoader('loadA', 'A', vec)}

${segmentLoader('loadB', 'B', vec)}

${segmentStore(vec)}

@compute @workgroup_size(${t.bn / t.tn}, ${t.bm / t.tm}, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
${vec4ThreadIds(t)}
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
${vec4AccDecls(t)}
${aDecls}
${bDecls}
${vec4MainLoop(t, '(P.k + BK - 1u) / BK', (s0) => `${aLoad(s0)}\n${bLoad(s0)}`, `${aStore}\n${bStore}`)}
${vec4Stores(
  t,
  (_i, tileRow) => [`{ let row = row0 + ${tileRow}; if (row < P.m) {`, `} }`],
  (i, h, tileCol) => `storeC(row, col0 + ${tileCol}, ${vec4AccName(i, h)});`,
)}
}
`;
}
