/**
 * The transformation policy on SYNTHETIC tile databases (test/pit/synthetic-tiledb.ts: costs from a known formula,
 * not measurements): the cost model recovers the formula, predictions grow with density, dense wins when there is
 * little sparsity, and the chosen micro-tile follows the granularity of the zeros.
 */
import { describe, expect, it } from 'vitest';
import { coverageOf, type MicroTileCoverage } from '../../core/pit/coverage.ts';
import { median } from '../../core/gpu/timing.ts';
import { decide, regretOf } from '../../core/pit/policy.ts';
import { configId, rulesFor } from '../../core/pit/rules.ts';
import { WHOLE_ROW } from '../../core/sparsity/micro-tiles.ts';
import { coverageShape, TileModel, uniformCoverage } from '../../core/pit/tiledb.ts';
import { structuredOperand } from '../../core/pit/tuner.ts';
import type { VariantResult } from '../../core/protocol.ts';
import { randomSparse, zeroColumnBlocks, zeroRows } from '../kernels/fixtures.ts';
import { syntheticConfigs, syntheticKernelMs, syntheticPoints } from './synthetic-tiledb.ts';

const model = new TileModel(syntheticPoints());
const configs = syntheticConfigs();
const byMicroTile = (mt: string | null) => configs.find((c) => c.microTile === mt)!;

function coverageFor(a: Float32Array, m: number, k: number): Map<string, MicroTileCoverage> {
  const shapes = configs.map((c) => coverageShape(c, k)).filter((s): s is string => !!s);
  return coverageOf({ a, m, k }, shapes);
}

function choose(a: Float32Array, m: number, n: number, k: number) {
  return decide(model, { m, n, k }, coverageFor(a, m, k), rulesFor('MatMul', { m, n, k }, model.configs()));
}

describe('cost model on a synthetic database', () => {
  it('recovers the generating formula at shapes and densities it never saw', () => {
    expect(model.parallelism).toBe(1); // the synthetic formula has no waves: P = 1 explains it exactly
    for (const c of configs) expect(model.kernelModel(c)!.medianRelErr, configId(c)).toBeLessThan(1e-6);
    const s = { m: 300, n: 96, k: 200 };
    for (const c of [byMicroTile('8x1'), byMicroTile(WHOLE_ROW), byMicroTile(null)]) {
      const cov = uniformCoverage(c, s, 0.37);
      const counts = c.family === 'pit-k' ? cov.rowCounts : c.family === 'pit-m' ? cov.colCounts : [];
      expect(model.predict(c, s, cov).kernelMs, configId(c)).toBeCloseTo(syntheticKernelMs(c, s, counts), 9);
    }
  });

  it('predicts costs that never decrease with density, and a threshold where sparse meets dense', () => {
    const s = { m: 256, n: 64, k: 384 };
    const dense = model.predict(byMicroTile(null), s).ms;
    for (const c of configs.filter((x) => x.family !== 'dense')) {
      let last = -Infinity;
      for (let d = 0; d <= 1.0001; d += 0.05) {
        const ms = model.predict(c, s, uniformCoverage(c, s, Math.min(1, d))).ms;
        expect(ms, `${configId(c)} at density ${d.toFixed(2)}`).toBeGreaterThanOrEqual(last - 1e-12);
        last = ms;
      }
      const t = model.densityThreshold(c, s, dense);
      expect(t).toBeGreaterThanOrEqual(0);
      expect(t).toBeLessThanOrEqual(1);
      if (t > 0.01 && t < 0.99) {
        expect(model.predict(c, s, uniformCoverage(c, s, t - 0.01)).ms).toBeLessThan(dense);
        expect(model.predict(c, s, uniformCoverage(c, s, t + 0.01)).ms).toBeGreaterThanOrEqual(dense);
      }
    }
    // 32x1 costs 1.05x a dense step per element plus detection: it must beat dense below some density well under 1.
    const t32 = model.densityThreshold(byMicroTile('32x1'), s, dense);
    expect(t32).toBeGreaterThan(0.3);
    expect(t32).toBeLessThan(0.95);
  });
});

