/**
 * What measuring one layer needs whether it runs whole (profile.ts `profileLayer`) or in slices (tiled.ts): which
 * configurations are measured, the micro-tile shapes whose coverage the layer reports and its choice needs, the
 * candidates with their effective densities, the verifier of a (slice of a) layer problem, and the layer result
 * assembled from the measured variants and their attribution — including, when no dense variant verified, why the
 * layer failed (issue 14 item 2).
 *
 * Configurations (the same under every policy unless said):
 * - the dense candidates: every dense family's legal layer configurations (`isDenseFamily`: the dense tiles, and
 *   `direct` on grouped layers); the fastest verified is the baseline;
 * - the PIT rules: each requested family's legal layer configurations (policy `measure`, and every batched layer,
 *   which the tile database does not cover), or the tile database's shortlist (policy `tiledb`: PIT §4.4), with every
 *   rule under `audit` (measured, never chosen unless shortlisted);
 * - the static weight-pattern families that fit a 2-D layer's weight (core/profile/static-patterns.ts);
 * - the families built on layer facts (a sequence-length index), where the facts exist and leave rows to skip.
 */
import type { DeviceCaps, FamilyConfig, KernelFamily, PlanContext, SparseOperand, WeightCandidate } from '../kernels/family.ts';
import { compareBatched, compareOutputs, selectRows } from '../kernels/reference.ts';
import { baselineFamily, dtypeOf, FAMILIES, familyOfConfig, isDenseFamily } from '../kernels/registry.ts';
import { isBatched, type MatmulShape } from '../kernels/shape.ts';
import type { BatchedMatmul } from '../model/batched.ts';
import type { SparseOp } from '../model/sparse-ops.ts';
import type { MicroTileCoverage } from '../pit/coverage.ts';
import { decide, regretOf, type PolicyDecision } from '../pit/policy.ts';
import { rulesFor, type PitRule } from '../pit/rules.ts';
import { coverageShape, type TileModel } from '../pit/tiledb.ts';
import type { ComputeDtype, LayerResult, PerBatchSparsity, RunPolicy, VariantResult } from '../protocol.ts';
import type { BatchedCoverage } from '../sparsity/per-batch.ts';
import { parseMicroTile } from '../sparsity/micro-tiles.ts';
import type { Attribution } from './attribution.ts';
import { applyEpilogue, densitiesOf, operandCoverage, type LayerProblem } from './layer-problem.ts';
import type { LayerStatsResult } from './layer-stats.ts';
import type { Candidate, Verifier } from './measure.ts';
import { staticCandidates, type StaticPatterns } from './static-patterns.ts';

/** Micro-tile shapes whose densities are reported for every layer ([M, K] terms; `1x1` is element density). */
export const REPORTED_MICRO_TILES = ['1x1', '8x1', '32x1', '1x32', '1x64', '32x32'] as const;

/** Micro-tile shapes of B (when B is an activation) reported for every layer ([K, N] terms: `Wx1` is W k's of one column). */
export const REPORTED_B_MICRO_TILES = ['1x1', '8x1'] as const;

/** Candidates measured by default under policy `tiledb` (ProfileOptions.shortlist). */
export const DEFAULT_SHORTLIST = 2;

/** The policy a job runs with, once its tile database was checked. */
export interface ResolvedPolicy {
  info: RunPolicy;
  model: TileModel | null;
}

/** The policy that measures every requested family's per-layer configurations (no tile database). */
export const MEASURE_POLICY: ResolvedPolicy = { info: { policy: 'measure', audit: false }, model: null };

/**
 * What the caller knows about a layer beyond its tensors (passed to the plans as `MatmulOperands.context`): the rows
 * of A that hold real data in a padded batch (core/ocr/seqlen.ts maps sequence lengths to them through the
 * lowering). Families that need a fact (`KernelFamily.needs`) are measured only on layers that have it.
 */
export interface LayerFacts {
  /** Rows of the lowered A (and C) that belong to valid tokens, ascending. */
  validRows?: readonly number[];
}

