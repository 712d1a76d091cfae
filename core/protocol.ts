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
  /**
   * Whether the device was created with `shader-f16` (f16 storage and arithmetic in WGSL: the f16 kernel families).
   * Absent in runs recorded before it was reported. On NVIDIA's Vulkan driver Dawn exposes it only with the toggle
   * `vulkan_enable_f16_on_nvidia` (see `dawnToggles`).
   */
  shaderF16?: boolean;
  /** Whether the device was created with `subgroups`. Absent in runs recorded before it was reported. */
  subgroups?: boolean;
  /** Smallest and largest subgroup size the adapter reports (`GPUAdapterInfo.subgroupMinSize` / `MaxSize`), when known. */
  subgroupSizes?: [number, number];
  /**
   * The subgroup-matrix (tensor-core) configurations of the adapter (`GPUAdapterInfo.subgroupMatrixConfigs`, feature
   * `chromium-experimental-subgroup-matrix`); empty without the feature, absent in runs recorded before it was reported.
   */
  subgroupMatrixConfigs?: SubgroupMatrixConfigInfo[];
  /** Dawn toggles the process asked for (`enable-dawn-features=…`, `disable-dawn-features=…`), as given to `create()`. */
  dawnToggles?: string[];
}

/**
 * One subgroup-matrix configuration: `C[M,N] (+)= A[M,K] · B[K,N]` on a subgroup, A and B of `componentType`,
 * C of `resultComponentType` (`f16`, `f32`, `i8`, `u8`, `i32`, `u32`).
 */
