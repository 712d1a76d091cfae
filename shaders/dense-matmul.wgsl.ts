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
  /**
   * The batched form (core/kernels/shape.ts): grid z = batch, `P` gains the batch count and the batch strides of A and
   * B (0 for an operand shared by every batch; C's is M·N), every access is offset by its batch's base. Default
   * false: the 2-D text, unchanged.
   */
  batched?: boolean;
}

/**
 * The uniform struct of a matmul template: `{m, n, k, _pad}` (2-D) or, batched, `{m, n, k, batch, sa, sb, …extra}`
 * padded to a multiple of four words. `extra` are further u32 field names of the batched form.
 */
export function matmulParamsStruct(batched: boolean, extra: readonly string[] = []): string {
  if (!batched) return 'struct Params { m: u32, n: u32, k: u32, _pad: u32 }';
  const fields = ['m', 'n', 'k', 'batch', 'sa', 'sb', ...extra];
  while (fields.length % 4) fields.push(`_p${fields.length}`);
  return `struct Params { ${fields.map((f) => `${f}: u32`).join(', ')} }`;
}

/** WGSL (batched form only) setting the batch bases `offA`, `offB`, `offC` of batch `bz` (declared by the caller). */
export function batchBases(bz: string, indent = '  '): string {
  return `${indent}offA = ${bz} * P.sa;\n${indent}offB = ${bz} * P.sb;\n${indent}offC = ${bz} * P.m * P.n;`;
}

/** Module-scope declarations of the batch bases (batched form only). */
export const BATCH_BASE_DECLS = 'var<private> offA: u32; // batch bases (elements): A, B, C\nvar<private> offB: u32;\nvar<private> offC: u32;';

/**
 * WGSL of the dense matmul. Bindings (group 0): 0 `A` [M,K] f32 read, 1 `B` [K,N] f32 read, 2 `C` [M,N] f32
 * read_write, 3 `P` uniform `{m, n, k, _}` (u32). Workgroup size `(BN/TN, BM/TM, 1)`; grid `(ceil(N/BN), ceil(M/BM), 1)`.
 * @throws RangeError when the tile is invalid (see `validateComputeTile`).
 */
