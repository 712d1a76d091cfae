/**
 * Statistics of A gathered slice by slice (a layer measured in row slices never holds its whole A): the coverage of
 * every micro-tile shape (`CoverageAccumulator`) and the heat map (`HeatmapAccumulator`) equal those of the whole
 * operand when slices hold whole micro-tiles (synthetic, block-structured sparse data).
 */
import { describe, expect, it } from 'vitest';
import { CoverageAccumulator, coverageOf } from '../../core/pit/coverage.ts';
import { HeatmapAccumulator, occupancyHeatmap } from '../../core/sparsity/micro-tiles.ts';
import { mulberry32 } from '../../core/synthetic/random.ts';

/** A [M, K] with zero 8x4 blocks and scattered zeros (so every shape has empty and partial tiles). */
function operand(m: number, k: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  const blocks = new Map<string, boolean>();
  const a = new Float32Array(m * k);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < k; j++) {
      const key = `${i >> 3},${j >> 2}`;
      if (!blocks.has(key)) blocks.set(key, r() < 0.6);
      a[i * k + j] = blocks.get(key) && r() < 0.7 ? r() - 0.5 : 0;
    }
  }
  return a;
}

const SHAPES = ['1x1', '8x1', '32x1', '1x32', '1x64', '32x32', '1x100', '16x4'];

describe('slice-wise statistics', () => {
  it('CoverageAccumulator equals coverageOf on the whole operand (densities, counts, covered elements, waste)', () => {
    const [m, k] = [300, 100];
    const a = operand(m, k, 7);
    const whole = coverageOf({ a, m, k }, SHAPES);
    const acc = new CoverageAccumulator(k);
    for (const [r0, r1] of [[0, 128], [128, 256], [256, 300]] as const) {
      const s = a.subarray(r0 * k, r1 * k);
      let nz = 0;
      for (const x of s) if (x !== 0) nz++;
      acc.add(r1 - r0, coverageOf({ a: s, m: r1 - r0, k }, SHAPES), nz);
    }
    const merged = acc.result();
    expect(acc.m).toBe(m);
    for (const shape of SHAPES) {
      const w = whole.get(shape)!;
      const t = merged.get(shape)!;
      expect(t.density, shape).toBeCloseTo(w.density, 12);
      expect(t.effectiveDensity, shape).toBeCloseTo(w.effectiveDensity, 12);
      expect(t.coveredElements, shape).toBe(w.coveredElements);
      expect(t.coverageWaste, shape).toBeCloseTo(w.coverageWaste, 12);
      expect(Array.from(t.rowCounts), shape).toEqual(Array.from(w.rowCounts));
      expect(Array.from(t.colCounts), shape).toEqual(Array.from(w.colCounts));
      expect([t.grid.gridRows, t.grid.gridCols]).toEqual([w.grid.gridRows, w.grid.gridCols]);
    }
    expect(whole.get('8x1')!.density).toBeGreaterThan(0.3);
    expect(whole.get('8x1')!.density).toBeLessThan(0.9);
  });

  it('refuses a slice boundary inside a micro-tile', () => {
    const k = 16;
    const a = operand(64, k, 3);
    const acc = new CoverageAccumulator(k);
    acc.add(20, coverageOf({ a: a.subarray(0, 20 * k), m: 20, k }, ['32x1']), 1);
    expect(() => acc.add(44, coverageOf({ a: a.subarray(20 * k), m: 44, k }, ['32x1']), 1)).toThrow(/inside a micro-tile/);
  });

  it('HeatmapAccumulator equals occupancyHeatmap, slices added in any order', () => {
    const [m, k] = [1000, 300];
    const a = operand(m, k, 11);
    const h = new HeatmapAccumulator(m, k);
    for (const [r0, r1] of [[700, 1000], [0, 333], [333, 700]] as const) h.add(a.subarray(r0 * k, r1 * k), r0, r1 - r0);
    expect(h.result()).toEqual(occupancyHeatmap(a, m, k));
  });
});