export interface SubgroupMatrixConfigInfo {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

/** Element type of the matmul operands a run computes with: `f32`, or `f16` operands with f32 accumulation. */
export type ComputeDtype = 'f32' | 'f16';

/**
 * The name of a way to compute a layer (DESIGN.md §2): a kernel family's configuration, e.g. `dense`,
 * `dense 32x128x8/4x4`, `pit-k`, `pit-k 8x1`, `pit-m 1x32`. Unique per layer.
 */
export type VariantName = string;

/** A registered kernel family (core/kernels/registry.ts), as the host lists it for clients. */
export interface FamilyInfo {
  /** e.g. `dense`, `pit-k`. */
  name: string;
  /** The permutation-invariant axis it exploits (`none` for dense). */
  axis: 'none' | 'k' | 'm' | 'n';
  /** One line. */
  summary: string;
  /** Measured by default by `pit profile`. */
  defaultOn: boolean;
  /**
   * The baseline family (dense): always measured, its default tile is every layer's default dense variant. A layer's
   * baseline is the fastest verified variant of any family with axis `none` (dense tiles; `direct` on grouped layers).
   */
  baseline: boolean;
  /** The operand whose micro-tiles the family detects and skips: `a` (A, the activation) or `b` (B, e.g. attention Kᵀ). */
  operand?: 'a' | 'b';
  /** Operand dtype of its kernels when not f32 (`f16`: measured by `--dtype f16` runs, as the counterpart of an f32 family). */
  dtype?: ComputeDtype;
}

/** Density of non-zero micro-tiles of one shape in the exploited operand. */
export interface MicroTileDensity {
  /** Micro-tile shape `HxW` in the operand's [M, K] terms, e.g. `32x1`, `1x64`. */
  shape: string;
  /** Fraction 0–1 of micro-tiles that hold at least one non-zero. */
  density: number;
  /**
   * Effective density, work-weighted: elements under non-zero micro-tiles / all elements of A, 0–1 (a partial edge
   * micro-tile counts by its area). What a kernel using this micro-tile computes, as a fraction of dense; the density
   * a PIT speed-up is attributed to. Absent in runs recorded before it existed.
   */
  effectiveDensity?: number;
}

/**
 * How a time was measured: the statistic and its spread over the samples (each sample times layout + detection +
 * kernel together, in one submission). Times in ms.
 */
export interface TimingStats {
  /** The statistic reported as the time: always the median of the samples. */
  statistic: 'median';
  /** Fastest, slowest, first and third quartile of the per-sample totals, ms. */
  minMs: number;
  maxMs: number;
  q1Ms: number;
  q3Ms: number;
  /** q3 − q1, ms. */
  iqrMs: number;
  /** Valid samples taken. */
  repeats: number;
  /** `timestamp`: GPU timestamp queries around each phase; `cpu`: CPU clock around each submission. */
  method: 'timestamp' | 'cpu';
}

/** One variant's measured outcome on one layer. */
export interface VariantResult extends Partial<TimingStats> {
  name: VariantName;
  /** Its kernel family (absent in runs recorded before families were data: the first word of `name`). */
  family?: string;
  /**
   * Micro-tile whose non-zero tiles the kernel computes, in its operand's own terms: A's [M, K] (`null` for dense), or
   * B's [K, N] when `operand` is `b`.
   */
  microTile: string | null;
  /** `b` when the variant detects and skips micro-tiles of B (pit-n); absent for A (every other family). */
  operand?: 'b';
  /** Computation tile `BMxBNxBK/TMxTN`. */
  computeTile: string;
  /**
   * Kernel time, ms (excludes detection and layout): the kernel phase of the median sample, so that
   * `ms + detectMs + layoutMs` is the median total `totalMs`.
   */
  ms: number;
  /** Detection phase of the median sample, ms (0 for dense). */
  detectMs: number;
  /** Layout-preparation phase of the median sample (e.g. pit-k's transpose of a MatMul activation), ms; 0 when none. */
  layoutMs?: number;
  /**
   * Static-pattern families (tile-wise, nm, hinm, bcsr-w): CPU time, ms, of building the weight's index and packed
   * values at plan time — once per model, not per call, so it is neither in `ms` nor in `totalMs`. Absent otherwise.
   */
  indexMs?: number;
  /** Median of the per-sample totals (layout + detection + kernel), ms: the variant's time. */
  totalMs?: number;
  /** Every sample's total, ms, in the order taken (the spread behind the statistics). */
  samplesMs?: number[];
  /**
   * Effective density (0–1) of the work the variant does: of `microTile` on this layer's A, or for a static-pattern
   * family (`microTile` null) the fraction of the weight's work its kernel does; null for dense.
   */
  effectiveDensity?: number | null;
  /**
   * Set when the measured speed-up over the dense baseline is more than what skipping zero micro-tiles can explain
   * (above 1.25 / effective density, or below "ideal") even after re-measuring: the figure is not trusted, and the
   * variant is never chosen. One line saying why.
   */
  suspect?: string;
  /** Max |ours − reference| over the output. */
  maxAbsErr: number;
  /** Max |ours − reference| / max(|reference|) over the output. */
  maxRelErr: number;
  /** Verdict: within tolerance of the reference. */
  ok: boolean;
  /** sha256 of the variant's main kernel WGSL (text stored once in the database). */
  wgslHash: string;
  /** sha256 of every kernel the variant ran, in order (detection first, main kernel last). */
  kernelHashes?: string[];
  /** Error message when the variant failed to build or run (then `ok` is false and `ms` is NaN). */
  error?: string;
}

/**
 * One profiled layer (a MatMul, Gemm, Conv or ConvTranspose lowered to C[M,N] = A[M,K]·B[K,N]; A is the exploited
 * operand, and B too when it is a run-time value). A batched layer (`batch` > 1: attention QKᵀ / AV per batch·head,
 * grouped / depthwise conv per group) is `batch` such matmuls of the same M, N, K; its times are for all of them.
 */
export interface LayerResult {
  index: number;
  name: string;
  op: string;
  /** Per batch: rows of A and C. */
  m: number;
  /** Per batch: columns of B and C. */
  n: number;
  /** Per batch: the reduction length. */
  k: number;
  /** Independent matmuls (absent: 1). */
  batch?: number;
  /** The batch as the layer's own axes, e.g. [1, 8] (batch, heads) for attention, [G] for a grouped conv. */
  batchDims?: number[];
  /** What the batch is: MatMul leading dims broadcast numpy-style, or conv groups. */
  batchKind?: 'broadcast' | 'groups';
  /** Operands the same for every batch (batch stride 0: broadcast along every batch axis). */
  shared?: { a?: boolean; b?: boolean };
  /** How the layer was lowered: `matmul`, `gemm`, `im2col`, `conv1x1` or `conv-transpose` (zero-inserted im2col). */
  lowering?: 'matmul' | 'gemm' | 'im2col' | 'conv1x1' | 'conv-transpose';
  /** B when it is a run-time value (an activation, e.g. attention's Kᵀ or V): its sparsity and micro-tiles in [K, N] terms. */
  operandB?: OperandSparsity;
  /** Batched layers: sparsity and micro-tile densities per batch (per head, per group). */
  perBatch?: PerBatchSparsity;
  /**
   * Near-zero as zero (`--zero-threshold` / `--zero-keep`): how the activations were thresholded, and the error of the
   * thresholded layer against the true reference. Every variant was then verified against the thresholded computation.
   */
  approximation?: Approximation;
  /** Fraction 0–1 of zero elements in A (the operand PIT exploits). */
  sparsity: number;
  microTiles: MicroTileDensity[];
  variants: VariantResult[];
  /**
   * Name of the chosen variant: a PIT variant only when it beats the dense baseline beyond the measured noise and its
   * speed-up is explained by its effective density; otherwise the baseline (the fastest verified dense tile).
   */
  chosen: VariantName;
  /** The dense baseline: the fastest verified dense computation tile for this shape, measured in the same rounds. */
  baseline?: VariantName;
  /** The default dense tile (`denseTileFor`): `denseTileGain` compares it with the baseline. */
  defaultDense?: VariantName;
  /** Default dense tile's time / baseline's time (≥ 1): the gain of choosing a better dense tile, never PIT's. */
  denseTileGain?: number;
  /** Baseline time / chosen time: PIT's gain (1 when a dense tile is chosen). */
  pitGain?: number;
  /** Effective density (0–1) of the chosen variant's micro-tile (1 for dense). */
  effectiveDensity?: number;
  /** The lowest effective density among the micro-tiles of the rules measured on this layer (1 when none). */
  idealDensity?: number;
  /** Baseline time × `idealDensity`, ms: the time if only non-zero micro-tiles cost anything. */
  idealMs?: number;
  /**
   * Why the timer could not decide (the best PIT variant and the baseline overlap within their spread even after
   * re-measuring): the baseline is then chosen and this says so. Absent when decided.
   */
  undecided?: string;
  /**
   * Present when a PIT variant whose effective density is ≥ 0.95 was chosen: it beat the baseline beyond the noise
   * band (its third quartile below the baseline's first), a gain its density does not explain (tile fit, not skipped
   * work).
   */
  noiseBand?: { chosenQ3Ms: number; baselineQ1Ms: number };
  /** One line: how the choice was made (measurements, spread, attribution). */
  decision?: string;
  /** Input index (0-based) the layer was measured on. */
  input: number;
  /**
   * Time to copy the chosen variant's output C [M, N] back to the host and map it (its verification run), ms, CPU clock:
   * the readback in the timeline. Absent for skipped layers and runs recorded before it existed.
   */
  readbackMs?: number;
  /**
   * Why the layer was not profiled (e.g. an unsupported operator, or shapes that disagree with the operator's spec);
   * then `variants` is empty and `chosen` is `dense`.
   */
  skipped?: string;
  /**
   * Set when the layer was profiled but no dense variant verified, so it has no verified figures: one line, what
   * failed and the first real error (e.g. `no variant verified: dense: …`). Such a layer counts for nothing in the
   * run's totals (`RunTotals.failedLayers`), its max error is not reported, and a run says how many it has.
   */
  failed?: string;
  /**
   * Set when the layer was too large to measure whole (a buffer over the device's binding limit, or over the memory
   * budget) and was measured in slices — of `rows` rows along M (a 2-D layer) or of `batches` batches (a batched
   * layer; the last slice may hold fewer): every slice lowered, verified and timed on its own (its variants in
   * interleaved rounds), a variant's sample k the sum of every slice's sample k, verified only if verified on every
   * slice. Decided in one pass (no re-measuring). `reason`: why the whole layer did not fit.
   */
  tiled?: { slices: number; rows?: number; batches?: number; reason: string };
  /** Occupancy of A downsampled to at most 128x128 cells (fraction 0–1 of non-zero elements per cell). */
  heatmap?: Heatmap;
  /** Policy `tiledb` only: the variant the tile database predicted fastest, and its predicted ms (kernel + detection). */
  predicted?: { variant: VariantName; ms: number };
  /** Policy `tiledb` only: every legal rule the policy considered, with its predicted cost (the reasons of the choice). */
  candidates?: PolicyCandidate[];
  /**
   * Policy `tiledb` with audit only: chosen measured ms / best measured ms − 1 (kernel + detection, verified variants;
   * 0 when the policy picked the fastest). Absent when not every candidate was measured.
   */
  regret?: number;
  /** Policy `tiledb` only: one line saying why the chosen variant was chosen (or why the prediction was overridden). */
  reason?: string;
}

/** Sparsity of an operand other than A (B, when it is an activation). */
export interface OperandSparsity {
  /** Fraction 0–1 of zero elements. */
  sparsity: number;
  /** Micro-tile densities in the operand's own row-major terms (B [K, N]: `Wx1` is W k's of one column). */
  microTiles: MicroTileDensity[];
}

/** Per-batch statistics of a batched layer; every array has one entry per batch, row-major over `batchDims`. */
export interface PerBatchSparsity {
  /** Fraction 0–1 of zeros of each batch's A. */
  sparsity: number[];
  /** The same for B, when B is an activation. */
  bSparsity?: number[];
  /** Density and effective density per batch of each micro-tile a measured rule uses, on its operand. */
  microTiles: { operand: 'a' | 'b'; shape: string; density: number[]; effectiveDensity: number[] }[];
}

/** Near-zero values treated as zero on a layer (LayerResult.approximation). */
export interface Approximation {
  /** The run's option: |x| ≤ threshold is zero … */
  threshold?: number;
  /** … or the fraction of each operand's largest magnitudes kept. */
  keep?: number;
  /** Per thresholded operand (the activations: A, and B when it is one): the magnitude cut and the sparsity it gave. */
  operands: { operand: 'a' | 'b'; cut: number; sparsityBefore: number; sparsityAfter: number }[];
  /** max |thresholded − true| of the layer's output (CPU float64 reference of the thresholded operands, epilogue included, against the reference runtime's output). */
  maxAbsErr: number;
  /** maxAbsErr / max |true|. */
  maxRelErr: number;
  /** ‖thresholded − true‖₂ / ‖true‖₂ over the whole output. */
  relL2Err: number;
}

/** A rule the transformation policy considered for a layer, with its prediction from the tile database. */
export interface PolicyCandidate {
  /** Variant name the rule is measured under (unique per layer), e.g. `dense`, `pit-k 8x1`. */
  variant: VariantName;
  /** The PIT rule: operator, invariant axis, micro-tile, computation tile, SRead/SWrite plan (one line). */
  rule: string;
  /** Predicted kernel + detection ms. */
  ms: number;
  /** Predicted kernel ms. */
  kernelMs: number;
  /** Predicted detection ms (0 for dense). */
  detectMs: number;
  /** Effective density 0–1 of the rule's micro-tile on this layer's A (null for dense). */
  density: number | null;
}

/** How a run chose its variants (`RunSummary.policy`). */
export interface RunPolicy {
  /** `measure`: every variant measured, fastest verified chosen (choice v0); `tiledb`: predicted from the tile database. */
  policy: 'measure' | 'tiledb';
  /** Whether every candidate was measured (so per-layer regret is known). */
  audit: boolean;
  /** Policy `tiledb`: how many of the candidates predicted fastest were measured before choosing (1: prediction alone). */
  shortlist?: number;
  /** The tile database used (policy `tiledb`). */
  tileDb?: { id: number; kernelHash: string; points: number; updatedAt: string };
  /** Why the run measured instead of predicting, when `tiledb` was asked for or expected but not usable. */
  note?: string;
}

/** A downsampled occupancy map of an [M, K] operand: `values[r * cols + c]` covers rows r·cellM… and columns c·cellK…. */
export interface Heatmap {
  rows: number;
  cols: number;
  cellM: number;
  cellK: number;
  values: number[];
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
  /**
   * Wall time of the reference run on this input (onnxruntime on the CPU, the whole model with every profiled layer's
   * tensors captured), ms: the model's own end-to-end time in the timeline. Absent in runs recorded before it existed.
   */
  referenceMs?: number;
}

export interface RunSummary {
  id: number;
  /** True only when every layer finished; an interrupted run stays incomplete. */
  complete: boolean;
  createdAt: string;
  model: ModelRef;
  adapter: AdapterDescriptor;
  inputs: InputRef[];
  /** Kernel families the run measured (`FamilyInfo.name`; older runs stored variant names such as `dense`, `pit-k`). */
  families: string[];
  /** Timed samples per variant. */
  repeat: number;
  /**
   * The job's settings as given (image size, warm-up, max layers, policy, statistic…): what makes two runs comparable.
   * Keys depend on the version that wrote the run.
   */
  options: Record<string, unknown>;
  /** Why the run is incomplete (error or `cancelled`), when it is. */
  status: string;
  /** How variants were chosen; absent for runs recorded before policies existed (they measured everything). */
  policy?: RunPolicy;
  /**
   * Element type of the operands the kernels computed with (`--dtype`): `f16` runs upload A and B rounded to f16 and
   * accumulate in f32 (the f16 kernel families); absent in runs recorded before it existed (they were `f32`).
   */
  dtype?: ComputeDtype;
}

/**
 * Sums over a run's profiled layers, ms. `defaultDenseMs → denseMs` is the gain of choosing dense tiles per shape
 * ("dense tile choice"); `denseMs → chosenMs` is PIT's gain.
 */
export interface RunTotals {
  /** Σ baseline (fastest verified dense tile per layer). */
  denseMs: number;
  /** Σ default dense tile (equal to `denseMs` for runs recorded before baselines). */
  defaultDenseMs: number;
  /** Σ chosen variant (layout + detection + kernel). */
  chosenMs: number;
  /** Σ detection time inside `chosenMs`. */
  detectMs: number;
  /** Σ layout preparation inside `chosenMs`. */
  layoutMs: number;
  /** Σ baseline × ideal density: the time if only non-zero micro-tiles cost anything. */
  idealMs: number;
  /** Layer-runs the sums cover: profiled, with a verified dense baseline. */
  layers?: number;
  /**
   * Layer-runs profiled but left out of the sums because no dense variant verified (`LayerResult.failed` says
   * why). Skipped layers count in neither.
   */
  failedLayers?: number;
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
  /**
   * Image preprocessing preset (core/inputs/presets.ts `IMAGE_PRESETS`): `paddle-det`, `paddle-rec`, `paddle-cls`,
   * `imagenet` or `rgb01`; default by model format (`rgb01` for TF.js models, else `paddle-det`).
   */
  imagePreset?: string;
  /** Kernel families to measure (`FamilyInfo.name`); the baseline family always runs. Default: those `defaultOn`. */
  families?: string[];
  /** Timed samples per variant (taken in interleaved rounds); default `ProfileDefaults.repeat`. */
  repeat?: number;
  warmup?: number;
  /** GPU warm-up before each layer, ms of back-to-back work (clocks up); default `ProfileDefaults.warmupMs`. */
  warmupMs?: number;
  /** Only profile the first N layers (for quick looks). */
  maxLayers?: number;
  /** How to choose variants: `tiledb` (default when a tile database matches the adapter and kernels) or `measure`. */
  policy?: 'measure' | 'tiledb';
  /** With `tiledb`: also measure every candidate, so the policy's regret is known per layer. */
  audit?: boolean;
  /** Near-zero as zero: |x| ≤ this (≥ 0) is zero in every layer's activations (see `LayerResult.approximation`). */
  zeroThreshold?: number;
  /** Near-zero as zero: keep this fraction (0–1] of each activation operand's largest magnitudes, per layer. */
  zeroKeep?: number;
  /**
   * Operand element type (`pit profile --dtype`): `f16` runs the f16 families (A and B rounded to f16, f32
   * accumulation); default: the model's weight type (f16 for a model whose weights are float16, else f32).
   */
  dtype?: ComputeDtype;
  /**
   * Most bytes one layer may hold at once, on the host and on the GPU each (core/gpu/limits.ts); a larger layer is
   * measured in row slices or skipped. Default: half the host's free memory.
   */
  memoryBudget?: number;
}

/** Progress events streamed while a job runs. */
export type ProgressEvent =
  | { kind: 'stage'; stage: 'import' | 'reference' | 'gpu' | 'profile' | 'done'; message: string }
  | { kind: 'layer'; runId: number; done: number; total: number; layer: LayerResult; etaMs: number }
  | { kind: 'log'; message: string };

/** A stored run without its layers, for lists. */
export interface RunListItem extends RunSummary {
  layerCount: number;
  totals: RunTotals;
}

/**
 * Host methods: `params` is what a client sends, `result` what it gets back. Progress of `profile.start` arrives as
 * `ProgressEvent`s tagged with the job id.
 */
export interface HostMethods {
  /** `adapter` is null (and `gpuError` says why) when no WebGPU device could be had. */
  'host.info': { params: Record<string, never>; result: { version: string; adapter: AdapterDescriptor | null; dbPath: string; gpuError?: string; families: FamilyInfo[] } };
  'runs.list': { params: Record<string, never>; result: RunListItem[] };
  /**
   * A stored run. `heatmaps: false` leaves the layers' heat maps out (they are most of the bytes; a client that shows
   * one layer at a time fetches them with `runs.heatmap`); default true.
   */
  'runs.get': { params: { id: number; heatmaps?: boolean }; result: RunReport };
  /** The heat map of one layer of a run on one input; null when the layer has none (skipped, or not recorded). */
  'runs.heatmap': { params: { id: number; input: number; layer: number }; result: Heatmap | null };
  'runs.delete': { params: { id: number }; result: { deleted: boolean } };
  'wgsl.get': { params: { hash: string }; result: { hash: string; wgsl: string } };
  'profile.start': { params: ProfileRequest; result: { jobId: string } };
  'profile.cancel': { params: { jobId: string }; result: { cancelled: boolean } };
  /** The bundled default model, inputs and job defaults (for the New-profile form). */
  'models.default': { params: Record<string, never>; result: ProfileDefaults };
  /** The job in flight, if any. */
  'profile.status': { params: Record<string, never>; result: { job: ProfileJobInfo | null } };
  /** Every kernel each variant of one layer ran, by variant name (empty when the layer was not recorded). */
  'runs.kernels': { params: { id: number; input: number; layer: number }; result: Record<string, KernelLabel[]> };
  /**
   * The tile databases in the run database, which one `profile.start` uses by default on this host's adapter (or
   * why none fits), and the tuning plans `tiledb.tune` offers.
   */
  'tiledb.list': { params: Record<string, never>; result: TileDbOverview };
  /** One tile database with its points (for the latency-against-sparsity charts). */
  'tiledb.get': { params: { id: number }; result: TileDbDetail };
  /**
   * Tunes the tile database of this adapter and the current kernels (`pit tune`): resumable (stored points are
   * skipped), progress as `tune.progress` events, the end as `tune.end`. One GPU job at a time (profile or tune).
   */
  'tiledb.tune': { params: TuneRequest; result: { jobId: string } };
  /** Stops the tune after the point group in flight; measured points stay stored. */
  'tiledb.cancel': { params: { jobId: string }; result: { cancelled: boolean } };
  /** The tune in flight, if any. */
  'tiledb.status': { params: Record<string, never>; result: { job: TuneJobInfo | null } };
  /**
   * What changed in a run since a client's cursor (issue 13: a run being written is followed without re-reading it
   * whole): the layers recorded after `since` (0: all), without heat maps (`runs.heatmap`), the summary and totals
   * now, and the cursor to send next time.
   */
  'runs.layers': { params: { id: number; since: number }; result: RunLayersDelta };
  /**
   * The run as a Chrome-trace / Perfetto timeline (core/report/trace.ts): per input the reference model's own time, then
   * per layer detection, layout preparation, each variant's kernel phases (stored medians) and the readback.
   */
  'runs.trace': { params: { id: number }; result: ChromeTrace };
  /**
   * The operator graph of a model (a run's model by `runId`, or a file by `modelPath`), with the profiled layers marked
   * (core/model/graph.ts): what the Graph view lays out.
   */
  'models.graph': { params: { runId?: number; modelPath?: string }; result: ModelGraph };
}

export type HostMethod = keyof HostMethods;

// ---- Types of the desktop app and web mode (issue 4): defaults, jobs, events and the wire format. ----

/** What the New-profile form starts from: the bundled default model, its inputs and the job's default options. */
export interface ProfileDefaults {
  /** The embedded default model (PaddleOCR v4 det), absolute path on the host. */
  modelPath: string;
  /** The bundled photos it runs on, absolute paths on the host. */
  inputs: string[];
  /** Longest image side after resizing (multiple of 32). */
  imageSize: number;
  /** Every kernel family the host knows, in report order (the baseline family always runs). */
  families: FamilyInfo[];
  repeat: number;
  warmup: number;
  warmupMs: number;
}

/** The job the host is running (at most one: there is one GPU), as `profile.status` reports it. */
export interface ProfileJobInfo {
  jobId: string;
  request: ProfileRequest;
  /** ISO time the job started. */
  startedAt: string;
  /** The run being written, once the job created it; null before (import, reference run). */
  runId: number | null;
  /** The latest progress event, so a client that connects mid-job can show where it is. */
  last: ProgressEvent | null;
}

/** A kernel a variant dispatched (detection, gather, main…), in dispatch order; text via `wgsl.get`. */
export interface KernelLabel {
  hash: string;
  /** Human-readable, e.g. `pit-k 32x1 64x64x32`. */
  label: string;
}

/** How a job ended: `complete` (every layer stored), `cancelled`, or `failed` with the error's first line. */
export interface JobEnd {
  jobId: string;
  /** The run the job wrote, or null when it failed before creating one (e.g. a bad model file). */
  runId: number | null;
  status: 'complete' | 'cancelled' | 'failed';
  /** One line, e.g. `ModelError: model file not found: /tmp/x.onnx`; empty unless `failed`. */
  error: string;
}

/** Host state as the client's side of the transport sees it (Electron main's supervisor, or the WebSocket). */
export interface HostStatus {
  state: 'starting' | 'ready' | 'restarting' | 'failed' | 'disconnected';
  /** Human-readable: why the host restarted, what failed. */
  message: string;
  /** Restarts since the app started (supervised hosts only). */
  restarts: number;
}

/** Events pushed to clients: job progress, job end, host state (the last one comes from the transport, not the host). */
export type HostEvent =
  | { type: 'progress'; jobId: string; event: ProgressEvent }
  | { type: 'job.end'; end: JobEnd }
  /** A run was created, grew by a layer, finished or was deleted: lists showing it should refresh. */
  | { type: 'runs.changed'; runId: number; change: 'created' | 'layer' | 'finished' | 'deleted' }
  | { type: 'host.status'; status: HostStatus }
  /** Progress of a `tiledb.tune` job. */
  | { type: 'tune.progress'; jobId: string; event: TuneProgressEvent }
  /** A `tiledb.tune` job ended (its points are stored as they are measured, so a cancelled tune keeps them). */
  | { type: 'tune.end'; end: TuneEnd };

/** Error codes of a rejected request. */
export type RpcErrorCode = 'unknown-method' | 'invalid-params' | 'not-found' | 'busy' | 'failed' | 'host-unavailable';

/** A rejected request as it travels: a code a program can branch on, and one line for a human. */
export interface RpcErrorPayload {
  code: RpcErrorCode;
  message: string;
}

/** Wire messages (IPC between main and host, WebSocket in web mode) are one JSON object each: this one a request. */
export type RpcRequest = { id: number; method: string; params: unknown };
/** The host's answer to the request with the same id: a result, or an error. */
export type RpcResponse = { id: number; result: unknown } | { id: number; error: RpcErrorPayload };
/** An event pushed by the host, not an answer to a request. */
export type RpcEventMessage = { event: HostEvent };
/** What the host sends: responses and events, plus `ready` once (IPC only) when it can take requests. */
export type HostMessage = RpcResponse | RpcEventMessage | { ready: true; pid: number };

/** A request's outcome as the Electron preload returns it (errors cross the context bridge as data, not Errors). */
export type RpcResult = { ok: true; result: unknown } | { ok: false; error: RpcErrorPayload };

/**
 * The one API the Electron preload exposes to the page, as `window.pit` (nothing else of Node or Electron).
 * Web mode has no bridge: the page talks to the host over a WebSocket instead.
 */
export interface PitBridge {
  /** Sends a host method; methods outside the contract are refused by the preload before they leave the page. */
  request(method: HostMethod, params: unknown): Promise<RpcResult>;
  /** Host events and host state changes; returns the unsubscribe function. */
  onEvent(listener: (e: HostEvent) => void): () => void;
  /** The supervised host's state now. */
  hostStatus(): Promise<HostStatus>;
  /** Restarts the host (after it failed, or on demand). */
  restartHost(): Promise<void>;
  /** A native open-file dialog for a model (.onnx) or inputs (.jpg, .png, .npy); [] when cancelled. */
  pickFiles(kind: 'model' | 'input'): Promise<string[]>;
}

// ---- The tile database in the app (issues 3 and 4): listing, points for the charts, and tuning with progress. ----

/** A kernel configuration the tuner measures (one series of the tile-database chart). */
export interface TileConfigInfo {
  /** Stable id, e.g. `pit-k 8x1 @8x64x8/2x4` (core/pit/rules.ts `configId`). */
  id: string;
  /** Kernel family (`FamilyInfo.name`). */
  family: string;
  /** `Hx1`, `1xW` or `1xK` (whole rows); null for dense. */
  microTile: string | null;
  /** Computation tile `BMxBNxBK/TMxTN`. */
  computeTile: string;
}

/** A plan `tiledb.tune` can run (`pit tune --quick` or the full one): what it measures, so a tune can be restricted. */
export interface TunePlanInfo {
  name: 'quick' | 'full';
  /** Problem sizes `MxNxK`, in plan order. */
  sizes: string[];
  /** Target sparsities 0–1 of the grid. */
  sparsities: number[];
  configs: TileConfigInfo[];
  /** Legal points of the whole plan (a `1xW` rule is only measured where W < K). */
  points: number;
}

/** A stored tile database, without its points. */
export interface TileDbListItem {
  id: number;
  adapter: AdapterDescriptor;
  /**
   * Operand dtype of the families it was tuned for (`pit tune --dtype`): an f16 database serves f16 profiles only, an
   * f32 one f32 profiles only. Absent from hosts that predate dtypes (their databases were f32).
   */
  dtype?: ComputeDtype;
  /** sha256 of the kernel sources it was tuned with. */
  kernelHash: string;
  tunerVersion: number;
  timestampQuery: boolean;
  createdAt: string;
  updatedAt: string;
  /** Points stored, and how many of them failed verification or to run. */
  points: number;
  failed: number;
  /**
   * Whether a profile of its dtype on this host's adapter may use it: same adapter, current kernel sources of that
   * dtype (core/pit/tiledb.ts `tileDbHash`) and tuner version.
   */
  usable: boolean;
  /** Why it may not be used here (another adapter, other kernel sources, no GPU), when it may not. */
  mismatch?: string;
}

/** What `tiledb.list` answers. */
export interface TileDbOverview {
  /** This host's adapter; null (and `gpuError` says why) without a WebGPU device. */
  adapter: AdapterDescriptor | null;
  gpuError?: string;
  /** Hash of the current kernel sources and the tuner version: the identity a usable database must have. */
  kernelHash: string;
  tunerVersion: number;
  /** Every tile database, most recently updated first. */
  databases: TileDbListItem[];
  /** The database an f32 `profile.start` uses by default (policy `tiledb`) on this adapter, or null when none fits. */
  current: number | null;
  /** The database an f16 profile (`dtype: 'f16'`) uses on this adapter, or null when none fits or f16 is not run here. */
  currentF16?: number | null;
  /** Why none fits (as `pit profile` says it), when databases exist but none fits, or there is no GPU. */
  note?: string;
  /** The plans `tiledb.tune` offers, quick first. */
  plans: TunePlanInfo[];
}

/** One measured point of a tile database, as the charts use it. Times in ms; null where the configuration failed. */
export interface TileDbPointInfo {
  /** Configuration id (`TileConfigInfo.id`). */
  config: string;
  /** Kernel family (`FamilyInfo.name`). */
  family: string;
  microTile: string | null;
  computeTile: string;
  m: number;
  n: number;
  k: number;
  /** Target sparsity 0–1 of the grid point (fraction of micro-tiles zeroed; of elements for dense). */
  sparsity: number;
  /** Effective micro-tile density 0–1 measured on the operand (element density for dense). */
  density: number;
  kernelMs: number | null;
  /** Detection time (0 for dense); null when failed. */
  detectMs: number | null;
  ok: boolean;
  error?: string;
}

/** How well the cost model fitted to a database explains one configuration's points (what `pit tune` prints). */
export interface TileConfigFit {
  config: string;
  /** Verified points the kernel model was fitted to. */
  points: number;
  /** Median |predicted / measured − 1| of the kernel model over those points. */
  medianRelErr: number;
  /** The same for the detection model of its micro-tile (null for dense). */
  detectMedianRelErr: number | null;
}

/** What `tiledb.get` answers. */
export interface TileDbDetail {
  db: TileDbListItem;
  points: TileDbPointInfo[];
  /** The fitted cost model per configuration (configurations without a usable point are absent). */
  fits: TileConfigFit[];
  /** Workgroups the device runs at once, as the fit estimates it; null when nothing could be fitted. */
  parallelism: number | null;
}

/**
 * A tune: the quick plan (`pit tune --quick`) or the full one, optionally restricted to some of its sizes,
 * sparsities and configurations (the points measured are the plan's own, so a later unrestricted tune resumes).
 */
export interface TuneRequest {
  /** The quick plan; the full plan otherwise. */
  quick?: boolean;
  /** Only these sizes of the plan (`MxNxK`). */
  sizes?: string[];
  /** Only these sparsities of the plan's grid. */
  sparsities?: number[];
  /** Only these configurations of the plan (`TileConfigInfo.id`). */
  configs?: string[];
}

/** Progress of a tune. Points arrive in groups (one problem size and sparsity, every configuration interleaved). */
export type TuneProgressEvent =
  | { kind: 'start'; tileDbId: number; plan: 'quick' | 'full'; total: number; skipped: number }
  | { kind: 'point'; tileDbId: number; done: number; total: number; point: TileDbPointInfo; etaMs: number }
  | { kind: 'log'; message: string };

/** The tune the host is running, as `tiledb.status` reports it. */
export interface TuneJobInfo {
  jobId: string;
  request: TuneRequest;
  /** ISO time the job started. */
  startedAt: string;
  /** The tile database being filled, once known. */
  tileDbId: number | null;
  /** The latest progress event. */
  last: TuneProgressEvent | null;
}

/** How a tune ended. */
export interface TuneEnd {
  jobId: string;
  tileDbId: number | null;
  status: 'complete' | 'cancelled' | 'failed';
  /** One line; empty unless `failed`. */
  error: string;
  /** Points measured (and stored) by this tune, already stored before it (skipped), and failed among the measured. */
  measured: number;
  skipped: number;
  failed: number;
  elapsedMs: number;
}

// ---- The whole model at a glance (issue 13): incremental run updates, the timeline, the model graph. ----

/** What `runs.layers` answers. */
export interface RunLayersDelta {
  run: RunSummary;
  totals: RunTotals;
  /** Layers recorded after the cursor sent, in recording order. */
  layers: LayerResult[];
  /** Opaque, increasing: send it as `since` next time (unchanged when nothing new was recorded). */
  cursor: number;
}

/**
 * One event of the Chrome trace event format (the JSON Perfetto, chrome://tracing and Nsight-style viewers read):
 * `X` a complete event with a duration, `i` an instant, `M` metadata (process and thread names and order).
 * Times in microseconds.
 */
export interface TraceEvent {
  name: string;
  /** Category: `reference`, `layer`, `layout`, `detect`, `kernel`, `readback`, `skipped`, … */
  cat?: string;
  ph: 'X' | 'i' | 'M';
  /** Start, µs from the trace's origin. */
  ts?: number;
  /** Duration, µs (`X` only). */
  dur?: number;
  pid: number;
  tid: number;
  /** Instant scope (`i` only): `t` thread. */
  s?: 't';
  args?: Record<string, string | number | boolean | null>;
}

/** A Chrome-trace JSON object (`traceEvents` plus what the viewer shows about it). */
export interface ChromeTrace {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
  /** What the trace is: run, model, adapter, how times were laid out. */
  metadata: Record<string, string | number | boolean | null>;
}

/** A node of a model graph: an operator, a graph input or a graph output. */
export interface ModelGraphNode {
  /** Unique within the graph. */
  id: string;
  /** The node's name (ONNX `NodeProto.name`, or the value name for inputs and outputs). */
  name: string;
  /** Operator type (`Conv`, `Relu`…), or `input` / `output`. */
  op: string;
  kind: 'op' | 'input' | 'output';
  /** Attributes, one short line each (`strides: [2, 2]`, `value: tensor float32 [16]`). */
  attrs: Record<string, string>;
  /** Inputs that are constants (weights, biases): value name and dims, shown on hover rather than as nodes. */
  constants: { name: string; dims: number[] }[];
  /** The profiled layer this node is (`LayerResult.index`), when it is one of the sparse-capable operators. */
  layer?: number;
  /** Why the sparse-capable operator is not profiled (grouped conv…), when it is not. */
  unsupported?: string;
}

/** A value flowing from one node to another. */
export interface ModelGraphEdge {
  from: string;
  to: string;
  /** The value's name. */
  value: string;
}

/** What `models.graph` answers. */
export interface ModelGraph {
  model: ModelRef;
  nodes: ModelGraphNode[];
  edges: ModelGraphEdge[];
  /** Constant-producing nodes folded into their consumers (ONNX `Constant` ops), counted. */
  foldedConstants: number;
  /** Set when the file at the run's model path no longer has the run's sha256 (the graph may not be what ran). */
  warning?: string;
}
