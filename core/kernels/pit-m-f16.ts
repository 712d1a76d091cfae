/**
 * The `pit-m-f16` kernel family (issue 11): PIT's condense-M rule (micro-tile `1 x W` of A, SRead of non-zero rows
 * along m, SWrite of C's rows; see pit-m.ts) with f16 operands and f32 accumulation. Detection reads the f16 A
 * (detect.wgsl.ts, dtype f16). SIMT tiles by default; tensor-core tiles (where the adapter has f16→f32 subgroup
 * matrices) are tuning candidates only, see `pitMF16Tiles`. Template: `shaders/pit-m-f16.wgsl.ts`. Measured only by f16 runs (`defaultOn: false`).
 */
import { PIT_M_F16_ROW_TILES_PER_WORKGROUP, pitMF16Wgsl } from '../../shaders/pit-m-f16.wgsl.ts';
import { f16Threads, validateF16Tile } from '../../shaders/dense-f16.wgsl.ts';
import { tileName, type ComputeTile } from '../../shaders/common.wgsl.ts';
import { parseMicroTile, pitMIndexCpu, WHOLE_ROW } from '../sparsity/micro-tiles.ts';
import { mmaFragmentOf, type MmaFragment } from './dense-f16.ts';
import { detectRowsProgram, extents, zeroFillProgram } from './detect.ts';
import { f16ShapeProblem } from './f16.ts';
import type { DeviceCaps, FamilyConfig, KernelFamily } from './family.ts';
import { ceilDiv, grid, K, M, mul, N } from './grid.ts';
import { PIT_M_WIDTHS, pitMIndexSize, pitMWidth } from './pit-m.ts';
import { makeProgram, type KernelProgram } from './program.ts';
import { shapeVars, validateShape, type MatmulShape } from './shape.ts';
import { parseTileName, sameTile } from './tiles.ts';

/**
 * The f16 condense-M program for micro-tile `1 x w` (w ≥ K: whole rows, plain stores; otherwise CAS-accumulated).
 * Bindings: `a` [M,K] f16, `b` [K,N] f16, `count` [ceil(K/w)] u32, `index` [ceil(K/w)*M] u32, `c` [M,N] f32 (zero
 * before the dispatch), `params` `[M, N, K, 0]`. Grid `(ceil(N/BN), ceil(M/BM) or ceil(ceil(M/BM)/8) when
 * accumulating, ceil(K/w))`. 16-byte loads when K, W and N are multiples of 8 (subgroup matrices) or 4 (SIMT).
 * @throws RangeError on an invalid shape, tile or w.
 */
export function pitMF16Program(shape: MatmulShape, tile: ComputeTile, w: number): KernelProgram {
  validateShape(shape);
  validateF16Tile(tile);
  if (!Number.isInteger(w) || w < 1) throw new RangeError(`pit-m-f16: micro-tile width must be a positive integer, got ${w}`);
  const { chunks } = pitMIndexSize(shape, w);
  const accumulate = chunks > 1;
  const rowTiles = ceilDiv(M, tile.bm);
  const q = tile.mma ? 8 : 4;
  const vecGlobal = shape.k % q === 0 && (w >= shape.k || w % q === 0) && shape.n % q === 0;
  return makeProgram(
    {
      family: 'pit-m-f16',
      label: `pit-m-f16 1x${w} tile ${tileName(tile)}${accumulate ? ' cas' : ''}${vecGlobal ? ' v4' : ''}`,
      wgsl: pitMF16Wgsl({ tile, w, accumulate, vecGlobal }),
      bindings: [
        { name: 'a', kind: 'read-only-storage' },
        { name: 'b', kind: 'read-only-storage' },
        { name: 'count', kind: 'read-only-storage' },
        { name: 'index', kind: 'read-only-storage' },
        { name: 'c', kind: 'storage' },
        { name: 'params', kind: 'uniform' },
      ],
      workgroupSize: tile.mma ? [f16Threads(tile), 1, 1] : [tile.bn / tile.tn, tile.bm / tile.tm, 1],
      grid: grid(ceilDiv(N, tile.bn), accumulate ? ceilDiv(rowTiles, PIT_M_F16_ROW_TILES_PER_WORKGROUP) : rowTiles, w >= shape.k ? 1 : ceilDiv(K, w)),
      params: [shape.m, shape.n, shape.k, 0],
    },
    shapeVars(shape),
  );
}

/** Detection for pit-m-f16: as pit-m's `detectMProgram` on the f16 A. */
export function detectMF16Program(shape: MatmulShape, w: number): KernelProgram {
  const e = extents(shape);
  return detectRowsProgram('detect-m', 'a', `1x${w}`, e.M, e.K, w, 1, e.vars, undefined, 'f16');
}

/** SIMT tiles (vec4 path). */
export const PIT_M_F16_SIMT_TILES: readonly ComputeTile[] = [
  { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4 },
  { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 },
];

/** Tensor-core tiles for fragment `f` (16x16 fragments, 32-wide subgroups in the sizes below); the first is the default. */
export function pitMF16MmaTiles(f: MmaFragment): ComputeTile[] {
  const sx = f.m / 16;
  const sy = f.n / 16;
  const k = Math.max(32, 2 * f.k);
  const t = (bm: number, bn: number, tm: number, tn: number): ComputeTile => ({ bm: bm * sx, bn: bn * sy, bk: k, tm: tm * sx, tn: tn * sy, mma: { ...f } });
  return [t(64, 128, 32, 64), t(32, 128, 32, 64), t(64, 64, 32, 32), t(128, 128, 32, 64)];
}

