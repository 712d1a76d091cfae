/**
 * Choosing a layer's variant so that a speed-up credited to PIT is one its skipped work explains (the issue "speed-ups
 * that sparsity explains", items 2 and 3). Pure: it reads measured statistics and decides.
 *
 * - **Baseline**: the fastest verified variant of a dense family (skipping nothing: the dense tiles, and the direct
 *   kernel on grouped / depthwise layers) by median total — the best dense computation for the shape, measured the
 *   same way in the same rounds. Every speed-up is against it; the gain
 *   of that tile over the default dense tile is reported apart (`denseTileGain`), never as PIT's.
 * - **Ideal**: baseline × the lowest effective density among the rules measured (what the time would be if only
 *   non-zero micro-tiles cost anything). A rule's effective density is that of its micro-tile of A; for a static
 *   weight-pattern family (tile-wise, nm, hinm, bcsr-w) it is the fraction of the weight's work its kernel does, as
 *   its module defines it, and every check below credits it the same way.
 * - **Suspect**: a PIT variant whose speed-up over the baseline exceeds 1.25 / its effective density, or whose time is
 *   below ideal, did better than skipping its zeros can explain (tile fit, noise, a timer artefact). It is
 *   re-measured; if it persists it is flagged and never chosen.
 * - **Beyond noise**: a PIT variant is chosen only when its third quartile is below the baseline's first (the two
 *   interquartile ranges do not touch). Overlapping ranges are re-measured; if they still overlap the layer is
 *   *undecided*: the baseline is kept and the layer says why — unless the rule has (almost) nothing to skip
 *   (effective density ≥ 0.95): then keeping the baseline is simply the decision. A PIT variant chosen at effective
 *   density ≥ 0.95 is marked with its noise band, since its density cannot explain the gain.
 * - Suspect applies to gains beyond the noise only: a figure within the baseline's noise claims nothing.
 * - **Contenders**: on the first pass, every PIT variant whose interquartile range reaches below the baseline's third
 *   quartile while overlapping it, or whose IQR exceeds 20 % of its median, is re-measured once with the baseline
 *   (and the baseline alone when its own spread is that wide).
 */
import type { LayerResult } from '../protocol.ts';
import { relativeSpread, type SampleStats } from './stats.ts';

/** A speed-up above this over 1/effective density is not explained by skipped work (the 1.25). */
export const EXPLAINED_FACTOR = 1.25;
/** Effective density from which a rule skips too little to explain any gain. */
export const HIGH_DENSITY = 0.95;
/** IQR / median above which a measurement is re-measured before deciding. */
export const WIDE_SPREAD = 0.2;

/** What the decision reads of one measured variant. */
export interface MeasuredVariant {
  name: string;
  /** Whether it belongs to the baseline family (dense). */
  baselineFamily: boolean;
  /** Verified (output and detection) with at least one valid sample. */
  ok: boolean;
  stats: SampleStats;
  /** Effective density of its micro-tile on this layer (null for dense). */
  effectiveDensity: number | null;
  /** Whether the policy lets it be chosen (an audit measures rules it would not choose). Default true. */
  choosable?: boolean;
}

/** The decision for one layer. */
export interface Attribution {
  /** Fastest verified dense variant, or null when no dense variant verified. */
  baseline: string | null;
  chosen: string;
  /** Fields for LayerResult: gains, densities, ideal, flags and the one-line decision. */
  layer: Pick<LayerResult, 'denseTileGain' | 'pitGain' | 'effectiveDensity' | 'idealDensity' | 'idealMs' | 'undecided' | 'noiseBand' | 'decision'>;
  /** Suspect variants with why (flagged only on the final pass). */
  suspects: Map<string, string>;
  /** Variants to re-measure before a final decision (empty on the final pass, or when decided). */
  remeasure: string[];
}

const fmt = (ms: number) => (ms >= 1 ? ms.toFixed(2) : ms.toFixed(3));
const band = (s: SampleStats) => `${fmt(s.median)} ms [IQR ${fmt(s.q1)}–${fmt(s.q3)}, n=${s.n}]`;

/**
 * Decides a layer (see the module comment).
 * @param variants every measured variant of the layer.
 * @param defaultDense the default dense tile's variant name (for `denseTileGain`).
 * @param final false on the first pass: suspects, overlaps and wide spreads ask for re-measurement instead of being
 *   flagged; true after re-measuring: flags are set and the choice is final.
 */
