/**
 * The bench's per-layer decision (§d): the same attribution `pit profile` applies (core/profile/attribution.ts) —
 * the baseline is the fastest verified dense tile, a PIT variant is chosen only when it beats the baseline beyond the
 * noise (its third quartile below the baseline's first) and its speed-up is explained by what it skips (at most
 * 1.25 / effective density), and the ideal is the baseline × the lowest effective density of any rule — so a layer
 * total is never the minimum of noisy figures.
 *
 * The bench measures each variant in its own block of samples (not interleaved rounds as the profile job does) and
 * cannot re-measure: it decides on one pass with the final rules. A variant's samples are its kernel samples plus its
 * detection median (kernel and detection are timed apart).
 */
import { familyOf } from '../core/kernels/registry.ts';
import type { VariantSpec } from '../core/kernels/variants.ts';
import { coverageOf } from '../core/pit/coverage.ts';
import { attribute, type Attribution, type MeasuredVariant } from '../core/profile/attribution.ts';
import { sampleStats } from '../core/profile/stats.ts';
import type { VariantFigure } from './suite.ts';

/** A measured variant of a layer with the configuration it ran. */
export interface LayerVariant {
  spec: VariantSpec;
  figure: VariantFigure;
}

/** The decision for one bench layer. */
export interface BenchLayerDecision {
  /** Name of each figure as the attribution saw it (`family [micro-tile] tile`), in the order given. */
  names: string[];
  /** Index into the given variants of the baseline (fastest verified dense tile), or -1 when none verified. */
  baseline: number;
  /** Index of the chosen variant (the baseline unless a PIT variant won beyond the noise, explained). */
  chosen: number;
  attribution: Attribution;
}

/**
 * Decides a layer of A [M, K] (row-major f32, the operand the variants ran on) from its measured variants.
 * @param denseFamily the baseline family of the dtype (`dense` or `dense-f16`).
 * @throws RangeError on a micro-tile that does not fit A (a bug in the caller).
 */
export function decideBenchLayer(variants: readonly LayerVariant[], a: Float32Array, m: number, k: number, denseFamily: string): BenchLayerDecision {
  const names = variants.map(({ figure }) => `${figure.variant}${figure.microTile ? ` ${figure.microTile}` : ''} ${figure.tile}`);
  const microTiles = variants.map(({ spec }) => familyOf(spec.family).microTile(spec, k));
  const shapes = [...new Set(microTiles.filter((t): t is string => t !== null))];
  const cov = shapes.length ? coverageOf({ a, m, k }, shapes) : new Map();
  const measured: MeasuredVariant[] = variants.map(({ figure }, i) => {
    const detect = figure.detect?.medianMs ?? 0;
    const samples = figure.kernel.samplesMs.map((s) => s + detect);
    const mt = microTiles[i];
    return {
      name: names[i]!,
      baselineFamily: figure.variant === denseFamily,
      ok: figure.check.ok,
      stats: sampleStats(samples.length ? samples : [figure.totalMs]),
      effectiveDensity: mt ? cov.get(mt)!.effectiveDensity : null,
    };
  });
  const denseNames = names.filter((_, i) => variants[i]!.figure.variant === denseFamily);
  const attribution = attribute(measured, denseNames[0] ?? names[0] ?? '', true);
  return {
    names,
    baseline: attribution.baseline === null ? -1 : names.indexOf(attribution.baseline),
    chosen: names.indexOf(attribution.chosen),
    attribution,
  };
}
