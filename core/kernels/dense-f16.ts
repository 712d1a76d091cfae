/**
 * The `dense-f16` kernel family (issue 11): the dense matmul with f16 operands and f32 accumulation, the baseline of
 * f16 runs (`pit profile --dtype f16`: the fastest verified dense-f16 tile per layer). Tensor-core tiles (subgroup
 * matrices) where the adapter lists f16→f32 `subgroupMatrixConfigs` with a fixed subgroup size, SIMT tiles elsewhere;
 * split-K tiles for small outputs with long K. Template: `shaders/dense-f16.wgsl.ts`; split-K reduction:
 * `dense-splitk.ts`. Not measured by fp32 runs (`defaultOn: false`, `dtype: 'f16'`).
 */
import { denseF16Wgsl, f16Threads, validateF16Tile } from '../../shaders/dense-f16.wgsl.ts';
import { tileName, type ComputeTile } from '../../shaders/common.wgsl.ts';
import { f16ShapeProblem } from './f16.ts';
import type { DeviceCaps, FamilyConfig, KernelFamily } from './family.ts';
import { ceilDiv, grid, M, N } from './grid.ts';
import { makeProgram, type KernelProgram } from './program.ts';
import { shapeVars, validateShape, type MatmulShape } from './shape.ts';
import { paddedElements, parseTileName, sameTile } from './tiles.ts';
import { SPLITK_REDUCE_ROLE, splitKFactorFor, splitKParts, splitKPlan, splitKTerm } from './dense-splitk.ts';

/** A subgroup-matrix fragment shape and subgroup size usable for f16→f32 products. */
export interface MmaFragment {
  m: number;
  n: number;
  k: number;
  sg: number;
}

/**
 * The f16→f32 fragment the f16 families use on a device: 16x16x16 when listed, else the first f16→f32
 * configuration; null without subgroup matrices, without `shader-f16`, or when the adapter's subgroup size is not
 * fixed (a kernel's subgroups must all have the size its tile assumes).
 */
export function mmaFragmentOf(caps: DeviceCaps | undefined): MmaFragment | null {
  if (!caps?.shaderF16 || !caps.subgroups || !caps.subgroupMatrixConfigs?.length || !caps.subgroupSizes) return null;
  const [lo, hi] = caps.subgroupSizes;
  if (lo !== hi) return null;
  const f16 = caps.subgroupMatrixConfigs.filter((c) => c.componentType === 'f16' && c.resultComponentType === 'f32');
  const pick = f16.find((c) => c.M === 16 && c.N === 16 && c.K === 16) ?? f16[0];
  return pick ? { m: pick.M, n: pick.N, k: pick.K, sg: hi } : null;
}

/** A subgroup-matrix tile: BM x BN x BK, subgroup block TM x TN, fragment `f`. */
function mmaTile(bm: number, bn: number, bk: number, tm: number, tn: number, f: MmaFragment, extra: Partial<ComputeTile> = {}): ComputeTile {
  return { bm, bn, bk, tm, tn, mma: { ...f }, ...extra };
}

/**
 * Tensor-core tiles for fragment `f` (sizes assume 16-row/column fragments and 32-wide subgroups; for others they
 * scale with the fragment): the default 128x128x32 with eight 32x64 subgroup blocks, smaller and narrower tiles, a
 * single-buffered 128x256, and the one-subgroup 32x64 tile (its fragment offsets are workgroup-uniform).
 */
export function denseF16MmaTiles(f: MmaFragment): ComputeTile[] {
  const sx = f.m / 16;
  const sy = f.n / 16;
  const k = Math.max(32, 2 * f.k);
  const t = (bm: number, bn: number, tm: number, tn: number, extra: Partial<ComputeTile> = {}) => mmaTile(bm * sx, bn * sy, k, tm * sx, tn * sy, f, extra);
  return [
    t(128, 128, 32, 64),
    t(64, 128, 32, 64),
    t(128, 64, 32, 32),
    t(64, 64, 32, 32),
    t(128, 128, 64, 64),
    t(128, 256, 64, 64, { doubleBuffer: false }),
    t(256, 128, 64, 64, { doubleBuffer: false }),
    t(128, 256, 32, 64, { doubleBuffer: false }),
    mmaTile(128 * sx, 128 * sy, 2 * k, 32 * sx, 64 * sy, f, { doubleBuffer: false }),
    t(32, 64, 32, 64),
    // Narrow N (tall-skinny layers).
    t(128, 32, 32, 32),
    t(64, 16, 16, 16),
  ];
}