/** What a layer's configurations depend on, known before its operands are lowered. */
export interface LayerSetup {
  op: SparseOp;
  /** The whole layer's kernel shape (batched or 2-D). */
  shape: MatmulShape;
  /** The families the job measures (the dense ones included). */
  families: readonly string[];
  policy: ResolvedPolicy;
  statics: StaticPatterns;
  facts: LayerFacts;
  /** B [K, N] of a 2-D layer (the static weight-pattern families index it); null for a batched layer. */
  weight: Float32Array | null;
  /** Operand dtype of the run (issue 11): its dense families are the baseline candidates. Default f32. */
  dtype?: ComputeDtype;
  /** What the device offers (shader-f16, subgroup matrices): the layer configurations some families list depend on it. */
  caps?: DeviceCaps;
}

/** Every configuration a layer may measure, before its data is known (the tile database's choice aside). */
export interface ConfigSpace {
  dense: FamilyConfig[];
  /** Name of the default dense tile (`denseTileGain` compares the baseline with it). */
  defaultDense: string;
  /** The PIT rules measured without a prediction (policy measure, batched layers). */
  measured: FamilyConfig[];
  /** Policy tiledb on a 2-D layer: the legal rules of the requested families the database predicts; else null. */
  rules: PitRule[] | null;
  weighted: WeightCandidate[];
  factConfigs: FamilyConfig[];
}

const legal = (f: KernelFamily, s: MatmulShape, caps?: DeviceCaps) => f.layerConfigs(s, caps).filter((c) => !f.illegalReason(c, s));

/** The configurations a layer may measure (see the module comment). */
export function configSpace(setup: LayerSetup): ConfigSpace {
  const { op, shape, families, policy, facts, caps } = setup;
  const dtype = setup.dtype ?? 'f32';
  const batched = isBatched(shape);
  // The dense families of the run's dtype only (an f16 run's baseline is dense-f16).
  const dense = FAMILIES.filter((f) => isDenseFamily(f) && dtypeOf(f) === dtype).flatMap((f) => legal(f, shape, caps));
  const baseline = baselineFamily(dtype);
  const defaultDense = baseline.variantName(baseline.layerConfigs(shape, caps)[0]!);
  const byPolicy = !!policy.model && !batched;
  const measured = byPolicy ? [] : FAMILIES.filter((f) => !isDenseFamily(f) && !f.needs && families.includes(f.name)).flatMap((f) => legal(f, shape, caps));
  const rules = byPolicy ? rulesFor(op.op, shape, policy.model!.configs()).filter((r) => !isDenseFamily(familyOfConfig(r.config)) && families.includes(r.config.family)) : null;
  // Static weight-pattern families that fit this layer's weight, under every policy (their index comes from B).
  const weighted = setup.weight ? staticCandidates(op.name, shape, setup.weight, setup.statics, families) : [];
  // Families built on layer facts (a sequence-length index) run where the facts exist and leave something to skip.
  const ctx = factContext(facts);
  const useful = facts.validRows !== undefined && facts.validRows.length < (shape.batch ?? 1) * shape.m;
  const factConfigs = FAMILIES.filter((f) => f.needs && families.includes(f.name) && useful && f.needs.every((x) => ctx[x] !== undefined)).flatMap((f) => legal(f, shape, caps));
  return { dense, defaultDense, measured, rules, weighted, factConfigs };
}

/** The facts as a plan context (only those present). */
export function factContext(facts: LayerFacts): Pick<PlanContext, 'validRows'> {
  return facts.validRows ? { validRows: facts.validRows } : {};
}

/**
 * Every configuration that may be measured on a layer, before its data is known (for sizing it, core/profile/fit.ts):
 * everything but the tile database's rules, of which the shortlist (or, audited, all) will be measured.
 */
export function possibleConfigs(space: ConfigSpace, policy: ResolvedPolicy): { configs: FamilyConfig[]; optional?: { configs: FamilyConfig[]; count: number } } {
  const fixed = [...space.dense, ...space.measured, ...space.weighted.map((w) => w.config), ...space.factConfigs];
  if (!space.rules) return { configs: fixed };
  const rules = space.rules.map((r) => r.config);
  if (policy.info.audit) return { configs: [...fixed, ...rules] };
  return { configs: fixed, optional: { configs: rules, count: policy.info.shortlist ?? DEFAULT_SHORTLIST } };
}

/** The operand a configuration's micro-tile is on (pit-n: B). */
export function operandOf(c: FamilyConfig): SparseOperand {
  return familyOfConfig(c).operand ?? 'a';
}

/** The micro-tile a configuration's kernel computes at reduction length k (null for dense). */
export function microTileOf(c: FamilyConfig, k: number): string | null {
  return familyOfConfig(c).microTile(c, k);
}

