/**
 * Split-K for the dense families (issue 11 item 5, tall-skinny and small-output layers): a dense computation tile
 * with `splitK = S > 1` cuts K into S ranges of `kc` (a multiple of BK), computes each range's partial product in its
 * own slab of a `[S, M, N]` buffer (grid z), and a reduction pass adds the slabs into C. It is a configuration of the
 * dense family (and of dense-f16), not a family of its own, so the baseline — the fastest verified dense tile — can
 * be a split-K tile. Templates: `shaders/dense-splitk.wgsl.ts` (fp32 partial kernel, reduction);
 * `shaders/dense-f16.wgsl.ts` computes f16 partials itself.
 */
import { denseSplitKWgsl, SPLITK_REDUCE_WORKGROUP, splitKReduceWgsl } from '../../shaders/dense-splitk.wgsl.ts';
import { isVec4Tile, tileName, validateComputeTile, type ComputeTile } from '../../shaders/common.wgsl.ts';
import type { FamilyPlan } from './family.ts';
import { ceilDiv, grid, K, M, min, mul, N, type GridTerm } from './grid.ts';
import { makeProgram, type KernelProgram } from './program.ts';
import { shapeVars, validateShape, type MatmulShape } from './shape.ts';

/** Program role of the split-K reduction (a helper role of the dense families). */
export const SPLITK_REDUCE_ROLE = 'splitk-reduce';

/** The K range of each split (`kc`, a multiple of BK) and how many ranges there are at shape `s` (≥ 1). */
export function splitKParts(s: MatmulShape, t: ComputeTile): { kc: number; parts: number } {
  const S = Math.max(1, t.splitK ?? 1);
  const kc = Math.ceil(Math.ceil(s.k / S) / t.bk) * t.bk;
  return { kc, parts: Math.ceil(s.k / kc) };
}

/** The grid term of the number of K ranges (`ceil(K / kc)`, kc as in `splitKParts`). */
export function splitKTerm(t: ComputeTile): GridTerm {
  const S = Math.max(1, t.splitK ?? 1);
  return ceilDiv(K, mul(ceilDiv(ceilDiv(K, S), t.bk), t.bk));
}

/**
 * The reduction `c = Σ_z partial[z]` over `parts` slabs of M·N f32. Bindings: `partial`, `c`, `params`
 * `[words, parts, words, 0]` (vec4 words when N % 4 == 0). Grid `min(ceil(M*N/1024), 1024)` (or /256 scalar).
 */
export function splitKReduceProgram(s: MatmulShape, parts: number): KernelProgram {
  validateShape(s);
  const vec = s.n % 4 === 0;
  const words = vec ? (s.m * s.n) / 4 : s.m * s.n;
  return makeProgram(
    {
      family: SPLITK_REDUCE_ROLE,
      label: `splitk-reduce x${parts}${vec ? ' v4' : ''}`,
      wgsl: splitKReduceWgsl(vec),
      bindings: [
        { name: 'partial', kind: 'read-only-storage' },
        { name: 'c', kind: 'storage' },
        { name: 'params', kind: 'uniform' },
      ],
      workgroupSize: [SPLITK_REDUCE_WORKGROUP, 1, 1],
      grid: grid(min(ceilDiv(mul(M, N), SPLITK_REDUCE_WORKGROUP * (vec ? 4 : 1)), 1024), 1, 1),
      params: [words, parts, words, 0],
    },
    shapeVars(s),
  );
}

/**
 * The fp32 split-K partial kernel. Bindings: `a` [M,K], `b` [K,N], `partial` [S,M,N] (every element written),
 * `params` `[M, N, K, kc]`. Grid `(ceil(N/BN), ceil(M/BM), S)`.
 * @throws RangeError on an invalid shape or tile (vec4-path tiles only).
 */
export function denseSplitKProgram(s: MatmulShape, tile: ComputeTile): KernelProgram {
  validateShape(s);
  validateComputeTile(tile);
  if (!isVec4Tile(tile)) throw new RangeError(`dense split-K tile ${tileName(tile)}: TM, TN and BK must be multiples of 4`);
  const vecGlobal = s.k % 4 === 0 && s.n % 4 === 0;
  const { kc } = splitKParts(s, tile);
  return makeProgram(
    {
      family: 'dense',
      label: `dense tile ${tileName(tile)}${vecGlobal ? ' v4' : ''}`,
      wgsl: denseSplitKWgsl({ tile, vecGlobal }),
      bindings: [
        { name: 'a', kind: 'read-only-storage' },
        { name: 'b', kind: 'read-only-storage' },
        { name: 'partial', kind: 'storage' },
        { name: 'params', kind: 'uniform' },
      ],
      workgroupSize: [tile.bn / tile.tn, tile.bm / tile.tm, 1],
      grid: grid(ceilDiv(N, tile.bn), ceilDiv(M, tile.bm), splitKTerm(tile)),
      params: [s.m, s.n, s.k, kc],
    },
    shapeVars(s),
  );
}

/**
 * A split-K plan: `main` writes the partial sums (binding `partial`), the reduction writes C; with one K range the
 * main kernel writes C itself (its `partial` binding renamed to `c`) and there is no reduction.
 */
export function splitKPlan(s: MatmulShape, tile: ComputeTile, main: KernelProgram, dtype: 'f32' | 'f16' = 'f32'): FamilyPlan {
  const { parts } = splitKParts(s, tile);
  // Subgroup-matrix kernels store fragments to what they write: at least one fragment (family.ts PlanBuffer.minBytes).
  const minBytes = tile.mma ? 4 * tile.mma.m * tile.mma.n : undefined;
  const out = { name: 'c', dtype: 'f32' as const, shape: [s.m, s.n], role: 'output' as const, ...(minBytes ? { minBytes } : {}) };
  if (parts === 1) {
    return {
      aLayout: 'a',
      ...(dtype === 'f16' ? { dtype } : {}),
      buffers: [out],
      detect: [],
      compute: [{ ...main, bindings: main.bindings.map((b) => (b.name === 'partial' ? { ...b, name: 'c' } : b)) }],
      counts: null,
    };
  }
  return {
    aLayout: 'a',
    ...(dtype === 'f16' ? { dtype } : {}),
    buffers: [{ name: 'partial', dtype: 'f32', shape: [parts, s.m, s.n], role: 'scratch', ...(minBytes ? { minBytes } : {}) }, out],
    detect: [],
    compute: [main, splitKReduceProgram(s, parts)],
    counts: null,
  };
}

/**
 * The split factor worth trying on a layer with tile `t`: enough K ranges to bring the grid to about `target`
 * workgroups (2 per SM on a 132-SM GPU), each range at least 4 BK slices long; 1 when the grid is already full or K
 * too short.
 */
export function splitKFactorFor(s: MatmulShape, t: ComputeTile, target = 264): number {
  const g = Math.ceil(s.m / t.bm) * Math.ceil(s.n / t.bn);
  if (g >= target / 2) return 1;
  const byGrid = Math.ceil(target / g);
  const byK = Math.floor(s.k / (4 * t.bk));
  return Math.max(1, Math.min(byGrid, byK, 16));
}
