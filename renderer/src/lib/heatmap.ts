/**
 * Occupancy heat maps of the exploited operand A[M, K] (LayerResult.heatmap: fraction 0–1 of non-zero elements per
 * cell, at most 128×128 cells). Pure functions: box downsampling to what a canvas can show, the colour scale, the
 * RGBA image and the cell under the pointer.
 */
import type { Heatmap } from '../../../core/protocol.ts';

/**
 * Averages blocks of cells so the map has at most `maxRows` × `maxCols` cells. Edge blocks average the cells they
 * have (so a partial block is not diluted by cells that do not exist); `cellM`/`cellK` grow by the block size.
 * A map already small enough is returned as is.
 */
export function downsampleHeatmap(h: Heatmap, maxRows: number, maxCols: number): Heatmap {
  const fr = Math.max(1, Math.ceil(h.rows / Math.max(1, maxRows)));
  const fc = Math.max(1, Math.ceil(h.cols / Math.max(1, maxCols)));
  if (fr === 1 && fc === 1) return h;
  const rows = Math.ceil(h.rows / fr);
  const cols = Math.ceil(h.cols / fc);
  const values = new Array<number>(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let sum = 0;
      let n = 0;
      for (let y = r * fr; y < Math.min(h.rows, (r + 1) * fr); y++) {
        for (let x = c * fc; x < Math.min(h.cols, (c + 1) * fc); x++) {
          sum += h.values[y * h.cols + x]!;
          n++;
        }
      }
      values[r * cols + c] = sum / n;
    }
  }
  return { rows, cols, cellM: h.cellM * fr, cellK: h.cellK * fc, values };
}

/** Stops of the colour scale (viridis, perceptually uniform and readable in grey): 0 = all zeros, 1 = dense. */
const STOPS: readonly [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

/** The colour of an occupancy fraction (clamped to 0–1; NaN is drawn as mid grey). */
export function occupancyColor(v: number): [number, number, number] {
  if (!Number.isFinite(v)) return [128, 128, 128];
  const t = Math.min(1, Math.max(0, v)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(t));
  const f = t - i;
  const a = STOPS[i]!;
  const b = STOPS[i + 1]!;
  return [Math.round(a[0] + (b[0] - a[0]) * f), Math.round(a[1] + (b[1] - a[1]) * f), Math.round(a[2] + (b[2] - a[2]) * f)];
}

/** CSS gradient of the scale, for the legend. */
export function legendGradient(): string {
  return `linear-gradient(to right, ${STOPS.map((s, i) => `rgb(${s.join(',')}) ${(i / (STOPS.length - 1)) * 100}%`).join(', ')})`;
}

/** The map as RGBA pixels, one per cell (width = cols, height = rows), for `ImageData`. */
export function heatmapRgba(h: Heatmap): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(h.rows * h.cols * 4);
  for (let i = 0; i < h.rows * h.cols; i++) {
    const [r, g, b] = occupancyColor(h.values[i]!);
    out[i * 4] = r;
    out[i * 4 + 1] = g;
    out[i * 4 + 2] = b;
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** The cell under a point of a map drawn stretched to `width` × `height`, with the A rows and columns it covers. */
export function cellAt(
  h: Heatmap,
  x: number,
  y: number,
  width: number,
  height: number,
): { row: number; col: number; value: number; rows: [number, number]; cols: [number, number] } | null {
  if (x < 0 || y < 0 || x >= width || y >= height || !h.rows || !h.cols) return null;
  const row = Math.min(h.rows - 1, Math.floor((y / height) * h.rows));
  const col = Math.min(h.cols - 1, Math.floor((x / width) * h.cols));
  return {
    row,
    col,
    value: h.values[row * h.cols + col]!,
    rows: [row * h.cellM, (row + 1) * h.cellM - 1],
    cols: [col * h.cellK, (col + 1) * h.cellK - 1],
  };
}

/** Mean occupancy over the map (an estimate of A's element density). */
export function meanOccupancy(h: Heatmap): number {
  if (!h.values.length) return Number.NaN;
  let s = 0;
  for (const v of h.values) s += v;
  return s / h.values.length;
}
