/**
 * The summary `pit demo` ends with: per run, where PIT pays and where there is nothing to skip. Pure: it reads the
 * stored layer results (the attribution's decisions, core/profile/attribution.ts) and adds them up.
 */
import type { LayerResult } from '../protocol.ts';
import { totalOf, variantOf } from './table.ts';

/** Effective density from which a layer has nothing to skip: every rule measured computes ≥ 95 % of the dense work. */
export const NOTHING_TO_SKIP_DENSITY = 0.95;

/** One run's summary (times are sums over layer-runs, ms, median totals). */
export interface DemoSummary {
  /** Profiled layer-runs (a layer on one input). */
  layers: number;
  /** Layer-runs where a PIT variant was chosen (beyond the noise, explained by its effective density). */
  pitPays: number;
  /** Σ baseline (fastest verified dense tile). */
  baselineMs: number;
  /** Σ chosen. */
  chosenMs: number;
  /** Σ (baseline − chosen) over the layer-runs where PIT pays. */
  savedMs: number;
  /**
   * Layer-runs with nothing to skip (lowest effective density of any rule ≥ 0.95) and Σ of their baseline; a PIT
   * variant chosen on one of them won by tile fit within its noise band, and counts in `pitPays` too.
   */
  nothingToSkip: number;
  nothingToSkipMs: number;
  /** Layer-runs with something to skip where PIT still did not pay (too little, or detection and gathers cost more). */
  skippableNotPaid: number;
  /** The layer-runs where PIT pays: name, input, chosen variant, baseline and chosen ms, effective density. */
  wins: { name: string; input: number; chosen: string; baselineMs: number; chosenMs: number; effectiveDensity: number }[];
}

/** Sums a run's layers (see `DemoSummary`). Skipped layers and layers without a verified baseline are left out. */
export function demoSummary(layers: readonly LayerResult[]): DemoSummary {
  const s: DemoSummary = { layers: 0, pitPays: 0, baselineMs: 0, chosenMs: 0, savedMs: 0, nothingToSkip: 0, nothingToSkipMs: 0, skippableNotPaid: 0, wins: [] };
  for (const l of layers) {
    if (l.skipped || !l.baseline) continue;
    const base = variantOf(l, l.baseline);
    const chosen = variantOf(l, l.chosen);
    if (!base?.ok || !chosen?.ok) continue;
    const b = totalOf(base);
    const c = totalOf(chosen);
    s.layers++;
    s.baselineMs += b;
    s.chosenMs += c;
    const nothing = (l.idealDensity ?? 1) >= NOTHING_TO_SKIP_DENSITY;
    if (nothing) {
      s.nothingToSkip++;
      s.nothingToSkipMs += b;
    }
    if (l.chosen !== l.baseline) {
      s.pitPays++;
      s.savedMs += b - c;
      s.wins.push({ name: l.name, input: l.input, chosen: l.chosen, baselineMs: b, chosenMs: c, effectiveDensity: l.effectiveDensity ?? 1 });
    } else if (!nothing) s.skippableNotPaid++;
  }
  return s;
}
