/**
 * The cost model's pieces (core/pit/costmodel.ts): relative non-negative least squares, per-wave folding with the
 * parallel width estimated from the data, the monotone density correction, and trimming of inflated points.
 * Observations here are SYNTHETIC (generated from known coefficients).
 */
import { describe, expect, it } from 'vitest';
import { correctionAt, fitModel, fitTheta, isotonic, perWave, predictModel, type Observation } from '../../core/pit/costmodel.ts';
import { TileModel } from '../../core/pit/tiledb.ts';
import { spaceConfigs } from '../../core/pit/rules.ts';
import { syntheticPoints } from './synthetic-tiledb.ts';

const obs = (x: number[], ms: number, density = 1, sparsity = 0): Observation => ({ x, ms, density, sparsity });

describe('fitTheta', () => {
  it('recovers non-negative coefficients exactly from noiseless data', () => {
    const theta = [0.05, 0.002, 0.0003];
    const data = [
      [1, 1, 4],
      [1, 8, 64],
      [1, 64, 96],
      [1, 2, 1000],
      [1, 300, 300],
    ].map((x) => obs(x, x[0]! * theta[0]! + x[1]! * theta[1]! + x[2]! * theta[2]!));
    const fit = fitTheta(data);
    fit.theta.forEach((t, i) => expect(t).toBeCloseTo(theta[i]!, 12));
    expect(fit.sse).toBeLessThan(1e-20);
  });

  it('never returns a negative coefficient (the feature is dropped instead)', () => {
    // Times fall with the second feature: an unconstrained fit would give it a negative cost.
    const data = [obs([1, 1], 1.0), obs([1, 2], 0.9), obs([1, 3], 0.8), obs([1, 4], 0.7)];
    const { theta } = fitTheta(data);
    expect(theta[1]).toBe(0);
    expect(theta[0]).toBeGreaterThan(0.7);
    expect(() => fitTheta([])).toThrow(/no observations/);
    expect(() => fitTheta([obs([1], 0)])).toThrow(/not a positive number/);
  });
});

describe('perWave and the parallel width', () => {
  it('folds workgroups into waves and scales the work per wave', () => {
    expect(perWave([1, 10, 100, 7], 4, 1)).toEqual([1, 3, 30, 7]); // 3 waves of 4 workgroups; F (index 3) untouched
    expect(perWave([1, 10, 100], 1)).toEqual([1, 10, 100]);
    expect(perWave([1, 2, 50], 8)).toEqual([1, 1, 25]); // fewer workgroups than width: one wave, per-workgroup work
  });

  it('finds the width of a device whose cost is per wave (a SYNTHETIC 2-thread CPU-like device)', () => {
    // Synthetic database where every kernel costs 0.03 + 0.01·waves + 1e-4·(steps per wave), with P = 2.
    const points = syntheticPoints(spaceConfigs().filter((c) => c.family === 'dense')).map((p) => {
      const g = Math.ceil(p.n / p.tile.bn) * Math.ceil(p.m / p.tile.bm);
      const steps = g * Math.ceil(p.k / p.tile.bk);
      const waves = Math.ceil(g / 2);
      return { ...p, kernelMs: 0.03 + 0.01 * waves + 1e-4 * ((steps * waves) / g) };
    });
    const model = new TileModel(points);
    expect(model.parallelism).toBe(2);
    const c = spaceConfigs()[0]!;
    const s = { m: 1000, n: 300, k: 200 };
    const g = Math.ceil(300 / c.tile.bn) * Math.ceil(1000 / c.tile.bm);
    const want = 0.03 + 0.01 * Math.ceil(g / 2) + 1e-4 * Math.ceil(200 / c.tile.bk) * Math.ceil(g / 2);
    expect(model.predict(c, s).kernelMs).toBeCloseTo(want, 9);
  });
});

describe('density correction', () => {
  it('is the non-decreasing median ratio per grid point, linear in between', () => {
    expect(isotonic([1, 3, 2, 4])).toEqual([1, 2.5, 2.5, 4]);
    // The base feature cannot see a density effect (x is constant); the correction must carry it.
    const data: Observation[] = [];
    for (const [sp, ratio] of [
      [0, 1.3],
      [0.5, 1.1],
      [0.9, 0.9],
    ] as const) {
      for (const size of [1, 2, 3]) data.push(obs([1, size], (0.1 + 0.1 * size) * ratio, 1 - sp, sp));
    }
    const m = fitModel(['1', 'G'], data);
    m.correction.forEach((c, i) => expect(c.density).toBeCloseTo([0.1, 0.5, 1][i]!, 12));
    // Density 0.3 is halfway between the grid points 0.1 and 0.5.
    expect(correctionAt(m, 0.3)).toBeCloseTo((m.correction[0]!.ratio + m.correction[1]!.ratio) / 2, 9);
    expect(correctionAt(m, 0)).toBe(m.correction[0]!.ratio); // clamped at the ends
    for (let i = 1; i < m.correction.length; i++) expect(m.correction[i]!.ratio).toBeGreaterThanOrEqual(m.correction[i - 1]!.ratio);
    expect(predictModel(m, [1, 2], 1)).toBeCloseTo(0.3 * 1.3, 1);
  });

  it('trims a point that other load inflated', () => {
    const data = [1, 2, 3, 4, 5, 6, 7, 8].map((g) => obs([1, g], 0.1 + 0.05 * g));
    data.push(obs([1, 4], (0.1 + 0.05 * 4) * 3)); // one sample 3x too slow
    const m = fitModel(['1', 'G'], data);
    expect(m.points).toBe(8);
    expect(m.theta[0]).toBeCloseTo(0.1, 9);
    expect(m.theta[1]).toBeCloseTo(0.05, 9);
  });
});
