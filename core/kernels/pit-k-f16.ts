/**
 * The `pit-k-f16` kernel family (issue 11): PIT's condense-K rule (micro-tile `BM x 1` of A, SRead along k, no
 * SWrite; see pit-k.ts) with f16 operands and f32 accumulation. Detection reads the f16 `AT` (detect.wgsl.ts, dtype
 * f16); the k-list merge (`merge-k`) is pit-k's. SIMT tiles by default; tensor-core tiles (where the adapter has
 * f16→f32 subgroup matrices) are tuning candidates, see `pitKF16Tiles`. Template: `shaders/pit-k-f16.wgsl.ts`. Measured only by f16 runs (`defaultOn: false`).
 */
import { pitKF16Wgsl } from '../../shaders/pit-k-f16.wgsl.ts';
import { f16Threads, validateF16Tile } from '../../shaders/dense-f16.wgsl.ts';
import { tileName, type ComputeTile } from '../../shaders/common.wgsl.ts';
import { parseMicroTile, pitKIndexCpu } from '../sparsity/micro-tiles.ts';
import { mmaFragmentOf, mmaMinBytes, type MmaFragment } from './dense-f16.ts';
import { detectRowsProgram, extents, zeroFillProgram } from './detect.ts';
import { f16ShapeProblem } from './f16.ts';
import type { DeviceCaps, FamilyConfig, KernelFamily } from './family.ts';
import { ceilDiv, grid, M, N } from './grid.ts';
import { mergedIndexPlan, pitKIndexSize, pitKKernelFeatures } from './pit-k.ts';
import { makeProgram, type KernelProgram } from './program.ts';
import { shapeVars, validateShape, type MatmulShape } from './shape.ts';
import { parseTileName, sameTile } from './tiles.ts';

/**
 * The f16 condense-K program. Bindings: `at` [K,M] f16, `b` [K,N] f16, `count` [ceil(M/BM)] u32, `index`
 * [ceil(M/BM)*K] u32, `c` [M,N] f32 (fully overwritten), `params` `[M, N, K, 0]`. Grid `(ceil(M/BM), ceil(N/BN), 1)`.
 * 16-byte global access when M and N are multiples of 8 (subgroup matrices) or 4 (SIMT): label suffix ` v4`.
 * @throws RangeError on an invalid shape or tile.
 */
export function pitKF16Program(shape: MatmulShape, tile: ComputeTile): KernelProgram {
  validateShape(shape);
  validateF16Tile(tile);
  const q = tile.mma ? 8 : 4;
  const vecGlobal = shape.m % q === 0 && shape.n % q === 0;
  return makeProgram(
    {
      family: 'pit-k-f16',
      label: `pit-k-f16 ${tile.bm}x1 tile ${tileName(tile)}${vecGlobal ? ' v4' : ''}`,
      wgsl: pitKF16Wgsl({ tile, vecGlobal }),
      bindings: [
        { name: 'at', kind: 'read-only-storage' },
        { name: 'b', kind: 'read-only-storage' },
        { name: 'count', kind: 'read-only-storage' },
        { name: 'index', kind: 'read-only-storage' },
        { name: 'c', kind: 'storage' },
        { name: 'params', kind: 'uniform' },
      ],
      workgroupSize: tile.mma ? [f16Threads(tile), 1, 1] : [tile.bn / tile.tn, tile.bm / tile.tm, 1],
      grid: grid(ceilDiv(M, tile.bm), ceilDiv(N, tile.bn), 1),
      params: [shape.m, shape.n, shape.k, 0],
    },
    shapeVars(shape),
  );
}

/** Detection for pit-k-f16: as pit-k's `detectKProgram` on the f16 `AT`. */
export function detectKF16Program(shape: MatmulShape, h: number): KernelProgram {
  const e = extents(shape);
  return detectRowsProgram('detect-k', 'at', `${h}x1`, e.K, e.M, h, 1, e.vars, undefined, 'f16');
}

/** SIMT tiles (vec4 path): BM = the micro-tile height 32, 16, 8. */
export const PIT_K_F16_SIMT_TILES: readonly ComputeTile[] = [
  { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4 },
  { bm: 16, bn: 64, bk: 8, tm: 4, tn: 4 },
  { bm: 8, bn: 64, bk: 8, tm: 4, tn: 4 },
];

/**
 * Tensor-core tiles for fragment `f` (16x16 fragments, 32-wide subgroups in the sizes below): 32-row tiles with four
 * subgroups of 16x64 (the default) or two of 32x64 along a 128- or 256-column strip, and 64- and 128-row tiles
 * (taller micro-tiles, or 32x1 lists merged four to a workgroup).
 */
export function pitKF16MmaTiles(f: MmaFragment): ComputeTile[] {
  const sx = f.m / 16;
  const sy = f.n / 16;
  const k = Math.max(32, 2 * f.k);
  const t = (bm: number, bn: number, tm: number, tn: number): ComputeTile => ({ bm: bm * sx, bn: bn * sy, bk: k, tm: tm * sx, tn: tn * sy, mma: { ...f } });
  return [t(32, 128, 16, 64), t(32, 256, 32, 64), t(32, 128, 32, 64), t(32, 256, 16, 64), t(64, 128, 32, 64), t(128, 128, 32, 64)];
}

