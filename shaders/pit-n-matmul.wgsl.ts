/**
 * WGSL template of PIT's condense-N matmul (PIT §4 and DESIGN.md §3: the output axis n is permutation invariant like
 * m — gather columns of B, scatter columns of C; the mirror of condense-M, written afresh for WGSL).
 *
 * For layers where B is a run-time value (attention QKᵀ: B = Kᵀ, whose columns are the keys), the sparse operand is
 * B. Micro-tile `W x 1` of B [K, N]: W consecutive k's of one column n. K is split into chunks of W rows (chunk c
 * covers k in [c*W, min((c+1)*W, K))). B arrives transposed, `BT` [N, K] row-major, so a column of B is a contiguous
 * row of BT; for chunk c the detection lists the columns n with a non-zero in that chunk: `index[c*N .. c*N +
 * count[c])`, any order. Workgroup (t, mb, c) computes rows mb*BM .. of A (dense) against the listed columns
 * t*BN .. t*BN+BN of chunk c (the computation tile, SRead of BT rows) and scatters the BM x BN result back to those
 * columns of C (SWrite).
 *
 * With one chunk (W >= K, the whole-column rule `Kx1`) each column of C has one writer: plain stores into a
 * zero-initialised C (unlisted columns stay 0). With several chunks, partial sums of one element arrive from several
 * workgroups and are accumulated with a compare-and-swap loop on the f32 bits (WGSL has no float atomics,
 * DESIGN.md §3). Either way C is zeroed first (the zero-fill dispatch of the variant).
 *
 * Only a scalar path (one accumulator per output, any computation tile): the layers this rule serves (attention
 * heads) are small. Baked into the text: the computation tile, W, the store mode, batched or not. In the `params`
 * uniform: `M, N, K` (2-D) or the batched fields.
 */
import { accDecls, accName, tileConsts, tileName, tileStorage, validateComputeTile, type ComputeTile } from './common.wgsl.ts';
import {
  batchBaseLets,
  CAS_ADD_TO_C,
  detectedIndexBindings,
  matmulMain,
  matmulParamsStruct,
  SCALAR_THREAD_IDS,
  scalarARows,
  scalarSliceLoop,
  slotList,
} from './matmul-snippets.wgsl.ts';

/** Parameters of the condense-N template. */
export interface PitNMatmulWgslParams {
  tile: ComputeTile;
  /** Micro-tile height W (rows of B, i.e. k's, per chunk), >= 1. */
  w: number;
  /** Accumulate partial sums with a CAS loop (needed when ceil(K/W) > 1); plain stores otherwise. */
  accumulate: boolean;
  /**
   * The batched form: grid z = batch · chunks; `P` is `{m, n, k, batch, sa, sb, sc, si, chunks}` with the batch
   * strides of A, BT, the counts and the index (0 for a shared B). Default false.
   */
  batched?: boolean;
}

/**
 * WGSL of the condense-N matmul. Bindings (group 0): 0 `A` [M,K] f32 read, 1 `BT` [N,K] f32 read, 2 `count`
 * [nChunks] u32 read, 3 `index` [nChunks*N] u32 read, 4 `C` [M,N] (f32, or its bits as atomic u32 when accumulating)
 * read_write, 5 `P` uniform. Workgroup size `(BN/TN, BM/TM, 1)`; grid `(ceil(N/BN), ceil(M/BM), nChunks)` (times the
 * batch along z when batched), sized for the worst case (all columns listed); workgroups past `count[c]` exit at once.
 * @throws RangeError when the tile or W is invalid.
 */
export function pitNMatmulWgsl(params: PitNMatmulWgslParams): string {
  const { tile: t, w, accumulate } = params;
  const batched = params.batched ?? false;
  validateComputeTile(t);
  if (!Number.isInteger(w) || w < 1) throw new RangeError(`pit-n: micro-tile height W must be a positive integer, got ${w}`);
  const [oa, ob, oc] = batched ? ['offA + ', 'offB + ', 'offC + '] : ['', '', ''];
  const cType = accumulate ? 'array<atomic<u32>>' : 'array<f32>';
  const addFn = accumulate ? CAS_ADD_TO_C : '';
  const stores: string[] = [];
  for (let i = 0; i < t.tm; i++) {
    stores.push(`  { let row = row0 + ty + ${i}u * TY; if (row < P.m) {`);
    for (let j = 0; j < t.tn; j++) {
      const acc = accName(i, j);
      stores.push(
        accumulate
          ? `    { let col = cols[tx + ${j}u * TX]; if (col != NO_COL && ${acc} != 0.0) { addToC(${oc}row * P.n + col, ${acc}); } }`
          : `    { let col = cols[tx + ${j}u * TX]; if (col != NO_COL) { C[${oc}row * P.n + col] = ${acc}; } }`,
      );
    }
    stores.push('  } }');
  }
  const head = batched
    ? `  let chunk = wid.z % P.chunks;
  let bz = wid.z / P.chunks;
${batchBaseLets('bz')}
  let cntAt = bz * P.sc + chunk;
  let idx0 = bz * P.si + chunk * P.n;`
    : `  let chunk = wid.z;
  let cntAt = chunk;
  let idx0 = chunk * P.n;`;
  return `// PIT Studio: pit-n (condense-N) matmul C[M,N] = A[M,K] * B[K,N], fp32; micro-tile ${w}x1 of B, computation tile ${tileName(t)}, ${accumulate ? 'CAS-accumulated' : 'plain'} SWrite${batched ? '; batched (grid z = batch * chunks)' : ''}.
// B arrives transposed (BT [N,K]); index[c*N + s], s < count[c], lists the columns of B with a non-zero in k-chunk c = [c*W, (c+1)*W).
${matmulParamsStruct(batched, ['sc', 'si', 'chunks'])}

${detectedIndexBindings('A', 'BT', 'array<f32>', cType)}

${tileConsts(t, true)}
const W = ${w}u; // micro-tile height: k-chunk length
const NO_COL = 0xffffffffu;

${tileStorage(t, true)}
var<workgroup> cols: array<u32, ${t.bn}>;
var<workgroup> chunkCount: u32;
${addFn}
${matmulMain(t)}
${SCALAR_THREAD_IDS}
${head}
  let slot0 = wid.x * BN;
  let row0 = wid.y * BM;
  if (tid == 0u) { chunkCount = min(count[cntAt], P.n); }
  let cnt = workgroupUniformLoad(&chunkCount);
  if (slot0 >= cnt) { return; } // beyond the listed columns: workgroup-uniform exit
${slotList('n', 'idx0')}
  workgroupBarrier();
  let kBeg = chunk * W;
  let kEnd = min(kBeg + W, P.k);
${accDecls(t)}
${scalarSliceLoop(
  t,
  'var k0 = kBeg; k0 < kEnd; k0 += BK',
  `    // The A tile: rows row0.. of A (dense), read along k, stored k-major.
${scalarARows('kEnd', oa)}
    // SRead: column j of the computation tile is B column cols[j], i.e. BT row cols[j], read along k.
    for (var e = tid; e < BN * BK; e += NT) {
      let j = e / BK;
      let c = e % BK;
      let gn = cols[j];
      let gk = k0 + c;
      var v = 0.0;
      if (gn != NO_COL && gk < kEnd) { v = BT[${ob}gn * P.k + gk]; }
      Bs[c * BN + j] = v;
    }`,
)}
  // SWrite: result column j goes back to C column cols[j].
${stores.join('\n')}
}
`;
}
