/**
 * The coverage model (core/pit/coverage.ts) against brute force: for random and structured operands with partial
 * edge tiles, every micro-tile shape's occupancy, density, per-block counts and coverage waste must equal what a
 * direct scan of A gives (core/sparsity/micro-tiles.ts, whose pitK/pitM indexes are what the GPU detection is
 * checked against), whether computed from A or pooled from a finer occupancy grid.
 */
import { describe, expect, it } from 'vitest';
import { canPool, coverageOf, elementOccupancy, poolOccupancy } from '../../core/pit/coverage.ts';
import { microTileOccupancy, pitKIndexCpu, pitMIndexCpu } from '../../core/sparsity/micro-tiles.ts';
import { randomSparse, zeroColumnBlocks, zeroRows } from '../kernels/fixtures.ts';

const SHAPES = ['1x1', '4x1', '8x1', '16x1', '32x1', '1x16', '1x32', '1x64', '4x4', '32x32'];

/** Brute force for one shape: occupancy from a scan of A, counts per grid row and column from the bits. */
function bruteForce(a: Float32Array, m: number, k: number, shape: string) {
  const occ = microTileOccupancy(a, m, k, shape);
  const rowCounts = new Array(occ.gridRows).fill(0);
  const colCounts = new Array(occ.gridCols).fill(0);
  for (let r = 0; r < occ.gridRows; r++) {
    for (let c = 0; c < occ.gridCols; c++) {
      if (occ.occupied[r * occ.gridCols + c]) {
        rowCounts[r]++;
        colCounts[c]++;
      }
    }
  }
  return { occ, rowCounts, colCounts };
}

const operands: [string, number, number, () => Float32Array][] = [
  ['element-random 70 % zeros, ragged edges', 45, 77, () => randomSparse(45, 77, 0.7, 1)],
  ['8x1 blocks zeroed (80 %)', 64, 100, () => zeroColumnBlocks(64, 100, 8, 0.8, 2)],
  ['32x1 blocks zeroed, ragged M', 70, 64, () => zeroColumnBlocks(70, 64, 32, 0.6, 3)],
  ['whole rows zeroed', 33, 150, () => zeroRows(33, 150, 0.5, 4)],
  ['all zero', 9, 17, () => new Float32Array(9 * 17)],
  ['single row (M = 1)', 1, 96, () => randomSparse(1, 96, 0.5, 5)],
];

describe('coverageOf vs brute force', () => {
  for (const [what, m, k, make] of operands) {
    it(what, () => {
      const a = make();
      const cov = coverageOf({ a, m, k }, [...SHAPES, `1x${k}`]);
      for (const shape of [...SHAPES, `1x${k}`]) {
        const got = cov.get(shape)!;
        const want = bruteForce(a, m, k, shape);
        expect(Array.from(got.grid.occupied), shape).toEqual(Array.from(want.occ.occupied));
        expect(got.density, shape).toBe(want.occ.density);
        expect(Array.from(got.rowCounts), shape).toEqual(want.rowCounts);
        expect(Array.from(got.colCounts), shape).toEqual(want.colCounts);
        expect(got.coveredElements, shape).toBe(want.occ.coveredElements);
        expect(got.coverageWaste, shape).toBeCloseTo(want.occ.coverageWaste, 12);
      }
      // The per-block counts are what the kernels' detection produces.
      for (const h of [4, 8, 16, 32]) expect(Array.from(cov.get(`${h}x1`)!.rowCounts)).toEqual(Array.from(pitKIndexCpu(a, m, k, h).count));
      for (const w of [16, 32, 64, k]) expect(Array.from(cov.get(`1x${w}`)!.colCounts)).toEqual(Array.from(pitMIndexCpu(a, m, k, w).count));
    });
  }

  it('pools from a finest micro-tile occupancy instead of A (then waste is unknown)', () => {
    const m = 64;
    const k = 96;
    const a = zeroColumnBlocks(m, k, 4, 0.7, 11);
    const finest = poolOccupancy(elementOccupancy(a, m, k).grid, { h: 4, w: 1 });
    const cov = coverageOf(finest, ['8x1', '32x1', '4x4', `64x${k}`]);
    for (const shape of ['8x1', '32x1', '4x4']) {
      expect(Array.from(cov.get(shape)!.grid.occupied), shape).toEqual(Array.from(microTileOccupancy(a, m, k, shape).occupied));
    }
    expect(cov.get(`64x${k}`)!.density).toBe(1);
    expect(cov.get('8x1')!.coverageWaste).toBeNaN();
    // 2x1 is finer than the 4x1 grid: it cannot be derived, and says so.
    expect(() => coverageOf(finest, ['2x1'])).toThrow(/cannot be derived from occupancy 4x1/);
  });

  it('knows which shapes pool from which (multiples, or one tile across the axis)', () => {
    expect(canPool({ h: 4, w: 1 }, { h: 8, w: 1 }, 64, 64)).toBe(true);
    expect(canPool({ h: 8, w: 1 }, { h: 12, w: 1 }, 64, 64)).toBe(false);
    expect(canPool({ h: 1, w: 16 }, { h: 1, w: 100 }, 64, 100)).toBe(true); // whole rows: one tile across K
    expect(canPool({ h: 1, w: 16 }, { h: 1, w: 40 }, 64, 100)).toBe(false);
  });

  it('pools a chain of shapes from each other exactly as each computed from the elements alone (768x864, ten shapes)', () => {
    // Speed is measured in bench/, not asserted here; what pooling must preserve is the result.
    const a = randomSparse(768, 864, 0.5, 21);
    const shapes = [...SHAPES, '1x864'];
    const together = coverageOf({ a, m: 768, k: 864 }, shapes);
    for (const sh of shapes) {
      const alone = coverageOf({ a, m: 768, k: 864 }, [sh]).get(sh)!;
      const t = together.get(sh)!;
      expect(t.density, sh).toBe(alone.density);
      expect(t.effectiveDensity, sh).toBe(alone.effectiveDensity);
      expect(Array.from(t.rowCounts), sh).toEqual(Array.from(alone.rowCounts));
      expect(Array.from(t.colCounts), sh).toEqual(Array.from(alone.colCounts));
    }
  });

  it('weights effective density by work: a partial edge micro-tile counts by its area (M = 97)', () => {
    // Every row non-zero but the last: 32x1 tiles are 3 full blocks + a 1-row edge block (zero); 8x1: 12 + a 1-row edge.
    const m = 97;
    const k = 10;
    const a = new Float32Array(m * k).fill(1).fill(0, 96 * k);
    const c = coverageOf({ a, m, k }, ['32x1', '8x1']);
    expect(c.get('32x1')!.density).toBe(3 / 4); // the tile fraction punishes the tall tile for the 1-row edge
    expect(c.get('8x1')!.density).toBe(12 / 13);
    expect(c.get('32x1')!.effectiveDensity).toBe(96 / 97); // both compute exactly the 96 non-zero rows
    expect(c.get('8x1')!.effectiveDensity).toBe(96 / 97);
  });
});
