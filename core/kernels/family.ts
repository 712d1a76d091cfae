/**
 * A kernel family as data (DESIGN.md §4; after ONNX Runtime Web's `ProgramInfo` + op registry): one module per family
 * (dense.ts, pit-k.ts, pit-m.ts, …) implements `KernelFamily` and owns everything about it — its WGSL programs
 * (detection included), which configurations are legal for a layer, the micro-tile it reads, the per-block counts of
 * its coverage, its cost-model features, its buffers and bindings, its dispatch grid, the name and description of its
 * rules, and the CPU reference of its index for exported fixtures. The runner, rule enumeration, tuner, cost model,
 * export, protocol, database and UI loop over the registry (registry.ts); no other module names a family.
 *
 * Every family computes the lowered matmul `C[M,N] = A[M,K] · B[K,N]` (row-major; fp32, or f16 operands with f32
 * accumulation for the f16 families, `dtype`), A the dynamically sparse
 * activation; a PIT family skips zero micro-tiles along its permutation-invariant axis — of A (pit-k, pit-m) or, where
 * B is an activation too (attention's Kᵀ), of B (pit-n). A shape may be batched (shape.ts): `batch` independent
 * matmuls, grid z = batch, batch strides in the uniform, each batch with its own index (one index for an operand
 * shared by every batch). A family's 2-D programs (batch 1) are its unbatched ones, unchanged. A *static-pattern*
 * family (`sparseOperand: 'b'`: tile-wise, N:M, HiNM, block-sparse weights) skips the zeros of the weight B instead:
 * its index is built on the CPU from B once per layer (`plan` with `ctx.b`, `FamilyPlan.uploads`), not detected per
 * call; it says which layers it applies to through `weightCandidates`.
 */
import type { ComputeTile } from '../../shaders/common.wgsl.ts';
import type { LayerPattern } from '../prune/types.ts';
import type { AdapterDescriptor, ComputeDtype } from '../protocol.ts';
import type { KernelProgram } from './program.ts';
import type { MatmulShape } from './shape.ts';

/** The permutation-invariant axis a family exploits (`none` for dense). */
export type RuleAxis = 'none' | 'k' | 'm' | 'n';

/**
 * A kernel configuration independent of any layer: family, micro-tile label and computation tile. The tile database
 * measures configurations; a PIT rule is a configuration applied to a layer.
 */
export interface FamilyConfig {
  /** A registered family's name (registry.ts), e.g. `pit-k`. */
  family: string;
  /**
   * Micro-tile label as the family writes it, in its operand's terms (A [M, K]: `8x1`, `1x32`, `1xK` for whole rows;
   * B [K, N] for pit-n: `Kx1` whole columns); null for dense.
   */
  microTile: string | null;
  tile: ComputeTile;
}

/**
 * Layouts of the activation A a family's kernels read: `a` = A [M, K] row-major, `at` = Aᵀ [K, M] row-major (per
 * batch: [batch, M, K] and [batch, K, M]).
 */
export type ALayout = 'a' | 'at';

/** Layouts of B a family's kernels read: `b` = B [K, N] row-major, `bt` = Bᵀ [N, K] row-major (per batch likewise). */
export type BLayout = 'b' | 'bt';

/** Any operand layout (what `MatmulOperands.freeLayouts` lists). */
export type OperandLayout = ALayout | BLayout;

/**
 * An operand whose zeros a family skips: A (the default) or B — dynamically (detected per call: pit-n on an activation
 * B, `KernelFamily.operand`) or as a static weight pattern (indexed once from the weight, `KernelFamily.sparseOperand`).
 */
export type SparseOperand = 'a' | 'b';

/**
 * What a family may ask of the device when it lists configurations: an f16 family offers tensor-core
 * (subgroup-matrix) tiles only where the adapter has subgroup matrices, SIMT tiles elsewhere. Absent fields mean
 * unknown (a family then lists what runs anywhere).
 */
export type DeviceCaps = Pick<AdapterDescriptor, 'shaderF16' | 'subgroups' | 'subgroupSizes' | 'subgroupMatrixConfigs'>;