/**
 * The micro-tile shapes reported for A and (when B is an activation) B, given the configurations measured: the
 * reported ones and every measured rule's (detection is checked against the CPU coverage of the micro-tile it
 * indexes, which a merged pit-k may not compute).
 */
export function reportedShapes(configs: readonly FamilyConfig[], shape: MatmulShape): { a: string[]; b: string[] } {
  const tiles = (operand: SparseOperand) => configs.filter((c) => operandOf(c) === operand).map((c) => microTileOf(c, shape.k)).filter((x): x is string => x !== null);
  return {
    a: [...new Set([...REPORTED_MICRO_TILES, ...tiles('a')])],
    b: shape.bActivation ? [...new Set([...REPORTED_B_MICRO_TILES, `${shape.k}x1`, ...tiles('b')])] : [],
  };
}

/**
 * Every micro-tile shape whose coverage a layer's statistics and choice may need, before the configurations are
 * chosen (a layer measured in slices gathers them in one pass): the reported ones, every possible configuration's,
 * and the tile database's rules'.
 */
export function possibleShapes(space: ConfigSpace, shape: MatmulShape): { a: string[]; b: string[] } {
  const all = [...space.dense, ...space.measured, ...space.weighted.map((w) => w.config), ...space.factConfigs, ...(space.rules ?? []).map((r) => r.config)];
  const shapes = reportedShapes(all, shape);
  const ruleShapes = (space.rules ?? []).map((r) => coverageShape(r.config, shape.k)).filter((x): x is string => x !== null);
  return { a: [...new Set([...shapes.a, ...ruleShapes])], b: shapes.b };
}

/**
 * Rows a slice of a 2-D layer is a multiple of, so that no micro-tile or computation tile straddles two slices:
 * the least common multiple of every micro-tile height on A and computation-tile row count it may use.
 */
export function sliceAlignment(space: ConfigSpace, shape: MatmulShape): number {
  const configs = [...space.dense, ...space.measured, ...space.weighted.map((w) => w.config), ...space.factConfigs, ...(space.rules ?? []).map((r) => r.config)];
  const heights = [...possibleShapes(space, shape).a.map((s) => parseMicroTile(s).h), ...configs.map((c) => c.tile.bm)];
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  return heights.reduce((l, h) => (l / gcd(l, h)) * h, 1);
}

/** The configurations a layer measures, and (policy tiledb) the decision that picked them. */
export interface LayerConfigs {
  /** Dense candidates first, then the PIT rules, static and fact families; `choosable` false for audited rules. */
  configs: { config: FamilyConfig; choosable: boolean }[];
  /** Name of the default dense tile. */
  defaultDense: string;
  decision: PolicyDecision | null;
  shortlist: PolicyDecision['candidates'];
}

/**
 * Decides which configurations to measure on a layer (see the module comment).
 * @param coverage coverage of A by micro-tile shape ([M, K]); policy tiledb asks for its rules' shapes.
 */
export function chooseConfigs(setup: LayerSetup, space: ConfigSpace, coverage: (shapes: string[]) => ReadonlyMap<string, MicroTileCoverage>): LayerConfigs {
  const { op, shape, policy } = setup;
  let pit: { config: FamilyConfig; choosable: boolean }[];
  let decision: PolicyDecision | null = null;
  let shortlist: PolicyDecision['candidates'] = [];
  if (!space.rules) {
    pit = space.measured.map((config) => ({ config, choosable: true }));
  } else {
    const shapes = space.rules.map((r) => coverageShape(r.config, shape.k)).filter((x): x is string => x !== null);
    const denseRules = rulesFor(op.op, shape, space.dense);
    decision = decide(policy.model!, shape, coverage([...new Set(shapes)]), [...denseRules, ...space.rules]);
    // The dense candidates of every dtype are measured anyway (space.dense): the shortlist holds PIT rules only.
    const pitRule = (c: PolicyDecision['candidates'][number]) => !isDenseFamily(familyOfConfig(c.ruleRef.config));
    shortlist = decision.candidates.filter(pitRule).slice(0, policy.info.shortlist ?? DEFAULT_SHORTLIST);
    const measured = policy.info.audit ? decision.candidates.filter(pitRule) : shortlist;
    pit = measured.map((c) => ({ config: c.ruleRef.config, choosable: shortlist.includes(c) }));
  }
  const configs = [
    ...space.dense.map((config) => ({ config, choosable: true })),
    ...pit,
    ...space.weighted.map((w) => ({ config: w.config, choosable: true })),
    ...space.factConfigs.map((config) => ({ config, choosable: true })),
  ];
  return { configs, defaultDense: space.defaultDense, decision, shortlist };
}

