/**
 * WGSL template of PIT's condense-M matmul (PIT §4: SRead of non-zero rows of A along the permutation-invariant
 * spatial axis m, SWrite of the result rows; the idea of SparTA pit_sm80 `csrc/openai_bmm_forward_kernel.cu`'s
 * condense-M path, written afresh for WGSL).
 *
 * Micro-tile `1 x W` in [M, K] terms, A [M, K] row-major. K is split into chunks of W columns (chunk c covers
 * k in [c*W, min((c+1)*W, K))). For chunk c the detection lists the rows m with a non-zero in that chunk:
 * `index[c*M .. c*M + count[c])`, any order. Workgroup (nb, t, c) gathers listed rows t*BM .. t*BM+BM of chunk c
 * (the computation tile), multiplies them with B's chunk rows, and scatters the BM x BN result back to the rows'
 * places in C (SWrite).
 *
 * With one chunk (W >= K) each row of C has one writer: a plain store into a zero-initialised C (unlisted rows stay
 * 0). With several chunks, partial sums of one row arrive from several workgroups; WGSL has no float atomics, so C
 * is bound as `array<atomic<u32>>` and each element is accumulated with a compare-exchange loop on its f32 bits
 * (DESIGN.md §3). Either way C must be zeroed first (the zero-fill dispatch of the variant).
 *
 * The grid covers the worst case (all M rows listed); workgroups past `count[c]` exit at once.
 * Baked into the text: the computation tile, W and the store mode. In the `params` uniform: `M, N, K`.
 */
import {
  accDecls,
  accName,
  accStores,
  isVec4Tile,
  tileConsts,
  tileName,
  tileStorage,
  validateComputeTile,
  vec4AccName,
  vec4Stores,
  vec4ThreadIds,
  vec4TileDecls,
  type ComputeTile,
} from './common.wgsl.ts';
import {
  aBlockTranspose,
  BATCH_BASE_DECLS,
  batchBaseLets,
  batchBases,
  bSlice,
  CAS_ADD_TO_C,
  detectedIndexBindings,
  matmulMain,
  matmulParamsStruct,
  SCALAR_THREAD_IDS,
  scalarBRows,
  scalarSliceLoop,
  segmentLoader,
  segmentStore,
  slotList,
  vec4SliceLoop,
  type Vec4Slice,
} from './matmul-snippets.wgsl.ts';

/** Parameters of the condense-M template. */
export interface PitMMatmulWgslParams {
  tile: ComputeTile;
  /** Micro-tile width W (columns of A per chunk), >= 1. */
  w: number;
  /** Accumulate partial sums with a CAS loop (needed when ceil(K/W) > 1); plain stores otherwise. */
  accumulate: boolean;
  /**
   * 16-byte global loads of A and B on the vec4 path (`array<vec4<f32>>`), and vector stores of C when not
   * accumulating. Valid only when K, W (or K when W >= K) and N are multiples of 4; the program builder sets it.
   * Default false.
   */
  vecGlobal?: boolean;
  /**
   * The batched form: grid z = batch · chunks (chunk = z mod chunks); `P` is `{m, n, k, batch, sa, sb, sc, si,
   * chunks}` with the batch strides of A, B, the counts and the index (0 for a shared A). Default false: the 2-D
   * text, unchanged.
   */
  batched?: boolean;
}

/**
 * WGSL of the condense-M matmul. Bindings (group 0): 0 `A` [M,K] f32 read, 1 `B` [K,N] f32 read, 2 `count`
 * [nChunks] u32 read, 3 `index` [nChunks*M] u32 read, 4 `C` [M,N] (f32, or its bits as atomic u32 when
 * accumulating) read_write, 5 `P` uniform `{m, n, k, _}`. Workgroup size `(BN/TN, BM/TM, 1)`; grid
 * `(ceil(N/BN), ceil(M/BM), nChunks)`.
 * @throws RangeError when the tile or W is invalid.
 */
