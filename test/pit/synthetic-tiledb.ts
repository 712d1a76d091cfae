/**
 * SYNTHETIC tile databases for the policy and cost-model tests: points generated from a known analytic cost
 * function instead of measured, so a test can say exactly what the policy must predict and choose. Shaped like
 * SparTA's `stile_db.csv` (latency falls linearly with micro-tile density; small micro-tiles cost more per
 * element: 4x1 is ~3.7x the cost of 32x1 at equal density there, 53.7 vs 14.5 ms dense-equivalent).
 */
import { coverageOf } from '../../core/pit/coverage.ts';
import { spaceConfigs, WHOLE_ROW, type RuleConfig } from '../../core/pit/rules.ts';
import { coverageShape, detectionFeatures, kernelFeatures, type TilePoint } from '../../core/pit/tiledb.ts';
import { structuredOperand } from '../../core/pit/tuner.ts';
import type { Shape } from '../../core/pit/costmodel.ts';

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

/** The synthetic cost (ms) of a configuration's kernel at a shape with per-block counts: 0.02 + 1e-4·G + e·1e-7·(tile elements)·U. */
export function syntheticKernelMs(c: RuleConfig, s: Shape, counts: ArrayLike<number>): number {
  const [, g, u, f] = kernelFeatures(c, s, counts);
  const eff = SYNTHETIC_EFFICIENCY[c.microTile ?? 'dense']!;
  return 0.02 + 1e-4 * g! + eff * 1e-7 * c.tile.bm * c.tile.bn * c.tile.bk * u! + (f ?? 0) * 1e-5;
}

/** The synthetic detection cost (ms): 0.01 + 2e-5·G + 2e-7·E. */
export function syntheticDetectMs(c: RuleConfig, s: Shape, counts: ArrayLike<number>): number {
  const [, g, e] = detectionFeatures(c, s, counts);
  return 0.01 + 2e-5 * g! + 2e-7 * e!;
}

/** Sizes of the synthetic database (every K above 64, as the tuner's). */
export const SYNTHETIC_SIZES: Shape[] = [
  { m: 2, n: 24, k: 80 },
  { m: 64, n: 128, k: 256 },
  { m: 512, n: 64, k: 96 },
  { m: 128, n: 64, k: 768 },
];

/** A synthetic database over `configs` (default: the whole rule space), sizes and sparsities, with exact costs. */
export function syntheticPoints(configs: RuleConfig[] = spaceConfigs(), sparsities = [0, 0.5, 0.8, 0.9, 0.95, 0.99]): TilePoint[] {
  const out: TilePoint[] = [];
  for (const s of SYNTHETIC_SIZES) {
    for (const sp of sparsities) {
      for (const c of configs) {
        if (c.family === 'pit-m' && c.microTile !== WHOLE_ROW && Number(c.microTile!.split('x')[1]) >= s.k) continue;
        const a = structuredOperand(s.m, s.k, c.family === 'dense' ? null : c.microTile, sp, 1000 + out.length);
        const shape = coverageShape(c, s.k);
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