export function denseMatmulWgsl(params: DenseMatmulWgslParams): string {
  const t = params.tile;
  validateComputeTile(t);
  const batched = params.batched ?? false;
  if (isVec4Tile(t)) return denseVec4Wgsl(t, params.vecGlobal ?? false, batched);
  const [oa, ob, oc] = batched ? ['offA + ', 'offB + ', 'offC + '] : ['', '', ''];
  return `// PIT Studio: dense matmul C[M,N] = A[M,K] * B[K,N], fp32 row-major; computation tile ${tileName(t)}${batched ? '; batched (grid z = batch)' : ''}.
${matmulParamsStruct(batched)}

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
${batched ? `  let offA = wid.z * P.sa;\n  let offB = wid.z * P.sb;\n  let offC = wid.z * P.m * P.n;\n` : ''}${accDecls(t)}
  for (var k0 = 0u; k0 < P.k; k0 += BK) {
    // A tile, read along k (coalesced), stored k-major so the inner product reads TM rows with one index.
    for (var e = tid; e < BM * BK; e += NT) {
      let r = e / BK;
      let c = e % BK;
      let gr = row0 + r;
      let gk = k0 + c;
      var v = 0.0;
      if (gr < P.m && gk < P.k) { v = A[${oa}gr * P.k + gk]; }
      As[c * AS + r] = v;
    }
    for (var e = tid; e < BK * BN; e += NT) {
      let r = e / BN;
      let c = e % BN;
      let gk = k0 + r;
      let gc = col0 + c;
      var v = 0.0;
      if (gk < P.k && gc < P.n) { v = B[${ob}gk * P.n + gc]; }
      Bs[e] = v;
    }
    workgroupBarrier();
${tileInnerProduct(t)}
    workgroupBarrier();
  }
${accStores(
  t,
  (i) => [`{ let row = row0 + ty + ${i}u * TY; if (row < P.m) {`, `} }`],
  (i, j, col) => `{ let col = ${col}; if (col < P.n) { C[${oc}row * P.n + col] = ${accName(i, j)}; } }`,
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
 * `array<vec4<f32>>` and the caller guarantees `ld`, `c` and `cLim` are multiples of 4. With `base` (a WGSL name, the
 * batched form) X's element (r, c) is at `base + r * ld + c`; on the vec path base must be a multiple of 4 too.
 */
export function segmentLoader(name: string, buffer: string, vec: boolean, base?: string): string {
  // Batched: every index is offset by the batch base (a module-scope private), a multiple of 4 on the vec path.
  const o = base ? `${base} + ` : '';
  if (vec) {
    return `fn ${name}(r: u32, c: u32, rLim: u32, cLim: u32, ld: u32) -> vec4<f32> {
  if (r < rLim && c < cLim) { return ${buffer}[(${o}r * ld + c) / 4u]; }
  return vec4<f32>();
}`;
  }
  return `fn ${name}(r: u32, c: u32, rLim: u32, cLim: u32, ld: u32) -> vec4<f32> {
  var v = vec4<f32>();
  if (r < rLim) {
    let b = ${o}r * ld + c;
    if (c < cLim) { v.x = ${buffer}[b]; }
    if (c + 1u < cLim) { v.y = ${buffer}[b + 1u]; }
    if (c + 2u < cLim) { v.z = ${buffer}[b + 2u]; }
    if (c + 3u < cLim) { v.w = ${buffer}[b + 3u]; }
  }
  return v;
}`;
}

/**
 * WGSL of `storeC(r, c, v)`: writes `C[r, c..c+3] = v` (row-major, N columns), skipping columns >= N; with `base`
 * (batched form) offset by it.
 */
export function segmentStore(vec: boolean, base?: string): string {
  const o = base ? `${base} + ` : '';
  if (vec) {
    return `fn storeC(r: u32, c: u32, v: vec4<f32>) {
  if (c < P.n) { C[(${o}r * P.n + c) / 4u] = v; }
}`;
  }
  return `fn storeC(r: u32, c: u32, v: vec4<f32>) {
  let b = ${o}r * P.n + c;
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
function denseVec4Wgsl(t: ComputeTile, vec: boolean, batched: boolean): string {
  const [aDecls, aLoad, aStore] = aBlockTranspose(
    t,
    (row, k) => `loadA(${row}, ${k}, P.m, P.k, P.k)`,
    (tileRow) => `row0 + ${tileRow}`,
  );
  const [bDecls, bLoad, bStore] = bSlice(t, (r, c) => `loadB(${r}, ${c}, P.k, P.n, P.n)`);
  const arr = vec ? 'array<vec4<f32>>' : 'array<f32>';
  return `// PIT Studio: dense matmul C[M,N] = A[M,K] * B[K,N], fp32 row-major; computation tile ${tileName(t)}, vec4 register tiling, ${vec ? 'vec4' : 'scalar'} global access${batched ? '; batched (grid z = batch)' : ''}.
${matmulParamsStruct(batched)}

@group(0) @binding(0) var<storage, read> A: ${arr};
@group(0) @binding(1) var<storage, read> B: ${arr};
@group(0) @binding(2) var<storage, read_write> C: ${arr};
@group(0) @binding(3) var<uniform> P: Params;

${vec4TileDecls(t, true)}
${batched ? `\n${BATCH_BASE_DECLS}\n` : ''}
${segmentLoader('loadA', 'A', vec, batched ? 'offA' : undefined)}

${segmentLoader('loadB', 'B', vec, batched ? 'offB' : undefined)}

${segmentStore(vec, batched ? 'offC' : undefined)}

@compute @workgroup_size(${t.bn / t.tn}, ${t.bm / t.tm}, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
${vec4ThreadIds(t)}
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
${batched ? `${batchBases('wid.z')}\n` : ''}${vec4AccDecls(t)}
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
