/**
 * What measuring one layer needs whether it runs whole (profile.ts) or in row slices (tiled.ts): which
 * configurations are measured (the dense tiles always; the PIT rules by policy), the candidates with their effective
 * densities, the verifier of a lowered matmul, and the layer result assembled from the measured variants and their
 * attribution — including, when no dense variant verified, why the layer failed (issue 14 item 2).
 */
import type { ALayout, FamilyConfig } from '../kernels/family.ts';
import { compareOutputs, matmulErrorScale } from '../kernels/reference.ts';
import { BASELINE_FAMILY, FAMILIES, familyOfConfig } from '../kernels/registry.ts';
import type { MatmulShape } from '../kernels/shape.ts';
import type { LoweredMatmul } from '../model/lowering.ts';
import type { SparseOp } from '../model/sparse-ops.ts';
import { coverageOf, type MicroTileCoverage } from '../pit/coverage.ts';
import { decide, regretOf, type PolicyDecision } from '../pit/policy.ts';
import { rulesFor } from '../pit/rules.ts';
import type { TileModel } from '../pit/tiledb.ts';
import type { LayerResult, MicroTileDensity, RunPolicy, VariantResult } from '../protocol.ts';
import { parseMicroTile } from '../sparsity/micro-tiles.ts';
import type { Attribution } from './attribution.ts';
import type { Candidate, Verifier } from './measure.ts';

/** Micro-tile shapes whose densities are reported for every layer ([M, K] terms; `1x1` is element density). */
export const REPORTED_MICRO_TILES = ['1x1', '8x1', '32x1', '1x32', '1x64', '32x32'] as const;

/** Candidates measured by default under policy `tiledb` (ProfileOptions.shortlist). */
export const DEFAULT_SHORTLIST = 2;

/** The policy a job runs with, once its tile database was checked. */
export interface ResolvedPolicy {
  info: RunPolicy;
  model: TileModel | null;
}

/** The micro-tile a configuration's kernel computes at reduction length k (null for dense). */
export function microTileOf(c: FamilyConfig, k: number): string | null {
  return familyOfConfig(c).microTile(c, k);
}

/** The PIT rules policy `tiledb` predicts for a layer (the requested families' legal tuned configurations). */
function tiledbRules(op: SparseOp, shape: MatmulShape, families: readonly string[], model: TileModel) {
  return rulesFor(op.op, shape, model.configs()).filter((r) => r.config.family !== BASELINE_FAMILY.name && families.includes(r.config.family));
}

/** The PIT configurations policy `measure` runs on a layer: each requested family's legal defaults. */
function measuredConfigs(shape: MatmulShape, families: readonly string[]): FamilyConfig[] {
  return FAMILIES.filter((f) => f !== BASELINE_FAMILY && families.includes(f.name)).flatMap((f) => f.layerConfigs(shape).filter((c) => !f.illegalReason(c, shape)));
}

/**
 * Every configuration that may be measured on a layer of this shape, before its data is known (for sizing it,
 * core/profile/fit.ts): the dense tiles and, under policy `measure`, each family's; under `tiledb`, the rules of
 * which the shortlist (or, audited, all) will be measured.
 */
export function possibleConfigs(
  op: SparseOp,
  shape: MatmulShape,
  families: readonly string[],
  policy: ResolvedPolicy,
): { configs: FamilyConfig[]; optional?: { configs: FamilyConfig[]; count: number } } {
  const dense = BASELINE_FAMILY.layerConfigs(shape);
  if (!policy.model) return { configs: [...dense, ...measuredConfigs(shape, families)] };
  const rules = tiledbRules(op, shape, families, policy.model).map((r) => r.config);
  if (policy.info.audit) return { configs: [...dense, ...rules] };
  return { configs: dense, optional: { configs: rules, count: policy.info.shortlist ?? DEFAULT_SHORTLIST } };
}

/** Every micro-tile shape whose coverage a layer's statistics and choice may need (reported ones first). */
export function coverageShapes(op: SparseOp, shape: MatmulShape, families: readonly string[], policy: ResolvedPolicy): string[] {
  const { configs, optional } = possibleConfigs(op, shape, families, policy);
  const extra = [...configs, ...(optional?.configs ?? [])].map((c) => microTileOf(c, shape.k)).filter((x): x is string => x !== null);
  return [...new Set<string>([...REPORTED_MICRO_TILES, ...extra])];
}