/**
 * The tiles of this device; the first is the default. SIMT tiles first everywhere, the tensor-core tiles after them
 * for the tuning to try. Those computed wrong results on the H200 in runs 10–11 (every output shifted by 1–2
 * columns: a 4-byte workgroup variable misaligned the staged tiles the subgroup-matrix loads read); with the
 * variable 16 bytes wide they verify there (128³ and 120×120×64, dense and half-zero A).
 */
export function pitKF16Tiles(caps?: DeviceCaps): ComputeTile[] {
  const f = mmaFragmentOf(caps);
  return [...PIT_K_F16_SIMT_TILES.map((t) => ({ ...t })), ...(f ? pitKF16MmaTiles(f) : [])];
}

/** Height h of a `hx1` micro-tile. @throws RangeError when the label is not `Hx1`. */
function heightOf(c: FamilyConfig): number {
  const mt = parseMicroTile(c.microTile ?? `${c.tile.bm}x1`);
  if (mt.w !== 1) throw new RangeError(`pit-k-f16: micro-tile ${c.microTile} must be Hx1 (one k per micro-tile)`);
  return mt.h;
}

const config = (tile: ComputeTile, h = tile.bm): FamilyConfig => ({ family: 'pit-k-f16', microTile: `${h}x1`, tile: { ...tile } });

const KNOWN: ComputeTile[] = [...PIT_K_F16_SIMT_TILES, ...pitKF16MmaTiles({ m: 16, n: 16, k: 16, sg: 32 })];
const DEFAULTS: ComputeTile[] = [PIT_K_F16_SIMT_TILES[0]!];

/** The pit-k-f16 family (see the module comment). */
export const pitKF16Family: KernelFamily = {
  name: 'pit-k-f16',
  axis: 'k',
  summary: 'PIT condense-K in f16 (f32 accumulation): SRead of the non-zero Hx1 micro-tiles of A along k, tensor cores where available',
  helperRoles: ['detect-k', 'fill', 'merge-k', 'transpose'],
  defaultOn: false,
  dtype: 'f16',
  counterpartOf: 'pit-k',
  requiredFeatures: ['shader-f16'],
  tuningConfigs: (caps) => pitKF16Tiles(caps).map((t) => config(t)),
  layerConfigs: (_s, caps) => [config(pitKF16Tiles(caps)[0]!)],
  illegalReason(c, s) {
    const shapeProblem = f16ShapeProblem('pit-k-f16', s);
    if (shapeProblem) return shapeProblem;
    let h: number;
    try {
      h = heightOf(c);
    } catch (e) {
      return (e as Error).message;
    }
    if (h !== c.tile.bm && c.tile.bm % h !== 0) return `pit-k-f16 micro-tile ${c.microTile} needs a computation tile with BM = ${h} (or a multiple), got ${c.tile.bm}`;
    return null;
  },
  microTile: (c) => `${c.tile.bm}x1`,
  blockCounts: (cov) => cov.rowCounts,
  plan(s, c) {
    validateShape(s);
    const tile = c.tile;
    const h = heightOf(c);
    const reason = pitKF16Family.illegalReason(c, s);
    if (reason) throw new RangeError(reason);
    const { blocks, indexLength } = pitKIndexSize(s, h);
    const e = extents(s);
    const detect = [zeroFillProgram('count', { value: blocks, term: ceilDiv(M, h) }, e.vars), detectKF16Program(s, h)];
    const buffers = [
      { name: 'count', dtype: 'u32' as const, shape: [blocks], role: 'scratch' as const },
      { name: 'index', dtype: 'u32' as const, shape: [indexLength], role: 'scratch' as const },
      { name: 'c', dtype: 'f32' as const, shape: [s.m, s.n], role: 'output' as const, ...mmaMinBytes(tile) },
    ];
    const counts = { buffer: 'count', length: blocks, microTiles: indexLength, microTile: `${h}x1` };
    if (h === tile.bm) return { aLayout: 'at', dtype: 'f16', buffers, detect, compute: [pitKF16Program(s, tile)], counts };
    // Merged: the BM-row kernel reads the united lists (`countm`, `indexm`), as pit-k does.
    const merged = mergedIndexPlan(s, h, tile.bm, pitKF16Program(s, tile), 'pit-k-f16');
    return {
      aLayout: 'at',
      dtype: 'f16',
      buffers: [...buffers, ...merged.buffers],
      detect,
      compute: merged.compute,
      counts,
    };
  },
  costFeatures: { names: ['1', 'G', 'U'], work: 1 },
  kernelFeatures: pitKKernelFeatures,
  detectKey: (c) => `detect-k f16 ${c.microTile}`,
  variantName(c) {
    const h = heightOf(c);
    if (DEFAULTS.some((t) => t.bm === h && sameTile(t, c.tile))) return 'pit-k-f16';
    return `pit-k-f16 ${h}x1 ${tileName(c.tile)}`;
  },
  describe: (op, c) =>
    `${op}${op === 'Conv' ? ' (im2col)' : ''}: f16 (f32 accumulation), axis k, micro-tile ${c.microTile} of A, SRead of non-zero k's into tile ${tileName(c.tile)}, no SWrite`,
  configOf(v) {
    const tile = parseTileName(v.computeTile, KNOWN, PIT_K_F16_SIMT_TILES[0]!);
    return config(tile, v.microTile ? parseMicroTile(v.microTile).h : tile.bm);
  },
  referenceIndex: (c, a, s) => pitKIndexCpu(a, s.m, s.k, heightOf(c)),
};