/**
 * The candidates of a layer's configurations, each with its effective density: from the layer facts
 * (`contextDensity`), the coverage of its micro-tile on A or B, or a static family's weight density.
 */
export function candidatesOf(plan: LayerConfigs, setup: LayerSetup, space: ConfigSpace, covA: ReadonlyMap<string, BatchedCoverage>, covB: ReadonlyMap<string, BatchedCoverage> | null): Candidate[] {
  const ctx = factContext(setup.facts);
  return plan.configs.map(({ config }) => {
    const mt = microTileOf(config, setup.shape.k);
    const f = familyOfConfig(config);
    const operand = operandOf(config);
    const cov = operand === 'b' ? covB : covA;
    const weightDensity = space.weighted.find((w) => w.config === config)?.effectiveDensity ?? null;
    const effectiveDensity = f.contextDensity ? f.contextDensity(config, setup.shape, ctx) : mt ? cov!.get(mt)!.effectiveDensity : weightDensity;
    return { name: f.variantName(config), spec: config, microTile: mt, effectiveDensity, ...(operand === 'b' ? { operand } : {}) };
  });
}

/**
 * The verifier of a layer problem (a whole layer, or a slice of one): C after the layer's epilogue (Gemm alpha,
 * bias) against the problem's reference, batch by batch with each batch's own error scale (fp32 rounding grows with
 * Σ|a||b|, not |C|, which cancellation can make tiny); only the computed rows for a plan that computes only the valid
 * rows; GPU detection against the CPU density of the micro-tile it indexes on A or B.
 * @param firstBatch the layer batch of the problem's batch 0 (a slice of batches names the layer's batch in errors).
 */
export function verifierOf(problem: LayerProblem, layerBatched: boolean, firstBatch = 0): Verifier {
  const { mm } = problem;
  const { n, k, batch } = mm;
  return {
    output: (c, rows) => {
      const out = applyEpilogue(c, mm);
      if (rows) return compareOutputs(selectRows(out, n, rows), selectRows(problem.reference, n, rows), { k, scale: Math.max(...problem.scales) });
      const r = compareBatched(out, problem.reference, batch, { k, scales: problem.scales });
      if (layerBatched) return { ...r, worstBatch: r.worstBatch >= 0 ? r.worstBatch + firstBatch : r.worstBatch };
      const { worstBatch: _b, worstBatchErr: _e, ...one } = r;
      return one;
    },
    density: (shapeName, operand = 'a') => operandCoverage(mm, operand, [shapeName]).get(shapeName)!.density,
  };
}

