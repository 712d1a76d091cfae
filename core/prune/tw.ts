/**
 * Tile-wise sparsity (Guo et al., "Accelerating Sparse DNN Models without Hardware-Support via Tile-Wise Sparsity",
 * SC'20 §4; reference code clevercool/TileSparsity `prune_algo.py` `tiled_wise_2d`, read, not copied):
 * 1. prune whole columns n of W [K, N] with the lowest L2 norm of importance, a fraction s′;
 * 2. cut the surviving columns, in order, into tiles of G = 128;
 * 3. inside each tile prune whole rows k (row segments of the tile) against one threshold shared by all tiles of the
 *    layer, ranking a segment by its L2 norm divided by the tile's width (as the reference code does), until the
 *    layer reaches S.
 * The two levels share the target: 1 − S = (1 − s′)², i.e. s′ = 1 − √(1 − S). Each tile keeps its own K-row subset,
 * so it is a dense GEMM on compacted operands: a static k-axis PIT rule whose index is per column tile.
 *
 * Differences from SC'20, on purpose: thresholds are per layer, not network-wide (Wanda-style importance is scaled by
 * each layer's activations, so scores of different layers are not comparable), and the row level stops at the
 * layer's element count round(S·K·N) so every layer lands on S (to within one row segment).
 */
import { ascendingOrder } from './importance.ts';
import { TW_TILE, type ColumnTile, type PatternResult } from './types.ts';

/** The per-level sparsity s′ with 1 − S = (1 − s′)². */
export function twLevelSparsity(sparsity: number): number {
  return 1 - Math.sqrt(1 - sparsity);
}

/**
 * The tile-wise mask of W [K, N].
 *
 * @param imp importance [K, N]
 * @param sparsity S in (0, 1)
 * @param g tile width in surviving columns (SC'20: 128)
 */
export function twMask(imp: Float64Array, k: number, n: number, sparsity: number, g = TW_TILE): PatternResult {
  const s1 = twLevelSparsity(sparsity);
  const colNorm = new Float64Array(n);
  for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) colNorm[c] += imp[r * n + c] ** 2;
  // Keep at least one column: a layer pruned to nothing is not a tile-wise layer.
  const prunedCols = Math.min(n - 1, Math.round(s1 * n));
  const dropped = new Set(ascendingOrder(colNorm).slice(0, prunedCols));
  const survivors = Array.from({ length: n }, (_, c) => c).filter((c) => !dropped.has(c));
  const tiles: number[][] = [];
  for (let i = 0; i < survivors.length; i += g) tiles.push(survivors.slice(i, i + g));

  // Row segments (tile t, row r), scored by L2 norm / tile width.
  const segTile: number[] = [];
  const segRow: number[] = [];
  const segScore: number[] = [];
  tiles.forEach((cols, t) => {
    for (let r = 0; r < k; r++) {
      let s = 0;
      for (const c of cols) s += imp[r * n + c] ** 2;
      segTile.push(t);
      segRow.push(r);
      segScore.push(Math.sqrt(s) / cols.length);
    }
  });
  const target = Math.round(sparsity * k * n);
  let pruned = prunedCols * k;
  const rowPruned = tiles.map(() => new Uint8Array(k));
  for (const s of ascendingOrder(segScore)) {
    if (pruned >= target) break;
    rowPruned[segTile[s]][segRow[s]] = 1;
    pruned += tiles[segTile[s]].length;
  }

  const mask = new Uint8Array(k * n);
  const meta: ColumnTile[] = tiles.map((cols, t) => {
    const rows = Array.from({ length: k }, (_, r) => r).filter((r) => !rowPruned[t][r]);
    for (const r of rows) for (const c of cols) mask[r * n + c] = 1;
    return { columns: cols, rows };
  });
  return { mask, pattern: { pattern: 'tw', g, tiles: meta } };
}