/** SIMT tiles (vec4 path, f16 loads): as the fp32 dense tiles that take the vec4 path, plus narrow-N ones. */
export const DENSE_F16_SIMT_TILES: readonly ComputeTile[] = [
  { bm: 128, bn: 128, bk: 16, tm: 8, tn: 8, doubleBuffer: false },
  { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4 },
  { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 },
  { bm: 128, bn: 32, bk: 16, tm: 8, tn: 4 },
  { bm: 128, bn: 16, bk: 16, tm: 8, tn: 4 },
];

/** The tiles of this device: tensor-core tiles when `mmaFragmentOf(caps)`, else SIMT. The first is the default. */
export function denseF16Tiles(caps?: DeviceCaps): ComputeTile[] {
  const f = mmaFragmentOf(caps);
  if (!f) return DENSE_F16_SIMT_TILES.map((t) => ({ ...t }));
  // The default tile with each other f16→f32 fragment of 16 rows (NVIDIA: 16x8x16, 16x8x8), for the tuning to compare.
  const others = (caps?.subgroupMatrixConfigs ?? [])
    .filter((c) => c.componentType === 'f16' && c.resultComponentType === 'f32' && c.M === 16 && !(c.N === f.n && c.K === f.k))
    .map((c) => mmaTile(128, 128, Math.max(32, 2 * c.K), 32, 64, { m: c.M, n: c.N, k: c.K, sg: f.sg }));
  return [...denseF16MmaTiles(f), ...others];
}

/** Global access width of a tile at a shape: 16-byte loads (and direct fragment stores) when rows are aligned. */
function vecGlobalOf(s: MatmulShape, tile: ComputeTile): boolean {
  const q = tile.mma ? 8 : 4;
  return s.k % q === 0 && s.n % q === 0;
}

/**
 * The f16 dense program (or, with split-K, its partial kernel). Bindings: `a` [M,K] f16, `b` [K,N] f16, `c` [M,N]
 * f32 (`partial` [S,M,N] with split-K), `params` `[M, N, K, kc]`. Grid `(ceil(N/BN), ceil(M/BM), S)`.
 * @throws RangeError on an invalid shape or tile.
 */
export function denseF16Program(shape: MatmulShape, tile: ComputeTile): KernelProgram {
  validateShape(shape);
  validateF16Tile(tile);
  const vecGlobal = vecGlobalOf(shape, tile);
  const { kc, parts } = splitKParts(shape, tile);
  const split = (tile.splitK ?? 1) > 1;
  return makeProgram(
    {
      family: 'dense-f16',
      label: `dense-f16 tile ${tileName(tile)}${vecGlobal ? ' v4' : ''}`,
      wgsl: denseF16Wgsl({ tile, vecGlobal }),
      bindings: [
        { name: 'a', kind: 'read-only-storage' },
        { name: 'b', kind: 'read-only-storage' },
        { name: split && parts > 1 ? 'partial' : 'c', kind: 'storage' },
        { name: 'params', kind: 'uniform' },
      ],
      workgroupSize: tile.mma ? [f16Threads(tile), 1, 1] : [tile.bn / tile.tn, tile.bm / tile.tm, 1],
      grid: grid(ceilDiv(N, tile.bn), ceilDiv(M, tile.bm), split ? splitKTerm(tile) : 1),
      params: [shape.m, shape.n, shape.k, split ? kc : shape.k],
    },
    shapeVars(shape),
  );
}

/** `minBytes` of a buffer a tile stores fragments to: one f32 fragment (family.ts `PlanBuffer.minBytes`); {} for SIMT. */
export function mmaMinBytes(tile: ComputeTile): { minBytes?: number } {
  return tile.mma ? { minBytes: 4 * tile.mma.m * tile.mma.n } : {};
}

/** Baseline candidates per layer besides the default: at most this many of the least padded tiles (both paths)… */
const EXTRA_CANDIDATES = 3;
/** …within this factor of the least padded one. */
const PADDING_SLACK = 1.5;