/** Rows a slice of a layer is a multiple of: every micro-tile height and computation-tile row count it may use. */
export function sliceAlignment(op: SparseOp, shape: MatmulShape, families: readonly string[], policy: ResolvedPolicy): number {
  const { configs, optional } = possibleConfigs(op, shape, families, policy);
  const heights = [...coverageShapes(op, shape, families, policy).map((s) => parseMicroTile(s).h), ...[...configs, ...(optional?.configs ?? [])].map((c) => c.tile.bm)];
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  return heights.reduce((l, h) => (l / gcd(l, h)) * h, 1);
}

/** The configurations a layer measures, and (policy tiledb) the decision that picked them. */
export interface LayerConfigs {
  /** Dense tiles first, then the PIT rules; `choosable` false for rules an audit measures but the policy would not pick. */
  configs: { config: FamilyConfig; choosable: boolean }[];
  /** Name of the default dense tile (`denseTileGain` compares the baseline with it). */
  defaultDense: string;
  decision: PolicyDecision | null;
  shortlist: PolicyDecision['candidates'];
}

/**
 * Decides which configurations to measure on a layer (the dense candidates under every policy; the PIT rules by
 * policy: each family's defaults under `measure`, the tile database's shortlist under `tiledb`).
 * @param coverage coverage of A by micro-tile shape; must hold every shape `coverageShapes` lists (policy tiledb).
 */
export function chooseConfigs(op: SparseOp, shape: MatmulShape, families: readonly string[], policy: ResolvedPolicy, coverage: (shapes: string[]) => ReadonlyMap<string, MicroTileCoverage>): LayerConfigs {
  const dense = BASELINE_FAMILY.layerConfigs(shape);
  const defaultDense = BASELINE_FAMILY.variantName(dense[0]!);
  let pit: { config: FamilyConfig; choosable: boolean }[];
  let decision: PolicyDecision | null = null;
  let shortlist: PolicyDecision['candidates'] = [];
  if (!policy.model) {
    pit = measuredConfigs(shape, families).map((config) => ({ config, choosable: true }));
  } else {
    const rules = tiledbRules(op, shape, families, policy.model);
    const shapes = rules.map((r) => microTileOf(r.config, shape.k)).filter((x): x is string => x !== null);
    decision = decide(policy.model, shape, coverage([...new Set(shapes)]), [...rulesFor(op.op, shape, dense), ...rules]);
    shortlist = decision.candidates.filter((c) => c.ruleRef.config.family !== BASELINE_FAMILY.name).slice(0, policy.info.shortlist ?? DEFAULT_SHORTLIST);
    const measured = policy.info.audit ? decision.candidates.filter((c) => c.ruleRef.config.family !== BASELINE_FAMILY.name) : shortlist;
    pit = measured.map((c) => ({ config: c.ruleRef.config, choosable: shortlist.includes(c) }));
  }
  return { configs: [...dense.map((config) => ({ config, choosable: true })), ...pit], defaultDense, decision, shortlist };
}

/** The reported densities of `shapes`, in order, from a layer's coverage (every shape must be in it). */
export function microTilesOf(coverage: ReadonlyMap<string, MicroTileCoverage>, shapes: readonly string[]): MicroTileDensity[] {
  return shapes.map((shape) => {
    const c = coverage.get(shape)!;
    return { shape, density: c.density, effectiveDensity: c.effectiveDensity };
  });
}

/** The candidates of a layer's configurations, with the effective density of each one's micro-tile on A. */
export function candidatesOf(configs: LayerConfigs['configs'], coverage: ReadonlyMap<string, MicroTileCoverage>, k: number): Candidate[] {
  return configs.map(({ config }) => {
    const mt = microTileOf(config, k);
    return { name: familyOfConfig(config).variantName(config), spec: config, microTile: mt, effectiveDensity: mt ? coverage.get(mt)!.effectiveDensity : null };
  });
}

/**
 * The verifier of a lowered matmul (a whole layer or a row slice): C after the layer's epilogue (Gemm alpha, bias)
 * against the reference, with a tolerance that scales with Σ|a||b| (fp32 rounding grows with it, not with |C|,
 * which cancellation can make tiny); GPU detection against the CPU density of the micro-tile it indexes.
 * @returns the verifier and the largest finite |reference| (for a relative error over several slices).
 */
