/**
 * The coverage model (after PIT's `cover_sim.py` in SparTA pit_sm80 `test/microbench`): given where a layer's
 * operand A [M, K] is non-zero — its data, or the occupancy of its finest micro-tile — how dense is every candidate
 * micro-tile shape? A micro-tile is non-zero when any element under it is, i.e. the occupancy of a coarser shape is
 * the OR-pooling of a finer one (cover_sim does this with a ones-kernel convolution and a `> 0` test).
 *
 * Beyond the density, the policy needs the per-block counts a PIT kernel will actually process: for an `Hx1`
 * micro-tile (axis k) the number of non-zero k's in each row block (pit-k's `count[mb]`), for a `1xW` micro-tile
 * (axis m) the number of non-zero rows in each k-chunk (pit-m's `count[c]`). Both come out of the same grid.
 *
 * Cost: one pass over A (O(M·K)) for the finest grid, then each requested shape is pooled from the largest grid
 * already computed that divides it, so coarser shapes cost O(M·K / (h·w)) — a few ms for the largest layer of the
 * demo model, cheap enough for every layer and input of a run.
 */
import { parseMicroTile, type MicroTileShape } from '../sparsity/micro-tiles.ts';

/** Micro-tile occupancy over A [M, K]: bit (r, c) says whether micro-tile (r, c) holds a non-zero. */
export interface OccupancyGrid {
  /** Operand shape. */
  m: number;
  k: number;
  /** Micro-tile shape; edge tiles are partial (`ceil(M/h)` x `ceil(K/w)` tiles). */
  shape: MicroTileShape;
  gridRows: number;
  gridCols: number;
  /** `occupied[r * gridCols + c]` is 1 for a non-zero micro-tile, else 0. */
  occupied: Uint8Array;
}

/** Coverage of one micro-tile shape. */
export interface MicroTileCoverage {
  /** `HxW` as requested (e.g. `8x1`, `1x32`, `1x${K}`). */
  shape: string;
  grid: OccupancyGrid;
  /** Non-zero micro-tiles / all micro-tiles, 0–1. */
  density: number;
  /**
   * Effective density, work-weighted: elements under non-zero micro-tiles / M·K, 0–1 (a partial edge micro-tile
   * counts by its area). What a kernel computing only the non-zero micro-tiles does, as a fraction of dense.
   */
  effectiveDensity: number;
  /** Non-zero micro-tiles per grid row, length gridRows (for `Hx1`: pit-k's count per row block). */
  rowCounts: Uint32Array;
  /** Non-zero micro-tiles per grid column, length gridCols (for `1xW`: pit-m's count per k-chunk). */
  colCounts: Uint32Array;
  /** Elements under non-zero micro-tiles (what a kernel using this shape computes), partial edge tiles at their real size. */
  coveredElements: number;
  /** Fraction 0–1 of covered elements that are zero; NaN when the source was a grid (element counts unknown). */
  coverageWaste: number;
}

/**
 * The element-level occupancy of A [M, K] row-major f32 (`x !== 0` is non-zero: -0 is zero, NaN non-zero, as the
 * detection kernels test), as a `1x1` grid, with its number of non-zero elements.
 * @throws RangeError on a length mismatch.
 */
export function elementOccupancy(a: Float32Array, m: number, k: number): { grid: OccupancyGrid; nonZero: number } {
  if (!Number.isInteger(m) || !Number.isInteger(k) || m < 1 || k < 1) throw new RangeError(`operand shape [${m}, ${k}] must be positive integers`);
  if (a.length !== m * k) throw new RangeError(`operand has ${a.length} elements, shape [${m}, ${k}] needs ${m * k}`);
  const occupied = new Uint8Array(m * k);
  let nonZero = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== 0) {
      occupied[i] = 1;
      nonZero++;
    }
  }
  return { grid: { m, k, shape: { h: 1, w: 1 }, gridRows: m, gridCols: k, occupied }, nonZero };
}

/**
 * Whether `coarse` can be OR-pooled from `fine`: each coarse tile boundary must fall on a fine boundary, i.e. the
 * coarse extent is a multiple of the fine one, or covers the whole axis (one tile: `H >= M` or `W >= K`).
 */
