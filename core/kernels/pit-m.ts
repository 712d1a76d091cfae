/**
 * The `pit-m` kernel family: PIT's condense-M rule (PIT §4: SRead of the non-zero rows of A along the
 * permutation-invariant spatial axis m, SWrite of the result rows; micro-tile `1 x W` of A). K is cut into chunks of
 * W columns; detection lists, per chunk, the rows with a non-zero; the kernel gathers BM listed rows into a dense
 * computation tile and scatters its result rows back to C. With one chunk (W ≥ K, the whole-row rule `1xK`) each row
 * has one writer; with several, partial sums are accumulated with a compare-and-swap loop (WGSL has no float
 * atomics, DESIGN.md §3), so C is zeroed first inside the timed kernel.
 * Templates: `shaders/pit-m-matmul.wgsl.ts`, `shaders/detect.wgsl.ts`.
 */
import { PIT_M_ROW_TILES_PER_WORKGROUP, pitMMatmulWgsl } from '../../shaders/pit-m-matmul.wgsl.ts';
import { isVec4Tile, tileName, validateComputeTile, type ComputeTile } from '../../shaders/common.wgsl.ts';
import { parseMicroTile, pitMIndexCpu, WHOLE_ROW } from '../sparsity/micro-tiles.ts';
import { detectRowsProgram, extents, operandBatch, timesBatch, zeroFillProgram } from './detect.ts';
import type { FamilyConfig, KernelFamily } from './family.ts';
import { BATCH, ceilDiv, grid, K, M, mul, N } from './grid.ts';
import { makeProgram, type KernelProgram } from './program.ts';
import { batchOf, batchStrides, ceilDiv as ceilDivN, isBatched, shapeVars, validateShape, type MatmulShape } from './shape.ts';
import { DEFAULT_PIT_TILE, NARROW_N, narrowTile, parseTileName, sameTile } from './tiles.ts';

export { WHOLE_ROW } from '../sparsity/micro-tiles.ts';

/** Sizes of the pit-m index for `[M, K]` and micro-tile width `w`: `chunks = ceil(K/w)` counts, `chunks*M` entries. */
export function pitMIndexSize(shape: MatmulShape, w: number): { chunks: number; indexLength: number } {
  const chunks = ceilDivN(shape.k, w);
  return { chunks, indexLength: chunks * shape.m };
}

/**
 * The condense-M program for micro-tile `1 x w` (w >= K means whole rows, one chunk, plain stores; otherwise partial
 * sums are CAS-accumulated). Bindings: `a` [M,K] f32, `b` [K,N] f32, `count` [ceil(K/w)] u32, `index`
 * [ceil(K/w)*M] u32 (rows of chunk c at `c*M ..`), `c` [M,N] f32 (must be zero before the dispatch), `params`
 * uniform `[M, N, K, 0]`. Grid `(ceil(N/BN), ceil(M/BM), ceil(K/W))`, sized for the worst case (all rows listed);
 * accumulating vec4 kernels use `ceil(ceil(M/BM)/8)` along y, each workgroup walking up to 8 row tiles.
 * Tiles with TM, TN, BK multiples of 4 take the vec4 register-tiled, double-buffered path, with 16-byte global
 * accesses when K, W and N are multiples of 4 (label suffix ` v4`). Batched shapes: `a` [batch, M, K], `b` [batch, K, N]
 * (either one shared matrix), `count`/`index` per batch (one of each for a shared A), `c` [batch, M, N], params
 * `[M, N, K, batch, strideA, strideB, strideCount, strideIndex, chunks, 0, 0, 0]`, grid z = batch · chunks.
 * @throws RangeError on an invalid shape, tile or w.
 */
