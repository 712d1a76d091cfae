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
  /** sha256 of the variant's main kernel WGSL (text stored once in the database). */
  wgslHash: string;
  /** sha256 of every kernel the variant ran, in order (detection first, main kernel last). */
  kernelHashes?: string[];
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
  /** Why the layer was not profiled (e.g. grouped conv); then `variants` is empty and `chosen` is `dense`. */
  skipped?: string;
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
  /** How variants were chosen; absent for runs recorded before policies existed (they measured everything). */
  policy?: RunPolicy;
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
  /** How to choose variants: `tiledb` (default when a tile database matches the adapter and kernels) or `measure`. */
  policy?: 'measure' | 'tiledb';
  /** With `tiledb`: also measure every candidate, so the policy's regret is known per layer. */
  audit?: boolean;
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
  'host.info': { params: Record<string, never>; result: { version: string; adapter: AdapterDescriptor | null; dbPath: string; gpuError?: string } };
  'runs.list': { params: Record<string, never>; result: RunListItem[] };
  'runs.get': { params: { id: number }; result: RunReport };
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
  /** Every variant the host knows, in report order (`dense` always runs). */
  variants: VariantName[];
  repeat: number;
  warmup: number;
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
  | { type: 'host.status'; status: HostStatus };

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
