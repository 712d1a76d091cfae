/**
 * CPU-side sparsity of a matmul operand A [M, K] (row-major f32): element sparsity, micro-tile occupancy and
 * density, coverage waste, the pit-k and pit-m indexes (the reference the GPU detection is checked against), and a
 * downsampled occupancy heat map. "Non-zero" means `x !== 0` throughout: -0 is zero, NaN is non-zero (as in the
 * WGSL detection's `x != 0.0`).
 */
import type { Heatmap } from '../protocol.ts';

/** A micro-tile shape `h x w` in the operand's own [M, K] layout (rows x columns). */
/** Micro-tile label of a whole row of A (`1xK`: W is the reduction length); resolved to `1x${K}` per layer. */
export const WHOLE_ROW = '1xK';

export interface MicroTileShape {
  h: number;
  w: number;
}

/**
 * Parses `'HxW'` (e.g. `'32x1'`, `'1x64'`) into `{h, w}`.
 * @throws RangeError unless both parts are positive integers.
 */
export function parseMicroTile(s: string): MicroTileShape {
  const m = /^\s*(\d+)\s*[xX]\s*(\d+)\s*$/.exec(s);
  if (!m) throw new RangeError(`micro-tile '${s}' is not of the form HxW (e.g. 32x1, 1x64)`);
  const h = Number(m[1]);
  const w = Number(m[2]);
  if (h < 1 || w < 1 || !Number.isSafeInteger(h) || !Number.isSafeInteger(w)) {
    throw new RangeError(`micro-tile '${s}': H and W must be positive integers`);
  }
  return { h, w };
}

/** `HxW` of a micro-tile shape. */
export function formatMicroTile(t: MicroTileShape): string {
  return `${t.h}x${t.w}`;
}

/** Sparsity of a tensor: the fraction (0–1) of elements that are exactly zero; 0 for an empty tensor. */
export function sparsityOf(x: Float32Array): number {
  if (!x.length) return 0;
  let zeros = 0;
  for (let i = 0; i < x.length; i++) if (x[i] === 0) zeros++;
  return zeros / x.length;
}

/** Occupancy of the micro-tiles of a shape over A [M, K]. */
export interface MicroTileOccupancy {
  shape: MicroTileShape;
  /** Micro-tile grid: `ceil(M/h)` rows x `ceil(K/w)` columns (edge tiles are partial). */
  gridRows: number;
  gridCols: number;
  /** `occupied[r * gridCols + c]` is 1 when micro-tile (r, c) holds a non-zero. */
  occupied: Uint8Array;
  /** Number of non-zero micro-tiles. */
  nonZeroTiles: number;
  /** Effective density: non-zero micro-tiles / all micro-tiles (0–1). */
  density: number;
  /** Elements inside non-zero micro-tiles (what a kernel covering them computes), counting partial edge tiles' real extent. */
  coveredElements: number;
  /** Non-zero elements of A. */
  nonZeroElements: number;
  /** Coverage waste: fraction (0–1) of covered elements that are zero; 0 when nothing is covered. */
  coverageWaste: number;
}

/**
 * Micro-tile occupancy of A [M, K] row-major for a micro-tile shape: which tiles hold a non-zero, effective
 * density and coverage waste (DESIGN.md §2).
 * @throws RangeError on a length mismatch or a bad shape.
 */
