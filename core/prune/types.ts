/**
 * Types of weight pruning (`pit prune`): the patterns, the per-layer pattern metadata written into the pruned ONNX
 * model, and the errors. Everything is expressed on a layer's weight as the matmul operand **W [K, N]** row-major
 * (K = reduction: MatMul/Gemm K, Conv Cin·kh·kw ordered (ci, i, j) as `core/model/lowering.ts` im2col; N = output
 * channels), whatever its layout in the ONNX file (`weightLayout` says how to map back).
 *
 * All pruning here is **one-shot** (no fine-tuning) with Wanda-style importance |w|·‖x‖ from calibration
 * activations; the papers followed (SC'20 tile-wise, arXiv 2407.20496 HiNM) use trained scores we cannot compute.
 */

/** The sparsity patterns `pit prune` writes. */
export type PatternName = 'tw' | 'hinm' | 'nm' | 'vw' | 'bw';

/** Every pattern, in the order `--help` lists them. */
export const PATTERN_NAMES: readonly PatternName[] = ['tw', 'hinm', 'nm', 'vw', 'bw'];

/** Output/input channel permutation: none, or gyro-permutation (hinm: output + input channels; vw: output only). */
export type PermuteMode = 'none' | 'gyro';

/** Tile-wise column-tile width G (SC'20 §4: 128 surviving columns per tile). */
export const TW_TILE = 128;

/** Block-sparse block edge (the Triton/OpenAI block-sparse baseline): 32x32 blocks of W [K, N]. */
export const BW_BLOCK = 32;

/** N:M of plain 2:4 and of HiNM's inner level: keep 2 of every 4 consecutive K (along the gather order). */
export const NM_KEEP = 2;
export const NM_GROUP = 4;

/**
 * One block of V output channels sharing a column-vector selection (vw, hinm).
 * `channels`: the N indices (original output channels) of the block, in the order the block computes them — the
 * output permutation folded in (SWrite row i of the block to channel `channels[i]`).
 * `kept`: the K indices the block keeps, in gather (SRead) order; for hinm consecutive groups of 4 entries are the
 * 2:4 groups (the input permutation folded in), for vw ascending.
 */
export interface VectorBlock {
  channels: number[];
  kept: number[];
}

/** One column tile of tile-wise sparsity: its surviving N columns (ascending) and the K rows it keeps (ascending). */
export interface ColumnTile {
  columns: number[];
  rows: number[];
}

/** Pattern-specific metadata of one pruned layer (indices into W [K, N]). */
export type LayerPattern =
  | { pattern: 'nm'; keep: number; group: number }
  | { pattern: 'hinm'; v: number; keep: number; group: number; blocks: VectorBlock[] }
  | { pattern: 'vw'; v: number; blocks: VectorBlock[] }
  | { pattern: 'tw'; g: number; tiles: ColumnTile[] }
  /** Kept blocks as `[blockRow, blockCol]` of the `grid` [ceil(K/32), ceil(N/32)]. */
  | { pattern: 'bw'; block: [number, number]; grid: [number, number]; kept: [number, number][] }
  /** S = 0: nothing pruned (the explicit identity path). */
  | { pattern: 'identity' };

/** Bad input to pruning: a sparsity out of range, a layer whose shape does not fit the pattern, missing data. */
export class PruneError extends Error {
  override readonly name = 'PruneError';
  /** The layer (node name) the error is about, when there is one. */
  readonly layer?: string;
  constructor(message: string, layer?: string) {
    super(message);
    this.layer = layer;
  }
}

/**
 * Retained importance (fractions 0–1 of the layer's total) of the HiNM ablation: no permutation, output channels
 * only, and gyro (output + input channels). vw has no input level: its `gyro` equals `outOnly`.
 */
export interface RetainedAblation {
  none: number;
  outOnly?: number;
  gyro?: number;
}

/** What a pattern produces for one layer. */
export interface PatternResult {
  /** W [K, N] row-major, 1 = kept, 0 = pruned. */
  mask: Uint8Array;
  pattern: LayerPattern;
  /** vw / hinm: retained importance without and with permutation (with --permute gyro, all three). */
  ablation?: RetainedAblation;
}