export function pitMProgram(shape: MatmulShape, tile: ComputeTile, w: number): KernelProgram {
  validateShape(shape);
  validateComputeTile(tile);
  if (!Number.isInteger(w) || w < 1) throw new RangeError(`pit-m: micro-tile width must be a positive integer, got ${w}`);
  const { chunks } = pitMIndexSize(shape, w);
  const accumulate = chunks > 1;
  // Accumulating vec4 kernels walk several row tiles per workgroup (most row tiles of a sparse chunk are empty).
  const strided = isVec4Tile(tile) && accumulate;
  const rowTiles = ceilDiv(M, tile.bm);
  const vecGlobal = isVec4Tile(tile) && shape.k % 4 === 0 && (w >= shape.k || w % 4 === 0) && shape.n % 4 === 0;
  const batched = isBatched(shape);
  const st = batchStrides(shape);
  const perIndex = batched && shape.aShared ? 0 : 1;
  const chunkTerm = w >= shape.k ? 1 : ceilDiv(K, w);
  return makeProgram(
    {
      family: 'pit-m',
      label: `pit-m 1x${w} tile ${tileName(tile)}${accumulate ? ' cas' : ''}${vecGlobal ? ' v4' : ''}${batched ? ` x${batchOf(shape)}` : ''}`,
      wgsl: pitMMatmulWgsl({ tile, w, accumulate, vecGlobal, ...(batched ? { batched } : {}) }),
      bindings: [
        { name: 'a', kind: 'read-only-storage' },
        { name: 'b', kind: 'read-only-storage' },
        { name: 'count', kind: 'read-only-storage' },
        { name: 'index', kind: 'read-only-storage' },
        { name: 'c', kind: 'storage' },
        { name: 'params', kind: 'uniform' },
      ],
      workgroupSize: [tile.bn / tile.tn, tile.bm / tile.tm, 1],
      grid: grid(ceilDiv(N, tile.bn), strided ? ceilDiv(rowTiles, PIT_M_ROW_TILES_PER_WORKGROUP) : rowTiles, batched ? mul(BATCH, chunkTerm) : chunkTerm),
      params: batched
        ? [shape.m, shape.n, shape.k, batchOf(shape), st.a, st.b, perIndex * chunks, perIndex * chunks * shape.m, chunks, 0, 0, 0]
        : [shape.m, shape.n, shape.k, 0],
    },
    shapeVars(shape),
  );
}

/**
 * Detection for pit-m (micro-tile `mh x w` of A, default `1 x w`): reads `a` = A [M, K] and appends, per k-chunk
 * c < ceil(K/w), the row blocks (m / mh) whose `A[rb*mh .., c*w .. (c+1)*w)` holds a non-zero: `count` [ceil(K/w)]
 * u32 (zero before), `index` [ceil(K/w)*ceil(M/mh)] u32. Order within a chunk is arbitrary; with mh = 1 the entries
 * are rows. Batched shapes detect every batch's A (grid z), counts and index per batch — or once for a shared A.
 * @throws RangeError on an invalid shape, w or mh.
 */
export function detectMProgram(shape: MatmulShape, w: number, mh = 1): KernelProgram {
  const e = extents(shape);
  return detectRowsProgram('detect-m', 'a', `${mh}x${w}`, e.M, e.K, w, mh, e.vars, operandBatch(shape, shape.aShared));
}

/** Micro-tile widths tuned (PIT §5 uses 1x64-class row tiles for condense-M), each plus the whole-row rule. */
export const PIT_M_WIDTHS: readonly number[] = [16, 32, 64];
/** Computation tiles tuned for pit-m. */
export const PIT_M_TILES: readonly ComputeTile[] = [{ ...DEFAULT_PIT_TILE }];

/** Micro-tile width of a configuration at reduction length k (K for whole rows; a width beyond K is whole rows). */
export function pitMWidth(c: Pick<FamilyConfig, 'microTile'>, k: number): number {
  if (c.microTile === null || c.microTile === WHOLE_ROW) return k;
  const mt = parseMicroTile(c.microTile);
  if (mt.h !== 1) throw new RangeError(`pit-m: micro-tile ${c.microTile} must be 1xW (one row per micro-tile)`);
  return Math.min(mt.w, k);
}

const config = (tile: ComputeTile, microTile: string): FamilyConfig => ({ family: 'pit-m', microTile, tile: { ...tile } });

