/**
 * The `pit-n` kernel family: PIT's rule on the output axis n (DESIGN.md §3: n is permutation invariant, symmetric to
 * m — gather columns of B, scatter columns of C). It exploits B's sparsity, so it applies where B is a run-time value:
 * attention QKᵀ, whose B = Kᵀ has one column per key (a zero key, e.g. a padded one, or keys thresholded to zero,
 * skips its whole column of scores). Micro-tile `W x 1` of B [K, N] (W k's of one column); `Kx1` is the whole column.
 * Detection runs on Bᵀ [N, K] (detect-n, the same template as detect-m); the kernel gathers the listed rows of Bᵀ
 * into dense computation tiles against dense rows of A and scatters the result columns back to C.
 * Templates: `shaders/pit-n-matmul.wgsl.ts`, `shaders/detect.wgsl.ts`.
 */
import { pitNMatmulWgsl } from '../../shaders/pit-n-matmul.wgsl.ts';
import { tileName, validateComputeTile, type ComputeTile } from '../../shaders/common.wgsl.ts';
import { parseMicroTile } from '../sparsity/micro-tiles.ts';
import { detectRowsProgram, extents, operandBatch, timesBatch, zeroFillProgram } from './detect.ts';
import type { FamilyConfig, KernelFamily } from './family.ts';
import { BATCH, ceilDiv, grid, K, M, mul, N } from './grid.ts';
import { makeProgram, type KernelProgram } from './program.ts';
import { batchOf, batchStrides, ceilDiv as ceilDivN, isBatched, shapeVars, validateShape, type MatmulShape } from './shape.ts';
import { NARROW_N, narrowTile, parseTileName, sameTile } from './tiles.ts';

/** Micro-tile label of a whole column of B (`Kx1`: W is the reduction length); resolved to `${K}x1` per layer. */
export const WHOLE_COLUMN = 'Kx1';

/**
 * Default computation tile of pit-n: 32x32x8 with 2x2 per thread (256 threads, scalar path). Attention heads are
 * small (PP-OCRv4 rec: 8 heads of 10–160 queries × keys, head dimension 15), so a narrower tile than pit-m's
 * 32x128 wastes less on padding.
 */
export const PIT_N_TILE: ComputeTile = { bm: 32, bn: 32, bk: 8, tm: 2, tn: 2 };

/** Sizes of the pit-n index for B [K, N] and micro-tile height `w`: `chunks = ceil(K/w)` counts, `chunks*N` entries. */
export function pitNIndexSize(shape: MatmulShape, w: number): { chunks: number; indexLength: number } {
  const chunks = ceilDivN(shape.k, w);
  return { chunks, indexLength: chunks * shape.n };
}

/** Micro-tile height W of a configuration at reduction length k (K for whole columns; a height beyond K is whole columns). */
export function pitNHeight(c: Pick<FamilyConfig, 'microTile'>, k: number): number {
  if (c.microTile === null || c.microTile === WHOLE_COLUMN) return k;
  const mt = parseMicroTile(c.microTile);
  if (mt.w !== 1) throw new RangeError(`pit-n: micro-tile ${c.microTile} must be Wx1 (one column of B per micro-tile)`);
  return Math.min(mt.h, k);
}

/**
 * The condense-N program for micro-tile `w x 1` of B (w >= K: whole columns, one chunk, plain stores; otherwise
 * CAS-accumulated partial sums). Bindings: `a` [M,K] f32, `bt` [N,K] f32 (B transposed), `count` [ceil(K/w)] u32,
 * `index` [ceil(K/w)*N] u32 (columns of chunk c at `c*N ..`), `c` [M,N] f32 (zero before the dispatch), `params`
 * uniform `[M, N, K, 0]`. Grid `(ceil(N/BN), ceil(M/BM), ceil(K/W))`. Batched shapes: every operand per batch (or one
 * shared B with one index), params `[M, N, K, batch, strideA, strideBT, strideCount, strideIndex, chunks, 0, 0, 0]`,
 * grid z = batch · chunks.
 * @throws RangeError on an invalid shape, tile or w.
 */
