import { describe, expect, it } from 'vitest';
import {
  indexBlock,
  microTileDensity,
  microTileOccupancy,
  occupancyHeatmap,
  parseMicroTile,
  pitKIndexCpu,
  pitMIndexCpu,
  sparsityOf,
} from '../../core/sparsity/micro-tiles.ts';

// A [5, 6]; x = non-zero.
//   k: 0 1 2 3 4 5
// m0:  x . . . . x
// m1:  . . . . . .
// m2:  . . x . . .
// m3:  . . . . . .
// m4:  . x . . . x
const M = 5;
const K = 6;
const A = new Float32Array(M * K);
A[0 * K + 0] = 1;
A[0 * K + 5] = -2;
A[2 * K + 2] = 3;
A[4 * K + 1] = 0.5;
A[4 * K + 5] = NaN; // NaN is a non-zero
A[3 * K + 3] = -0; // -0 is a zero

describe('micro-tiles (CPU)', () => {
  it('parses HxW and rejects anything else', () => {
    expect(parseMicroTile('32x1')).toEqual({ h: 32, w: 1 });
    expect(parseMicroTile('1X64')).toEqual({ h: 1, w: 64 });
    for (const bad of ['32', '0x4', '4x-1', 'axb', '3.5x1', '']) expect(() => parseMicroTile(bad), bad).toThrow(RangeError);
  });

  it('computes element sparsity (exact zeros, -0 included, NaN excluded)', () => {
    expect(sparsityOf(A)).toBeCloseTo(25 / 30, 12);
    expect(sparsityOf(new Float32Array(4))).toBe(1);
    expect(sparsityOf(Float32Array.from([1, 2]))).toBe(0);
  });

  it('computes micro-tile densities by hand on the 5x6 example', () => {
    // 2x1: row blocks {0,1},{2,3},{4}; non-zero (block, k): (0,0),(0,5),(1,2),(2,1),(2,5) -> 5 of 3*6.
    expect(microTileDensity(A, M, K, '2x1')).toBeCloseTo(5 / 18, 12);
    // 1x6 (whole rows): rows 0, 2, 4 -> 3 of 5.
    expect(microTileDensity(A, M, K, '1x6')).toBeCloseTo(3 / 5, 12);
    // 1x4: chunks k 0..3 and 4..5; row 0 both, row 2 first, row 4 both -> 5 of 10.
    expect(microTileDensity(A, M, K, { h: 1, w: 4 })).toBeCloseTo(5 / 10, 12);
    // 1x1 is the element density.
    expect(microTileDensity(A, M, K, '1x1')).toBeCloseTo(5 / 30, 12);
    // 8x8 covers all of A in one tile.
    expect(microTileDensity(A, M, K, '8x8')).toBe(1);
  });

  it('reports occupancy and coverage waste with partial edge tiles', () => {
    const o = microTileOccupancy(A, M, K, '2x4');
    // Grid 3 x 2. Tiles: (0,0) has (0,0); (0,1) has (0,5); (1,0) has (2,2); (1,1) none; (2,0) has (4,1); (2,1) has (4,5).
    expect([o.gridRows, o.gridCols]).toEqual([3, 2]);
    expect(Array.from(o.occupied)).toEqual([1, 1, 1, 0, 1, 1]);
    expect(o.nonZeroTiles).toBe(5);
    // Covered: 2x4 + 2x2 + 2x4 + 1x4 + 1x2 = 26 elements, 5 of them non-zero.
    expect(o.coveredElements).toBe(26);
    expect(o.nonZeroElements).toBe(5);
    expect(o.coverageWaste).toBeCloseTo(1 - 5 / 26, 12);
  });

  it('builds the pit-k index (k per row block) by hand', () => {
    const ix = pitKIndexCpu(A, M, K, 2);
    expect(Array.from(ix.count)).toEqual([2, 1, 2]);
    expect(ix.stride).toBe(K);
    expect(indexBlock(ix, 0)).toEqual([0, 5]);
    expect(indexBlock(ix, 1)).toEqual([2]);
    expect(indexBlock(ix, 2)).toEqual([1, 5]);
  });

  it('builds the pit-m index (rows per k-chunk) by hand', () => {
    const ix = pitMIndexCpu(A, M, K, 4);
    expect(Array.from(ix.count)).toEqual([3, 2]);
    expect(ix.stride).toBe(M);
    expect(indexBlock(ix, 0)).toEqual([0, 2, 4]);
    expect(indexBlock(ix, 1)).toEqual([0, 4]);
    const whole = pitMIndexCpu(A, M, K, K);
    expect(Array.from(whole.count)).toEqual([3]);
    expect(indexBlock(whole, 0)).toEqual([0, 2, 4]);
  });

  it('makes a heat map of the exact shape when small', () => {
    const h = occupancyHeatmap(A, M, K);
    expect([h.rows, h.cols, h.cellM, h.cellK]).toEqual([5, 6, 1, 1]);
    expect(h.values[0 * 6 + 0]).toBe(1);
    expect(h.values[4 * 6 + 5]).toBe(1);
    expect(h.values[3 * 6 + 3]).toBe(0);
    expect(h.values.reduce((s, v) => s + v, 0)).toBe(5);
  });

  it('downsamples a large operand to at most 128x128 cells of non-zero fractions', () => {
    const m = 300;
    const k = 130;
    const a = new Float32Array(m * k);
    // Left half of the columns dense in the first 150 rows, everything else zero.
    for (let i = 0; i < 150; i++) for (let p = 0; p < 65; p++) a[i * k + p] = 1;
    const h = occupancyHeatmap(a, m, k);
    expect(h.cellM).toBe(3); // ceil(300 / 128)
    expect(h.cellK).toBe(2); // ceil(130 / 128)
    expect(h.rows).toBe(100);
    expect(h.cols).toBe(65);
    expect(h.values).toHaveLength(100 * 65);
    expect(h.values[0]).toBe(1);
    // Column cell 32 covers k = 64, 65: half non-zero.
    expect(h.values[0 * 65 + 32]).toBe(0.5);
    expect(h.values[99 * 65 + 0]).toBe(0);
    // Average over cells equals the element density here (all cells are full).
    const mean = h.values.reduce((s, v) => s + v, 0) / h.values.length;
    expect(mean).toBeCloseTo((150 * 65) / (m * k), 12);
    // A custom cap: the partial last row cell.
    const small = occupancyHeatmap(a, m, k, 7);
    expect(small.rows).toBeLessThanOrEqual(7);
    expect(small.cols).toBeLessThanOrEqual(7);
    expect(small.cellM).toBe(43);
    expect(small.values[6 * small.cols]).toBe(0);
  });
});