/** The pit-m family (see the module comment). */
export const pitMFamily: KernelFamily = {
  name: 'pit-m',
  axis: 'm',
  summary: 'PIT condense-M: SRead of the non-zero 1xW row segments of A along m, SWrite of the rows of C',
  helperRoles: ['detect-m', 'fill'],
  defaultOn: true,
  tuningConfigs: () => PIT_M_TILES.flatMap((t) => [...PIT_M_WIDTHS.map((w) => config(t, `1x${w}`)), config(t, WHOLE_ROW)]),
  // Batched layers with few output columns (depthwise convs, small heads) take the narrow tile.
  layerConfigs: (s) => [config(isBatched(s) && s.n <= NARROW_N ? narrowTile(s.n) : DEFAULT_PIT_TILE, WHOLE_ROW)],
  illegalReason(c, s) {
    if (c.microTile === WHOLE_ROW) return null;
    let mt;
    try {
      mt = parseMicroTile(c.microTile ?? '');
    } catch (e) {
      return (e as Error).message;
    }
    if (mt.h !== 1) return `pit-m micro-tile ${c.microTile} must be 1xW`;
    // A tuned `1xW` with W >= K is the whole-row rule, with another kernel text: only `1xK` stands for it.
    if (mt.w >= s.k) return `pit-m 1x${mt.w} covers whole rows when K = ${s.k} <= ${mt.w}: that is the 1xK rule`;
    return null;
  },
  microTile: (c, k) => `1x${pitMWidth(c, k)}`,
  blockCounts: (cov) => cov.colCounts,
  plan(s, c) {
    validateShape(s);
    const w = pitMWidth(c, s.k);
    const { chunks, indexLength } = pitMIndexSize(s, w);
    const e = extents(s);
    // One index per batch, or one for an A shared by every batch.
    const ab = operandBatch(s, s.aShared);
    const nb = ab?.value ?? 1;
    const lead = (shape: number[]) => (ab ? [nb, ...shape] : shape);
    const batch = isBatched(s) ? e.B : undefined;
    return {
      aLayout: 'a',
      buffers: [
        { name: 'count', dtype: 'u32', shape: lead([chunks]), role: 'scratch' },
        { name: 'index', dtype: 'u32', shape: lead([indexLength]), role: 'scratch' },
        { name: 'c', dtype: 'f32', shape: batch ? [batch.value, s.m, s.n] : [s.m, s.n], role: 'output' },
      ],
      detect: [zeroFillProgram('count', timesBatch({ value: chunks, term: w >= s.k ? { text: '1', at: () => 1 } : ceilDiv(K, w) }, ab), e.vars), detectMProgram(s, w)],
      compute: [zeroFillProgram('c', timesBatch({ value: s.m * s.n, term: mul(M, N) }, batch), e.vars), pitMProgram(s, c.tile, w)],
      counts: { buffer: 'count', length: nb * chunks, microTiles: nb * indexLength, microTile: `1x${w}` },
    };
  },
  costFeatures: { names: ['1', 'G', 'U', 'F'], work: 1 },
  kernelFeatures(c, s, counts, g) {
    // U: Σ over chunks of ceil(rows/BM) gathered row tiles × ceil(width/BK) slices, per column tile; F: zero-fill of C.
    const w = pitMWidth(c, s.k);
    let steps = 0;
    for (let ch = 0; ch < counts.length; ch++) steps += Math.ceil(counts[ch]! / c.tile.bm) * Math.ceil(Math.min(w, s.k - ch * w) / c.tile.bk);
    return [1, g, Math.ceil(s.n / c.tile.bn) * steps, (s.m * s.n) / 256];
  },
  detectKey: (c) => `detect-m ${c.microTile}`,
  variantName(c) {
    const defaultTile = sameTile(c.tile, DEFAULT_PIT_TILE);
    if (c.microTile === WHOLE_ROW && defaultTile) return 'pit-m';
    return `pit-m ${c.microTile}${defaultTile ? '' : ' ' + tileName(c.tile)}`;
  },
  describe: (op, c, k) =>
    `${op}${op === 'Conv' ? ' (im2col)' : ''}: axis m, micro-tile 1x${pitMWidth(c, k)} of A, SRead of non-zero rows into tile ${tileName(c.tile)}, SWrite of C rows` +
    (c.microTile === WHOLE_ROW ? ' (plain stores)' : ' (CAS accumulation over k-chunks)'),
  configOf(v, k) {
    const tile = parseTileName(v.computeTile, PIT_M_TILES, DEFAULT_PIT_TILE);
    const w = v.microTile ? parseMicroTile(v.microTile).w : k;
    return config(tile, w < k ? `1x${w}` : WHOLE_ROW);
  },
  referenceIndex: (c, a, s) => pitMIndexCpu(a, s.m, s.k, pitMWidth(c, s.k)),
};