export function attribute(variants: readonly MeasuredVariant[], defaultDense: string, final: boolean): Attribution {
  const ok = variants.filter((v) => v.ok && v.stats.n > 0 && Number.isFinite(v.stats.median));
  const dense = ok.filter((v) => v.baselineFamily).sort((a, b) => a.stats.median - b.stats.median);
  const base = dense[0];
  const suspects = new Map<string, string>();
  if (!base) {
    return {
      baseline: null,
      chosen: defaultDense,
      layer: { decision: 'no dense variant verified: nothing to compare against, no speed-up reported', effectiveDensity: 1 },
      suspects,
      remeasure: [],
    };
  }
  const pit = ok.filter((v) => !v.baselineFamily);
  const idealDensity = Math.min(1, ...variants.filter((v) => !v.baselineFamily && v.effectiveDensity !== null).map((v) => v.effectiveDensity!));
  const idealMs = base.stats.median * idealDensity;
  const def = ok.find((v) => v.name === defaultDense);
  const common = {
    idealDensity,
    idealMs,
    ...(def ? { denseTileGain: def.stats.median / base.stats.median } : {}),
  };
  const remeasure = new Set<string>();

  for (const v of pit) {
    const eff = Math.max(v.effectiveDensity ?? 1, 1e-6);
    const gain = base.stats.median / v.stats.median;
    let why = '';
    if (gain > EXPLAINED_FACTOR / eff) why = `speed-up ${gain.toFixed(2)}x over ${base.name} exceeds ${EXPLAINED_FACTOR}/effective density ${eff.toFixed(3)} = ${(EXPLAINED_FACTOR / eff).toFixed(2)}x`;
    else if (v.stats.median < idealMs) why = `${fmt(v.stats.median)} ms is below ideal ${fmt(idealMs)} ms (baseline × lowest effective density ${idealDensity.toFixed(3)})`;
    // A figure within the noise of the baseline claims nothing (it is never chosen either): only a gain beyond the
    // noise that the density cannot explain is suspect.
    if (!why || !(v.stats.q3 < base.stats.q1)) continue;
    if (final) suspects.set(v.name, `${why}, after ${v.stats.n} samples: not explained by skipped work`);
    else remeasure.add(v.name).add(base.name);
  }
  const eligible = pit.filter((v) => v.choosable !== false && !suspects.has(v.name) && !remeasure.has(v.name)).sort((a, b) => a.stats.median - b.stats.median);
  const best = eligible[0];
  const keepBase = (decision: string, extra: Partial<Attribution['layer']> = {}): Attribution => ({
    baseline: base.name,
    chosen: base.name,
    layer: { ...common, pitGain: 1, effectiveDensity: 1, decision, ...extra },
    suspects,
    remeasure: [...remeasure],
  });
  if (!final) {
    // Re-measure every contender the first samples cannot settle: a PIT variant whose range reaches below the
    // baseline's third quartile while overlapping it, or spread too wide to trust (on a loaded machine the median of a
    // few samples can land anywhere in a wide range), and the baseline itself when its own spread is wide.
    for (const v of eligible) {
      // A rule with (almost) nothing to skip is a contender only when its median is lower: it can win by tile fit only.
      const contender = v.stats.q1 < base.stats.q3 && ((v.effectiveDensity ?? 1) < HIGH_DENSITY || v.stats.median < base.stats.median);
      if (contender && (v.stats.q3 >= base.stats.q1 || relativeSpread(v.stats) > WIDE_SPREAD)) remeasure.add(v.name).add(base.name);
    }
    if (relativeSpread(base.stats) > WIDE_SPREAD) remeasure.add(base.name);
  }
  if (!best || best.stats.median >= base.stats.median) {
    return keepBase(best ? `baseline ${base.name} ${band(base.stats)} is faster than ${best.name} ${band(best.stats)}` : `baseline ${base.name} ${band(base.stats)}; no PIT variant eligible`);
  }
  const eff = best.effectiveDensity ?? 1;
  if (best.stats.q3 < base.stats.q1) {
    return {
      baseline: base.name,
      chosen: best.name,
      layer: {
        ...common,
        pitGain: base.stats.median / best.stats.median,
        effectiveDensity: eff,
        decision: `${best.name} ${band(best.stats)} beats baseline ${base.name} ${band(base.stats)} beyond the noise (effective density ${eff.toFixed(3)})`,
        ...(eff >= HIGH_DENSITY ? { noiseBand: { chosenQ3Ms: best.stats.q3, baselineQ1Ms: base.stats.q1 } } : {}),
      },
      suspects,
      remeasure: [...remeasure],
    };
  }
  if (!final) remeasure.add(base.name).add(best.name);
  const overlap = `${best.name} ${band(best.stats)} and baseline ${base.name} ${band(base.stats)} overlap`;
  if (final && eff >= HIGH_DENSITY) {
    // Nothing to skip and no win beyond the noise: the baseline, decided (not a question the timer could settle).
    return keepBase(`${overlap}; at effective density ${eff.toFixed(3)} the rule skips nothing: keeping the baseline`);
  }
  return final
    ? keepBase(`undecided: ${overlap}; keeping the baseline`, { undecided: `${overlap} after re-measuring: the timer cannot tell them apart` })
    : keepBase(`${overlap}: re-measuring`);
}