export function verifierOf(mm: LoweredMatmul): { verifier: Verifier; refMax: number } {
  const { m, n, k, a } = mm;
  const errScale = matmulErrorScale(a, mm.b, m, n, k) * Math.abs(mm.alpha ?? 1) + (mm.bias ? Math.max(...Array.from(mm.bias, Math.abs)) : 0);
  let refMax = 0;
  for (const x of mm.expected) if (Number.isFinite(x) && Math.abs(x) > refMax) refMax = Math.abs(x);
  const verifier: Verifier = {
    output(c) {
      // The kernels compute A·B; the layer's own epilogue (Gemm alpha, bias) is applied here before comparing.
      const out = c.slice();
      const alpha = mm.alpha ?? 1;
      if (alpha !== 1 || mm.bias) {
        for (let y = 0; y < m; y++) for (let x = 0; x < n; x++) out[y * n + x] = alpha * out[y * n + x]! + (mm.bias ? mm.bias[x]! : 0);
      }
      return compareOutputs(out, mm.expected, { k, scale: errScale });
    },
    density: (shapeName) => coverageOf({ a, m, k }, [shapeName]).get(shapeName)!.density,
  };
  return { verifier, refMax };
}

/** Layouts of A a lowering writes at no cost: im2col writes either (Conv), a MatMul/Gemm activation is row-major. */
export function freeLayoutsOf(lowering: LoweredMatmul['lowering'] | string): ALayout[] {
  return lowering === 'im2col' || lowering === 'conv1x1' ? ['a', 'at'] : ['a'];
}

/**
 * Why a profiled layer has no verified figures — no dense variant verified, so there is nothing to compare against
 * — with the first real error among its variants (dense ones first); null when a dense variant verified.
 */
export function failureOf(variants: readonly VariantResult[], baseline: string | null): string | null {
  if (baseline) return null;
  const dense = variants.filter((v) => (v.family ?? v.name.split(' ')[0]) === BASELINE_FAMILY.name);
  const first = [...dense, ...variants].find((v) => !v.ok && v.error);
  const what = variants.some((v) => v.ok) ? 'no dense variant verified (nothing to compare against)' : 'no variant verified';
  if (!first) return what;
  // Errors from the runner already name their variant (`variant NAME: …`).
  return first.error!.startsWith(`variant ${first.name}`) ? `${what}: ${first.error}` : `${what}: ${first.name}: ${first.error}`;
}

/**
 * The layer result: statistics, variants (suspects flagged), the choice and its attribution, the policy's
 * prediction and regret (tiledb), and `failed` when no dense variant verified.
 */
export function finishLayer(
  stats: Omit<LayerResult, 'microTiles' | 'variants' | 'chosen'>,
  microTiles: LayerResult['microTiles'],
  measured: readonly VariantResult[],
  att: Attribution,
  plan: LayerConfigs,
  policy: ResolvedPolicy,
): LayerResult {
  const variants = measured.map((v) => {
    const why = att.suspects.get(v.name);
    return why ? { ...v, suspect: why } : v;
  });
  const layer: LayerResult = {
    ...stats,
    microTiles,
    variants,
    chosen: att.chosen,
    ...(att.baseline ? { baseline: att.baseline } : {}),
    defaultDense: plan.defaultDense,
    ...att.layer,
  };
  const failed = failureOf(variants, att.baseline);
  if (failed) layer.failed = failed;
  const { decision, shortlist } = plan;
  if (decision) {
    layer.predicted = { variant: decision.chosen.variant, ms: decision.chosen.ms };
    layer.candidates = decision.candidates.map((c) => ({ variant: c.variant, rule: c.rule, ms: c.ms, kernelMs: c.kernelMs, detectMs: c.detectMs, density: c.density }));
    layer.reason = `${decision.reason}; measured ${shortlist.length ? shortlist.map((c) => c.variant).join(', ') : 'no PIT rule'} with the dense tiles, chose ${att.chosen}`;
    if (policy.info.audit) {
      const regret = regretOf(variants, att.chosen);
      if (Number.isFinite(regret)) layer.regret = regret;
    }
  }
  return layer;
}