export function canPool(fine: MicroTileShape, coarse: MicroTileShape, m: number, k: number): boolean {
  return (coarse.h >= m || coarse.h % fine.h === 0) && (coarse.w >= k || coarse.w % fine.w === 0);
}

/**
 * OR-pools an occupancy grid to a coarser micro-tile shape.
 * @throws RangeError when `shape` cannot be pooled from the grid's shape (see canPool).
 */
export function poolOccupancy(src: OccupancyGrid, shape: MicroTileShape): OccupancyGrid {
  const { m, k } = src;
  if (!canPool(src.shape, shape, m, k)) {
    throw new RangeError(`micro-tile ${shape.h}x${shape.w} cannot be pooled from ${src.shape.h}x${src.shape.w} (extents must be multiples, or cover the axis)`);
  }
  const gridRows = Math.ceil(m / shape.h);
  const gridCols = Math.ceil(k / shape.w);
  // Fine tiles per coarse tile along each axis (a coarse tile covering the axis takes all fine tiles).
  const fh = shape.h >= m ? src.gridRows : shape.h / src.shape.h;
  const fw = shape.w >= k ? src.gridCols : shape.w / src.shape.w;
  const occupied = new Uint8Array(gridRows * gridCols);
  for (let r = 0; r < src.gridRows; r++) {
    const cr = Math.floor(r / fh) * gridCols;
    const row = r * src.gridCols;
    for (let c = 0; c < src.gridCols; c++) {
      if (src.occupied[row + c]) occupied[cr + Math.floor(c / fw)] = 1;
    }
  }
  return { m, k, shape: { ...shape }, gridRows, gridCols, occupied };
}

/** Density, per-row and per-column counts and covered elements of a grid (nonZero: elements of A, or NaN if unknown). */
export function summarize(grid: OccupancyGrid, label: string, nonZero = Number.NaN): MicroTileCoverage {
  const { gridRows, gridCols, occupied, shape, m, k } = grid;
  const rowCounts = new Uint32Array(gridRows);
  const colCounts = new Uint32Array(gridCols);
  let tiles = 0;
  let covered = 0;
  for (let r = 0; r < gridRows; r++) {
    const th = Math.min(shape.h, m - r * shape.h);
    for (let c = 0; c < gridCols; c++) {
      if (!occupied[r * gridCols + c]) continue;
      rowCounts[r]!++;
      colCounts[c]!++;
      tiles++;
      covered += th * Math.min(shape.w, k - c * shape.w);
    }
  }
  return {
    shape: label,
    grid,
    density: tiles / (gridRows * gridCols),
    effectiveDensity: covered / (m * k),
    rowCounts,
    colCounts,
    coveredElements: covered,
    coverageWaste: Number.isNaN(nonZero) ? Number.NaN : covered ? 1 - nonZero / covered : 0,
  };
}

/**
 * Coverage of every requested micro-tile shape over A [M, K].
 * @param source A row-major f32 [M, K] (with m, k), or the occupancy grid of its finest micro-tile.
 * @param shapes `HxW` strings, e.g. `['4x1', '8x1', '1x16', '1x864']`; duplicates are computed once.
 * @returns Coverage by shape string, in the order requested.
 * @throws RangeError on a bad shape, a length mismatch, or (from a grid) a shape not poolable from it.
 */
export function coverageOf(
  source: { a: Float32Array; m: number; k: number } | OccupancyGrid,
  shapes: readonly string[],
): Map<string, MicroTileCoverage> {
  let base: OccupancyGrid;
  let nonZero = Number.NaN;
  if ('a' in source) {
    const e = elementOccupancy(source.a, source.m, source.k);
    base = e.grid;
    nonZero = e.nonZero;
  } else {
    base = source;
  }
  const computed: OccupancyGrid[] = [base];
  const out = new Map<string, MicroTileCoverage>();
  // Finest first, so each shape pools from the coarsest grid that divides it (fewest cells to visit).
  const wanted = [...new Set(shapes)].map((s) => ({ s, t: parseMicroTile(s) })).sort((x, y) => x.t.h * x.t.w - y.t.h * y.t.w);
  for (const { s, t } of wanted) {
    let from: OccupancyGrid | undefined;
    for (const g of computed) {
      if (!canPool(g.shape, t, base.m, base.k)) continue;
      if (!from || g.gridRows * g.gridCols < from.gridRows * from.gridCols) from = g;
    }
    if (!from) throw new RangeError(`micro-tile ${s} cannot be derived from occupancy ${base.shape.h}x${base.shape.w}`);
    const grid = from.shape.h === t.h && from.shape.w === t.w ? from : poolOccupancy(from, t);
    computed.push(grid);
    out.set(s, summarize(grid, s, nonZero));
  }
  return new Map(shapes.filter((s, i) => shapes.indexOf(s) === i).map((s) => [s, out.get(s)!]));
}

