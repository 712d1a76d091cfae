/**
 * The `dense` kernel family: the tiled fp32 matmul every PIT variant is compared with (the baseline is the fastest
 * verified dense computation tile for the layer's shape). Template: `shaders/dense-matmul.wgsl.ts`.
 */
import { denseMatmulWgsl } from '../../shaders/dense-matmul.wgsl.ts';
import { isVec4Tile, tileName, validateComputeTile, type ComputeTile } from '../../shaders/common.wgsl.ts';
import type { FamilyConfig, KernelFamily } from './family.ts';
import { BATCH, ceilDiv, grid, M, N } from './grid.ts';
import { makeProgram, type KernelProgram } from './program.ts';
import { batchOf, batchStrides, isBatched, shapeVars, validateShape, type MatmulShape } from './shape.ts';
import { DEFAULT_DENSE_TILE, DEFAULT_PIT_TILE, NARROW_N, narrowTile, paddedElements, parseTileName, sameTile } from './tiles.ts';
import { denseSplitKProgram, SPLITK_REDUCE_ROLE, splitKFactorFor, splitKPlan } from './dense-splitk.ts';

export type { ComputeTile } from '../../shaders/common.wgsl.ts';

/**
 * The dense matmul program. Bindings: `a` [M,K] f32, `b` [K,N] f32, `c` [M,N] f32 (fully overwritten, no zeroing
 * needed), `params` uniform `[M, N, K, 0]`. Grid `(ceil(N/BN), ceil(M/BM), 1)`. Tiles with TM, TN, BK multiples of 4
 * take the vec4 register-tiled, double-buffered path (`isVec4Tile`), with 16-byte global accesses when K and N are
 * multiples of 4 (the label then ends in ` v4`); other tiles the scalar path. Batched shapes (shape.ts): `a` [batch, M, K]
 * (or one shared [M, K]), `b` likewise, `c` [batch, M, N], params `[M, N, K, batch, strideA, strideB, 0, 0]`, grid z =
 * batch (label suffix ` xB`).
 * @throws RangeError on an invalid shape or tile.
 */
export function denseProgram(shape: MatmulShape, tile: ComputeTile): KernelProgram {
  validateShape(shape);
  validateComputeTile(tile);
  const vecGlobal = isVec4Tile(tile) && shape.k % 4 === 0 && shape.n % 4 === 0;
  const batched = isBatched(shape);
  const st = batchStrides(shape);
  return makeProgram(
    {
      family: 'dense',
      label: `dense tile ${tileName(tile)}${vecGlobal ? ' v4' : ''}${batched ? ` x${batchOf(shape)}` : ''}`,
      wgsl: denseMatmulWgsl({ tile, vecGlobal, ...(batched ? { batched } : {}) }),
      bindings: [
        { name: 'a', kind: 'read-only-storage' },
        { name: 'b', kind: 'read-only-storage' },
        { name: 'c', kind: 'storage' },
        { name: 'params', kind: 'uniform' },
      ],
      workgroupSize: [tile.bn / tile.tn, tile.bm / tile.tm, 1],
      grid: grid(ceilDiv(N, tile.bn), ceilDiv(M, tile.bm), batched ? BATCH : 1),
      params: batched ? [shape.m, shape.n, shape.k, batchOf(shape), st.a, st.b, 0, 0] : [shape.m, shape.n, shape.k, 0],
    },
    shapeVars(shape),
  );
}

/**
 * Dense computation tiles tuned and tried as baseline candidates: the default 128x128x16/8x8, the PIT tile
 * 32x128x8/4x4 for few rows and wide N, 64x32x16/4x2 for narrow N, 16x64x16/2x4 for very few rows, and (issue 11
 * item 5) vec4-path narrow-N tiles 128x32x16/8x4 and 128x16x16/8x4 for tall-skinny layers (the det model's
 * `38400×24×864` convolutions: the 128-column tiles compute 5x the useful work there).
 */
export const DENSE_TILES: readonly ComputeTile[] = [
  { ...DEFAULT_DENSE_TILE },
  { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4 },
  { bm: 64, bn: 32, bk: 16, tm: 4, tn: 2 },
  { bm: 16, bn: 64, bk: 16, tm: 2, tn: 4 },
  { bm: 128, bn: 32, bk: 16, tm: 8, tn: 4 },
  { bm: 128, bn: 16, bk: 16, tm: 8, tn: 4 },
];

/**
 * The default dense tile for an [M, N] output: DEFAULT_DENSE_TILE, unless its padding makes it compute over 1.5x the
 * elements DEFAULT_PIT_TILE would (a handful of rows); then the PIT tile. Its time over the baseline's is the
 * "dense tile choice" gain a run reports apart from PIT's.
 */
