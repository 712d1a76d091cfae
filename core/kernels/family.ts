/**
 * A kernel family as data (DESIGN.md §4; after ONNX Runtime Web's `ProgramInfo` + op registry): one module per family
 * (dense.ts, pit-k.ts, pit-m.ts, …) implements `KernelFamily` and owns everything about it — its WGSL programs
 * (detection included), which configurations are legal for a layer, the micro-tile it reads, the per-block counts of
 * its coverage, its cost-model features, its buffers and bindings, its dispatch grid, the name and description of its
 * rules, and the CPU reference of its index for exported fixtures. The runner, rule enumeration, tuner, cost model,
 * export, protocol, database and UI loop over the registry (registry.ts); no other module names a family.
 *
 * Every family computes the lowered matmul `C[M,N] = A[M,K] · B[K,N]` (row-major; fp32, or f16 operands with f32
 * accumulation for the f16 families, `dtype`), A the dynamically sparse activation; a PIT family skips A's zero
 * micro-tiles along its permutation-invariant axis.
 */
import type { ComputeTile } from '../../shaders/common.wgsl.ts';
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
  /** Micro-tile label in [M, K] terms as the family writes it (`8x1`, `1x32`, `1xK` for whole rows); null for dense. */
  microTile: string | null;
  tile: ComputeTile;
}

/** Layouts of the activation A a family's kernels read: `a` = A [M, K] row-major, `at` = Aᵀ [K, M] row-major. */
export type ALayout = 'a' | 'at';

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
  /** A [M, K] row-major f32. */
  a?: Float32Array;
  /** B [K, N] row-major f32. */
  b?: Float32Array;
  /** Rows of A that hold real data (e.g. the tokens of the valid part of each padded sample), ascending. */
  validRows?: readonly number[];
}

/** What a configuration runs at one shape: the programs in dispatch order, by phase, and the buffers they bind. */
export interface FamilyPlan {
  /** The layout of A the programs bind (`a` or `at`). */
  aLayout: ALayout;
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
   * indexes (null for dense). The profile job checks it against the CPU coverage of that micro-tile.
   */
  counts: { buffer: string; length: number; microTiles: number; microTile: string } | null;
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
  /** One line for `--help`, the UI and the manifest, e.g. `PIT condense-K: SRead of non-zero Hx1 micro-tiles along k`. */
  readonly summary: string;
  /** Program roles besides its own name that its plans dispatch (`detect-k`, `fill`, …): the manifest's kernel roles. */
  readonly helperRoles: readonly string[];
  /** Whether `pit profile` measures it by default (in runs of its `dtype`). */
  readonly defaultOn: boolean;
  /** Operand element type of its kernels (default `f32`): a run of dtype d measures only families of dtype d. */
  readonly dtype?: ComputeDtype;
  /** For a family of another dtype: the f32 family it is the counterpart of (`dense-f16` → `dense`). */
  readonly counterpartOf?: string;
  /** WebGPU features its kernels need (e.g. `shader-f16`); a run asking for it on an adapter without them fails early. */
  readonly requiredFeatures?: readonly string[];
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
   * The micro-tile of A, in [M, K] terms at reduction length `k`, whose non-zero tiles the kernel computes (its
   * coverage shape; `1xK` resolved to `1x${K}`); null for dense. Attribution uses its effective density.
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
  /** CPU reference of the index detection builds for `a` [M, K] (null for dense). */
  referenceIndex(c: FamilyConfig, a: Float32Array, s: MatmulShape): ReferenceIndex | null;
}