/**
 * The tiles of this device; the first is the default. SIMT tiles first everywhere, the tensor-core tiles after them
 * for the tuning to try (they computed wrong results on the H200 in runs 10–11 for the reason `pitKF16Tiles` gives;
 * their workgroup variables are now 16-byte multiples too).
 */
export function pitMF16Tiles(caps?: DeviceCaps): ComputeTile[] {
  const f = mmaFragmentOf(caps);
  return [...PIT_M_F16_SIMT_TILES.map((t) => ({ ...t })), ...(f ? pitMF16MmaTiles(f) : [])];
}

const config = (tile: ComputeTile, microTile: string): FamilyConfig => ({ family: 'pit-m-f16', microTile, tile: { ...tile } });

const KNOWN: ComputeTile[] = [...PIT_M_F16_SIMT_TILES, ...pitMF16MmaTiles({ m: 16, n: 16, k: 16, sg: 32 })];
const DEFAULTS: ComputeTile[] = [PIT_M_F16_SIMT_TILES[0]!];

/** The pit-m-f16 family (see the module comment). */
export const pitMF16Family: KernelFamily = {
  name: 'pit-m-f16',
  axis: 'm',
  summary: 'PIT condense-M in f16 (f32 accumulation): SRead of the non-zero 1xW row segments of A, SWrite of C rows, tensor cores where available',
  helperRoles: ['detect-m', 'fill'],
  defaultOn: false,
  dtype: 'f16',
  counterpartOf: 'pit-m',
  requiredFeatures: ['shader-f16'],
  tuningConfigs: (caps) => {
    const t = pitMF16Tiles(caps)[0]!;
    return [...PIT_M_WIDTHS.map((w) => config(t, `1x${w}`)), config(t, WHOLE_ROW)];
  },
  layerConfigs: (_s, caps) => [config(pitMF16Tiles(caps)[0]!, WHOLE_ROW)],
  illegalReason(c, s) {
    const shapeProblem = f16ShapeProblem('pit-m-f16', s);
    if (shapeProblem) return shapeProblem;
    if (c.microTile === WHOLE_ROW) return null;
    let mt;
    try {
      mt = parseMicroTile(c.microTile ?? '');
    } catch (e) {
      return (e as Error).message;
    }
    if (mt.h !== 1) return `pit-m-f16 micro-tile ${c.microTile} must be 1xW`;
    if (mt.w >= s.k) return `pit-m-f16 1x${mt.w} covers whole rows when K = ${s.k} <= ${mt.w}: that is the 1xK rule`;
    return null;
  },
  microTile: (c, k) => `1x${pitMWidth(c, k)}`,
  blockCounts: (cov) => cov.colCounts,
  plan(s, c) {
    validateShape(s);
    // Only the shape can make it unrunnable (a 1xW with W >= K runs; it is just not a distinct rule).
    const reason = f16ShapeProblem('pit-m-f16', s);
    if (reason) throw new RangeError(reason);
    const w = pitMWidth(c, s.k);
    const { chunks, indexLength } = pitMIndexSize(s, w);
    const e = extents(s);
    return {
      aLayout: 'a',
      dtype: 'f16',
      buffers: [
        { name: 'count', dtype: 'u32', shape: [chunks], role: 'scratch' },
        { name: 'index', dtype: 'u32', shape: [indexLength], role: 'scratch' },
        { name: 'c', dtype: 'f32', shape: [s.m, s.n], role: 'output' },
      ],
      detect: [zeroFillProgram('count', { value: chunks, term: w >= s.k ? { text: '1', at: () => 1 } : ceilDiv(K, w) }, e.vars), detectMF16Program(s, w)],
      compute: [zeroFillProgram('c', { value: s.m * s.n, term: mul(M, N) }, e.vars), pitMF16Program(s, c.tile, w)],
      counts: { buffer: 'count', length: chunks, microTiles: indexLength, microTile: `1x${w}` },
    };
  },
  costFeatures: { names: ['1', 'G', 'U', 'F'], work: 1 },
  kernelFeatures(c, s, counts, g) {
    const w = pitMWidth(c, s.k);
    let steps = 0;
    for (let ch = 0; ch < counts.length; ch++) steps += Math.ceil(counts[ch]! / c.tile.bm) * Math.ceil(Math.min(w, s.k - ch * w) / c.tile.bk);
    return [1, g, Math.ceil(s.n / c.tile.bn) * steps, (s.m * s.n) / 256];
  },
  detectKey: (c) => `detect-m f16 ${c.microTile}`,
  variantName(c) {
    const def = DEFAULTS.some((t) => sameTile(t, c.tile));
    if (c.microTile === WHOLE_ROW && def) return 'pit-m-f16';
    return `pit-m-f16 ${c.microTile}${def ? '' : ' ' + tileName(c.tile)}`;
  },
  describe: (op, c, k) =>
    `${op}${op === 'Conv' ? ' (im2col)' : ''}: f16 (f32 accumulation), axis m, micro-tile 1x${pitMWidth(c, k)} of A, SRead of non-zero rows into tile ${tileName(c.tile)}, SWrite of C rows` +
    (c.microTile === WHOLE_ROW ? ' (plain stores)' : ' (CAS accumulation over k-chunks)'),
  configOf(v, k) {
    const tile = parseTileName(v.computeTile, KNOWN, PIT_M_F16_SIMT_TILES[0]!);
    const w = v.microTile ? parseMicroTile(v.microTile).w : k;
    return config(tile, w < k ? `1x${w}` : WHOLE_ROW);
  },
  referenceIndex: (c, a, s) => pitMIndexCpu(a, s.m, s.k, pitMWidth(c, s.k)),
};