export function pitNProgram(shape: MatmulShape, tile: ComputeTile, w: number): KernelProgram {
  validateShape(shape);
  validateComputeTile(tile);
  if (!Number.isInteger(w) || w < 1) throw new RangeError(`pit-n: micro-tile height must be a positive integer, got ${w}`);
  const { chunks } = pitNIndexSize(shape, w);
  const accumulate = chunks > 1;
  const batched = isBatched(shape);
  const st = batchStrides(shape);
  const perIndex = batched && shape.bShared ? 0 : 1;
  const chunkTerm = w >= shape.k ? 1 : ceilDiv(K, w);
  return makeProgram(
    {
      family: 'pit-n',
      label: `pit-n ${w}x1 tile ${tileName(tile)}${accumulate ? ' cas' : ''}${batched ? ` x${batchOf(shape)}` : ''}`,
      wgsl: pitNMatmulWgsl({ tile, w, accumulate, batched }),
      bindings: [
        { name: 'a', kind: 'read-only-storage' },
        { name: 'bt', kind: 'read-only-storage' },
        { name: 'count', kind: 'read-only-storage' },
        { name: 'index', kind: 'read-only-storage' },
        { name: 'c', kind: 'storage' },
        { name: 'params', kind: 'uniform' },
      ],
      workgroupSize: [tile.bn / tile.tn, tile.bm / tile.tm, 1],
      grid: grid(ceilDiv(N, tile.bn), ceilDiv(M, tile.bm), batched ? mul(BATCH, chunkTerm) : chunkTerm),
      params: batched
        ? [shape.m, shape.n, shape.k, batchOf(shape), st.a, st.b, perIndex * chunks, perIndex * chunks * shape.n, chunks, 0, 0, 0]
        : [shape.m, shape.n, shape.k, 0],
    },
    shapeVars(shape),
  );
}

/**
 * Detection for pit-n (micro-tile `w x 1` of B): reads `bt` = Bᵀ [N, K] and appends, per k-chunk c < ceil(K/w), the
 * columns n of B with a non-zero in `B[c*w .. (c+1)*w, n]`: `count` [ceil(K/w)] u32 (zero before), `index`
 * [ceil(K/w)*N] u32. Batched shapes detect every batch's Bᵀ (grid z), counts and index per batch — once for a shared B.
 * @throws RangeError on an invalid shape or w.
 */
export function detectNProgram(shape: MatmulShape, w: number): KernelProgram {
  const e = extents(shape);
  return detectRowsProgram('detect-n', 'bt', `${w}x1`, e.N, e.K, w, 1, e.vars, operandBatch(shape, shape.bShared));
}

const config = (tile: ComputeTile, microTile: string): FamilyConfig => ({ family: 'pit-n', microTile, tile: { ...tile } });