export function pitMMatmulWgsl(params: PitMMatmulWgslParams): string {
  const { tile: t, w, accumulate } = params;
  validateComputeTile(t);
  if (!Number.isInteger(w) || w < 1) throw new RangeError(`pit-m: micro-tile width W must be a positive integer, got ${w}`);
  const batched = params.batched ?? false;
  if (isVec4Tile(t)) return pitMVec4Wgsl(t, w, accumulate, params.vecGlobal ?? false, batched);
  const [oa, ob, oc] = batched ? ['offA + ', 'offB + ', 'offC + '] : ['', '', ''];
  const cType = accumulate ? 'array<atomic<u32>>' : 'array<f32>';
  const store = accumulate
    ? (i: number, j: number, col: string) =>
        `{ let col = ${col}; if (col < P.n && ${accName(i, j)} != 0.0) { addToC(${oc}row * P.n + col, ${accName(i, j)}); } }`
    : (i: number, j: number, col: string) => `{ let col = ${col}; if (col < P.n) { C[${oc}row * P.n + col] = ${accName(i, j)}; } }`;
  const addFn = accumulate ? CAS_ADD_TO_C : '';
  return `// PIT Studio: pit-m (condense-M) matmul C[M,N] = A[M,K] * B[K,N], fp32; micro-tile 1x${w}, computation tile ${tileName(t)}, ${accumulate ? 'CAS-accumulated' : 'plain'} SWrite${batched ? '; batched (grid z = batch * chunks)' : ''}.
// index[c*M + s], s < count[c], lists the rows of A with a non-zero in k-chunk c = [c*W, (c+1)*W).
${matmulParamsStruct(batched, PIT_M_BATCH_FIELDS)}

${detectedIndexBindings('A', 'B', 'array<f32>', cType)}

${tileConsts(t, true)}
const W = ${w}u; // micro-tile width: k-chunk length
const NO_ROW = 0xffffffffu;

${tileStorage(t, true)}
var<workgroup> rows: array<u32, ${t.bm}>;
var<workgroup> chunkCount: u32;
${addFn}
${matmulMain(t)}
${SCALAR_THREAD_IDS}
${batched ? `  let chunk = wid.z % P.chunks;\n  let bz = wid.z / P.chunks;\n${batchBaseLets('bz')}\n` : '  let chunk = wid.z;\n'}  let slot0 = wid.y * BM;
  let col0 = wid.x * BN;
  if (tid == 0u) { chunkCount = min(count[${batched ? 'bz * P.sc + ' : ''}chunk], P.m); }
  let cnt = workgroupUniformLoad(&chunkCount);
  if (slot0 >= cnt) { return; } // beyond the listed rows: workgroup-uniform exit
${slotList('m', `${batched ? 'bz * P.si + ' : ''}chunk * P.m`)}
  workgroupBarrier();
  let kBeg = chunk * W;
  let kEnd = min(kBeg + W, P.k);
${accDecls(t)}
${scalarSliceLoop(
  t,
  'var k0 = kBeg; k0 < kEnd; k0 += BK',
  `    // SRead: row r of the computation tile is A row rows[r]; each gathered row is read along k (coalesced).
    for (var e = tid; e < BM * BK; e += NT) {
      let r = e / BK;
      let c = e % BK;
      let gm = rows[r];
      let gk = k0 + c;
      var v = 0.0;
      if (gm != NO_ROW && gk < kEnd) { v = A[${oa}gm * P.k + gk]; }
      As[c * AS + r] = v;
    }
${scalarBRows('kEnd', ob)}`,
)}
  // SWrite: result row r goes back to C row rows[r].
${accStores(
  t,
  (i) => [`{ let row = rows[ty + ${i}u * TY]; if (row != NO_ROW) {`, `} }`],
  store,
)}
}
`;
}

/**
 * Float add on an atomic u32 C element, resumed after a failed first try: `old` is what that try found.
 */
const ADD_TO_C = `
// Float add on an atomic u32 (WGSL has no float atomics): compare-exchange until no other workgroup changed the word
// meanwhile. Called only after a failed first try (which guessed +0), starting from the value that try saw.
fn addToC(i: u32, v: f32, seen: u32) {
  var old = seen;
  loop {
    let r = atomicCompareExchangeWeak(&C[i], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}
`;

/** Fields of the batched form's uniform after `{m, n, k, batch, sa, sb}`: count and index batch strides, chunks. */
const PIT_M_BATCH_FIELDS = ['sc', 'si', 'chunks'];

/** Row tiles one accumulating pit-m workgroup walks (grid-stride), so empty tiles past `count[c]` cost little. */
export const PIT_M_ROW_TILES_PER_WORKGROUP = 8;

/**
 * WGSL of the CAS SWrite of the vec4 path: first, for every output of the thread, one compare-exchange that guesses
 * the word still holds +0 (right for the first partial sum of an element), all issued back to back so their round
 * trips overlap; then, only for the tries that failed, the retry loop. A serial loop per element would wait one
 * atomic round trip per output.
 */
function casStores(t: ComputeTile, indent = '  ', base = ''): string {
  const lines: string[] = [];
  const comps = ['x', 'y', 'z', 'w'];
  const gn = t.tn / 4;
  for (let i = 0; i < t.tm; i++) lines.push(`let srow${i} = rows[((ty + ${i >> 2}u * TY) * 4u + ${i & 3}u)];`);
  for (let i = 0; i < t.tm; i++) {
    for (let h = 0; h < gn; h++) {
      comps.forEach((c, d) => {
        const n = `${i}_${h}_${d}`;
        lines.push(`var ok${n} = true; var seen${n} = 0u;`);
        lines.push(
          `if (srow${i} != NO_ROW) { let col = col0 + (tx + ${h}u * TX) * 4u + ${d}u; let v = ${vec4AccName(i, h)}.${c}; ` +
            `if (col < P.n && v != 0.0) { let r = atomicCompareExchangeWeak(&C[${base}srow${i} * P.n + col], 0u, bitcast<u32>(v)); ok${n} = r.exchanged; seen${n} = r.old_value; } }`,
        );
      });
    }
  }
  for (let i = 0; i < t.tm; i++) {
    for (let h = 0; h < gn; h++) {
      comps.forEach((c, d) => {
        const n = `${i}_${h}_${d}`;
        lines.push(`if (!ok${n}) { addToC(${base}srow${i} * P.n + col0 + (tx + ${h}u * TX) * 4u + ${d}u, ${vec4AccName(i, h)}.${c}, seen${n}); }`);
      });
    }
  }
  return lines.map((l) => indent + l).join('\n');
}

