/**
 * The one RPC contract between the PIT host (plain Node: core + db) and its clients (CLI, Electron main, the
 * renderer over preload or WebSocket). Types only: no runtime code, so `renderer/` may import it.
 *
 * Units: times in milliseconds (ms), sizes in elements unless named `bytes`, sparsity/density as fractions 0–1.
 */

/** The adapter a run was measured on, as WebGPU reports it (`GPUAdapterInfo`). */
export interface AdapterDescriptor {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Backend of the WebGPU implementation, e.g. `vulkan`; empty when unknown. */
  backend: string;
  /** Whether `timestamp-query` was available (otherwise CPU-clock timing was used). */
  timestampQuery: boolean;
}

/** The name of a way to compute a layer (DESIGN.md §2). */
export type VariantName = 'dense' | 'pit-k' | 'pit-m' | (string & {});

/** Density of non-zero micro-tiles of one shape in the exploited operand. */
export interface MicroTileDensity {
  /** Micro-tile shape `HxW` in the operand's [M, K] terms, e.g. `32x1`, `1x64`. */
  shape: string;
  /** Fraction 0–1 of micro-tiles that hold at least one non-zero. */
  density: number;
}

/** One variant's measured outcome on one layer. */
export interface VariantResult {
  name: VariantName;
  /** Micro-tile the variant exploits (`null` for dense). */
  microTile: string | null;
  /** Computation tile `BMxBNxBK`. */
  computeTile: string;
  /** Median kernel time over `repeat` runs, ms (excludes detection). */
  ms: number;
  /** Median time of the online detection this variant needs, ms (0 for dense). */
  detectMs: number;
  /** Max |ours − reference| over the output. */
  maxAbsErr: number;
  /** Max |ours − reference| / max(|reference|) over the output. */
  maxRelErr: number;
  /** Verdict: within tolerance of the reference. */
  ok: boolean;
  /** sha256 of the WGSL that ran (text stored once in the database). */
  wgslHash: string;
  /** Error message when the variant failed to build or run (then `ok` is false and `ms` is NaN). */
  error?: string;
}

/** One profiled layer (a MatMul, Gemm or Conv lowered to C[M,N] = A[M,K]·B[K,N]; A is the exploited operand). */
export interface LayerResult {
  index: number;
  name: string;
  op: string;
  m: number;
  n: number;
  k: number;
  /** Fraction 0–1 of zero elements in A (the operand PIT exploits). */
  sparsity: number;
  microTiles: MicroTileDensity[];
  variants: VariantResult[];
  /** Name of the chosen variant (fastest verified; `dense` is always a candidate). */
  chosen: VariantName;
  /** Input index (0-based) the layer was measured on. */
  input: number;
}

export interface ModelRef {
  path: string;
  sha256: string;
}

export interface InputRef {
  /** File the input came from. */
  path: string;
  /** `image` (decoded + preprocessed) or `npy`. */
  kind: 'image' | 'npy';
  /** Tensor shape fed to the model, e.g. [1, 3, 320, 256]. */
  shape: number[];
  /** Preprocessing applied, human-readable (empty for npy). */
  preprocess: string;
  /** True when the data is synthetic (generated), false for real files. */
  synthetic: boolean;
}

export interface RunSummary {
  id: number;
  /** True only when every layer finished; an interrupted run stays incomplete. */
  complete: boolean;
  createdAt: string;
  model: ModelRef;
  adapter: AdapterDescriptor;
  inputs: InputRef[];
  variants: VariantName[];
  repeat: number;
  /** Why the run is incomplete (error or `cancelled`), when it is. */
  status: string;
}

export interface RunTotals {
  denseMs: number;
  chosenMs: number;
  detectMs: number;
  /** Σ dense × best micro-tile density: the time if only non-zero micro-tiles cost anything. */
  idealMs: number;
}

/** The report of a run: what `pit profile --json` writes and `pit show` prints. */
export interface RunReport {
  run: RunSummary;
  layers: LayerResult[];
  totals: RunTotals;
}

/** Options of a profiling job. */
export interface ProfileRequest {
  /** Path to an ONNX model; omitted with `useDefault`. */
  modelPath?: string;
  /** Use the embedded default (PaddleOCR v4 det on bundled photos). */
  useDefault?: boolean;
  /** Input files: images (.jpg/.png) or .npy tensors. */
  inputs: string[];
  /** Longest side limit for image preprocessing (multiple of 32). */
  imageSize?: number;
  variants?: VariantName[];
  repeat?: number;
  warmup?: number;
  /** Only profile the first N layers (for quick looks). */
  maxLayers?: number;
}

/** Progress events streamed while a job runs. */
export type ProgressEvent =
  | { kind: 'stage'; stage: 'import' | 'reference' | 'gpu' | 'profile' | 'done'; message: string }
  | { kind: 'layer'; runId: number; done: number; total: number; layer: LayerResult; etaMs: number }
  | { kind: 'log'; message: string };