/**
 * The coverage of A [M, K] from the coverages of its row slices, added top to bottom (a layer measured in row slices
 * never holds its whole A; core/profile/tiled.ts). Exact when every slice but the last has a multiple of each
 * shape's height H as its row count, so that no micro-tile straddles two slices: then the micro-tiles of the slices
 * are those of A. The merged `grid` holds its shape and size but no occupancy (`occupied` is empty), like
 * `uniformCoverage`: only the densities and counts are meaningful.
 */
export class CoverageAccumulator {
  private readonly parts = new Map<string, { tiles: number; nonZeroTiles: number; covered: number; gridRows: number; gridCols: number; h: number; w: number; rowCounts: Uint32Array[]; colCounts: Uint32Array | null }>();
  private rows = 0;
  private nonZero = 0;

  constructor(private readonly k: number) {}

  /**
   * Adds the next slice of `rows` rows, with its coverage of every shape (from `coverageOf` on the slice's A).
   * @throws RangeError when a shape is missing or was not added for an earlier slice, or a slice but the last is not
   *   a multiple of a shape's height.
   */
  add(rows: number, coverage: ReadonlyMap<string, MicroTileCoverage>, nonZeroElements: number): void {
    if (this.parts.size && coverage.size !== this.parts.size) throw new RangeError(`slice coverage has ${coverage.size} shapes, earlier slices ${this.parts.size}`);
    for (const [shape, c] of coverage) {
      let p = this.parts.get(shape);
      if (!p) {
        if (this.rows) throw new RangeError(`micro-tile ${shape} was not measured on the earlier slices`);
        p = { tiles: 0, nonZeroTiles: 0, covered: 0, gridRows: 0, gridCols: c.grid.gridCols, h: c.grid.shape.h, w: c.grid.shape.w, rowCounts: [], colCounts: null };
        this.parts.set(shape, p);
      }
      if (this.rows % p.h !== 0) throw new RangeError(`micro-tile ${shape}: a slice starts at row ${this.rows}, inside a micro-tile (height ${p.h})`);
      let nz = 0;
      for (const x of c.rowCounts) nz += x;
      p.tiles += c.grid.gridRows * c.grid.gridCols;
      p.nonZeroTiles += nz;
      p.covered += c.coveredElements;
      p.gridRows += c.grid.gridRows;
      p.rowCounts.push(c.rowCounts);
      if (!p.colCounts) p.colCounts = c.colCounts.slice();
      else for (let i = 0; i < p.colCounts.length; i++) p.colCounts[i]! += c.colCounts[i]!;
    }
    this.rows += rows;
    this.nonZero += nonZeroElements;
  }

  /** Rows added so far. */
  get m(): number {
    return this.rows;
  }

  /** The coverage of every shape over all rows added (see the class comment). */
  result(): Map<string, MicroTileCoverage> {
    const { rows: m, k } = this;
    const out = new Map<string, MicroTileCoverage>();
    for (const [shape, p] of this.parts) {
      const rowCounts = new Uint32Array(p.gridRows);
      let at = 0;
      for (const r of p.rowCounts) {
        rowCounts.set(r, at);
        at += r.length;
      }
      out.set(shape, {
        shape,
        grid: { m, k, shape: { h: p.h, w: p.w }, gridRows: p.gridRows, gridCols: p.gridCols, occupied: new Uint8Array(0) },
        density: p.tiles ? p.nonZeroTiles / p.tiles : 0,
        effectiveDensity: m * k ? p.covered / (m * k) : 0,
        rowCounts,
        colCounts: p.colCounts ?? new Uint32Array(p.gridCols),
        coveredElements: p.covered,
        coverageWaste: p.covered ? 1 - this.nonZero / p.covered : 0,
      });
    }
    return out;
  }
}