/**
 * The vec4 register-tiled, double-buffered condense-M kernel: SRead gathers the listed rows of A's chunk (4x4
 * register transpose into As), SWrite scatters result rows with vector stores, or per element with the CAS add.
 * When accumulating, each workgroup walks row tiles `wid.y, wid.y + gridY, …` of its chunk (grid-stride).
 */
function pitMVec4Wgsl(t: ComputeTile, w: number, accumulate: boolean, vec: boolean, batched: boolean): string {
  const [aDecls, aLoad, aStore] = aBlockTranspose(
    t,
    (row, k) => `loadA(${row}, ${k}, P.m, kEnd, P.k)`,
    (tileRow) => `rows[${tileRow}]`,
  );
  // A's slice starts at the chunk's first k; B's rows are offset by it in loadB's call.
  const a: Vec4Slice = [aDecls, (s0) => aLoad(`kBeg + ${s0}`), aStore];
  const b = bSlice(t, (r, c) => `loadB(kBeg + ${r}, ${c}, kEnd, P.n, P.n)`);
  const arr = vec ? 'array<vec4<f32>>' : 'array<f32>';
  const cType = accumulate ? 'array<atomic<u32>>' : arr;
  const storeFn = accumulate ? ADD_TO_C : segmentStore(vec, batched ? 'offC' : undefined);
  const stores = accumulate
    ? casStores(t, '    ', batched ? 'offC + ' : '')
    : vec4Stores(
        t,
        (_i, tileRow) => [`{ let row = rows[${tileRow}]; if (row != NO_ROW) {`, `} }`],
        (i, h, tileCol) => `storeC(row, col0 + ${tileCol}, ${vec4AccName(i, h)});`,
        '    ',
      );
  const body = `${vec4SliceLoop(t, '(kEnd - kBeg + BK - 1u) / BK', a, b, '    ')}
    // SWrite: result row r goes back to C row rows[r].
${stores}`;
  return `// PIT Studio: pit-m (condense-M) matmul C[M,N] = A[M,K] * B[K,N], fp32; micro-tile 1x${w}, computation tile ${tileName(t)}, ${accumulate ? 'CAS-accumulated' : 'plain'} SWrite, vec4 register tiling, ${vec ? 'vec4' : 'scalar'} global access${batched ? '; batched (grid z = batch * chunks)' : ''}.
// index[c*M + s], s < count[c], lists the rows of A with a non-zero in k-chunk c = [c*W, (c+1)*W).
${matmulParamsStruct(batched, PIT_M_BATCH_FIELDS)}

${detectedIndexBindings('A', 'B', arr, cType)}

${vec4TileDecls(t, true)}
const W = ${w}u; // micro-tile width: k-chunk length
const NO_ROW = 0xffffffffu;

var<workgroup> rows: array<u32, ${t.bm}>;
var<workgroup> chunkCount: u32;
${batched ? `${BATCH_BASE_DECLS}\n` : ''}
${segmentLoader('loadA', 'A', vec, batched ? 'offA' : undefined)}

${segmentLoader('loadB', 'B', vec, batched ? 'offB' : undefined)}
${storeFn}
${matmulMain(t, ', @builtin(num_workgroups) nwg: vec3u')}
${vec4ThreadIds(t)}
${batched ? `  let chunk = wid.z % P.chunks;\n  let bz = wid.z / P.chunks;\n${batchBases('bz')}\n` : '  let chunk = wid.z;\n'}  let col0 = wid.x * BN;
  if (tid == 0u) { chunkCount = min(count[${batched ? 'bz * P.sc + ' : ''}chunk], P.m); }
  let cnt = workgroupUniformLoad(&chunkCount);
  let kBeg = chunk * W;
  let kEnd = min(kBeg + W, P.k);
  // Row tiles of this chunk, grid-stride (workgroup-uniform bounds: barriers inside).
  for (var rt = wid.y; rt * BM < cnt; rt += nwg.y) {
    let slot0 = rt * BM;
${slotList('m', `${batched ? 'bz * P.si + ' : ''}chunk * P.m`, '    ')}
    workgroupBarrier();
${body}
    workgroupBarrier(); // rows[] is rewritten by the next row tile
  }
}
`;
}
