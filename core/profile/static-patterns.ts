/**
 * Static weight patterns in `pit profile` (issue 12 item 3): a model written by `pit prune` carries its pattern per
 * layer in the `pit.prune` metadata (core/prune/metadata.ts). Before a run exists the job reads it and checks every
 * listed layer's weight against it with the static-pattern families' own check (`KernelFamily.weightCandidates`), so
 * a pattern that does not fit a layer (a hand-edited file, a weight changed after pruning, a metadata for another
 * model) is one clear line naming the layer and nothing is stored. Per layer it then gives the static families'
 * candidates — from the metadata where the layer is listed, from the weight's zeros otherwise — which the job
 * measures beside the dense tiles and the dynamic PIT rules on the activation, and verifies like every variant.
 */
import type { WeightCandidate } from '../kernels/family.ts';
import { FAMILIES } from '../kernels/registry.ts';
import type { MatmulShape } from '../kernels/shape.ts';
import { ModelError } from '../model/errors.ts';
import type { OnnxModel } from '../model/ir.ts';
import { findPrunableLayers } from '../prune/layers.ts';
import { PRUNE_METADATA_KEY, readPruneMetadata, type PruneMetadata } from '../prune/metadata.ts';
import type { LayerPattern } from '../prune/types.ts';

/** What the job knows of a model's static weight patterns. */
export interface StaticPatterns {
  /** The `pit.prune` pattern of each listed layer, by layer (node) name; empty without metadata. */
  byLayer: Map<string, LayerPattern>;
  /** One line for the log when the model has metadata, e.g. `pit.prune metadata: hinm at 75 % on 12 layers (one-shot)`. */
  note: string | null;
}

/** No static patterns (a model without `pit.prune` metadata, or a job that profiles no static family). */
export const NO_STATIC_PATTERNS: StaticPatterns = { byLayer: new Map(), note: null };

/** The static-pattern families among `families` (registry order). */
function staticFamilies(families: readonly string[]) {
  return FAMILIES.filter((f) => f.sparseOperand === 'b' && f.weightCandidates && families.includes(f.name));
}

/** The model's `pit.prune` document, or null. @throws ModelError when it is present but unreadable. */
function metadataOf(model: OnnxModel): PruneMetadata | null {
  const props = (model.proto as { metadataProps?: { key?: string | null; value?: string | null }[] } | null)?.metadataProps ?? [];
  try {
    return readPruneMetadata(props);
  } catch (e) {
    throw new ModelError(`the model's ${PRUNE_METADATA_KEY} metadata cannot be read: ${(e as Error).message}`, { path: model.path });
  }
}

/**
 * Reads the model's `pit.prune` metadata and checks each listed layer: the layer exists with a prunable weight of the
 * listed shape, and each requested static family whose pattern it declares accepts the weight.
 * @param families the kernel families the job measures (static families not among them are not checked).
 * @throws ModelError `layer NAME: …` (with `node`) for the first layer whose pattern does not fit.
 */
export function checkStaticPatterns(model: OnnxModel, families: readonly string[]): StaticPatterns {
  const meta = metadataOf(model);
  if (!meta) return { byLayer: new Map(), note: null };
  const weights = new Map(findPrunableLayers(model).layers.map((l) => [l.name, l]));
  const byLayer = new Map<string, LayerPattern>();
  const checkers = staticFamilies(families);
  for (const l of meta.layers ?? []) {
    const w = weights.get(l.name);
    if (!w) throw new ModelError(`layer ${l.name}: the ${PRUNE_METADATA_KEY} metadata lists it, but the model has no layer of that name with a prunable weight`, { path: model.path, node: l.name });
    if (w.k !== l.k || w.n !== l.n) {
      throw new ModelError(`layer ${l.name}: the ${PRUNE_METADATA_KEY} metadata is for W [K=${l.k}, N=${l.n}], the model's weight is [K=${w.k}, N=${w.n}]`, { path: model.path, node: l.name });
    }
    for (const f of checkers) {
      try {
        // M only chooses a computation tile; the weight check does not depend on it.
        f.weightCandidates!({ m: 1, n: w.n, k: w.k }, { layer: l.name, b: w.w, pattern: l.pattern });
      } catch (e) {
        throw new ModelError(`${(e as Error).message} (${f.name})`, { path: model.path, node: l.name, cause: e });
      }
    }
    byLayer.set(l.name, l.pattern);
  }
  const pct = `${+(meta.sparsity * 100).toFixed(2)} %`;
  return { byLayer, note: `${PRUNE_METADATA_KEY} metadata: ${meta.pattern} at ${pct} on ${byLayer.size} layer(s) (${meta.oneShot ? 'one-shot' : 'fine-tuned'}); their static-pattern families are measured beside the PIT rules` };
}

/**
 * The static-pattern candidates of one layer: each requested static family's configurations for its weight B [K, N]
 * (from the layer's `pit.prune` pattern when listed, else from the weight's zeros), with their effective densities.
 * @throws WeightPatternError when a listed pattern does not fit (checked before the run by `checkStaticPatterns`).
 */
export function staticCandidates(layer: string, s: MatmulShape, b: Float32Array, patterns: StaticPatterns, families: readonly string[]): WeightCandidate[] {
  const pattern = patterns.byLayer.get(layer);
  return staticFamilies(families).flatMap((f) => f.weightCandidates!(s, { layer, b, pattern }));
}