/**
 * The dense-f16 tiles measured on a layer: the device's default tile, up to three of the least padded others (within
 * 1.5x of the least), and the least padded one with split-K where the grid is small and K long (as `denseCandidates`
 * for fp32).
 */
export function denseF16Candidates(s: MatmulShape, caps?: DeviceCaps): ComputeTile[] {
  // With subgroup matrices the SIMT tiles stay candidates: on small and narrow layers they can be faster (run of
  // 2026-11-30: the 16-column fragments pad N = 12..48 heavily).
  const mma = !!mmaFragmentOf(caps);
  const tiles = [...denseF16Tiles(caps), ...(mma ? DENSE_F16_SIMT_TILES.map((t) => ({ ...t })) : [])];
  const def = tiles[0]!;
  const least = Math.min(...tiles.map((t) => paddedElements(s.m, s.n, t)));
  const others = tiles
    .slice(1)
    .filter((t) => paddedElements(s.m, s.n, t) <= PADDING_SLACK * least)
    .sort((x, y) => paddedElements(s.m, s.n, x) - paddedElements(s.m, s.n, y))
    .slice(0, EXTRA_CANDIDATES);
  const out = [def, ...others].map((t) => ({ ...t }));
  const base = [...out].sort((x, y) => paddedElements(s.m, s.n, x) - paddedElements(s.m, s.n, y) || x.bm * x.bn - y.bm * y.bn)[0]!;
  const split = splitKFactorFor(s, base);
  if (split > 1) out.push({ ...base, splitK: split });
  return out;
}

const config = (tile: ComputeTile): FamilyConfig => ({ family: 'dense-f16', microTile: null, tile: { ...tile } });

/** Every tile a stored run may name (both paths, for the fragments NVIDIA lists), for `configOf`. */
const KNOWN: ComputeTile[] = [...DENSE_F16_SIMT_TILES, ...denseF16MmaTiles({ m: 16, n: 16, k: 16, sg: 32 })];

/** The dense-f16 family (see the module comment). */
export const denseF16Family: KernelFamily = {
  name: 'dense-f16',
  axis: 'none',
  summary: 'dense f16 matmul, f32 accumulation (tensor-core subgroup matrices where available; baseline of f16 runs)',
  helperRoles: [SPLITK_REDUCE_ROLE],
  defaultOn: false,
  dtype: 'f16',
  counterpartOf: 'dense',
  requiredFeatures: ['shader-f16'],
  tuningConfigs: (caps) => denseF16Tiles(caps).map(config),
  layerConfigs: (s, caps) => denseF16Candidates(s, caps).map(config),
  illegalReason: (_c, s) => f16ShapeProblem('dense-f16', s),
  microTile: () => null,
  blockCounts: () => [],
  plan(s, c) {
    validateShape(s);
    const reason = f16ShapeProblem('dense-f16', s);
    if (reason) throw new RangeError(reason);
    const main = denseF16Program(s, c.tile);
    if ((c.tile.splitK ?? 1) > 1) return splitKPlan(s, c.tile, main, 'f16');
    return {
      aLayout: 'a',
      dtype: 'f16',
      buffers: [{ name: 'c', dtype: 'f32', shape: [s.m, s.n], role: 'output', ...mmaMinBytes(c.tile) }],
      detect: [],
      compute: [main],
      counts: null,
    };
  },
  costFeatures: { names: ['1', 'G', 'U'], work: 1 },
  kernelFeatures: (c, s, _counts, g) => [1, g, Math.ceil(s.n / c.tile.bn) * Math.ceil(s.m / c.tile.bm) * Math.ceil(s.k / c.tile.bk)],
  detectKey: () => null,
  variantName: (c) => {
    const def = [DENSE_F16_SIMT_TILES[0]!, denseF16MmaTiles({ m: 16, n: 16, k: 16, sg: 32 })[0]!];
    return def.some((t) => sameTile(t, c.tile)) ? 'dense-f16' : `dense-f16 ${tileName(c.tile)}`;
  },
  describe: (op, c) => `${op}${op === 'Conv' ? ' (im2col)' : ''}: dense f16 (f32 accumulation), computation tile ${tileName(c.tile)}`,
  configOf: (v) => config(parseTileName(v.computeTile, KNOWN, DENSE_F16_SIMT_TILES[0]!)),
  referenceIndex: () => null,
};
