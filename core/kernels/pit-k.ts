/**
 * The `pit-k` kernel family: PIT's condense-K rule (PIT §4, SRead along the permutation-invariant reduction axis k;
 * micro-tile `BM x 1` of A; the idea of SparTA pit_sm80 `csrc/openai_bmm_forward_kernel.cu`). Detection lists, per
 * row block of BM rows, the k's whose micro-tile holds a non-zero; the kernel gathers those columns of A (rows of
 * Aᵀ) and rows of B into dense computation tiles. No SWrite: each output tile has one owner.
 * Templates: `shaders/pit-k-matmul.wgsl.ts` (kernel and k-list merge), `shaders/detect.wgsl.ts` (detection).
 */
import { MERGE_K_WORKGROUP, mergeKWgsl, pitKMatmulWgsl } from '../../shaders/pit-k-matmul.wgsl.ts';
import { isVec4Tile, tileName, validateComputeTile, type ComputeTile } from '../../shaders/common.wgsl.ts';
import { parseMicroTile, pitKIndexCpu } from '../sparsity/micro-tiles.ts';
import { detectRowsProgram, extents, operandBatch, timesBatch, zeroFillProgram } from './detect.ts';
import type { FamilyConfig, KernelFamily, PlanBuffer } from './family.ts';
import { BATCH, ceilDiv, grid, M, N } from './grid.ts';
import { makeProgram, type KernelProgram } from './program.ts';
import { batchOf, batchStrides, ceilDiv as ceilDivN, isBatched, shapeVars, validateShape, type MatmulShape } from './shape.ts';
import { DEFAULT_PIT_TILE, NARROW_N, narrowTile, parseTileName, sameTile } from './tiles.ts';

/** Sizes of the pit-k index for `[M, K]` and micro-tile height `bm`: `blocks = ceil(M/bm)` counts, `blocks*K` entries. */
export function pitKIndexSize(shape: MatmulShape, bm: number): { blocks: number; indexLength: number } {
  const blocks = ceilDivN(shape.m, bm);
  return { blocks, indexLength: blocks * shape.k };
}

/**
 * The condense-K program. Bindings: `at` [K,M] f32 (A transposed), `b` [K,N] f32, `count` [ceil(M/BM)] u32,
 * `index` [ceil(M/BM)*K] u32 (k's of block mb at `mb*K ..`), `c` [M,N] f32 (fully overwritten), `params` uniform
 * `[M, N, K, 0]`. Grid `(ceil(N/BN), ceil(M/BM), 1)`, or `(ceil(M/BM), ceil(N/BN), 1)` on the vec4 path (row blocks
 * along x). The micro-tile is `${tile.bm}x1`. Tiles with TM, TN, BK multiples of 4 take the vec4 register-tiled,
 * double-buffered path, with 16-byte global accesses when M and N are multiples of 4 (label suffix ` v4`). Batched
 * shapes: `at` [batch, K, M], `b` [batch, K, N] (either one shared matrix), `count`/`index` per batch (one of each for
 * a shared A), `c` [batch, M, N], params `[M, N, K, batch, strideAT, strideB, strideCount, strideIndex]`, grid z = batch.
 * @throws RangeError on an invalid shape or tile.
 */
export function pitKProgram(shape: MatmulShape, tile: ComputeTile): KernelProgram {
  validateShape(shape);
  validateComputeTile(tile);
  const vecGlobal = isVec4Tile(tile) && shape.m % 4 === 0 && shape.n % 4 === 0;
  const rows = ceilDiv(M, tile.bm);
  const cols = ceilDiv(N, tile.bn);
  const batched = isBatched(shape);
  const st = batchStrides(shape);
  const { blocks, indexLength } = pitKIndexSize(shape, tile.bm);
  const perIndex = batched && shape.aShared ? 0 : 1;
  return makeProgram(
    {
      family: 'pit-k',
      label: `pit-k ${tile.bm}x1 tile ${tileName(tile)}${vecGlobal ? ' v4' : ''}${batched ? ` x${batchOf(shape)}` : ''}`,
      wgsl: pitKMatmulWgsl({ tile, vecGlobal, ...(batched ? { batched } : {}) }),
      bindings: [
        { name: 'at', kind: 'read-only-storage' },
        { name: 'b', kind: 'read-only-storage' },
        { name: 'count', kind: 'read-only-storage' },
        { name: 'index', kind: 'read-only-storage' },
        { name: 'c', kind: 'storage' },
        { name: 'params', kind: 'uniform' },
      ],
      workgroupSize: [tile.bn / tile.tn, tile.bm / tile.tm, 1],
      grid: isVec4Tile(tile) ? grid(rows, cols, batched ? BATCH : 1) : grid(cols, rows, batched ? BATCH : 1),
      params: batched
        ? [shape.m, shape.n, shape.k, batchOf(shape), st.a, st.b, perIndex * blocks, perIndex * indexLength]
        : [shape.m, shape.n, shape.k, 0],
    },
    shapeVars(shape),
  );
}

