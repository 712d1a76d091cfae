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
  return downsampleBy(h, Math.max(1, Math.ceil(h.rows / Math.max(1, maxRows))), Math.max(1, Math.ceil(h.cols / Math.max(1, maxCols))));
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

// ---- Issue 13: the map at the operand's aspect ratio, aligned with the chosen micro-tile, and what was gathered ----

/**
 * The canvas size that shows A[M, K] at its aspect ratio within `maxW` × `maxH` px. A side that would be thinner than
 * `minPx` is widened to it, and `toScale` says the picture is then not to scale (e.g. A[1×96]).
 */
export function aspectBox(m: number, k: number, maxW: number, maxH: number, minPx = 24): { width: number; height: number; toScale: boolean } {
  if (!(m > 0 && k > 0)) return { width: maxW, height: Math.min(maxH, maxW), toScale: false };
  const s = Math.min(maxW / k, maxH / m);
  let width = k * s;
  let height = m * s;
  const toScale = width >= minPx && height >= minPx;
  width = Math.max(minPx, Math.round(width));
  height = Math.max(minPx, Math.round(height));
  return { width: Math.min(width, maxW), height: Math.min(height, maxH), toScale };
}

/** `HxW` → [h, w] (a micro-tile in A's [M, K] terms; `1xK` whole rows give w = k); null when not a shape. */
export function parseMicroTile(shape: string | null | undefined, k: number): [number, number] | null {
  if (!shape) return null;
  const m = /^(\d+)x(\d+|K)$/i.exec(shape);
  if (!m) return null;
  return [Number(m[1]), m[2]!.toUpperCase() === 'K' ? k : Number(m[2])];
}

/** `BMxBNxBK/TMxTN` → the computation tile's rows (BM), columns of C (BN) and depth along K (BK); null when not one. */
export function parseComputeTile(tile: string | null | undefined): { bm: number; bn: number; bk: number } | null {
  const m = /^(\d+)x(\d+)x(\d+)/.exec(tile ?? '');
  return m ? { bm: Number(m[1]), bn: Number(m[2]), bk: Number(m[3]) } : null;
}

/** Averages exactly `fr` × `fc` cells into one (edge blocks average the cells they have). */
export function downsampleBy(h: Heatmap, fr: number, fc: number): Heatmap {
  if (fr <= 1 && fc <= 1) return h;
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

/**
 * The map with cells that line up with micro-tile `[mh, mw]`: where the micro-tile spans a whole number of cells,
 * cells are merged to exactly one micro-tile (so each cell is a micro-tile, and its colour its occupancy); where it is
 * smaller than a cell, cells stay (a cell then holds several micro-tiles).
 */
export function alignToMicroTile(h: Heatmap, micro: [number, number] | null): Heatmap {
  if (!micro) return h;
  const [mh, mw] = micro;
  const fr = mh > h.cellM && mh % h.cellM === 0 ? mh / h.cellM : 1;
  const fc = mw > h.cellK && mw % h.cellK === 0 ? mw / h.cellK : 1;
  return downsampleBy(h, fr, fc);
}

/** Grid lines every `step` micro-tiles (1 when they are at least `minPx` apart on screen), per direction. */
export function microGridStep(cellsPerTile: number, pxPerCell: number, minPx = 5): number {
  const px = cellsPerTile * pxPerCell;
  if (!(px > 0)) return 0;
  let step = 1;
  while (px * step < minPx) step *= 2;
  return step;
}

/** A rectangle of cells `[r0, r1) × [c0, c1)` gathered into computation tile number `tile` (counted per block). */
export interface GatherRect {
  r0: number;
  r1: number;
  c0: number;
  c1: number;
  tile: number;
}

/**
 * What a rule gathers, in cells of `h`: for axis `k` (PIT's condense-K), per block of BM rows the columns holding a
 * non-zero go, in order, into computation tiles of BK columns; for axis `m` (condense-M), per chunk of micro-tile
 * width the rows holding a non-zero go into tiles of BM rows; for dense (`none`), every BM × BK tile of A. `exact` is
 * false when a cell is coarser than the block or the micro-tile (then a cell counts whole: an upper bound of work).
 */
export function gatheredTiles(h: Heatmap, axis: 'none' | 'k' | 'm' | 'n', micro: [number, number] | null, tile: { bm: number; bk: number }): { rects: GatherRect[]; exact: boolean } {
  const rects: GatherRect[] = [];
  const v = (r: number, c: number) => h.values[r * h.cols + c]!;
  if (axis === 'k') {
    const blockCells = Math.max(1, Math.round(tile.bm / h.cellM));
    const exact = tile.bm % h.cellM === 0 && h.cellK === 1;
    for (let r0 = 0; r0 < h.rows; r0 += blockCells) {
      const r1 = Math.min(h.rows, r0 + blockCells);
      let columns = 0; // A-columns gathered so far in this block
      for (let c = 0; c < h.cols; c++) {
        let any = false;
        for (let r = r0; r < r1 && !any; r++) any = v(r, c) > 0;
        if (!any) continue;
        rects.push({ r0, r1, c0: c, c1: c + 1, tile: Math.floor(columns / tile.bk) });
        columns += h.cellK;
      }
    }
    return { rects: mergeRuns(rects, 'c'), exact };
  }
  if (axis === 'm' || axis === 'n') {
    const width = micro ? micro[1] : tile.bk;
    const chunkCells = Math.max(1, Math.round(width / h.cellK));
    const exact = width % h.cellK === 0 && h.cellM === 1;
    for (let c0 = 0; c0 < h.cols; c0 += chunkCells) {
      const c1 = Math.min(h.cols, c0 + chunkCells);
      let rows = 0;
      for (let r = 0; r < h.rows; r++) {
        let any = false;
        for (let c = c0; c < c1 && !any; c++) any = v(r, c) > 0;
        if (!any) continue;
        rects.push({ r0: r, r1: r + 1, c0, c1, tile: Math.floor(rows / tile.bm) });
        rows += h.cellM;
      }
    }
    return { rects: mergeRuns(rects, 'r'), exact };
  }
  const rs = Math.max(1, Math.round(tile.bm / h.cellM));
  const cs = Math.max(1, Math.round(tile.bk / h.cellK));
  for (let r0 = 0, i = 0; r0 < h.rows; r0 += rs, i++) {
    for (let c0 = 0, j = 0; c0 < h.cols; c0 += cs, j++) rects.push({ r0, r1: Math.min(h.rows, r0 + rs), c0, c1: Math.min(h.cols, c0 + cs), tile: (i + j) % 2 });
  }
  return { rects, exact: tile.bm % h.cellM === 0 && tile.bk % h.cellK === 0 };
}

/** Merges neighbouring rectangles of the same block and tile along `dir` (fewer, larger rectangles to draw). */
function mergeRuns(rects: GatherRect[], dir: 'r' | 'c'): GatherRect[] {
  const out: GatherRect[] = [];
  for (const x of rects) {
    const last = out[out.length - 1];
    if (last && last.tile === x.tile && (dir === 'c' ? last.r0 === x.r0 && last.c1 === x.c0 : last.c0 === x.c0 && last.r1 === x.r0)) {
      if (dir === 'c') last.c1 = x.c1;
      else last.r1 = x.r1;
    } else out.push({ ...x });
  }
  return out;
}
