/**
 * WGSL snippets the matmul templates share (dense, pit-k, pit-m, pit-n, bcsr, tile-wise, nm), so one text serves
 * where the kernels do the same thing: the `params` struct and batch bases, binding lists, the scalar path's thread
 * ids, slice loops and row-guarded stores, the vec4 path's strided staging (4-wide segment loads and stores, A blocks
 * transposed, B rows, gathered AT rows), slice loop and stores, the slot lists of condense-M/N, and the CAS float
 * add. Each returns exactly the text its templates wrote inline before it was factored out: the generated WGSL, and
 * with it every pipeline cache key and the tile database's kernel-sources hash, did not change.
 *
 * Conventions of the templates these assume: `tid`, `tx`, `ty` and the tile constants (`BM BN BK TX TY NT`, `AS` or
 * `AS4`/`BS4`) in scope; `P` the `params` uniform with `m, n, k`; `row0`/`col0` the output tile's first row/column.
 */
import {
  accName,
  accStores,
  threadsPerWorkgroup,
  tileInnerProduct,
  vec4AccDecls,
  vec4AccName,
  vec4MainLoop,
  vec4RegDecls,
  vec4Stores,
  type ComputeTile,
} from './common.wgsl.ts';

/** A staged operand slice of the vec4 path: `[register decls, load(s0) into registers, store registers to the tile]`. */
export type Vec4Slice = [string, (s0: string) => string, string];

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
): Vec4Slice {
  const nt = threadsPerWorkgroup(t);
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
export function bSlice(t: ComputeTile, load: (rExpr: string, cExpr: string) => string): Vec4Slice {
  const nt = threadsPerWorkgroup(t);
  const total = (t.bk * t.bn) / 4;
  const rounds = Math.ceil(total / nt);
  const decls = vec4RegDecls('rb', rounds);
  const loadFn = (s0: string): string =>
    stridedSlots(total, nt, (j) => `  let r = e / BS4; let c4 = e % BS4; rb${j} = ${load(`${s0} + r`, 'col0 + c4 * 4u')};`);
  const store = stridedSlots(total, nt, (j) => `  Bs[bOff + e] = rb${j};`);
  return [decls, loadFn, store];
}

/**
 * The compute entry point of a matmul template, up to its opening brace: workgroup size `(BN/TN, BM/TM, 1)` (one
 * thread per register tile, x along N), builtins `wid` and `lid`; `extra` adds parameters (e.g. `num_workgroups`).
 */
export function matmulMain(t: ComputeTile, extra = ''): string {
  return `@compute @workgroup_size(${t.bn / t.tn}, ${t.bm / t.tm}, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u${extra}) {`;
}

/** Group-0 binding declarations: `decls[i]` (e.g. `var<uniform> P: Params;`) at binding i, one per line. */
export function bindingDecls(decls: readonly string[]): string {
  return decls.map((b, i) => `@group(0) @binding(${i}) ${b}`).join('\n');
}

/**
 * The bindings of a kernel driven by a detected index (pit-k, pit-m, pit-n, bcsr): 0 `a` and 1 `b` (the operands,
 * as `operandArr`), 2 `count` and 3 `index` (u32), 4 `C` (as `cArr`), 5 `P`.
 */
export function detectedIndexBindings(a: string, b: string, operandArr: string, cArr: string): string {
  return bindingDecls([
    `var<storage, read> ${a}: ${operandArr};`,
    `var<storage, read> ${b}: ${operandArr};`,
    'var<storage, read> count: array<u32>;',
    'var<storage, read> index: array<u32>;',
    `var<storage, read_write> C: ${cArr};`,
    'var<uniform> P: Params;',
  ]);
}

/** The scalar path's thread ids inside `main` (one thread per `TM x TN` register tile, x along N). */
export const SCALAR_THREAD_IDS = `  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * TX + tx;`;

/** `let` batch bases `offA`, `offB`, `offC` of batch `bz` inside `main` (batched scalar forms; stride names of `P`). */
export function batchBaseLets(bz: string): string {
  return `  let offA = ${bz} * P.sa;\n  let offB = ${bz} * P.sb;\n  let offC = ${bz} * P.m * P.n;`;
}

/**
 * The scalar path's loop over BK slices: `loads` stage the slice into `As`/`Bs`, then the register-tile inner product
 * between two barriers. `head` is the loop header, e.g. `var k0 = 0u; k0 < P.k; k0 += BK`.
 */
export function scalarSliceLoop(t: ComputeTile, head: string, loads: string): string {
  return `  for (${head}) {
${loads}
    workgroupBarrier();
${tileInnerProduct(t)}
    workgroupBarrier();
  }`;
}

/**
 * Scalar staging of rows row0.. of A [M, K] (read along k, coalesced) into the k-major `As`, zero at or past row M
 * or column `kLim`; `oa` offsets A (`offA + ` batched).
 */
export function scalarARows(kLim: string, oa = ''): string {
  return `    for (var e = tid; e < BM * BK; e += NT) {
      let r = e / BK;
      let c = e % BK;
      let gr = row0 + r;
      let gk = k0 + c;
      var v = 0.0;
      if (gr < P.m && gk < ${kLim}) { v = A[${oa}gr * P.k + gk]; }
      As[c * AS + r] = v;
    }`;
}

/** Scalar staging of rows k0.. of B [K, N] (columns col0..) into `Bs`, zero at or past row `kLim` or column N. */
export function scalarBRows(kLim: string, ob = ''): string {
  return `    for (var e = tid; e < BK * BN; e += NT) {
      let r = e / BN;
      let c = e % BN;
      let gk = k0 + r;
      let gc = col0 + c;
      var v = 0.0;
      if (gk < ${kLim} && gc < P.n) { v = B[${ob}gk * P.n + gc]; }
      Bs[e] = v;
    }`;
}

/**
 * Scalar staging of a gathered k-slice (pit-k, bcsr): slot `s0 + r` (< `cnt`) is k = `kOf(slot)`; its AT row (BM
 * contiguous floats from row0) goes to `As[r]`, its B row (from col0) to `Bs[r]`; zero past the count, M, N or K.
 */
export function scalarGatheredSlices(kOf: (slot: string) => string, oa = '', ob = ''): string {
  return `    for (var e = tid; e < BK * BM; e += NT) {
      let r = e / BM;
      let c = e % BM;
      let gr = row0 + c;
      var v = 0.0;
      if (s0 + r < cnt && gr < P.m) {
        let kv = ${kOf('s0 + r')};
        if (kv < P.k) { v = AT[${oa}kv * P.m + gr]; }
      }
      As[r * AS + c] = v;
    }
    for (var e = tid; e < BK * BN; e += NT) {
      let r = e / BN;
      let c = e % BN;
      let gc = col0 + c;
      var v = 0.0;
      if (s0 + r < cnt && gc < P.n) {
        let kv = ${kOf('s0 + r')};
        if (kv < P.k) { v = B[${ob}kv * P.n + gc]; }
      }
      Bs[e] = v;
    }`;
}

/** The scalar path's stores of the register tile to rows row0.. and columns col0.. of C, inside M and N (`oc`: offset). */
export function scalarRowStores(t: ComputeTile, oc = ''): string {
  return accStores(
    t,
    (i) => [`{ let row = row0 + ty + ${i}u * TY; if (row < P.m) {`, `} }`],
    (i, j, col) => `{ let col = ${col}; if (col < P.n) { C[${oc}row * P.n + col] = ${accName(i, j)}; } }`,
  );
}

/**
 * Broadcasts a row block's slot count through workgroup memory (`blockCount`), since a loop bound with barriers
 * inside must be workgroup-uniform: into `let cnt`, or (`toPrivate`) into `let cntU` copied to the private `cnt`.
 */
export function broadcastBlockCount(value: string, toPrivate: boolean): string {
  return `  // The loop bound must be workgroup-uniform (barriers inside): broadcast it through workgroup memory.
  if (tid == 0u) { blockCount = ${value}; }
${toPrivate ? '  let cntU = workgroupUniformLoad(&blockCount);\n  cnt = cntU;' : '  let cnt = workgroupUniformLoad(&blockCount);'}`;
}

/**
 * The vec4 path's module-scope accessors of row-major operands: `load${a}` of `a` (A or AT), `loadB`, `storeC`
 * (segmentLoader/segmentStore; batched: offset by the private bases `offA`, `offB`, `offC`).
 */
export function vec4Accessors(a: string, vec: boolean, batched = false): string {
  return `${segmentLoader(`load${a}`, a, vec, batched ? 'offA' : undefined)}

${segmentLoader('loadB', 'B', vec, batched ? 'offB' : undefined)}

${segmentStore(vec, batched ? 'offC' : undefined)}`;
}

/**
 * The vec4 path's gathered A slice (pit-k, bcsr, tile-wise): slot r of the slice is AT row `k` (a WGSL expression of
 * the slot `s`; `lead`: statements run first inside the slot guard), BM contiguous floats straight into `As[r]` (no
 * transpose); zero at or past the slot count `cnt`.
 */
export function gatheredAtSlice(t: ComputeTile, k: string, lead = ''): Vec4Slice {
  const nt = threadsPerWorkgroup(t);
  const total = (t.bk * t.bm) / 4;
  const load = (s0: string): string =>
    stridedSlots(total, nt, (j) =>
      [
        `  let r = e / ${t.bm / 4}u; let c4 = e % ${t.bm / 4}u; let s = ${s0} + r;`,
        `  ra${j} = vec4<f32>();`,
        `  if (s < cnt) { ${lead}ra${j} = loadAT(${k}, row0 + c4 * 4u, P.k, P.m, P.m); }`,
      ].join('\n'),
    );
  const store = stridedSlots(total, nt, (j) => `  As[aOff + (e / ${t.bm / 4}u) * AS4 + e % ${t.bm / 4}u] = ra${j};`);
  return [vec4RegDecls('ra', Math.ceil(total / nt)), load, store];
}

/**
 * WGSL of `loadBRow(s, c)`: row s (a slot) of a gathered B slice, B row `k` (an expression of `s`), zero at or past
 * the slot count `cnt`; `note` ends its comment.
 */
export function gatheredBRow(k: string, note: string): string {
  return `// Row s (slot) of the gathered B slice: B row ${k}, ${note}
fn loadBRow(s: u32, c: u32) -> vec4<f32> {
  if (s < cnt) { return loadB(${k}, c, P.k, P.n, P.n); }
  return vec4<f32>();
}`;
}

/**
 * The vec4 path's accumulators, staging registers and main loop over `nTiles` BK slices (a workgroup-uniform WGSL
 * expression), staging slices `a` and `b` (vec4MainLoop); `indent` the statements' (the slices' decls re-indented).
 */
export function vec4SliceLoop(t: ComputeTile, nTiles: string, a: Vec4Slice, b: Vec4Slice, indent = '  '): string {
  const [aDecls, aLoad, aStore] = a;
  const [bDecls, bLoad, bStore] = b;
  return `${vec4AccDecls(t, indent)}
${aDecls.replace(/^ {2}/gm, indent)}
${bDecls.replace(/^ {2}/gm, indent)}
${vec4MainLoop(t, nTiles, (s0) => `${aLoad(s0)}\n${bLoad(s0)}`, `${aStore}\n${bStore}`, indent)}`;
}

/**
 * The vec4 path's stores of the register tile to rows row0.. of C inside M: `store(tileCol, acc)` writes 4 columns
 * from tile column `tileCol` (default `storeC` at `col0 + tileCol`).
 */
export function vec4RowStores(t: ComputeTile, store: (tileCol: string, acc: string) => string = (c, acc) => `storeC(row, col0 + ${c}, ${acc});`): string {
  return vec4Stores(
    t,
    (_i, tileRow) => [`{ let row = row0 + ${tileRow}; if (row < P.m) {`, `} }`],
    (i, h, tileCol) => store(tileCol, vec4AccName(i, h)),
  );
}

/**
 * Stages the slot list of a condense-M (`m`: rows of A into `rows`, BM slots) or condense-N (`n`: columns of B into
 * `cols`, BN slots) computation tile: slot e is `index[base + slot0 + e]` below the count `cnt`, else (or when out of
 * range) the sentinel `NO_ROW` / `NO_COL`.
 */
export function slotList(axis: 'm' | 'n', base: string, indent = '  '): string {
  const [v, list, none, width, lim] = axis === 'm' ? ['r', 'rows', 'NO_ROW', 'BM', 'P.m'] : ['c', 'cols', 'NO_COL', 'BN', 'P.n'];
  return [
    `for (var e = tid; e < ${width}; e += NT) {`,
    `  var ${v} = ${none};`,
    `  if (slot0 + e < cnt) {`,
    `    ${v} = index[${base} + slot0 + e];`,
    `    if (${v} >= ${lim}) { ${v} = ${none}; }`,
    `  }`,
    `  ${list}[e] = ${v};`,
    `}`,
  ]
    .map((l) => indent + l)
    .join('\n');
}

/**
 * WGSL of `addToC(i, v)`, a float add on the atomic u32 element `C[i]` by compare-exchange (WGSL has no float
 * atomics), for the scalar condense-M/N kernels whose partial sums of one element come from several workgroups.
 * Starts and ends with a newline.
 */
export const CAS_ADD_TO_C = `
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