/** The pit-n family (see the module comment). */
export const pitNFamily: KernelFamily = {
  name: 'pit-n',
  axis: 'n',
  operand: 'b',
  summary: 'PIT condense-N: SRead of the non-zero Wx1 column segments of B (an activation, e.g. attention Kᵀ) along n, SWrite of the columns of C',
  helperRoles: ['detect-n', 'fill', 'transpose'],
  defaultOn: true,
  // Not in the tile database: the tuner's synthetic operands are sparse in A only. Layers measure it (policy measure).
  tuningConfigs: () => [],
  // Few columns (small heads): the narrow tile, whose BN covers them all.
  layerConfigs: (s) => (s.bActivation ? [config(s.n <= NARROW_N ? narrowTile(s.n) : PIT_N_TILE, WHOLE_COLUMN)] : []),
  illegalReason(c, s) {
    if (!s.bActivation) return 'pit-n exploits the sparsity of B, which must be a run-time value (a constant weight has a static pattern)';
    if (c.microTile === WHOLE_COLUMN) return null;
    let mt;
    try {
      mt = parseMicroTile(c.microTile ?? '');
    } catch (e) {
      return (e as Error).message;
    }
    if (mt.w !== 1) return `pit-n micro-tile ${c.microTile} must be Wx1 (of B)`;
    if (mt.h >= s.k) return `pit-n ${mt.h}x1 covers whole columns when K = ${s.k} <= ${mt.h}: that is the Kx1 rule`;
    return null;
  },
  microTile: (c, k) => `${pitNHeight(c, k)}x1`,
  // The coverage of B's `Wx1` is that of Bᵀ's `1xW`: counts per k-chunk.
  blockCounts: (cov) => cov.colCounts,
  plan(s, c) {
    validateShape(s);
    validateComputeTile(c.tile);
    const w = pitNHeight(c, s.k);
    const { chunks, indexLength } = pitNIndexSize(s, w);
    const e = extents(s);
    const bb = operandBatch(s, s.bShared);
    const nb = bb?.value ?? 1;
    const lead = (shape: number[]) => (bb ? [nb, ...shape] : shape);
    const batch = isBatched(s) ? e.B : undefined;
    return {
      aLayout: 'a',
      bLayout: 'bt',
      buffers: [
        { name: 'count', dtype: 'u32', shape: lead([chunks]), role: 'scratch' },
        { name: 'index', dtype: 'u32', shape: lead([indexLength]), role: 'scratch' },
        { name: 'c', dtype: 'f32', shape: batch ? [batch.value, s.m, s.n] : [s.m, s.n], role: 'output' },
      ],
      detect: [zeroFillProgram('count', timesBatch({ value: chunks, term: w >= s.k ? { text: '1', at: () => 1 } : ceilDiv(K, w) }, bb), e.vars), detectNProgram(s, w)],
      compute: [zeroFillProgram('c', timesBatch({ value: s.m * s.n, term: mul(M, N) }, batch), e.vars), pitNProgram(s, c.tile, w)],
      counts: { buffer: 'count', length: nb * chunks, microTiles: nb * indexLength, microTile: `${w}x1`, operand: 'b' },
    };
  },
  costFeatures: { names: ['1', 'G', 'U', 'F'], work: 1 },
  kernelFeatures(c, s, counts, g) {
    // U: Σ over chunks of ceil(columns/BN) gathered column tiles × ceil(height/BK) slices, per row tile; F: zero-fill of C.
    const w = pitNHeight(c, s.k);
    let steps = 0;
    for (let ch = 0; ch < counts.length; ch++) steps += Math.ceil(counts[ch]! / c.tile.bn) * Math.ceil(Math.min(w, s.k - ch * w) / c.tile.bk);
    return [1, g, Math.ceil(s.m / c.tile.bm) * steps, (s.m * s.n) / 256];
  },
  detectKey: (c) => `detect-n ${c.microTile}`,
  variantName(c) {
    const defaultTile = sameTile(c.tile, PIT_N_TILE);
    if (c.microTile === WHOLE_COLUMN && defaultTile) return 'pit-n';
    return `pit-n ${c.microTile}${defaultTile ? '' : ' ' + tileName(c.tile)}`;
  },
  describe: (op, c, k) =>
    `${op}: axis n, micro-tile ${pitNHeight(c, k)}x1 of B, SRead of non-zero columns of B (rows of Bᵀ) into tile ${tileName(c.tile)}, SWrite of C columns` +
    (c.microTile === WHOLE_COLUMN ? ' (plain stores)' : ' (CAS accumulation over k-chunks)'),
  configOf(v, k) {
    const tile = parseTileName(v.computeTile, [PIT_N_TILE], PIT_N_TILE);
    const w = v.microTile ? parseMicroTile(v.microTile).h : k;
    return config(tile, w < k ? `${w}x1` : WHOLE_COLUMN);
  },
  // Its index is built on B, which the exported fixtures (A-side) do not describe: no CPU index fixture.
  referenceIndex: () => null,
};