/** A buffer of a plan besides the operands A/Aᵀ and B (which every plan has). */
export interface PlanBuffer {
  name: string;
  dtype: 'f32' | 'u32' | 'f16';
  /** Row-major shape in elements. */
  shape: number[];
  /** `output`: C; `scratch`: detection counts, index and other intermediate buffers. */
  role: 'output' | 'scratch';
  /**
   * Smallest size the buffer may have, bytes (it is allocated at least this big, the shape's elements first). Dawn
   * requires a buffer a subgroup-matrix fragment is stored to to hold at least one fragment (16x16 f32 = 1 KiB), even
   * when the kernel only stores whole fragments inside the shape.
   */
  minBytes?: number;
}

/**
 * What a plan may read besides the shape and configuration: the operands (a static pattern's index is built from the
 * weight B once per layer, not per call) and facts the profile job knows about the layer (the valid rows of a padded
 * batch, from which a sequence-length index is built instead of detected).
 */
export interface PlanContext {
  /** A [M, K] row-major f32 ([batch, M, K] when batched, [M, K] when shared). */
  a?: Float32Array;
  /** B [K, N] row-major f32 ([batch, K, N] when batched, [K, N] when shared). */
  b?: Float32Array;
  /**
   * Rows of A that hold real data (e.g. the tokens of the valid part of each padded sample), ascending. For a batched
   * shape the rows of A viewed as [batch·M, K]: row `b·M + m` is row m of batch b.
   */
  validRows?: readonly number[];
  /**
   * The layer's weight pattern from the model's `pit.prune` metadata (core/prune/metadata.ts), when it has one: the
   * permutations a static family folds into its SRead/SWrite indices (HiNM's channel blocks and gather order, the
   * tile-wise column tiles).
   */
  pattern?: LayerPattern;
  /** The layer's name, for messages about its pattern. */
  layer?: string;
}

/** What a static-pattern family reads of a layer to decide whether it applies (`KernelFamily.weightCandidates`). */
export interface WeightFacts {
  /** The layer (node name), for messages. */
  layer: string;
  /** B [K, N] row-major f32: the layer's weight as the matmul operand (Conv: Wᵀ in im2col order). */
  b: Float32Array;
  /** The layer's entry in the model's `pit.prune` metadata, when the model has one for it. */
  pattern?: LayerPattern;
}

/** A static-pattern configuration that applies to a layer. */
export interface WeightCandidate {
  config: FamilyConfig;
  /**
   * Fraction (0–1) of the weight's work the kernel does (multiply-adds per row of A over K·N; each family's module
   * defines it exactly). Attribution credits a speed-up by it, as it does an A micro-tile's effective density.
   */
  effectiveDensity: number;
  /** One line: where the index comes from (the `pit.prune` metadata or the weight's zeros) and what it skips. */
  source: string;
}

/**
 * A layer's weight does not follow the pattern its `pit.prune` metadata declares (a hand-edited file, a weight changed
 * after pruning, a shape the pattern cannot take): the message names the layer and what does not fit.
 */
export class WeightPatternError extends RangeError {
  override name = 'WeightPatternError';
  constructor(
    readonly layer: string,
    message: string,
  ) {
    super(`layer ${layer}: ${message}`);
  }
}