export function microTileOccupancy(a: Float32Array, m: number, k: number, tile: MicroTileShape | string): MicroTileOccupancy {
  const shape = typeof tile === 'string' ? parseMicroTile(tile) : tile;
  checkOperand(a, m, k);
  const gridRows = Math.ceil(m / shape.h);
  const gridCols = Math.ceil(k / shape.w);
  const occupied = new Uint8Array(gridRows * gridCols);
  let nonZeroElements = 0;
  for (let i = 0; i < m; i++) {
    const rowTiles = ((i / shape.h) | 0) * gridCols;
    const base = i * k;
    for (let p = 0; p < k; p++) {
      if (a[base + p] !== 0) {
        nonZeroElements++;
        occupied[rowTiles + ((p / shape.w) | 0)] = 1;
      }
    }
  }
  let nonZeroTiles = 0;
  let coveredElements = 0;
  for (let r = 0; r < gridRows; r++) {
    const th = Math.min(shape.h, m - r * shape.h);
    for (let c = 0; c < gridCols; c++) {
      if (!occupied[r * gridCols + c]) continue;
      nonZeroTiles++;
      coveredElements += th * Math.min(shape.w, k - c * shape.w);
    }
  }
  const total = gridRows * gridCols;
  return {
    shape,
    gridRows,
    gridCols,
    occupied,
    nonZeroTiles,
    density: total ? nonZeroTiles / total : 0,
    coveredElements,
    nonZeroElements,
    coverageWaste: coveredElements ? 1 - nonZeroElements / coveredElements : 0,
  };
}

/** Effective density (0–1) of micro-tile shape `tile` over A [M, K]: the fraction of its micro-tiles holding a non-zero. */
export function microTileDensity(a: Float32Array, m: number, k: number, tile: MicroTileShape | string): number {
  return microTileOccupancy(a, m, k, tile).density;
}

/**
 * A micro-tile index as the GPU detection builds it: `count[j]` entries of block j at `index[j*stride ..]`.
 * The CPU builds them in ascending order; the GPU's order is arbitrary (compare as sets).
 */
export interface MicroTileIndex {
  count: Uint32Array;
  index: Uint32Array;
  /** Distance between consecutive blocks' lists in `index` (K for pit-k, M for pit-m). */
  stride: number;
}

/**
 * The pit-k index of A [M, K] (micro-tile `bm x 1`, PIT condense-K): for each row block mb < ceil(M/bm), the k's
 * with a non-zero in `A[mb*bm .. mb*bm+bm, k]`, ascending. `count` [ceil(M/bm)] u32, `index` [ceil(M/bm)*K] u32
 * (unused entries 0), stride K.
 * @throws RangeError on a length mismatch or bm < 1.
 */
export function pitKIndexCpu(a: Float32Array, m: number, k: number, bm: number): MicroTileIndex {
  checkOperand(a, m, k);
  if (!Number.isInteger(bm) || bm < 1) throw new RangeError(`pit-k index: bm must be a positive integer, got ${bm}`);
  const blocks = Math.ceil(m / bm);
  const count = new Uint32Array(blocks);
  const index = new Uint32Array(blocks * k);
  const seen = new Uint8Array(k);
  for (let mb = 0; mb < blocks; mb++) {
    seen.fill(0);
    for (let i = mb * bm; i < Math.min(m, mb * bm + bm); i++) {
      for (let p = 0; p < k; p++) if (a[i * k + p] !== 0) seen[p] = 1;
    }
    let n = 0;
    for (let p = 0; p < k; p++) if (seen[p]) index[mb * k + n++] = p;
    count[mb] = n;
  }
  return { count, index, stride: k };
}

/**
 * The pit-m index of A [M, K] (micro-tile `1 x w`, PIT condense-M): for each k-chunk c < ceil(K/w), the rows m
 * with a non-zero in `A[m, c*w .. (c+1)*w)`, ascending. `count` [ceil(K/w)] u32, `index` [ceil(K/w)*M] u32,
 * stride M.
 * @throws RangeError on a length mismatch or w < 1.
 */
export function pitMIndexCpu(a: Float32Array, m: number, k: number, w: number): MicroTileIndex {
  checkOperand(a, m, k);
  if (!Number.isInteger(w) || w < 1) throw new RangeError(`pit-m index: w must be a positive integer, got ${w}`);
  const chunks = Math.ceil(k / w);
  const count = new Uint32Array(chunks);
  const index = new Uint32Array(chunks * m);
  for (let c = 0; c < chunks; c++) {
    let n = 0;
    const p1 = Math.min(k, c * w + w);
    for (let i = 0; i < m; i++) {
      for (let p = c * w; p < p1; p++) {
        if (a[i * k + p] !== 0) {
          index[c * m + n++] = i;
          break;
        }
      }
    }
    count[c] = n;
  }
  return { count, index, stride: m };
}