describe('decide (transformation policy)', () => {
  // N = 128 fills the PIT tile (32x128) exactly: no padding penalty blurs the micro-tile comparison.
  const [m, n, k] = [256, 128, 384];

  it('falls back to dense when there is little sparsity', () => {
    const d = choose(randomSparse(m, k, 0.1, 7), m, n, k); // 10 % scattered zeros: every micro-tile stays occupied
    expect(d.chosen.ruleRef.config.family).toBe('dense');
    expect(d.candidates[0]!.variant).toBe(d.chosen.variant);
    // Every candidate is listed with a prediction, dense first (cheapest), sparse ones after.
    expect(d.candidates.length).toBe(rulesFor('MatMul', { m, n, k }, model.configs()).length);
    expect(d.candidates.every((c, i) => i === 0 || c.ms >= d.candidates[i - 1]!.ms)).toBe(true);
    expect(d.reason).toMatch(/^predicted dense/);
  });

  it('chooses the micro-tile that matches the granularity of the zeros', () => {
    // Zeros in aligned 32-row column slices: 32x1 sees them as well as 8x1 does, and costs less per element.
    const coarse = choose(zeroColumnBlocks(m, k, 32, 0.9, 8), m, n, k);
    expect(coarse.chosen.variant).toBe('pit-k');
    expect(coarse.chosen.ruleRef.microTile).toBe('32x1');
    // Zeros in 8-row slices: a 32x1 tile is non-zero unless four independent slices are all zero (density ~0.34).
    const fine = choose(zeroColumnBlocks(m, k, 8, 0.9, 9), m, n, k);
    expect(fine.chosen.ruleRef.microTile).toBe('8x1');
    expect(fine.chosen.density!).toBeLessThan(0.15);
    expect(fine.candidates.find((c) => c.ruleRef.microTile === '32x1')!.density!).toBeGreaterThan(0.25);
    // Whole zero rows (padding tokens): only the m axis sees them.
    const rows = choose(zeroRows(m, k, 0.9, 10), m, n, k);
    expect(rows.chosen.ruleRef.config.family).toBe('pit-m');
    expect(rows.chosen.ruleRef.microTile).toBe(`1x${k}`);
    expect(rows.reason).toMatch(/best dense/);
  });

  it('goes back to dense as the same pattern gets denser', () => {
    const picks = [0.95, 0.8, 0.5, 0.02].map((s) => choose(structuredOperand(m, k, '32x1', s, 12), m, n, k).chosen.ruleRef.config.family);
    expect(picks[0]).toBe('pit-k');
    expect(picks[picks.length - 1]).toBe('dense');
    // Once dense, it stays dense for denser operands.
    expect(picks.indexOf('dense')).toBeGreaterThan(0);
    expect(picks.slice(picks.indexOf('dense')).every((f) => f === 'dense')).toBe(true);
  });

  it('refuses to decide without a dense candidate, and lists rules it cannot predict', () => {
    const onlySparse = new TileModel(syntheticPoints([byMicroTile('8x1')]));
    const a = randomSparse(32, 96, 0.5, 13);
    expect(() => decide(onlySparse, { m: 32, n: 16, k: 96 }, coverageFor(a, 32, 96), rulesFor('MatMul', { m: 64, n: 64, k: 96 }, configs))).toThrow(/no dense rule/);
    const partial = new TileModel(syntheticPoints([byMicroTile(null), byMicroTile('8x1')]));
    const d = decide(partial, { m: 32, n: 16, k: 96 }, coverageFor(a, 32, 96), rulesFor('MatMul', { m: 64, n: 64, k: 96 }, configs));
    expect(d.unpredicted.map((u) => u.variant)).toContain('pit-k 4x1');
    expect(d.candidates.map((c) => c.variant).sort()).toEqual(['dense', 'pit-k 8x1']);
  });
});

describe('rulesFor', () => {
  it('enumerates k and m rules for MatMul, Gemm and Conv, and nothing for other operators', () => {
    const rules = rulesFor('Conv', { m: 64, n: 64, k: 96 }, configs);
    expect(rules.map((r) => r.variant)).toEqual([
      'dense',
      'dense 32x128x8/4x4',
      'dense 64x32x16/4x2',
      'dense 16x64x16/2x4',
      'dense 128x32x16/8x4',
      'dense 128x16x16/8x4',
      'pit-k 4x1',
      'pit-k 8x1',
      'pit-k 16x1',
      'pit-k',
      'pit-m 1x16',
      'pit-m 1x32',
      'pit-m 1x64',
      'pit-m',
    ]);
    expect(new Set(rules.map((r) => r.variant)).size).toBe(rules.length); // stored by name: must be unique
    for (const r of rules.filter((x) => x.axis === 'k')) expect(r.spec.tile.bm).toBe(Number(r.microTile!.split('x')[0]));
    expect(rules.find((r) => r.variant === 'pit-m')!.microTile).toBe('1x96');
    expect(rules.find((r) => r.variant === 'pit-k 8x1')!.description).toMatch(/Conv \(im2col\): axis k, micro-tile 8x1/);
    expect(rulesFor('Relu', { m: 64, n: 64, k: 96 })).toEqual([]);
  });

  it('drops 1xW rules that are the whole row (W >= K)', () => {
    expect(rulesFor('MatMul', { m: 64, n: 64, k: 64 }, configs).map((r) => r.variant).filter((v) => v.startsWith('pit-m'))).toEqual(['pit-m 1x16', 'pit-m 1x32', 'pit-m']);
    expect(rulesFor('MatMul', { m: 64, n: 64, k: 10 }, configs).map((r) => r.variant).filter((v) => v.startsWith('pit-m'))).toEqual(['pit-m']);
  });
});

describe('regret', () => {
  const v = (name: string, ms: number, detectMs = 0, ok = true) =>
    ({ name, ms, detectMs, ok, microTile: null, computeTile: '', maxAbsErr: 0, maxRelErr: 0, wgslHash: '' }) as VariantResult;
  it('is chosen / best − 1 over verified variants, detection included', () => {
    const results = [v('dense', 2), v('pit-k', 1, 0.5), v('pit-m', 0.5, 0, false)];
    expect(regretOf(results, 'pit-k')).toBe(0);
    expect(regretOf(results, 'dense')).toBeCloseTo(2 / 1.5 - 1, 12);
    expect(regretOf(results, 'pit-m')).toBeNaN(); // not verified: no regret
    expect(median([0.3, 0, 0.1, Number.NaN])).toBe(0.1);
  });
});

