/**
 * SYNTHETIC tile databases for the policy and cost-model tests: points generated from a known analytic cost
 * function instead of measured, so a test can say exactly what the policy must predict and choose. Shaped like
 * SparTA's `stile_db.csv` (latency falls linearly with micro-tile density; small micro-tiles cost more per
 * element: 4x1 is ~3.7x the cost of 32x1 at equal density there, 53.7 vs 14.5 ms dense-equivalent).
 */
import { coverageOf } from '../../core/pit/coverage.ts';
import { spaceConfigs, type RuleConfig } from '../../core/pit/rules.ts';
import type { TilePoint } from '../../core/pit/tiledb.ts';
import { structuredOperand } from '../../core/pit/tuner.ts';
import type { Shape } from '../../core/pit/costmodel.ts';
import { WHOLE_ROW } from '../../core/sparsity/micro-tiles.ts';

/** Per-element cost multiplier of each configuration relative to a dense tile step (bigger micro-tiles are cheaper). */
export const SYNTHETIC_EFFICIENCY: Record<string, number> = {
  dense: 1,
  '4x1': 3.7,
  '8x1': 2.0,
  '16x1': 1.3,
  '32x1': 1.05,
  '1x16': 1.6,
  '1x32': 1.3,
  '1x64': 1.15,
  [WHOLE_ROW]: 1.05,
};

const cdiv = (a: number, b: number) => Math.ceil(a / b);

/**
 * The work of a configuration at a shape, written here from the kernels' definitions (not read from core, so the
 * cost model is tested against an independent account): G workgroups launched, U tile-steps of BM×BN×BK computed,
 * F = M·N/256 (the zero-fill of C that pit-m's timed kernel includes).
 * - dense: G = ceil(N/BN)·ceil(M/BM), U = G·ceil(K/BK);
 * - pit-k (BMx1): G as dense, U = ceil(N/BN)·Σ_row blocks ceil(count/BK);
 * - pit-m (1xW): G = ceil(N/BN)·rows·chunks with rows = ceil(M/BM), or ceil(ceil(M/BM)/8) for the accumulating
 *   vec4 kernel (8 row tiles per workgroup), U = ceil(N/BN)·Σ_chunks ceil(count/BM)·ceil(width/BK).
 */
export function syntheticWork(c: RuleConfig, s: Shape, counts: ArrayLike<number>): { g: number; u: number; f: number } {
  const { bm, bn, bk } = c.tile;
  const cols = cdiv(s.n, bn);
  if (c.family === 'dense') return { g: cols * cdiv(s.m, bm), u: cols * cdiv(s.m, bm) * cdiv(s.k, bk), f: 0 };
  let u = 0;
  if (c.family === 'pit-k') {
    for (let i = 0; i < counts.length; i++) u += cdiv(counts[i]!, bk);
    return { g: cols * cdiv(s.m, bm), u: cols * u, f: 0 };
  }
  const w = c.microTile === WHOLE_ROW ? s.k : Math.min(Number(c.microTile!.split('x')[1]), s.k);
  const chunks = cdiv(s.k, w);
  const vec4 = c.tile.tm % 4 === 0 && c.tile.tn % 4 === 0 && bk % 4 === 0;
  const rows = vec4 && chunks > 1 ? cdiv(cdiv(s.m, bm), 8) : cdiv(s.m, bm);
  for (let ch = 0; ch < counts.length; ch++) u += cdiv(counts[ch]!, bm) * cdiv(Math.min(w, s.k - ch * w), bk);
  return { g: cols * rows * chunks, u: cols * u, f: (s.m * s.n) / 256 };
}

/** The synthetic cost (ms) of a configuration's kernel at a shape with per-block counts: 0.02 + 1e-4·G + e·1e-7·(tile elements)·U + 1e-5·F. */
export function syntheticKernelMs(c: RuleConfig, s: Shape, counts: ArrayLike<number>): number {
  const { g, u, f } = syntheticWork(c, s, counts);
  const eff = SYNTHETIC_EFFICIENCY[c.microTile ?? 'dense']!;
  return 0.02 + 1e-4 * g + eff * 1e-7 * c.tile.bm * c.tile.bn * c.tile.bk * u + f * 1e-5;
}

/** The synthetic detection cost (ms): 0.01 + 2e-7·E + 1e-6·P (E = M·K elements read, P = micro-tiles appended). */
export function syntheticDetectMs(_c: RuleConfig, s: Shape, counts: ArrayLike<number>): number {
  let appended = 0;
  for (let i = 0; i < counts.length; i++) appended += counts[i]!;
  return 0.01 + 2e-7 * s.m * s.k + 1e-6 * appended;
}

/** The coverage shape of a configuration at reduction length k (its micro-tile; `1xK` is the whole row). */
function shapeOf(c: RuleConfig, k: number): string | null {
  if (c.family === 'dense') return null;
  return c.microTile === WHOLE_ROW ? `1x${k}` : c.family === 'pit-m' ? `1x${Math.min(Number(c.microTile!.split('x')[1]), k)}` : c.microTile;
}

/**
 * The families whose kernels `syntheticWork` accounts for. Other registered families (the registry may hold more)
 * are left out of a synthetic database: it models these three, not whatever is registered.
 */
export const SYNTHETIC_FAMILIES: readonly string[] = ['dense', 'pit-k', 'pit-m'];

/** The tuning configurations of the modelled families (`SYNTHETIC_FAMILIES`), in registry order. */
export function syntheticConfigs(): RuleConfig[] {
  return spaceConfigs().filter((c) => SYNTHETIC_FAMILIES.includes(c.family));
}

/** Sizes of the synthetic database (every K above 64, as the tuner's). */
export const SYNTHETIC_SIZES: Shape[] = [
  { m: 2, n: 24, k: 80 },
  { m: 64, n: 128, k: 256 },
  { m: 512, n: 64, k: 96 },
  { m: 128, n: 64, k: 768 },
];

/** A synthetic database over `configs` (default: the modelled families' rule space), sizes and sparsities, with exact costs. */
export function syntheticPoints(configs: RuleConfig[] = syntheticConfigs(), sparsities = [0, 0.5, 0.8, 0.9, 0.95, 0.99]): TilePoint[] {
  const out: TilePoint[] = [];
  for (const s of SYNTHETIC_SIZES) {
    for (const sp of sparsities) {
      for (const c of configs) {
        if (c.family === 'pit-m' && c.microTile !== WHOLE_ROW && Number(c.microTile!.split('x')[1]) >= s.k) continue;
        const a = structuredOperand(s.m, s.k, c.family === 'dense' ? null : c.microTile, sp, 1000 + out.length);
        const shape = shapeOf(c, s.k);
        const cov = shape ? coverageOf({ a, m: s.m, k: s.k }, [shape]).get(shape)! : null;
        const counts = cov ? (c.family === 'pit-k' ? cov.rowCounts : cov.colCounts) : [];
        out.push({
          family: c.family,
          microTile: c.microTile,
          tile: { ...c.tile },
          ...s,
          sparsity: sp,
          density: cov ? cov.density : 1,
          counts: Array.from(counts),
          kernelMs: syntheticKernelMs(c, s, counts),
          detectMs: c.family === 'dense' ? 0 : syntheticDetectMs(c, s, counts),
          ok: true,
          maxAbsErr: 0,
          wgslHash: 'synthetic',
        });
      }
    }
  }
  return out;
}
