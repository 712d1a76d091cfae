/** Heat maps: box downsampling (edges included), the colour scale, pixels, and the cell under the pointer. */
import { describe, expect, it } from 'vitest';
import type { Heatmap } from '../../core/protocol.ts';
import { cellAt, downsampleHeatmap, heatmapRgba, meanOccupancy, occupancyColor } from '../../renderer/src/lib/heatmap.ts';

const h3x3: Heatmap = { rows: 3, cols: 3, cellM: 4, cellK: 2, values: [0, 1, 1, 1, 0, 0, 0.5, 0.5, 1] };

describe('downsampleHeatmap', () => {
  it('returns a map that already fits unchanged', () => {
    expect(downsampleHeatmap(h3x3, 3, 3)).toBe(h3x3);
  });

  it('averages blocks; edge blocks average only the cells they have', () => {
    const d = downsampleHeatmap(h3x3, 2, 2);
    expect(d).toMatchObject({ rows: 2, cols: 2, cellM: 8, cellK: 4 });
    expect(d.values[0]).toBeCloseTo((0 + 1 + 1 + 0) / 4);
    expect(d.values[1]).toBeCloseTo((1 + 0) / 2);
    expect(d.values[2]).toBeCloseTo((0.5 + 0.5) / 2);
    expect(d.values[3]).toBeCloseTo(1);
  });

  it('keeps the mean of a map whose blocks divide evenly', () => {
    const big: Heatmap = { rows: 128, cols: 128, cellM: 1, cellK: 1, values: Array.from({ length: 128 * 128 }, (_, i) => (i % 7) / 6) };
    const d = downsampleHeatmap(big, 32, 64);
    expect([d.rows, d.cols, d.cellM, d.cellK]).toEqual([32, 64, 4, 2]);
    expect(meanOccupancy(d)).toBeCloseTo(meanOccupancy(big), 10);
  });
});

describe('colour scale', () => {
  it('runs from dark (all zeros) to bright (dense), clamped', () => {
    expect(occupancyColor(0)).toEqual([68, 1, 84]);
    expect(occupancyColor(1)).toEqual([253, 231, 37]);
    expect(occupancyColor(-1)).toEqual(occupancyColor(0));
    expect(occupancyColor(2)).toEqual(occupancyColor(1));
    expect(occupancyColor(Number.NaN)).toEqual([128, 128, 128]);
    const lum = (v: number) => occupancyColor(v).reduce((s, c) => s + c, 0);
    for (let i = 0; i < 10; i++) expect(lum((i + 1) / 10)).toBeGreaterThan(lum(i / 10));
  });

  it('makes one opaque pixel per cell', () => {
    const px = heatmapRgba(h3x3);
    expect(px.length).toBe(3 * 3 * 4);
    expect([...px.slice(0, 4)]).toEqual([68, 1, 84, 255]);
    expect([...px.slice(4, 8)]).toEqual([253, 231, 37, 255]);
  });
});

describe('cellAt', () => {
  it('finds the cell and the rows and columns of A it covers', () => {
    expect(cellAt(h3x3, 299, 0, 300, 300)).toEqual({ row: 0, col: 2, value: 1, rows: [0, 3], cols: [4, 5] });
    expect(cellAt(h3x3, 150, 250, 300, 300)).toMatchObject({ row: 2, col: 1, value: 0.5 });
    expect(cellAt(h3x3, 300, 10, 300, 300)).toBeNull();
  });
});