/**
 * The merged plan of a pit-k family (pit-k, pit-k-f16) whose BM-row kernel `main` reads an index of shorter `h x 1`
 * micro-tiles: the united lists `countm` [ceil(M/BM)] and `indexm` [ceil(M/BM)·K] (u32 scratch), built by `merge-k`
 * before the kernel, whose `count`/`index` bindings are renamed to them and whose label says `<family> hx1 merged`.
 * 2-D shapes only.
 */
export function mergedIndexPlan(s: MatmulShape, h: number, bm: number, main: KernelProgram, family: string): { buffers: PlanBuffer[]; compute: KernelProgram[] } {
  const merged = pitKIndexSize(s, bm);
  const rename: Record<string, string> = { count: 'countm', index: 'indexm' };
  return {
    buffers: [
      { name: 'countm', dtype: 'u32', shape: [merged.blocks], role: 'scratch' },
      { name: 'indexm', dtype: 'u32', shape: [merged.indexLength], role: 'scratch' },
    ],
    compute: [
      mergeKProgram(s, h, bm / h),
      { ...main, label: main.label.replace(new RegExp(`^${family} \\d+x1`), `${family} ${h}x1 merged`), bindings: main.bindings.map((b) => ({ ...b, name: rename[b.name] ?? b.name })) },
    ],
  };
}

/**
 * The cost-model features `[1, G, U]` of a pit-k family: U, per column tile, the gathered BK-slices
 * (ceil(count/BK)) summed over the row blocks; `counts` are the per-row-block k counts, `g` the workgroups.
 */
export function pitKKernelFeatures(c: FamilyConfig, s: MatmulShape, counts: ArrayLike<number>, g: number): number[] {
  let steps = 0;
  for (let i = 0; i < counts.length; i++) steps += Math.ceil(counts[i]! / c.tile.bk);
  return [1, g, Math.ceil(s.n / c.tile.bn) * steps];
}

/**
 * The k-list merge (`merge-k`): coarsens a pit-k index of micro-tile `h x 1` into one of `r*h x 1` by taking, for
 * each group of r consecutive row blocks, the union of their k-lists (ascending). Bindings: `count`, `index` (the
 * `h x 1` index, read), `countm` [ceil(M/(r*h))] u32 and `indexm` [ceil(M/(r*h))*K] u32 (written in full),
 * `params` uniform `[ceil(M/h), K, r, 0]`. Grid `(ceil(ceil(M/h)/r), 1, 1)`.
 * @throws RangeError on an invalid shape, h or r.
 */
export function mergeKProgram(shape: MatmulShape, h: number, r: number): KernelProgram {
  validateShape(shape);
  if (!Number.isInteger(h) || h < 1 || !Number.isInteger(r) || r < 1) throw new RangeError(`merge-k: h and r must be positive integers, got ${h}, ${r}`);
  const blocks = ceilDivN(shape.m, h);
  return makeProgram(
    {
      family: 'merge-k',
      label: `merge-k ${h}x1 x${r}`,
      wgsl: mergeKWgsl(),
      bindings: [
        { name: 'count', kind: 'read-only-storage' },
        { name: 'index', kind: 'read-only-storage' },
        { name: 'countm', kind: 'storage' },
        { name: 'indexm', kind: 'storage' },
        { name: 'params', kind: 'uniform' },
      ],
      workgroupSize: [MERGE_K_WORKGROUP, 1, 1],
      grid: grid(ceilDiv(ceilDiv(M, h), r), 1, 1),
      params: [blocks, shape.k, r, 0],
    },
    shapeVars(shape),
  );
}

/**
 * Detection for pit-k (micro-tile `h x kh` of A, default `h x 1`): reads `at` = Aᵀ [K, M] and appends, per row block
 * mb < ceil(M/h), the k-blocks (k / kh) whose `A[mb*h .., kb*kh ..]` holds a non-zero: `count` [ceil(M/h)] u32 (zero
 * before), `index` [ceil(M/h)*ceil(K/kh)] u32. Order within a block is arbitrary; with kh = 1 the entries are k's.
 * Batched shapes detect every batch's Aᵀ (grid z), counts and index per batch — or once for a shared A.
 * @throws RangeError on an invalid shape, h or kh.
 */
export function detectKProgram(shape: MatmulShape, h: number, kh = 1): KernelProgram {
  const e = extents(shape);
  return detectRowsProgram('detect-k', 'at', `${h}x${kh}`, e.K, e.M, h, kh, e.vars, operandBatch(shape, shape.aShared));
}


/** Computation tiles tuned per micro-tile height (BM = height; BN = 64 below 32 rows: k-sparse layers are narrow). */
export const PIT_K_TILES: readonly ComputeTile[] = [
  { bm: 4, bn: 64, bk: 8, tm: 1, tn: 4 },
  { bm: 8, bn: 64, bk: 8, tm: 2, tn: 4 },
  { bm: 16, bn: 64, bk: 8, tm: 2, tn: 4 },
  { ...DEFAULT_PIT_TILE },
];

