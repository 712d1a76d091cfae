/**
 * What the Layers view derives from one LayerResult: per-variant times, coverage waste per micro-tile shape, and
 * why the chosen variant won. Pure functions (tested in test/renderer). Times in ms, fractions 0–1.
 */
import type { LayerResult, RunPolicy, VariantResult } from '../../../core/protocol.ts';

/** How variants were chosen in a run, in words (runs recorded before policies existed measured everything). */
export function policyText(p: RunPolicy | undefined): string {
  const measure =
    'Measured: every layer runs the dense tiles for its shape and the PIT rules of the chosen families in interleaved rounds ' +
    '(median of the samples, with their spread). The baseline is the fastest verified dense tile; a PIT variant is chosen only ' +
    'when it beats the baseline beyond the noise and its effective density explains the speed-up.';
  if (!p || p.policy === 'measure') return p?.note ? `${measure} (${p.note})` : measure;
  const db = p.tileDb ? ` (tile database ${p.tileDb.id}, ${p.tileDb.points} points, updated ${p.tileDb.updatedAt})` : '';
  return (
    `Tile-database policy${db}: the cost of every legal PIT rule is predicted from latencies measured on this adapter, ` +
    `and the predicted fastest are measured beside the dense tiles for the shape (the baseline is the fastest of them), ` +
    `checked against the reference; a PIT variant is chosen only beyond the noise, with its speed-up explained by its density.` +
    (p.audit ? ' Audit: every candidate was measured too, so the regret of each choice is known.' : '')
  );
}

/** A variant's cost as the choice sees it: the median of layout + detection + kernel, ms (NaN when it did not run). */
export function variantTime(v: VariantResult): number {
  if (!Number.isFinite(v.ms)) return Number.NaN;
  return v.totalMs ?? v.ms + (Number.isFinite(v.detectMs) ? v.detectMs : 0) + (v.layoutMs ?? 0);
}

/** The layer's dense baseline variant name (`dense` for runs recorded before baselines). */
export function baselineName(layer: LayerResult): string {
  return layer.baseline ?? 'dense';
}

/** The variant named `name`, if the layer measured it. */
export function findVariant(layer: LayerResult, name: string): VariantResult | undefined {
  return layer.variants.find((v) => v.name === name);
}

/** Baseline (fastest dense tile) and chosen times (ms, chosen including detection) and the speed-up; NaN when unknown. */
export function layerTimes(layer: LayerResult): { denseMs: number; chosenMs: number; speedup: number } {
  const dense = findVariant(layer, baselineName(layer));
  const chosen = findVariant(layer, layer.chosen) ?? dense;
  const denseMs = dense ? variantTime(dense) : Number.NaN;
  const chosenMs = chosen ? variantTime(chosen) : Number.NaN;
  return { denseMs, chosenMs, speedup: denseMs / chosenMs };
}

/**
 * Coverage waste of computing every non-zero micro-tile of a shape: the fraction of computed elements that are
 * zero, `1 − elementDensity / tileDensity` (0 when the tiles cover only non-zeros or nothing is computed).
 * @param elementDensity fraction of non-zero elements (1 − sparsity)
 * @param tileDensity fraction of micro-tiles holding at least one non-zero
 */
export function coverageWaste(elementDensity: number, tileDensity: number): number {
  if (!(tileDensity > 0) || !Number.isFinite(elementDensity)) return 0;
  return Math.min(1, Math.max(0, 1 - elementDensity / tileDensity));
}

/** One row of the micro-tile table. */
export interface MicroTileRow {
  shape: string;
  /** Fraction of micro-tiles with a non-zero (effective density). */
  density: number;
  /** 1 − density: the fraction of micro-tiles a PIT kernel skips. */
  sparsity: number;
  coverageWaste: number;
}

/** The micro-tile table of a layer, in the host's order. */
export function microTileRows(layer: LayerResult): MicroTileRow[] {
  const elementDensity = 1 - layer.sparsity;
  return layer.microTiles.map((t) => ({
    shape: t.shape,
    density: t.density,
    sparsity: 1 - t.density,
    coverageWaste: coverageWaste(elementDensity, t.density),
  }));
}

/** The micro-tile shape with the lowest effective density (what PIT could skip most of), if any. */
export function bestMicroTile(layer: LayerResult): { shape: string; density: number } | null {
  let best: { shape: string; density: number } | null = null;
  for (const t of layer.microTiles) if (t.shape !== '1x1' && (!best || t.density < best.density)) best = t;
  return best;
}

/** A candidate in the explanation of the choice. */
export interface Candidate {
  name: string;
  totalMs: number;
  kernelMs: number;
  detectMs: number;
  /** dense time / this time. */
  speedup: number;
  /**
   * `faster`: measured faster than the chosen one (a tile-database prediction's regret, or a gain within the noise);
   * `suspect`: a speed-up its density cannot explain, not trusted.
   */
  verdict: 'chosen' | 'faster' | 'slower' | 'suspect' | 'failed' | 'error';
  /** Why, in a few words. */
  note: string;
}