/** The entries of block j of an index, sorted ascending (for set comparison of GPU and CPU indexes). */
export function indexBlock(ix: MicroTileIndex, j: number): number[] {
  const n = ix.count[j]!;
  return Array.from(ix.index.subarray(j * ix.stride, j * ix.stride + n)).sort((x, y) => x - y);
}

/**
 * A downsampled occupancy heat map of A [M, K]: at most `maxCells` x `maxCells` cells (default 128), each
 * `cellM x cellK` elements (`cellM = ceil(M/maxCells)`, `cellK = ceil(K/maxCells)`; edge cells are partial);
 * `values[r * cols + c]` is the fraction (0–1) of non-zero elements in the cell, over its real extent.
 * @throws RangeError on a length mismatch or maxCells < 1.
 */
export function occupancyHeatmap(a: Float32Array, m: number, k: number, maxCells = 128): Heatmap {
  checkOperand(a, m, k);
  const acc = new HeatmapAccumulator(m, k, maxCells);
  acc.add(a, 0, m);
  return acc.result();
}

/**
 * The heat map of A [M, K] (as `occupancyHeatmap`) built from row slices added in any order, for a layer measured
 * in slices whose whole A never exists at once (core/profile/tiled.ts).
 */
export class HeatmapAccumulator {
  private readonly cellM: number;
  private readonly cellK: number;
  private readonly rows: number;
  private readonly cols: number;
  private readonly nz: Float64Array;

  /** @throws RangeError on a bad shape or maxCells < 1. */
  constructor(
    private readonly m: number,
    private readonly k: number,
    maxCells = 128,
  ) {
    if (!Number.isInteger(m) || !Number.isInteger(k) || m < 1 || k < 1) throw new RangeError(`operand shape [${m}, ${k}] must be positive integers`);
    if (!Number.isInteger(maxCells) || maxCells < 1) throw new RangeError(`heat map: maxCells must be a positive integer, got ${maxCells}`);
    this.cellM = Math.ceil(m / maxCells);
    this.cellK = Math.ceil(k / maxCells);
    this.rows = Math.ceil(m / this.cellM);
    this.cols = Math.ceil(k / this.cellK);
    this.nz = new Float64Array(this.rows * this.cols);
  }

  /**
   * Counts the non-zero elements of rows `[r0, r0 + rows)` of A, given as `a` [rows, K] row-major.
   * @throws RangeError on a length mismatch or rows outside [0, M].
   */
  add(a: Float32Array, r0: number, rows: number): void {
    const { k, cellM, cellK, cols, nz } = this;
    if (a.length !== rows * k) throw new RangeError(`heat map slice has ${a.length} elements, [${rows}, ${k}] needs ${rows * k}`);
    if (r0 < 0 || r0 + rows > this.m) throw new RangeError(`heat map rows [${r0}, ${r0 + rows}) outside [0, ${this.m}]`);
    for (let i = 0; i < rows; i++) {
      const r = (((r0 + i) / cellM) | 0) * cols;
      const base = i * k;
      for (let p = 0; p < k; p++) if (a[base + p] !== 0) nz[r + ((p / cellK) | 0)]++;
    }
  }

  /** The heat map of every row added so far (rows never added count as zero). */
  result(): Heatmap {
    const { m, k, cellM, cellK, rows, cols, nz } = this;
    const values: number[] = new Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const h = Math.min(cellM, m - r * cellM);
      for (let c = 0; c < cols; c++) {
        const w = Math.min(cellK, k - c * cellK);
        values[r * cols + c] = nz[r * cols + c]! / (h * w);
      }
    }
    return { rows, cols, cellM, cellK, values };
  }
}

function checkOperand(a: Float32Array, m: number, k: number): void {
  if (!Number.isInteger(m) || !Number.isInteger(k) || m < 1 || k < 1) throw new RangeError(`operand shape [${m}, ${k}] must be positive integers`);
  if (a.length !== m * k) throw new RangeError(`operand has ${a.length} elements, shape [${m}, ${k}] needs ${m * k}`);
}
