/**
 * The pattern metadata `pit prune` stores with a pruned model, for the kernel families (which fold the
 * permutations into their SRead/SWrite gather indices) and for `pit profile` (which detects each weight's static
 * pattern).
 *
 * **Where**: the pruned ONNX file's `metadata_props`, key `pit.prune` (`PRUNE_METADATA_KEY`), value a JSON
 * document (`PruneMetadata`), so the file carries its own index. Read it back with `readPruneMetadata`.
 *
 * **Format `pit-prune/1`** (all indices 0-based into the layer's weight as the matmul operand W [K, N]: K = MatMul/Gemm
 * K or Conv Cin·kh·kw in (ci, i, j) order, N = output channels; `weightLayout` `nk` means the ONNX tensor is Wᵀ,
 * e.g. Conv [Cout, Cin, kh, kw]):
 * ```
 * { "format": "pit-prune/1", "oneShot": true, "importance": "…",
 *   "pattern": "hinm", "sparsity": 0.75, "vector": 64, "permute": "gyro", "seed": 1,
 *   "source": { "path": "…", "sha256": "…" },
 *   "calibration": { "inputs": ["…"], "imageSize": 960 },
 *   "layers": [ { "name": "p2o.Conv.24", "op": "Conv", "weight": "conv2d_24.w_0", "weightLayout": "nk",
 *                 "k": 192, "n": 384, "kernel": [1, 1], "sparsity": 0.75, "retained": 0.61,
 *                 "ablation": { "none": 0.58, "outOnly": 0.6, "gyro": 0.61 },
 *                 "pattern": { … one of the shapes below … } } ],
 *   "skipped": [ { "name": "p2o.Conv.1", "op": "Conv", "reason": "grouped conv (group=16): …" } ] }
 * ```
 * `pattern` per layer:
 * - `{ "pattern": "nm", "keep": 2, "group": 4 }`: 2 of every 4 consecutive k kept, per column n (positions are
 *   the non-zeros of the weight).
 * - `{ "pattern": "hinm", "v": 64, "keep": 2, "group": 4, "blocks": [{ "channels": [...V], "kept": [...] }] }`:
 *   block b computes output channels `channels` (SWrite row i of the block's result to channel `channels[i]`: the
 *   output permutation) from the K indices `kept` in that order (SRead gather list: the input permutation); each
 *   consecutive 4 of `kept` is one 2:4 group, per channel.
 * - `{ "pattern": "vw", "v": 64, "blocks": [...] }`: as hinm without the 2:4 level (`kept` ascending).
 * - `{ "pattern": "tw", "g": 128, "tiles": [{ "columns": [...], "rows": [...] }] }`: tile t computes the N columns
 *   `columns` from the K rows `rows` (both ascending); columns in no tile are all zero.
 * - `{ "pattern": "bw", "block": [32, 32], "grid": [K/32, N/32], "kept": [[blockRow, blockCol], ...] }`.
 * - `{ "pattern": "identity" }`: sparsity 0, nothing pruned.
 */
import type { LayerPattern, PatternName, PermuteMode, RetainedAblation } from './types.ts';
import type { SkippedLayer, WeightLayout } from './layers.ts';

/** The `metadata_props` key of the document. */
export const PRUNE_METADATA_KEY = 'pit.prune';

/** The format tag; a reader refuses any other. */
export const PRUNE_METADATA_FORMAT = 'pit-prune/1';

/** What the importance is, as stored and printed. */
export const IMPORTANCE_NOTE =
  'Wanda-style |W[k,n]|·‖x_k‖, ‖x_k‖ the L2 norm of input feature k over the calibration activations; one-shot, no ' +
  'fine-tuning (the tile-wise and HiNM papers prune with trained scores, which need training we cannot do here)';

/** One pruned layer. */
export interface PrunedLayerMeta {
  name: string;
  op: string;
  weight: string;
  weightLayout: WeightLayout;
  k: number;
  n: number;
  kernel?: [number, number];
  /** Fraction of W's entries pruned by the mask (0–1). */
  sparsity: number;
  /** Fraction of the layer's importance kept (0–1). */
  retained: number;
  ablation?: RetainedAblation;
  pattern: LayerPattern;
}

/** The whole document. */
export interface PruneMetadata {
  format: typeof PRUNE_METADATA_FORMAT;
  oneShot: true;
  importance: string;
  pattern: PatternName;
  /** Requested sparsity (0–1). */
  sparsity: number;
  vector: number;
  permute: PermuteMode;
  seed: number;
  source: { path: string; sha256: string };
  calibration: { inputs: string[]; imageSize: number };
  layers: PrunedLayerMeta[];
  skipped: SkippedLayer[];
}

/**
 * Reads the document back from a decoded model's `metadata_props`.
 *
 * @param props `ModelProto.metadata_props` entries
 * @returns the document, or null when the model has none
 * @throws Error when the entry is not JSON or not `pit-prune/1`
 */
export function readPruneMetadata(props: readonly { key?: string | null; value?: string | null }[]): PruneMetadata | null {
  const entry = props.find((p) => p.key === PRUNE_METADATA_KEY);
  if (!entry) return null;
  const doc = JSON.parse(entry.value ?? '') as Partial<PruneMetadata>;
  if (doc.format !== PRUNE_METADATA_FORMAT) throw new Error(`${PRUNE_METADATA_KEY} metadata has format ${String(doc.format)}, expected ${PRUNE_METADATA_FORMAT}`);
  return doc as PruneMetadata;
}