/** Why the chosen variant won: a one-line summary and every candidate with its verdict, fastest first. */
export function explainChoice(layer: LayerResult): { summary: string; candidates: Candidate[] } {
  if (layer.skipped) return { summary: `Not profiled: ${layer.skipped}. Dense is used.`, candidates: [] };
  const { denseMs } = layerTimes(layer);
  const chosen = findVariant(layer, layer.chosen);
  const chosenMs = chosen ? variantTime(chosen) : Number.NaN;
  const candidates: Candidate[] = layer.variants.map((v) => {
    const totalMs = variantTime(v);
    const base = { name: v.name, totalMs, kernelMs: v.ms, detectMs: v.detectMs, speedup: denseMs / totalMs };
    if (v.error) return { ...base, verdict: 'error', note: v.error };
    if (!v.ok) return { ...base, verdict: 'failed', note: `output differs from the reference (max rel. error ${v.maxRelErr.toExponential(1)})` };
    if (v.name === layer.chosen) return { ...base, verdict: 'chosen', note: chosenNote(layer) };
    if (v.suspect) return { ...base, verdict: 'suspect', note: v.suspect };
    const slower = totalMs - chosenMs;
    if (Number.isFinite(slower) && slower < 0) {
      const why = layer.predicted ? 'the prediction ranked it lower' : 'not beyond the noise';
      return { ...base, verdict: 'faster', note: `${(-slower).toFixed(3)} ms faster than ${layer.chosen} as measured (${why})` };
    }
    return { ...base, verdict: 'slower', note: Number.isFinite(slower) ? `${slower.toFixed(3)} ms slower than ${layer.chosen}` : 'no time' };
  });
  const order = { chosen: 0, faster: 1, slower: 2, suspect: 3, failed: 4, error: 5 } as const;
  candidates.sort((a, b) => order[a.verdict] - order[b.verdict] || (a.totalMs || Infinity) - (b.totalMs || Infinity));

  const baseName = baselineName(layer);
  const against = baseName === 'dense' ? 'dense' : `the baseline ${baseName}`;
  let summary: string;
  if (!chosen) summary = `${layer.chosen} was chosen, but its measurement is missing.`;
  else if (layer.undecided) summary = `Undecided: ${layer.undecided}. The baseline ${baseName} (${chosenMs.toFixed(3)} ms) is kept.`;
  else if (chosen.name === baseName) {
    const others = candidates.filter((c) => c.name !== baseName);
    const faster = candidates.find((c) => c.verdict === 'faster');
    summary = faster
      ? `Dense (${chosenMs.toFixed(3)} ms) was predicted fastest and kept; ${faster.name} measured ${faster.totalMs.toFixed(3)} ms (the policy's regret).`
      : others.length
      ? `Dense (${chosenMs.toFixed(3)} ms) stays: no PIT variant beat it once its detection time is counted.`
      : `Dense (${chosenMs.toFixed(3)} ms) is the only variant measured.`;
  } else {
    const tile = chosen.microTile ? `micro-tile ${chosen.microTile}, ` : '';
    const faster = candidates.find((c) => c.verdict === 'faster');
    summary =
      `${chosen.name} (${tile}computation tile ${chosen.computeTile}) wins: ${chosenMs.toFixed(3)} ms ` +
      `(${chosen.ms.toFixed(3)} kernel + ${chosen.detectMs.toFixed(3)} detection${chosen.layoutMs ? ` + ${chosen.layoutMs.toFixed(3)} layout` : ''}) against ${against} ${denseMs.toFixed(3)} ms, ` +
      `${(denseMs / chosenMs).toFixed(2)}× faster.` +
      (faster ? ` ${faster.name} measured faster still (${faster.totalMs.toFixed(3)} ms): the policy's regret.` : '');
  }
  return { summary, candidates };
}

/** Why the chosen variant is the chosen one: the fastest measured, or the tile database's prediction (verified). */
function chosenNote(layer: LayerResult): string {
  const p = layer.predicted;
  if (layer.decision && !p) return layer.decision;
  if (!p) return 'fastest verified variant';
  if (p.variant === layer.chosen) return `predicted fastest by the tile database (${p.ms.toPrecision(3)} ms predicted), verified`;
  // Say what happened to the prediction: it failed verification, was not trusted, or verified and measured slower.
  const pv = findVariant(layer, p.variant);
  if (!pv) return `fastest verified variant (the predicted ${p.variant} was not measured)`;
  if (pv.error || !pv.ok) return `fastest verified variant (the predicted ${p.variant} failed: ${pv.error ?? 'output differs from the reference'})`;
  if (pv.suspect) return `fastest verified variant (the predicted ${p.variant} measured a speed-up its density cannot explain: not trusted)`;
  const chosen = findVariant(layer, layer.chosen);
  const ms = (v: VariantResult | undefined) => (v ? `${variantTime(v).toFixed(3)} ms` : 'no time');
  if (layer.undecided) return `the baseline, kept: the predicted ${p.variant} (${ms(pv)}) verified but could not be told apart from it within the noise`;
  return `fastest verified variant: the predicted ${p.variant} verified but measured slower (${ms(pv)} against ${ms(chosen)})`;
}

/**
 * How bad a regret is (issue 3's bar: median ≤ 10 %, none worse than 50 %): `good` up to 10 %, `warn` up to 50 %,
 * `bad` beyond.
 */
export function regretLevel(regret: number): 'good' | 'warn' | 'bad' {
  return regret <= 0.1 ? 'good' : regret <= 0.5 ? 'warn' : 'bad';
}