/** Height h of a `hx1` micro-tile. @throws RangeError when the label is not `Hx1`. */
function heightOf(c: FamilyConfig): number {
  const mt = parseMicroTile(c.microTile ?? `${c.tile.bm}x1`);
  if (mt.w !== 1) throw new RangeError(`pit-k: micro-tile ${c.microTile} must be Hx1 (one k per micro-tile)`);
  return mt.h;
}

const config = (tile: ComputeTile, h = tile.bm): FamilyConfig => ({ family: 'pit-k', microTile: `${h}x1`, tile: { ...tile } });

/** The pit-k family (see the module comment). */
export const pitKFamily: KernelFamily = {
  name: 'pit-k',
  axis: 'k',
  summary: 'PIT condense-K: SRead of the non-zero Hx1 micro-tiles of A along the reduction axis k (no SWrite)',
  helperRoles: ['detect-k', 'fill', 'merge-k', 'transpose'],
  defaultOn: true,
  tuningConfigs: () => PIT_K_TILES.map((t) => config(t)),
  // Batched layers with few output columns (depthwise convs, small heads) take the narrow tile (micro-tile 64x1).
  layerConfigs: (s) => [config(isBatched(s) && s.n <= NARROW_N ? narrowTile(s.n) : DEFAULT_PIT_TILE)],
  illegalReason(c, s) {
    let h: number;
    try {
      h = heightOf(c);
    } catch (e) {
      return (e as Error).message;
    }
    // A BM-row tile over an h-row index unites the lists of BM/h row blocks first (merge-k).
    if (h !== c.tile.bm && c.tile.bm % h !== 0) return `pit-k micro-tile ${c.microTile} needs a computation tile with BM = ${h} (or a multiple), got ${c.tile.bm}`;
    if (h !== c.tile.bm && isBatched(s)) return `pit-k micro-tile ${c.microTile} under a ${c.tile.bm}-row tile needs merge-k, which is 2-D only: batched layers take BM = ${h}`;
    return null;
  },
  // What the kernel computes is the union over its BM rows: the BMx1 micro-tile.
  microTile: (c) => `${c.tile.bm}x1`,
  blockCounts: (cov) => cov.rowCounts,
  plan(s, c) {
    validateShape(s);
    const tile = c.tile;
    const h = heightOf(c);
    const reason = pitKFamily.illegalReason(c, s);
    if (reason) throw new RangeError(reason);
    const { blocks, indexLength } = pitKIndexSize(s, h);
    const e = extents(s);
    // One index per batch, or one for an A shared by every batch.
    const ab = operandBatch(s, s.aShared);
    const nb = ab?.value ?? 1;
    const lead = (shape: number[]) => (ab ? [nb, ...shape] : shape);
    const detect = [zeroFillProgram('count', timesBatch({ value: blocks, term: ceilDiv(M, h) }, ab), e.vars), detectKProgram(s, h)];
    const buffers = [
      { name: 'count', dtype: 'u32' as const, shape: lead([blocks]), role: 'scratch' as const },
      { name: 'index', dtype: 'u32' as const, shape: lead([indexLength]), role: 'scratch' as const },
      { name: 'c', dtype: 'f32' as const, shape: isBatched(s) ? [batchOf(s), s.m, s.n] : [s.m, s.n], role: 'output' as const },
    ];
    if (h === tile.bm) {
      return {
        aLayout: 'at',
        buffers,
        detect,
        compute: [pitKProgram(s, tile)],
        counts: { buffer: 'count', length: nb * blocks, microTiles: nb * indexLength, microTile: `${h}x1` },
      };
    }
    // Merged: the BM-row kernel reads the united lists (`countm`, `indexm`).
    const merged = mergedIndexPlan(s, h, tile.bm, pitKProgram(s, tile), 'pit-k');
    return {
      aLayout: 'at',
      buffers: [...buffers, ...merged.buffers],
      detect,
      compute: merged.compute,
      counts: { buffer: 'count', length: blocks, microTiles: indexLength, microTile: `${h}x1` },
    };
  },
  costFeatures: { names: ['1', 'G', 'U'], work: 1 },
  kernelFeatures: pitKKernelFeatures,
  detectKey: (c) => `detect-k ${c.microTile}`,
  variantName(c) {
    const h = heightOf(c);
    if (h === DEFAULT_PIT_TILE.bm && sameTile(c.tile, DEFAULT_PIT_TILE)) return 'pit-k';
    const tuned = PIT_K_TILES.some((t) => t.bm === h && sameTile(t, c.tile));
    return `pit-k ${h}x1${tuned ? '' : ` ${tileName(c.tile)}`}`;
  },
  describe: (op, c) =>
    `${op}${op === 'Conv' ? ' (im2col)' : ''}: axis k, micro-tile ${c.microTile} of A, SRead of non-zero k's into tile ${tileName(c.tile)}, no SWrite`,
  configOf(v) {
    const tile = parseTileName(v.computeTile, PIT_K_TILES, DEFAULT_PIT_TILE);
    return config(tile, v.microTile ? parseMicroTile(v.microTile).h : tile.bm);
  },
  referenceIndex: (c, a, s) => pitKIndexCpu(a, s.m, s.k, heightOf(c)),
};
