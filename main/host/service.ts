/**
 * The PIT host: every method of the RPC contract (core/protocol.ts) implemented over the profiling job (core) and
 * the run database (db), whatever transport carries it (IPC to Electron main, WebSocket in web mode).
 *
 * One GPU job at a time — a profile or a tune of the tile database: there is one GPU, and two jobs timing kernels
 * on it would disturb each other's measurements. The GPU device is acquired on first use and kept; when it is lost
 * the next job acquires a new one.
 *
 * Policy: `profile.start` without a policy uses the tile database when one matches the adapter and the current
 * kernels (`lookupTileDb`, as `pit profile` does) and measures otherwise; with the tile database and no repeat
 * given, one run per round (the lowest of the rounds is kept), as `pit profile` does.
 */
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { describeAdapter, type GpuContext } from '../../core/gpu/device.ts';
import type { PipelineCache } from '../../core/gpu/pipeline-cache.ts';
import { ModelError, oneLine } from '../../core/model/errors.ts';
import { modelGraph } from '../../core/model/graph.ts';
import { importModel } from '../../core/model/import.ts';
import { findSparseOps } from '../../core/model/sparse-ops.ts';
import { runTrace } from '../../core/report/trace.ts';
import { kernelSourcesHash, pointKey, TUNER_VERSION } from '../../core/pit/tiledb.ts';
import type { tune as tuneFn, TunePlan } from '../../core/pit/tuner.ts';
import type { ProfileEnv, ProfileOptions } from '../../core/profile/profile.ts';
import type { RunSink } from '../../core/profile/sink.ts';
import type {
  AdapterDescriptor,
  ComputeDtype,
  HostEvent,
  HostMethod,
  HostMethods,
  JobEnd,
  LayerResult,
  FamilyInfo,
  Heatmap,
  ModelGraph,
  ProfileDefaults,
  ProfileJobInfo,
  ProfileRequest,
  RunReport,
  TileDbDetail,
  TileDbOverview,
  TuneEnd,
  TuneJobInfo,
  TuneProgressEvent,
  TuneRequest,
} from '../../core/protocol.ts';
import type { PitDatabase } from '../../db/open.ts';
import { deleteRun, getKernelWgsl, getLayerHeatmap, getLayerKernels, getRunLayersSince, getRunModel, getRunReport, listRuns } from '../../db/runs.ts';
import { listTileDbs, loadTileDb, openTileDb, recordTilePoint, tilePointKeys } from '../../db/tiledb.ts';
import type { ImagePresetName } from '../../core/inputs/presets.ts';
import { lookupTileDb } from '../commands/tune.ts';
import { RpcError, validateRequest } from './rpc.ts';
import { listItem, modelFits, planFor, pointInfo, tunePlans } from './tiledb.ts';

/** A GPU device with the pipeline cache that belongs to it. */
export interface GpuHandle {
  gpu: GpuContext;
  cache: PipelineCache;
}

/** What the host is built from; tests pass fakes for the GPU and the profiling job. */
export interface HostDeps {
  db: PitDatabase;
  /** Shown by `host.info`. */
  dbPath: string;
  version: string;
  /** Where the job writes (the database, through db-sink.ts). */
  sink: RunSink;
  /** Acquires a device. @throws NoAdapterError when there is none. */
  acquireGpu(): Promise<GpuHandle>;
  /** The profiling job (core/profile/profile.ts `profileModel`). */
  profile(opts: ProfileOptions, env: ProfileEnv): Promise<{ runId: number; layers: LayerResult[] }>;
  /** The bundled default model and inputs. @throws when the default model's package is missing. */
  defaults(): ProfileDefaults;
  /** The kernel families the job knows (core/kernels/registry.ts `familyInfos`). */
  families: readonly FamilyInfo[];
  /** The tuner (core/pit/tuner.ts `tune`). */
  tune: typeof tuneFn;
}

/** Receives host events (progress, job ends, run changes). */
export type HostEventListener = (e: HostEvent) => void;

interface Job {
  info: ProfileJobInfo;
  abort: AbortController;
  done: Promise<void>;
}

interface TuneJob {
  info: TuneJobInfo;
  abort: AbortController;
  done: Promise<void>;
}