/** Per-batch values are stored to 6 decimals (a depthwise layer has hundreds of groups). */
const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/** Per-batch statistics of a batched layer: each batch's sparsity and the micro-tile densities of the rules measured. */
function perBatchOf(stats: LayerStatsResult, candidates: readonly Candidate[]): PerBatchSparsity {
  const seen = new Set<string>();
  const microTiles: PerBatchSparsity['microTiles'] = [];
  for (const c of candidates) {
    if (!c.microTile) continue;
    const operand = c.operand ?? 'a';
    const key = `${operand}|${c.microTile}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const cov = (operand === 'b' ? stats.covB : stats.covA)!.get(c.microTile)!;
    microTiles.push({ operand, shape: c.microTile, density: Array.from(cov.perBatch.density, round6), effectiveDensity: Array.from(cov.perBatch.effectiveDensity, round6) });
  }
  return {
    sparsity: Array.from(stats.perBatch!.a, round6),
    ...(stats.perBatch!.b ? { bSparsity: Array.from(stats.perBatch!.b, round6) } : {}),
    microTiles,
  };
}

/**
 * Why a profiled layer has no verified figures — no dense variant verified, so there is nothing to compare against
 * — with the first real error among its variants (dense ones first); null when a dense variant verified.
 */
export function failureOf(variants: readonly VariantResult[], baseline: string | null): string | null {
  if (baseline) return null;
  const isDense = (v: VariantResult) => FAMILIES.some((f) => isDenseFamily(f) && f.name === (v.family ?? v.name.split(' ')[0]));
  const first = [...variants.filter(isDense), ...variants].find((v) => !v.ok && v.error);
  const what = variants.some((v) => v.ok) ? 'no dense variant verified (nothing to compare against)' : 'no variant verified';
  if (!first) return what;
  // Errors from the runner already name their variant (`variant NAME: …`).
  return first.error!.startsWith(`variant ${first.name}`) ? `${what}: ${first.error}` : `${what}: ${first.name}: ${first.error}`;
}

/** What a layer result is assembled from. */
export interface LayerParts {
  base: Pick<LayerResult, 'index' | 'name' | 'op' | 'input'>;
  setup: LayerSetup;
  /** The whole layer's lowering facts (batch axes, B's kind, the lowering). */
  lowered: Pick<BatchedMatmul, 'batch' | 'batchDims' | 'batchKind' | 'lowering'>;
  stats: LayerStatsResult;
  /** The A and B micro-tile shapes reported (`reportedShapes` of the configurations measured). */
  shapes: { a: string[]; b: string[] };
  candidates: readonly Candidate[];
  measured: readonly VariantResult[];
  att: Attribution;
  plan: LayerConfigs;
  /** The chosen variant's readback (its output copied back after the verification run), ms. */
  readbackMs?: number;
  approximation?: LayerResult['approximation'];
}

/**
 * The layer result: statistics (per batch for a batched layer, of B where it is an activation), variants (suspects
 * flagged), the choice and its attribution, the policy's prediction and regret (tiledb), and `failed` when no dense
 * variant verified.
 */
export function finishLayer(p: LayerParts): LayerResult {
  const { shape, policy } = p.setup;
  const { stats, att, plan, lowered } = p;
  const batched = lowered.batch > 1;
  const variants = p.measured.map((v) => {
    const why = att.suspects.get(v.name);
    return why ? { ...v, suspect: why } : v;
  });
  const layer: LayerResult = {
    ...p.base,
    m: shape.m,
    n: shape.n,
    k: shape.k,
    sparsity: stats.sparsity,
    heatmap: stats.heatmap,
    ...(batched
      ? {
          batch: lowered.batch,
          batchDims: lowered.batchDims.slice(),
          ...(lowered.batchKind !== 'none' ? { batchKind: lowered.batchKind } : {}),
          ...(shape.aShared || shape.bShared ? { shared: { ...(shape.aShared ? { a: true } : {}), ...(shape.bShared ? { b: true } : {}) } } : {}),
        }
      : {}),
    lowering: lowered.lowering,
    ...(stats.covB ? { operandB: { sparsity: stats.bSparsity!, microTiles: densitiesOf(stats.covB, p.shapes.b) } } : {}),
    ...(batched ? { perBatch: perBatchOf(stats, p.candidates) } : {}),
    ...(p.approximation ? { approximation: p.approximation } : {}),
    microTiles: densitiesOf(stats.covA, p.shapes.a),
    variants,
    chosen: att.chosen,
    ...(att.baseline ? { baseline: att.baseline } : {}),
    defaultDense: plan.defaultDense,
    ...att.layer,
  };
  const failed = failureOf(variants, att.baseline);
  if (failed) layer.failed = failed;
  if (p.readbackMs !== undefined && Number.isFinite(p.readbackMs)) layer.readbackMs = p.readbackMs;
  const { decision, shortlist } = plan;
  if (decision) {
    layer.predicted = { variant: decision.chosen.variant, ms: decision.chosen.ms };
    layer.candidates = decision.candidates.map((c) => ({ variant: c.variant, rule: c.rule, ms: c.ms, kernelMs: c.kernelMs, detectMs: c.detectMs, density: c.density }));
    layer.reason = `${decision.reason}; measured ${shortlist.length ? shortlist.map((c) => c.variant).join(', ') : 'no PIT rule'} with the dense tiles, chose ${att.chosen}`;
    if (policy.info.audit) {
      const regret = regretOf(variants, att.chosen);
      if (Number.isFinite(regret)) layer.regret = regret;
    }
  } else if (policy.model && batched) {
    layer.reason = `batched layer (batch ${lowered.batch}): the tile database covers 2-D layers only, so each requested family's layer configurations were measured (policy measure); chose ${att.chosen}`;
  }
  return layer;
}
