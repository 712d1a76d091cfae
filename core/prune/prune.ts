/**
 * Pruning a model's weights, the pure part of `pit prune`: check the options and every layer's shape before any work,
 * compute each layer's importance from the calibration statistics, build the pattern's mask, and produce the new
 * weight tensors and the metadata document. I/O (reading inputs, running onnxruntime, writing the file) is the
 * caller's.
 */
import { mulberry32 } from '../synthetic/random.ts';
import type { OnnxModel } from '../model/ir.ts';
import type { CalibrationStats } from './calibrate.ts';
import { importanceMatrix, maskSparsity, retainedFraction } from './importance.ts';
import { maskedWeight, type PrunableLayer, type SkippedLayer } from './layers.ts';
import { IMPORTANCE_NOTE, PRUNE_METADATA_FORMAT, type PruneMetadata, type PrunedLayerMeta } from './metadata.ts';
import { optionsProblem, patternMask, shapeProblem, type PatternOptions } from './patterns.ts';
import { PruneError, type PatternResult } from './types.ts';

/** Options of one pruning. */
export interface PruneConfig extends PatternOptions {
  /** Seed of gyro's sampling and clustering: the same seed gives the same permutations. */
  seed: number;
  /** Leave layers whose shape does not fit the pattern dense (listed as skipped) instead of failing. */
  skipUnfit: boolean;
}

/** One layer's outcome. */
export interface PrunedLayer {
  layer: PrunableLayer;
  result: PatternResult;
  /** Fraction of W pruned by the mask (0–1). */
  sparsity: number;
  /** Fraction of the layer's importance kept (0–1). */
  retained: number;
}

/**
 * Checks the options and splits layers into those the pattern fits and those it does not.
 *
 * @throws PruneError for bad options (`optionsProblem`), and, unless `skipUnfit`, for the first layer whose shape
 *   does not fit: `layer NAME (Conv, W [K=27, N=16]): 2:4 needs K a multiple of 4, K = 27 (--skip-unfit leaves such
 *   layers dense)`; or when no layer is left to prune
 */
export function selectLayers(layers: readonly PrunableLayer[], skipped: readonly SkippedLayer[], config: PruneConfig): { layers: PrunableLayer[]; skipped: SkippedLayer[] } {
  const problem = optionsProblem(config);
  if (problem) throw new PruneError(problem);
  const fit: PrunableLayer[] = [];
  const unfit: SkippedLayer[] = [];
  for (const l of layers) {
    const why = shapeProblem(config, l.k, l.n);
    if (!why) fit.push(l);
    else if (config.skipUnfit) unfit.push({ name: l.name, op: l.op.op, reason: `${config.pattern} does not fit: ${why}` });
    else throw new PruneError(`layer ${l.name} (${l.op.op}, W [K=${l.k}, N=${l.n}]): ${why} (--skip-unfit leaves such layers dense)`, l.name);
  }
  if (!fit.length) throw new PruneError(`no layer of the model fits ${config.pattern}${layers.length ? '' : ' (it has no prunable weight)'}`);
  return { layers: fit, skipped: [...skipped, ...unfit] };
}

/**
 * Prunes every layer.
 *
 * @param stats calibration statistics covering every layer
 * @param onLayer progress callback after each layer
 * @throws PruneError `layer NAME has no calibration statistics` when `stats` lacks a layer
 */
export function pruneLayers(layers: readonly PrunableLayer[], stats: CalibrationStats, config: PruneConfig, onLayer?: (p: PrunedLayer, i: number) => void): PrunedLayer[] {
  return layers.map((layer, i) => {
    const norms = stats.norms.get(layer.name);
    if (!norms) throw new PruneError(`layer ${layer.name} has no calibration statistics`, layer.name);
    const imp = importanceMatrix(layer.w, layer.k, layer.n, norms);
    // A per-layer stream, so a layer's permutation does not depend on which other layers are pruned.
    const rand = mulberry32((config.seed * 0x9e3779b1 + layer.op.index) >>> 0);
    const result = patternMask(imp, layer.k, layer.n, config, rand);
    const p: PrunedLayer = { layer, result, sparsity: maskSparsity(result.mask), retained: retainedFraction(imp, result.mask) };
    onLayer?.(p, i);
    return p;
  });
}

/** New weight values by value name, in each tensor's ONNX layout, for `encodePrunedModel`. */
export function prunedWeights(model: OnnxModel, pruned: readonly PrunedLayer[]): Map<string, Float32Array> {
  return new Map(pruned.map((p) => [p.layer.weightName, maskedWeight(model.constants.get(p.layer.weightName)!.data, p.layer, p.result.mask)]));
}

/** The metadata document (see `metadata.ts` for the format). */
export function buildMetadata(
  model: OnnxModel,
  pruned: readonly PrunedLayer[],
  skipped: readonly SkippedLayer[],
  config: PruneConfig,
  calibration: { inputs: string[]; imageSize: number },
): PruneMetadata {
  const layers: PrunedLayerMeta[] = pruned.map(({ layer, result, sparsity, retained }) => ({
    name: layer.name,
    op: layer.op.op,
    weight: layer.weightName,
    weightLayout: layer.layout,
    k: layer.k,
    n: layer.n,
    ...(layer.kernel ? { kernel: layer.kernel } : {}),
    sparsity,
    retained,
    ...(result.ablation ? { ablation: result.ablation } : {}),
    pattern: result.pattern,
  }));
  return {
    format: PRUNE_METADATA_FORMAT,
    oneShot: true,
    importance: IMPORTANCE_NOTE,
    pattern: config.pattern,
    sparsity: config.sparsity,
    vector: config.vector,
    permute: config.permute,
    seed: config.seed,
    source: { path: model.path, sha256: model.sha256 },
    calibration,
    layers,
    skipped: [...skipped],
  };
}

/** Totals over the pruned layers: weights pruned / all weights of those layers, and importance-weighted retention. */
export function pruneTotals(pruned: readonly PrunedLayer[]): { weights: number; zeroed: number; sparsity: number } {
  let weights = 0;
  let zeroed = 0;
  for (const p of pruned) {
    weights += p.result.mask.length;
    zeroed += Math.round(p.sparsity * p.result.mask.length);
  }
  return { weights, zeroed, sparsity: weights ? zeroed / weights : 0 };
}