/** What a configuration runs at one shape: the programs in dispatch order, by phase, and the buffers they bind. */
export interface FamilyPlan {
  /** The layout of A the programs bind (`a` or `at`). */
  aLayout: ALayout;
  /** The layout of B the programs bind (default `b`; `bt` = Bᵀ, e.g. pit-n gathering columns of B as rows of Bᵀ). */
  bLayout?: BLayout;
  /**
   * Element type of the operand buffers `a`/`at` and `b` (default `f32`): `f16` plans get them uploaded as f16 (the
   * values rounded to nearest even) and a layout transpose in f16. C is f32 either way.
   */
  dtype?: ComputeDtype;
  /** Output and scratch buffers (the operand buffers `a`/`at` and `b` are implicit). */
  buffers: PlanBuffer[];
  /** Index construction (timed as detection): zero-fill of the counts, detection. Empty for dense. */
  detect: KernelProgram[];
  /** The computation (timed as the kernel): zero-fill of C where needed, index merges, the matmul; the last is the main kernel. */
  compute: KernelProgram[];
  /**
   * Contents of buffers the family computes on the CPU at plan time (a static index from the weight, an index from
   * known valid rows): uploaded before the first run, not poisoned and not timed (their cost is reported apart).
   * Each must also be listed in `buffers`.
   */
  uploads?: Record<string, Uint32Array | Float32Array>;
  /**
   * Where detection leaves its per-block counts: density = Σ count / microTiles of the micro-tile `microTile` it
   * indexes on `operand` (default `a`; null for dense). The profile job checks it against the CPU coverage of that
   * micro-tile. Batched: the counts of every batch (or of the one shared operand), microTiles over all of them.
   */
  counts: { buffer: string; length: number; microTiles: number; microTile: string; operand?: SparseOperand } | null;
  /**
   * CPU time, ms, the plan spent building `uploads` from the operands (a static pattern's index and packed weight:
   * once per model, not per call, so it is reported apart from the kernel time). Absent when there are none.
   */
  indexMs?: number;
  /**
   * The rows of C the plan computes, ascending, when it computes only known rows (a sequence-length index: the
   * padded rows are left zero, not computed); absent when it computes every row. Verification compares these rows.
   */
  outputRows?: readonly number[];
}

/** The CPU reference of a family's detection index (for exported fixtures); entries are unordered within a block. */
export interface ReferenceIndex {
  count: Uint32Array;
  index: Uint32Array;
}

/** Cost-model description of a family's kernel: feature names (first `1`, then `G` workgroups, then work features). */
export interface CostFeatures {
  /** Feature names in order, e.g. `['1', 'G', 'U']`. */
  names: readonly string[];
  /** How many features after `G` are per-wave work (scaled by the parallel width; see pit/costmodel.ts `perWave`). */
  work: number;
}