export function denseTileFor(m: number, n: number): ComputeTile {
  const big = paddedElements(m, n, DEFAULT_DENSE_TILE);
  const small = paddedElements(m, n, DEFAULT_PIT_TILE);
  return { ...(big > 1.5 * small ? DEFAULT_PIT_TILE : DEFAULT_DENSE_TILE) };
}

/** Baseline candidates per layer: the default tile, plus at most this many others… */
const EXTRA_CANDIDATES = 2;
/** …whose padded output is within this factor of the least padded tile's. */
const PADDING_SLACK = 1.5;

/**
 * The dense tiles measured on a layer: `denseTileFor` (the default, for the dense-tile-choice gain) and up to two of
 * DENSE_TILES with the least padding (within 1.5x of the least), least padded first; on batched layers with N ≤ 16
 * also the narrow tile (`narrowTile`). The same under every policy, so the baseline — the fastest of them — does not
 * depend on how PIT rules were chosen.
 */
export function denseCandidates(s: MatmulShape): ComputeTile[] {
  const narrow = isBatched(s) && s.n <= NARROW_N ? [narrowTile(s.n)] : [];
  return [...denseCandidates2d(s), ...narrow];
}

/** The 2-D candidates (every layer's). */
function denseCandidates2d(s: MatmulShape): ComputeTile[] {
  const def = denseTileFor(s.m, s.n);
  const least = Math.min(...DENSE_TILES.map((t) => paddedElements(s.m, s.n, t)));
  const others = DENSE_TILES.filter((t) => !sameTile(t, def) && paddedElements(s.m, s.n, t) <= PADDING_SLACK * least)
    .map((t) => ({ t, p: paddedElements(s.m, s.n, t) }))
    .sort((x, y) => x.p - y.p)
    .slice(0, EXTRA_CANDIDATES)
    .map((x) => ({ ...x.t }));
  const out = [def, ...others];
  // Split-K (issue 11 item 5): where even the least padded vec4 tile leaves the GPU mostly idle and K is long, the
  // same tile with K split (dense-splitk.ts; 2-D layers only).
  if (isBatched(s)) return out;
  const base = out.filter(isVec4Tile).sort((x, y) => paddedElements(s.m, s.n, x) - paddedElements(s.m, s.n, y) || x.bm * x.bn - y.bm * y.bn)[0];
  const split = base ? splitKFactorFor(s, base) : 1;
  if (base && split > 1) out.push({ ...base, splitK: split });
  return out;
}

const config = (tile: ComputeTile): FamilyConfig => ({ family: 'dense', microTile: null, tile: { ...tile } });

/** The dense family (see the module comment). */
export const denseFamily: KernelFamily = {
  name: 'dense',
  axis: 'none',
  summary: 'dense tiled matmul (the baseline: fastest verified computation tile per layer)',
  helperRoles: [SPLITK_REDUCE_ROLE],
  defaultOn: true,
  tuningConfigs: () => DENSE_TILES.map(config),
  layerConfigs: (s) => denseCandidates(s).map(config),
  illegalReason: (c, s) => ((c.tile.splitK ?? 1) > 1 && isBatched(s) ? `dense split-K (${tileName(c.tile)}) is 2-D only: batched layers take an unsplit tile` : null),
  microTile: () => null,
  blockCounts: () => [],
  plan(s, c) {
    validateShape(s);
    const reason = denseFamily.illegalReason(c, s);
    if (reason) throw new RangeError(reason);
    if ((c.tile.splitK ?? 1) > 1) return splitKPlan(s, c.tile, denseSplitKProgram(s, c.tile));
    return {
      aLayout: 'a',
      buffers: [{ name: 'c', dtype: 'f32', shape: isBatched(s) ? [batchOf(s), s.m, s.n] : [s.m, s.n], role: 'output' }],
      detect: [],
      compute: [denseProgram(s, c.tile)],
      counts: null,
    };
  },
  costFeatures: { names: ['1', 'G', 'U'], work: 1 },
  // U: tile-steps of work, one BM×BN×BK slice per workgroup per step, padding included.
  kernelFeatures: (c, s, _counts, g) => [1, g, Math.ceil(s.n / c.tile.bn) * Math.ceil(s.m / c.tile.bm) * Math.ceil(s.k / c.tile.bk)],
  detectKey: () => null,
  variantName: (c) => (sameTile(c.tile, DEFAULT_DENSE_TILE) ? 'dense' : `dense ${tileName(c.tile)}`),
  describe: (op, c) => `${op}${op === 'Conv' ? ' (im2col)' : ''}: dense, computation tile ${tileName(c.tile)}`,
  configOf: (v) => config(parseTileName(v.computeTile, DENSE_TILES, DEFAULT_DENSE_TILE)),
  referenceIndex: () => null,
};
