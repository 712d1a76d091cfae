/**
 * The manifest of an exported kernel set (`pit export`): what a runtime needs to run a model's tuned layers without
 * PIT Studio — every kernel (WGSL file, bindings, workgroup size), and per layer the chosen PIT rule with its
 * dispatch sequence (detection, then compute), the dense fallback and the density threshold between them — plus
 * the fixtures `verify.mjs` checks the kernels with. Validated against `manifest.schema.json` before it is written.
 *
 * Conventions: times in ms, densities as fractions 0–1 of non-zero micro-tiles, shapes in elements; every matmul is
 * `C[M,N] = A[M,K]·B[K,N]` after lowering (Conv through im2col), A the dynamically sparse activation.
 */
import type { AdapterDescriptor } from '../protocol.ts';

/** Identifies the file format; `formatVersion` changes when a reader would misread an older manifest. */
export const KERNEL_SET_FORMAT = 'pit-studio.kernel-set';
export const KERNEL_SET_VERSION = 1;

/**
 * Role of a kernel in a layer's dispatch sequence: a kernel family's name for its main kernel (`dense`, `pit-k`, …)
 * or a helper role (`detect-k`, `fill`, `transpose`, …); the registry lists them (core/kernels/registry.ts
 * `programRoles`) and the schema's enum is filled from it.
 */
export type KernelRole = string;

/** One WGSL kernel of the set (a file under `kernels/`). */
export interface ManifestKernel {
  /** File stem, e.g. `pit-k-3f2a9c1d`: role and the first 8 hex digits of the sha256. */
  id: string;
  /** Path relative to the manifest, e.g. `kernels/pit-k-3f2a9c1d.wgsl`. */
  file: string;
  /** sha256 (hex) of the file's UTF-8 text, as measured. */
  sha256: string;
  /** Human-readable, e.g. `pit-k 8x1 tile 8x64x8/2x4`. */
  label: string;
  role: KernelRole;
  entryPoint: 'main';
  /** Workgroup size (x, y, z) declared by `@workgroup_size`. */
  workgroupSize: [number, number, number];
  /** Bindings of group 0 in binding-index order. */
  bindings: { binding: number; kind: 'storage' | 'read-only-storage' | 'uniform' }[];
}

/** A buffer a layer's dispatch sequence binds. */
export interface ManifestBuffer {
  /** Name the steps refer to: `a` (A [M,K]), `at` (Aᵀ [K,M]), `b`, `c`, `count`, `index`, … */
  name: string;
  /** Element type (`f16` only for f16 runs, which the export refuses for now: see kernel-set.ts). */
  dtype: 'f32' | 'u32' | 'f16';
  /** Row-major shape in elements. */
  shape: number[];
  /** `input`: the activation A (or Aᵀ); `weight`: B; `output`: C; `scratch`: detection's count and index. */
  role: 'input' | 'weight' | 'output' | 'scratch';
}

/** One dispatch. */
export interface ManifestStep {
  /** Kernel id. */
  kernel: string;
  /**
   * `layout` steps prepare the layout of A the kernels read when the producer does not write it (a transpose);
   * `detect` steps build the micro-tile index (zero counts, detection); `compute` steps compute C.
   */
  phase: 'layout' | 'detect' | 'compute';
  /** Buffer name bound at each binding index of the kernel (`params` is the step's own uniform). */
  buffers: string[];
  /** u32 words of the `params` uniform, or null when the kernel has none. */
  params: number[] | null;
  /** Workgroups to dispatch for this shape. */
  workgroups: [number, number, number];
  /** How the grid follows from the shape (human-readable). */
  dispatchFormula: string;
}

/** How one layer is computed with one rule: its buffers and dispatch sequence at a given shape. */
export interface ManifestPlan {
  /** Variant name in the run, e.g. `pit-k 8x1`, `dense 32x128x8/4x4`. */
  variant: string;
  rule: {
    /** A registered kernel family (the schema's enum is filled from the registry). */
    family: string;
    /** Permutation-invariant axis the rule exploits (`none` for dense). */
    axis: 'none' | 'k' | 'm' | 'n';
    /** Micro-tile `HxW` of A in [M, K] terms; null for dense. */
    microTile: string | null;
    computeTile: { bm: number; bn: number; bk: number; tm: number; tn: number; name: string };
    description: string;
  };
  /** Kernel id of the detection, or null (dense). */
  detection: string | null;
  /** Kernel id of the main (matmul) kernel. */
  kernel: string;
  buffers: ManifestBuffer[];
  steps: ManifestStep[];
}

/** A layer of the model and how to run it. */
export interface ManifestLayer {
  name: string;
  /** Position among the model's sparse-capable operators. */
  index: number;
  /** ONNX operator: MatMul, Gemm or Conv (lowered through im2col). */
  op: string;
  shape: { m: number; n: number; k: number };
  /** Inputs of the run (0-based) this layer was profiled on with this shape. */
  inputs: number[];
  /** The chosen rule at this shape. */
  plan: ManifestPlan;
  /** The dense rule to use instead when the measured density is at or above the threshold (sparse plans only). */
  dense: ManifestPlan | null;
  /**
   * Effective density of `plan`'s micro-tile below which the sparse plan (with detection) beats `dense`: from the
   * tile database's cost model when one was available, else extrapolated from the run's measurements (kernel time
   * proportional to density, detection constant). Null for a dense plan.
   */
  densityThreshold: { value: number; microTile: string; source: 'tiledb' | 'measurements'; comparedWith: string } | null;
  /** Measured on this run (verified): the plan's kernel and detection ms, and the dense baseline's ms. */
  measured: { ms: number; detectMs: number; denseMs: number | null; density: number | null };
  /** Variant chosen on each input (the plan is the one chosen most often). */
  choices: { input: number; variant: string }[];
  /** Fixture id verifying this layer's kernels. */
  fixture: string;
}

/** Small recorded inputs and reference outputs that exercise one plan's kernels (`verify.mjs`). */
export interface ManifestFixture {
  id: string;
  /** The layer the plan comes from. */
  layer: string;
  /** Every kernel the fixture verifies. */
  kernels: string[];
  /** The fixture's (small) shape; kernels are shape-generic, the WGSL is identical to the layer's. */
  shape: { m: number; n: number; k: number };
  /** A's data: synthetic, with the plan's micro-tile zeroed at the layer's measured density (labelled synthetic). */
  synthetic: true;
  /** Absolute tolerance on C: 16·2⁻²⁴·√K·Σ|a||b| bound (core/kernels/reference.ts `compareOutputs`). */
  tolerance: number;
  /** `.npy` files by buffer name (inputs: `a` or `at`, `b`). */
  inputs: Record<string, string>;
  /** `.npy` files of the float64 CPU reference: `c`, and for sparse plans the expected `count` and `index`. */
  expected: Record<string, string>;
  /** The plan at the fixture's shape. */
  plan: ManifestPlan;
}

/** The whole manifest (`manifest.json`). */
export interface KernelSetManifest {
  format: typeof KERNEL_SET_FORMAT;
  formatVersion: typeof KERNEL_SET_VERSION;
  generator: string;
  createdAt: string;
  model: { path: string; sha256: string };
  adapter: AdapterDescriptor;
  run: { id: number; createdAt: string; policy: 'measure' | 'tiledb'; inputs: number };
  /** The tile database the thresholds came from, if any. */
  tileDb: { id: number; kernelHash: string } | null;
  kernels: ManifestKernel[];
  layers: ManifestLayer[];
  /** Layers the run could not profile (e.g. grouped convolutions), with why. */
  skipped: { name: string; reason: string }[];
  fixtures: ManifestFixture[];
}