/** A kernel family. See the module comment. */
export interface KernelFamily {
  /** Unique name, e.g. `pit-k`; the `family` of its configurations and of its main kernel program. */
  readonly name: string;
  /** The permutation-invariant axis it exploits. */
  readonly axis: RuleAxis;
  /**
   * The operand whose micro-tiles it detects and skips (default `a`). Its `microTile` labels are in that operand's own
   * row-major terms: `HxW` of A [M, K], or of B [K, N] (pit-n's `Wx1`: W rows of k in one column n).
   */
  readonly operand?: SparseOperand;
  /** One line for `--help`, the UI and the manifest, e.g. `PIT condense-K: SRead of non-zero Hx1 micro-tiles along k`. */
  readonly summary: string;
  /** Program roles besides its own name that its plans dispatch (`detect-k`, `fill`, …): the manifest's kernel roles. */
  readonly helperRoles: readonly string[];
  /**
   * Whether `pit profile` measures it by default (in runs of its `dtype`; a static-pattern family: on the layers whose
   * weight it fits).
   */
  readonly defaultOn: boolean;
  /** Operand element type of its kernels (default `f32`): a run of dtype d measures only families of dtype d. */
  readonly dtype?: ComputeDtype;
  /** For a family of another dtype: the f32 family it is the counterpart of (`dense-f16` → `dense`). */
  readonly counterpartOf?: string;
  /** WebGPU features its kernels need (e.g. `shader-f16`); a run asking for it on an adapter without them fails early. */
  readonly requiredFeatures?: readonly string[];
  /** The operand whose zeros it skips (default `a`). `b`: a static weight pattern, see `weightCandidates`. */
  readonly sparseOperand?: SparseOperand;
  /**
   * Layer facts its plan needs (`PlanContext` keys besides the operands), e.g. `['validRows']` for an index built
   * from known sequence lengths. The profile job measures it only on layers that have them; it has no tuning
   * configurations (the tile database measures detected indexes). Absent: it needs none.
   */
  readonly needs?: readonly 'validRows'[];
  /**
   * The fraction (0–1) of the dense work its plan computes on a layer, when that is fixed by the context rather than
   * by the coverage of A's non-zero micro-tiles (valid rows / M for a sequence-length index); attribution uses it
   * as the rule's effective density. Absent: the coverage of `microTile` is.
   */
  contextDensity?(c: FamilyConfig, s: MatmulShape, ctx: PlanContext): number;
  /**
   * The configurations `pit tune` measures and the tile-database policy chooses among; `caps` (when known) lets a
   * family list the configurations this device can run.
   */
  tuningConfigs(caps?: DeviceCaps): FamilyConfig[];
  /**
   * The configurations measured on a layer of shape `s` without a tile database (policy `measure`). For dense these
   * are the candidate computation tiles the baseline is the fastest of. `caps` as in `tuningConfigs`.
   */
  layerConfigs(s: MatmulShape, caps?: DeviceCaps): FamilyConfig[];
  /**
   * Why `c` is not a legal, distinct rule for a layer of shape `s` (rule enumeration and tuning skip it), or null.
   * A configuration can be runnable yet not distinct (pit-m `1xW` with W ≥ K is the whole-row rule `1xK`).
   */
  illegalReason(c: FamilyConfig, s: MatmulShape): string | null;
  /**
   * The micro-tile of its operand (A in [M, K] terms unless `operand` is `b`) at reduction length `k`, whose
   * non-zero tiles the kernel computes (its coverage shape; `1xK` resolved to `1x${K}`); null for dense. Attribution
   * uses its effective density.
   */
  microTile(c: FamilyConfig, k: number): string | null;
  /** Non-zero micro-tiles per block as the kernel iterates them, from the coverage of `microTile(c, k)`. */
  blockCounts(cov: { rowCounts: Uint32Array; colCounts: Uint32Array }): ArrayLike<number>;
  /**
   * Programs and buffers of `c` at shape `s`, as `runVariant` dispatches and the export writes them. `ctx` carries
   * the operands and layer facts for families whose index is not detected online (static patterns, known lengths).
   * @throws RangeError when the configuration is inconsistent or illegal for the shape, or needs context not given.
   */
  plan(s: MatmulShape, c: FamilyConfig, ctx?: PlanContext): FamilyPlan;
  /** Cost-model features of the main kernel. */
  readonly costFeatures: CostFeatures;
  /**
   * Feature vector of the main kernel at shape `s` with per-block counts `counts` (from `blockCounts`) and `g`
   * workgroups launched.
   */
  kernelFeatures(c: FamilyConfig, s: MatmulShape, counts: ArrayLike<number>, g: number): number[];
  /** Key of the detection cost model (configurations sharing it share one fit); null without detection. */
  detectKey(c: FamilyConfig): string | null;
  /** The variant name a configuration is measured and stored under (unique among a layer's rules). */
  variantName(c: FamilyConfig): string;
  /** One line: operator, axis, micro-tile, computation tile, SRead/SWrite plan. */
  describe(op: string, c: FamilyConfig, k: number): string;
  /**
   * The configuration a stored variant ran (micro-tile as measured, computation tile by name).
   * @throws RangeError when the tile name cannot be parsed.
   */
  configOf(v: { microTile: string | null; computeTile: string }, k: number): FamilyConfig;
  /** CPU reference of the index detection builds for `a` [M, K] (null for dense and static-pattern families). */
  referenceIndex(c: FamilyConfig, a: Float32Array, s: MatmulShape): ReferenceIndex | null;
  /**
   * Static-pattern families only: the configurations that apply to a layer of shape `s` given its weight and its
   * `pit.prune` entry, each with its effective density ([] when the weight does not have the family's pattern). A
   * family whose pattern the metadata declares for the layer must apply; the weight's zeros are read otherwise. M
   * only chooses the computation tile.
   * @throws WeightPatternError naming the layer when the metadata declares this family's pattern and the weight or
   *   its shape does not follow it.
   */
  weightCandidates?(s: MatmulShape, w: WeightFacts): WeightCandidate[];
}
