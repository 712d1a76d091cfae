/**
 * The transformation policy (PIT §4.4; the role of SparTA pit_sm80 `test/microbench/online_search.py`): for one
 * layer, enumerate the legal PIT rules (rules.ts), predict each one's kernel and detection time from the tile
 * database at the layer's shape and effective density (tiledb.ts, costmodel.ts), with dense always a candidate,
 * and choose the cheapest. `online_search.py` takes the coverage of each micro-tile from `cover_sim` and the
 * latency from `stile_db.csv` at the sparsity just below; here the coverage is exact (coverage.ts) and the latency
 * interpolated (costmodel.ts), and detection is paid for explicitly.
 *
 * The policy only predicts; the profiler still measures the chosen rule (and dense, for the speedup), and with an
 * audit every candidate, so `regret` says how far the prediction was from the best measured rule.
 */
import { isBaselineFamily } from '../kernels/registry.ts';
import type { PolicyCandidate, VariantResult } from '../protocol.ts';
import type { Shape } from './costmodel.ts';
import type { MicroTileCoverage } from './coverage.ts';
import type { PitRule } from './rules.ts';
import { coverageShape, type TileModel } from './tiledb.ts';

/** A candidate with the rule it stands for. */
export interface RankedCandidate extends PolicyCandidate {
  ruleRef: PitRule;
}

/** What the policy decided for a layer. */
export interface PolicyDecision {
  /** The cheapest predicted rule. */
  chosen: RankedCandidate;
  /** Every predicted rule, cheapest first (dense wins ties: same cost, no detection, no risk). */
  candidates: RankedCandidate[];
  /** Rules that could not be predicted, with why (not in the tile database). */
  unpredicted: { variant: string; reason: string }[];
  /** One line: the choice and the runner-up, with the densities that decided it. */
  reason: string;
}

const fmt = (ms: number) => (ms >= 1 ? ms.toFixed(2) : ms.toFixed(3));

/**
 * Chooses a rule for one layer.
 * @param model the fitted tile database.
 * @param shape the lowered matmul's M, N, K.
 * @param coverage micro-tile coverage of A by shape string (must hold `coverageShape(rule.config, K)` of every sparse rule).
 * @param rules the layer's legal rules (rules.ts `rulesFor`), of one dtype; at least one rule of that dtype's dense
 *   baseline family (`dense`, `dense-f16`) must be predictable.
 * @throws RangeError when no dense rule can be predicted (dense must always be a candidate).
 */
export function decide(model: TileModel, shape: Shape, coverage: ReadonlyMap<string, MicroTileCoverage>, rules: readonly PitRule[]): PolicyDecision {
  const candidates: RankedCandidate[] = [];
  const unpredicted: PolicyDecision['unpredicted'] = [];
  for (const rule of rules) {
    if (!model.has(rule.config)) {
      unpredicted.push({ variant: rule.variant, reason: `${rule.id} is not in the tile database` });
      continue;
    }
    const covShape = coverageShape(rule.config, shape.k);
    const cov = covShape ? coverage.get(covShape) : undefined;
    if (covShape && !cov) {
      unpredicted.push({ variant: rule.variant, reason: `no coverage of ${covShape}` });
      continue;
    }
    const p = model.predict(rule.config, shape, cov);
    candidates.push({ variant: rule.variant, rule: rule.description, ms: p.ms, kernelMs: p.kernelMs, detectMs: p.detectMs, density: p.density, ruleRef: rule });
  }
  // The dense baseline of the rules' dtype: `dense` in f32, `dense-f16` in f16 (a tile database holds one dtype).
  const isBaseline = (c: RankedCandidate) => isBaselineFamily(c.ruleRef.config.family);
  if (!candidates.some(isBaseline)) {
    throw new RangeError(`policy: no dense rule could be predicted for ${shape.m}x${shape.n}x${shape.k} (dense must always be a candidate)`);
  }
  candidates.sort((a, b) => a.ms - b.ms || Number(isBaseline(b)) - Number(isBaseline(a)));
  const chosen = candidates[0]!;
  const bestDense = candidates.find(isBaseline)!;
  const runnerUp = candidates[1];
  const what = (c: RankedCandidate) =>
    `${c.variant} ${fmt(c.ms)} ms` + (c.density === null ? '' : ` (kernel ${fmt(c.kernelMs)} + detection ${fmt(c.detectMs)}, ${c.ruleRef.microTile} density ${c.density.toFixed(3)})`);
  let reason = `predicted ${what(chosen)}`;
  if (chosen !== bestDense) reason += `; best dense ${bestDense.variant} ${fmt(bestDense.ms)} ms`;
  if (runnerUp && runnerUp !== bestDense) reason += `; runner-up ${what(runnerUp)}`;
  return { chosen, candidates, unpredicted, reason };
}

/** Total measured time of a variant (median of layout + detection + kernel), or NaN when it failed or was not verified. */
export function measuredTotal(v: VariantResult | undefined): number {
  if (!v || !v.ok || !Number.isFinite(v.ms)) return Number.NaN;
  return v.totalMs ?? v.ms + (Number.isFinite(v.detectMs) ? v.detectMs : 0) + (v.layoutMs ?? 0);
}

/**
 * The policy's regret on a layer: chosen measured ms / best measured ms − 1 over verified variants (kernel +
 * detection), so 0 when the policy picked the fastest, 0.25 when the pick was 25 % slower than the best.
 * @returns NaN when the chosen variant has no verified time or nothing verified.
 */
export function regretOf(results: readonly VariantResult[], chosen: string): number {
  const c = measuredTotal(results.find((v) => v.name === chosen));
  let best = Infinity;
  for (const v of results) {
    const t = measuredTotal(v);
    if (t < best) best = t;
  }
  if (!Number.isFinite(c) || !Number.isFinite(best) || best <= 0) return Number.NaN;
  return c / best - 1;
}