/** The job options before the policy is known: the repeat count may still be the policy's default. */
type ResolvedRequest = ProfileOptions;

/** The host's method implementations and its job. Transports call `call` and forward `onEvent`'s events. */
export class HostService {
  private readonly listeners = new Set<HostEventListener>();
  private job: Job | null = null;
  private tuneJob: TuneJob | null = null;
  private gpu: Promise<GpuHandle> | null = null;
  private closed = false;
  private graphCache: { key: string; graph: ModelGraph } | null = null;

  constructor(private readonly deps: HostDeps) {}

  /** Subscribes to host events; returns the unsubscribe function. */
  onEvent(listener: HostEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Validates and serves one request.
   * @throws RpcError (`unknown-method`, `invalid-params`, `not-found`, `busy`), or whatever the database or the
   *   GPU threw (the transport turns it into a `failed` error with its one-line message).
   */
  async call<M extends HostMethod>(method: M, params: unknown): Promise<HostMethods[M]['result']>;
  async call(method: string, params: unknown): Promise<unknown>;
  async call(method: string, params: unknown): Promise<unknown> {
    if (this.closed) throw new RpcError('host-unavailable', 'the host is shutting down');
    const p = validateRequest(method, params) as Record<string, unknown>;
    const { db } = this.deps;
    switch (method as HostMethod) {
      case 'host.info':
        return this.info();
      case 'runs.list':
        return listRuns(db);
      case 'runs.get':
        return forTheWire(getRunReport(db, p.id as number, { heatmaps: p.heatmaps !== false }));
      case 'runs.heatmap':
        return heatmapForTheWire(getLayerHeatmap(db, p.id as number, p.input as number, p.layer as number));
      case 'runs.delete':
        return this.deleteRun(p.id as number);
      case 'runs.kernels':
        return getLayerKernels(db, p.id as number, p.input as number, p.layer as number);
      case 'wgsl.get': {
        const wgsl = getKernelWgsl(db, p.hash as string);
        if (wgsl === null) throw new RpcError('not-found', `no kernel with hash ${p.hash as string} in the database`);
        return { hash: p.hash, wgsl };
      }
      case 'models.default':
        return this.deps.defaults();
      case 'profile.status':
        return { job: this.job ? { ...this.job.info } : null };
      case 'profile.start':
        return this.startProfile(p as unknown as ProfileRequest);
      case 'profile.cancel':
        return this.cancel(p.jobId as string);
      case 'tiledb.list':
        return this.tileDbOverview();
      case 'tiledb.get':
        return this.tileDbDetail(p.id as number);
      case 'tiledb.tune':
        return this.startTune(p as TuneRequest);
      case 'tiledb.cancel':
        return this.cancelTune(p.jobId as string);
      case 'tiledb.status':
        return { job: this.tuneJob ? { ...this.tuneJob.info } : null };
      case 'runs.layers':
        return getRunLayersSince(db, p.id as number, p.since as number);
      case 'runs.trace':
        return runTrace(getRunReport(db, p.id as number));
      case 'models.graph':
        return this.modelGraph(p.runId as number | undefined, p.modelPath as string | undefined);
    }
  }

  /** The graph of a run's model (checked against the run's sha256) or of a model file; the last one is cached. */
  private modelGraph(runId: number | undefined, modelPath: string | undefined): ModelGraph {
    if ((runId === undefined) === (modelPath === undefined)) throw new RpcError('invalid-params', 'models.graph: give either runId or modelPath');
    let path: string;
    let expected: string | null = null;
    if (runId !== undefined) {
      const ref = getRunModel(this.deps.db, runId);
      if (!ref) throw new RpcError('not-found', `no run ${runId} in ${this.deps.dbPath}`);
      path = ref.path;
      expected = ref.sha256;
    } else path = resolve(modelPath!);
    let st;
    try {
      st = statSync(path);
    } catch {
      throw new RpcError('not-found', `model file not found: ${path}${runId !== undefined ? ` (the model of run ${runId} was moved or deleted)` : ''}`);
    }
    const key = `${path}\0${st.size}\0${st.mtimeMs}`;
    if (this.graphCache?.key !== key) {
      // The importer of the model's format gives the IR; modelGraph works on the IR whatever the format.
      let model;
      try {
        model = importModel(path);
      } catch (e) {
        if (e instanceof ModelError) throw new RpcError('invalid-params', `models.graph: ${e.message}`);
        throw e;
      }
      this.graphCache = { key, graph: { model: { path, sha256: model.sha256 }, ...modelGraph(model, findSparseOps(model)) } };
    }
    const graph = this.graphCache.graph;
    if (expected !== null && graph.model.sha256 !== expected) {
      return { ...graph, warning: `the file at ${path} is not the model run ${runId} profiled (sha256 ${graph.model.sha256.slice(0, 12)}…, the run's ${expected.slice(0, 12)}…)` };
    }
    return graph;
  }

  /**
   * Cancels the job in flight and waits (at most `timeoutMs`) for it to settle, then releases the GPU. The
   * database stays open: its owner closes it.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    this.closed = true;
    const jobs = [this.job, this.tuneJob].filter((j): j is Job | TuneJob => j !== null);
    for (const job of jobs) job.abort.abort();
    if (jobs.length) await Promise.race([Promise.all(jobs.map((j) => j.done)), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    const gpu = this.gpu;
    this.gpu = null;
    if (gpu) await gpu.then((h) => h.gpu.destroy(), () => {});
  }

  private emit(e: HostEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // A broken listener (a closed socket) must not stop the job or the other clients.
      }
    }
  }

  private async info(): Promise<HostMethods['host.info']['result']> {
    const base = { version: this.deps.version, dbPath: this.deps.dbPath, families: [...this.deps.families] };
    try {
      const { gpu } = await this.acquireGpu();
      return { ...base, adapter: gpu.adapter };
    } catch (e) {
      return { ...base, adapter: null, gpuError: errorLine(e) };
    }
  }

  /** The shared device: acquired once, re-acquired after a loss or a failed attempt. */
  private acquireGpu(): Promise<GpuHandle> {
    if (!this.gpu) {
      const p = this.deps.acquireGpu();
      this.gpu = p;
      p.then(
        (h) =>
          h.gpu.lost.then(() => {
            if (this.gpu === p) this.gpu = null;
          }),
        () => {
          if (this.gpu === p) this.gpu = null;
        },
      );
    }
    return this.gpu;
  }

  private deleteRun(id: number): { deleted: boolean } {
    if (this.job && this.job.info.runId === id) {
      throw new RpcError('busy', `run ${id} is being written by the job in flight: cancel the job first`);
    }
    const deleted = deleteRun(this.deps.db, id);
    if (deleted) this.emit({ type: 'runs.changed', runId: id, change: 'deleted' });
    return { deleted };
  }

  /** @throws RpcError `busy` while a profile or a tune holds the GPU. */
  private mustBeIdle(): void {
    if (this.job) throw new RpcError('busy', `a profiling job is running (${this.job.info.jobId}): wait for it or cancel it (one GPU, one job)`);
    if (this.tuneJob) throw new RpcError('busy', `a tune of the tile database is running (${this.tuneJob.info.jobId}): wait for it or cancel it (one GPU, one job)`);
  }

  private cancel(jobId: string): { cancelled: boolean } {
    if (!this.job || this.job.info.jobId !== jobId) return { cancelled: false };
    this.job.abort.abort();
    return { cancelled: true };
  }

  /** Resolves the request into the job's options, checking what can be checked before any work starts. */
  private resolveRequest(req: ProfileRequest): ResolvedRequest {
    if (req.useDefault && req.modelPath) throw new RpcError('invalid-params', 'profile.start: give either modelPath or useDefault: true, not both');
    if (!req.useDefault && !req.modelPath) throw new RpcError('invalid-params', 'profile.start: give a modelPath (an .onnx file) or useDefault: true');
    if (req.audit && req.policy === 'measure') {
      throw new RpcError('invalid-params', "profile.start: audit applies to policy 'tiledb' (policy 'measure' runs every variant anyway)");
    }
    if (req.zeroThreshold !== undefined && req.zeroKeep !== undefined) {
      throw new RpcError('invalid-params', 'profile.start: give zeroThreshold or zeroKeep, not both');
    }
    const d = this.deps.defaults();
    let modelPath: string;
    let inputs: string[];
    if (req.useDefault) {
      modelPath = d.modelPath;
      inputs = req.inputs.length ? req.inputs : d.inputs;
    } else {
      modelPath = resolve(req.modelPath!);
      inputs = req.inputs;
      if (!inputs.length) throw new RpcError('invalid-params', 'profile.start: a model needs at least one input file (.jpg, .png or .npy)');
    }
    mustBeFile(modelPath, 'model file');
    inputs = inputs.map((p) => resolve(p));
    for (const p of inputs) mustBeFile(p, 'input file');
    const known = this.deps.families.map((f) => f.name);
    const families = req.families ?? d.families.filter((f) => f.defaultOn).map((f) => f.name);
    for (const f of families) {
      if (!known.includes(f)) throw new RpcError('invalid-params', `profile.start: unknown kernel family '${f}' (known: ${known.join(', ')})`);
    }
    return {
      modelPath,
      inputs,
      imageSize: req.imageSize ?? d.imageSize,
      ...(req.imagePreset !== undefined ? { imagePreset: req.imagePreset as ImagePresetName } : {}),
      families,
      repeat: req.repeat ?? d.repeat,
      warmup: req.warmup ?? d.warmup,
      warmupMs: req.warmupMs ?? d.warmupMs,
      maxLayers: req.maxLayers,
      // As asked; without them the job applies its own default (the tile database when one matches).
      ...(req.policy !== undefined ? { policy: req.policy } : {}),
      ...(req.audit !== undefined ? { audit: req.audit } : {}),
      ...(req.zeroThreshold !== undefined ? { zero: { threshold: req.zeroThreshold } } : req.zeroKeep !== undefined ? { zero: { keep: req.zeroKeep } } : {}),
      ...(req.dtype !== undefined ? { dtype: req.dtype } : {}),
      ...(req.memoryBudget !== undefined ? { memoryBudget: req.memoryBudget } : {}),
    };
  }

  private startProfile(req: ProfileRequest): { jobId: string } {
    this.mustBeIdle();
    const opts = this.resolveRequest(req);
    const jobId = randomUUID();
    const abort = new AbortController();
    const info: ProfileJobInfo = { jobId, request: req, startedAt: new Date().toISOString(), runId: null, last: null };
    const job: Job = { info, abort, done: Promise.resolve() };
    this.job = job;
    // Started on the next turn so the response (with the job id) leaves before the job's first event.
    job.done = new Promise<void>((r) => setImmediate(r))
      .then(() => this.runJob(job, opts))
      .finally(() => {
        if (this.job === job) this.job = null;
      });
    return { jobId };
  }

  private async runJob(job: Job, resolved: ResolvedRequest): Promise<void> {
    const { jobId } = job.info;
    const progress = (event: HostEvent & { type: 'progress' }) => {
      job.info.last = event.event;
      this.emit(event);
    };
    // The sink is wrapped so the run is known (and listed) from the moment it exists, not only at the first layer.
    const base = this.deps.sink;
    const sink: RunSink = {
      createRun: (run) => {
        const id = base.createRun(run);
        job.info.runId = id;
        this.emit({ type: 'runs.changed', runId: id, change: 'created' });
        return id;
      },
      recordLayer: (runId, layer, kernels) => {
        base.recordLayer(runId, layer, kernels);
        this.emit({ type: 'runs.changed', runId, change: 'layer' });
      },
      ...(base.recordReference ? { recordReference: (runId: number, input: number, ms: number) => base.recordReference!(runId, input, ms) } : {}),
      finishRun: (runId) => base.finishRun(runId),
      failRun: (runId, message) => base.failRun(runId, message),
    };
    let end: JobEnd;
    try {
      progress({ type: 'progress', jobId, event: { kind: 'stage', stage: 'gpu', message: 'acquiring the WebGPU device' } });
      const { gpu, cache } = await this.acquireGpu();
      if (job.abort.signal.aborted) throw new Error('cancelled');
      // As `pit profile`: the tile database of this adapter and these kernels, unless measuring was asked for.
      // Looked up for the run's dtype (a model's weight dtype when none is asked), once the job knows it.
      const tileDb = resolved.policy === 'measure' ? undefined : (dtype: ComputeDtype) => lookupTileDb(this.deps.db, gpu.adapter, dtype);
      const { runId } = await this.deps.profile(resolved, {
        gpu,
        cache,
        sink,
        signal: job.abort.signal,
        onProgress: (event) => progress({ type: 'progress', jobId, event }),
        ...(tileDb ? { tileDb } : {}),
      });
      end = { jobId, runId, status: 'complete', error: '' };
    } catch (e) {
      const cancelled = job.abort.signal.aborted;
      end = { jobId, runId: job.info.runId, status: cancelled ? 'cancelled' : 'failed', error: cancelled ? '' : errorLine(e) };
    }
    if (end.runId !== null) this.emit({ type: 'runs.changed', runId: end.runId, change: 'finished' });
    this.emit({ type: 'job.end', end });
  }

  // ---- The tile database: listing, points, and tuning (as `pit tune` does, main/commands/tune.ts). ----

  private async tileDbOverview(): Promise<TileDbOverview> {
    const kernelHash = kernelSourcesHash();
    let adapter: AdapterDescriptor | null = null;
    let gpuError: string | undefined;
    try {
      adapter = (await this.acquireGpu()).gpu.adapter;
    } catch (e) {
      gpuError = errorLine(e);
    }
    const databases = listTileDbs(this.deps.db).map((t) => listItem(t, adapter));
    const out: TileDbOverview = { adapter, kernelHash, tunerVersion: TUNER_VERSION, databases, current: null, plans: tunePlans() };
    if (gpuError !== undefined) {
      out.gpuError = gpuError;
      out.note = `no WebGPU device (${gpuError}): no tile database can be used`;
    } else if (adapter) {
      const found = lookupTileDb(this.deps.db, adapter);
      out.current = found.snapshot?.id ?? null;
      if (!found.snapshot && found.note) out.note = found.note;
      if (adapter.shaderF16) out.currentF16 = lookupTileDb(this.deps.db, adapter, 'f16').snapshot?.id ?? null;
    }
    return out;
  }

  private async tileDbDetail(id: number): Promise<TileDbDetail> {
    const snapshot = loadTileDb(this.deps.db, id);
    if (!snapshot) throw new RpcError('not-found', `no tile database ${id} in ${this.deps.dbPath}`);
    const { points, ...key } = snapshot;
    const info = { ...key, points: points.length, failed: points.filter((p) => !p.ok).length, families: [...new Set(points.map((p) => p.family))] };
    let adapter: AdapterDescriptor | null = null;
    try {
      adapter = (await this.acquireGpu()).gpu.adapter;
    } catch {
      // Listed as not usable (no adapter); the points are still worth showing.
    }
    return { db: listItem(info, adapter), points: points.map(pointInfo), ...modelFits(points) };
  }

  private startTune(req: TuneRequest): { jobId: string } {
    this.mustBeIdle();
    const plan = planFor(req);
    const jobId = randomUUID();
    const info: TuneJobInfo = { jobId, request: req, startedAt: new Date().toISOString(), tileDbId: null, last: null };
    const job: TuneJob = { info, abort: new AbortController(), done: Promise.resolve() };
    this.tuneJob = job;
    // Started on the next turn so the response (with the job id) leaves before the job's first event.
    job.done = new Promise<void>((r) => setImmediate(r))
      .then(() => this.runTune(job, plan))
      .finally(() => {
        if (this.tuneJob === job) this.tuneJob = null;
      });
    return { jobId };
  }

  private cancelTune(jobId: string): { cancelled: boolean } {
    if (!this.tuneJob || this.tuneJob.info.jobId !== jobId) return { cancelled: false };
    this.tuneJob.abort.abort();
    return { cancelled: true };
  }

  /** Runs the tuner into the tile database of this adapter and the current kernels, as `pit tune` does. */
  private async runTune(job: TuneJob, plan: TunePlan): Promise<void> {
    const { jobId } = job.info;
    const { db } = this.deps;
    const progress = (event: TuneProgressEvent) => {
      job.info.last = event;
      this.emit({ type: 'tune.progress', jobId, event });
    };
    const t0 = performance.now();
    // Counted from the tuner's events, so a tune that fails half-way still says what it stored.
    const count = { measured: 0, skipped: 0, failed: 0 };
    let end: TuneEnd;
    try {
      progress({ kind: 'log', message: 'acquiring the WebGPU device' });
      const { gpu, cache } = await this.acquireGpu();
      if (job.abort.signal.aborted) throw new Error('cancelled');
      const kernelHash = kernelSourcesHash();
      const id = openTileDb(db, { adapter: gpu.adapter, kernelHash, tunerVersion: TUNER_VERSION });
      job.info.tileDbId = id;
      const have = tilePointKeys(db, id);
      progress({
        kind: 'log',
        message:
          `tuning (${plan.name}) on ${describeAdapter(gpu.adapter)}; tile database ${id} (kernel hash ${kernelHash.slice(0, 12)}…); ` +
          `${plan.configs.length} configurations, ${plan.sizes.length} sizes, ${plan.sparsities.length} sparsities`,
      });
      const summary = await this.deps.tune(
        gpu,
        cache,
        plan,
        { has: (key) => have.has(key), record: (p) => recordTilePoint(db, id, pointKey(p), p) },
        {
          signal: job.abort.signal,
          onEvent: (e) => {
            if (e.kind === 'start') {
              count.skipped = e.skipped;
              progress({ kind: 'start', tileDbId: id, plan: plan.name === 'quick' ? 'quick' : 'full', total: e.total, skipped: e.skipped });
            } else if (e.kind === 'point') {
              count.measured = e.done;
              if (!e.point.ok) count.failed++;
              progress({ kind: 'point', tileDbId: id, done: e.done, total: e.total, point: pointInfo(e.point), etaMs: e.etaMs });
            } else progress(e);
          },
        },
      );
      end = {
        jobId,
        tileDbId: id,
        status: summary.cancelled ? 'cancelled' : 'complete',
        error: '',
        measured: summary.measured,
        skipped: summary.skipped,
        failed: summary.failed,
        elapsedMs: summary.elapsedMs,
      };
    } catch (e) {
      const cancelled = job.abort.signal.aborted;
      end = {
        jobId,
        tileDbId: job.info.tileDbId,
        status: cancelled ? 'cancelled' : 'failed',
        error: cancelled ? '' : errorLine(e),
        ...count,
        elapsedMs: performance.now() - t0,
      };
    }
    this.emit({ type: 'tune.end', end });
  }
}

/** Heat-map values travel with this many decimals: far below one colour step, and a third of the JSON. */
const HEATMAP_SCALE = 1e4;

/**
 * The report as clients get it: heat-map occupancies rounded to 4 decimals (the database keeps full precision).
 * Dividing by an integer scale gives the double nearest the decimal, so JSON prints it short (0.4375, not 0.43750000000000006).
 */
export function forTheWire<R extends Pick<RunReport, 'layers'>>(report: R): R {
  for (const l of report.layers) heatmapForTheWire(l.heatmap ?? null);
  return report;
}

/** One heat map rounded as `forTheWire` does (in place); null stays null. */
export function heatmapForTheWire(h: Heatmap | null): Heatmap | null {
  if (h) h.values = h.values.map((v) => Math.round(v * HEATMAP_SCALE) / HEATMAP_SCALE);
  return h;
}

/** `Name: message` on one line (`ModelError: model file not found: …`); plain `Error`s without the prefix. */
export function errorLine(e: unknown): string {
  const name = e instanceof Error && e.name && e.name !== 'Error' ? `${e.name}: ` : '';
  return `${name}${oneLine(e)}`;
}

/** @throws RpcError `invalid-params` when `path` is not an existing regular file. */
function mustBeFile(path: string, what: string): void {
  let ok = false;
  try {
    ok = statSync(path).isFile();
  } catch {
    throw new RpcError('invalid-params', `${what} not found: ${path}`);
  }
  if (!ok) throw new RpcError('invalid-params', `${what} is not a regular file: ${path}`);
}
