/**
 * Repository functions for profiling runs: small synchronous statements over the schema of `migrations.ts`.
 *
 * A run is written as it goes (DESIGN.md §5): `createRun` when the job starts, one `recordLayer` transaction per
 * layer, then `finishRun` or `failRun`. A crash loses at most the layer in flight; the next `openDatabase` marks
 * the orphaned run incomplete ('interrupted') through `markAbandonedRuns`, and its finished layers stay readable.
 *
 * Every write is an IMMEDIATE transaction: it takes the write lock before its first read. A deferred transaction
 * that reads first and then writes cannot wait for another process's writer (its snapshot would be stale), so SQLite
 * fails it at once with SQLITE_BUSY despite busy_timeout; an immediate one waits, so two writers on one file (two
 * `pit profile` runs, or one beside the app) both finish.
 *
 * Units: ms for times, fractions 0–1 for sparsity and densities. SQLite stores NaN as NULL; nullable time and
 * error columns are read back as NaN.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type Database from 'better-sqlite3';
import type {
  AdapterDescriptor,
  Heatmap,
  InputRef,
  LayerResult,
  MicroTileDensity,
  ModelRef,
  RunListItem,
  RunReport,
  RunSummary,
  RunTotals,
  VariantResult,
} from '../core/protocol.ts';
import { adapterFromRow, adapterId } from './adapters.ts';
import { guarded, RunNotFoundError, RunStateError } from './errors.ts';
import { insertLayerPolicy, layerPolicies } from './tiledb.ts';

type Db = Database.Database;

/** Lifecycle of a stored run. */
export type RunStatus = 'running' | 'complete' | 'incomplete';

/** What `createRun` stores about a new run. */
export interface NewRun {
  model: ModelRef;
  adapter: AdapterDescriptor;
  /** The inputs in order; a layer's `input` is an index into this list. */
  inputs: InputRef[];
  /** Kernel families the job was asked to measure. */
  families: string[];
  /** Timed samples per variant (the median is the statistic stored), ≥ 1. */
  repeat: number;
  /** Everything else the job was asked (warmup, imageSize, maxLayers…): a plain JSON-serialisable object. */
  options?: object;
}

/** WGSL source of a kernel, identified by the sha256 (hex) of its UTF-8 text. */
export interface KernelSource {
  hash: string;
  /** Human-readable name, e.g. `pit-k 32x1 64x64x32`. Only the first label stored for a hash is kept. */
  label: string;
  wgsl: string;
}

/**
 * A variant as recorded: the protocol's VariantResult plus, optionally, every kernel it dispatched in order
 * (detection, gather, main, scatter…). Without `kernelHashes`, the variant's kernels are just `[wgslHash]`.
 */
export interface RecordedVariant extends VariantResult {
  kernelHashes?: string[];
}

/** A layer as recorded: LayerResult whose variants may carry `kernelHashes`. A plain LayerResult is accepted. */
export interface RecordedLayer extends LayerResult {
  variants: RecordedVariant[];
}

/** The record passed to recordLayer is inconsistent in a way the schema cannot say clearly (see recordLayer). */
export class InvalidRecordError extends Error {
  override name = 'InvalidRecordError';
}

/** Identity of this process as a run writer (see markAbandonedRuns). */
const WRITER = {
  host: hostname(),
  pid: process.pid,
  // Process start, ms since epoch. process.uptime() is process-wide, so worker threads agree to within rounding.
  startedAt: Math.round(Date.now() - process.uptime() * 1000),
};

/** Two start times closer than this are the same process (they are computed, not read, so they jitter), ms. */
const SAME_START_TOLERANCE_MS = 2000;

const nowIso = (): string => new Date().toISOString();
/** SQLite gives NaN back as NULL. */
const nan = (v: number | null): number => (v === null ? Number.NaN : v);

/**
 * Stores a new run in status 'running', with its model, adapter and inputs, and this process as its writer.
 * @returns The run id.
 * @throws DatabaseError when the database cannot be written (disk full, read-only…).
 */
export function createRun(db: Db, run: NewRun): number {
  const options = run.options ?? {};
  if (typeof options !== 'object' || Array.isArray(options)) throw new InvalidRecordError('run options must be a plain object');
  return guarded(db.name, 'creating a run', () =>
    db.transaction(() => {
      const adapter = adapterId(db, run.adapter);
      db.prepare('INSERT INTO models (path, sha256) VALUES (?, ?) ON CONFLICT DO NOTHING').run(run.model.path, run.model.sha256);
      const modelId = (
        db.prepare('SELECT id FROM models WHERE sha256 = ? AND path = ?').get(run.model.sha256, run.model.path) as { id: number }
      ).id;
      const info = db
        .prepare(
          `INSERT INTO runs (model_id, adapter_id, created_at, timestamp_query, variants_json, repeat, options_json,
                             writer_host, writer_pid, writer_started_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          modelId,
          adapter,
          nowIso(),
          run.adapter.timestampQuery ? 1 : 0,
          JSON.stringify(run.families),
          run.repeat,
          JSON.stringify(options),
          WRITER.host,
          WRITER.pid,
          WRITER.startedAt,
        );
      const runId = Number(info.lastInsertRowid);
      const insertInput = db.prepare(
        'INSERT INTO inputs (run_id, position, path, kind, shape_json, preprocess, synthetic) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      run.inputs.forEach((inp, i) =>
        insertInput.run(runId, i, inp.path, inp.kind, JSON.stringify(inp.shape), inp.preprocess, inp.synthetic ? 1 : 0),
      );
      return runId;
    }).immediate(),
  );
}

/**
 * Stores one layer in one transaction: the layer, its heat map, its micro-tile densities, its variants'
 * measurements and the WGSL of the kernels they ran (each text stored once, by hash). Either all of it is
 * written or none: a failure anywhere leaves no partial layer.
 * @param kernels Sources of the kernels the variants refer to; kernels stored by an earlier layer may be omitted.
 * @returns The layer's row id.
 * @throws RunNotFoundError when the run does not exist.
 * @throws RunStateError when the run is not 'running', or the layer's input is not one of the run's inputs.
 * @throws InvalidRecordError when a kernel's hash is not the sha256 of its text, a variant refers to a kernel
 *   whose text is neither given nor stored, two variants share a name, or `chosen` names no variant of a
 *   profiled layer.
 * @throws DatabaseError when the disk is full or the file read-only (the layer is not written).
 * @throws SqliteError (constraint) when a value is out of its domain, e.g. a negative time or a density above 1.
 */
export function recordLayer(db: Db, runId: number, layer: RecordedLayer, kernels: readonly KernelSource[] = []): number {
  validateLayer(layer, kernels);
  const what = `recording layer ${layer.index} (input ${layer.input}) of run ${runId}`;
  return guarded(db.name, what, () =>
    db.transaction(() => {
      const run = db.prepare('SELECT status FROM runs WHERE id = ?').get(runId) as { status: RunStatus } | undefined;
      if (!run) throw new RunNotFoundError(runId, db.name);
      if (run.status !== 'running') throw new RunStateError(`run ${runId} is ${run.status}: no more layers can be recorded`, runId);
      if (!db.prepare('SELECT 1 FROM inputs WHERE run_id = ? AND position = ?').get(runId, layer.input)) {
        throw new RunStateError(`layer ${layer.index} is on input ${layer.input}, which run ${runId} does not have`, runId);
      }

      const insertKernel = db.prepare('INSERT OR IGNORE INTO kernels (sha256, label, wgsl) VALUES (?, ?, ?)');
      for (const k of kernels) insertKernel.run(k.hash, k.label, k.wgsl);
      const kernelKnown = db.prepare('SELECT 1 FROM kernels WHERE sha256 = ?');
      for (const v of layer.variants) {
        for (const h of variantKernels(v)) {
          if (!kernelKnown.get(h)) throw new InvalidRecordError(`variant ${v.name} of layer ${layer.index} ran kernel ${h}, whose WGSL was not given`);
        }
      }

      const layerId = Number(
        db
          .prepare(
            `INSERT INTO layers (run_id, input_position, layer_index, name, op, m, n, k, sparsity, chosen, skipped, recorded_at,
                                 baseline, default_dense, ideal_density, attribution_json, readback_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            runId,
            layer.input,
            layer.index,
            layer.name,
            layer.op,
            layer.m,
            layer.n,
            layer.k,
            layer.sparsity,
            layer.chosen,
            layer.skipped ?? null,
            nowIso(),
            layer.baseline ?? null,
            layer.defaultDense ?? null,
            layer.idealDensity ?? null,
            JSON.stringify(attributionOf(layer)),
            layer.readbackMs ?? null,
          )
          .lastInsertRowid,
      );
      if (layer.heatmap) {
        const h = layer.heatmap;
        db.prepare('INSERT INTO heatmaps (layer_id, rows, cols, cell_m, cell_k, cell_values) VALUES (?, ?, ?, ?, ?, ?)').run(
          layerId,
          h.rows,
          h.cols,
          h.cellM,
          h.cellK,
          encodeF64(h.values),
        );
      }
      const insertTile = db.prepare('INSERT INTO micro_tiles (layer_id, position, shape, density, effective_density) VALUES (?, ?, ?, ?, ?)');
      layer.microTiles.forEach((t, i) => insertTile.run(layerId, i, t.shape, t.density, t.effectiveDensity ?? null));

      const insertMeasurement = db.prepare(
        `INSERT INTO measurements (layer_id, position, variant, micro_tile, compute_tile, ms, detect_ms, max_abs_err, max_rel_err,
                                   ok, error, wgsl_hash, family, layout_ms, total_ms, min_ms, max_ms, q1_ms, q3_ms, repeats,
                                   method, statistic, samples, effective_density, suspect, index_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const insertUse = db.prepare('INSERT INTO measurement_kernels (measurement_id, position, kernel_sha256) VALUES (?, ?, ?)');
      layer.variants.forEach((v, i) => {
        const id = insertMeasurement.run(
          layerId,
          i,
          v.name,
          v.microTile,
          v.computeTile,
          v.ms,
          v.detectMs,
          v.maxAbsErr,
          v.maxRelErr,
          v.ok ? 1 : 0,
          v.error ?? null,
          v.wgslHash === '' ? null : v.wgslHash,
          v.family ?? null,
          v.layoutMs ?? null,
          v.totalMs ?? null,
          v.minMs ?? null,
          v.maxMs ?? null,
          v.q1Ms ?? null,
          v.q3Ms ?? null,
          v.repeats ?? null,
          v.method ?? null,
          v.statistic ?? null,
          v.samplesMs ? encodeF64(v.samplesMs) : null,
          v.effectiveDensity ?? null,
          v.suspect ?? null,
          v.indexMs ?? null,
        ).lastInsertRowid;
        variantKernels(v).forEach((h, j) => insertUse.run(id, j, h));
      });
      insertLayerPolicy(db, layerId, layer);
      return layerId;
    }).immediate(),
  );
}

/**
 * The layer's fields stored as JSON in `layers.attribution_json` (migration v3): the attribution, and (issue 9) the
 * batch, lowering, B's sparsity, per-batch statistics and the near-zero approximation; absent fields are left out.
 * Which variants exploit B (`VariantResult.operand`) is kept there too, as `variantOperands` (the measurements table
 * has no column for it), and put back on the variants when read.
 */
function attributionOf(l: LayerResult): Partial<LayerResult> & { variantOperands?: Record<string, 'b'> } {
  const out: Partial<LayerResult> & { variantOperands?: Record<string, 'b'> } = {};
  for (const key of ATTRIBUTION_KEYS) if (l[key] !== undefined) (out as Record<string, unknown>)[key] = l[key];
  const onB = l.variants.filter((v) => v.operand === 'b');
  if (onB.length) out.variantOperands = Object.fromEntries(onB.map((v) => [v.name, 'b' as const]));
  return out;
}

/**
 * LayerResult fields kept in `layers.attribution_json`: the attribution (migration v3), the batched lowering's facts,
 * and since issue 14 — without a schema change — `failed` (why a profiled layer has no verified figures) and `tiled`
 * (the row slices a layer too large for one binding was measured in).
 */
const ATTRIBUTION_KEYS = [
  'denseTileGain',
  'pitGain',
  'effectiveDensity',
  'idealMs',
  'undecided',
  'noiseBand',
  'decision',
  'batch',
  'batchDims',
  'batchKind',
  'shared',
  'lowering',
  'operandB',
  'perBatch',
  'approximation',
  'failed',
  'tiled',
] as const;

/** Checks what the schema cannot express (or would report only as an opaque constraint failure). */
function validateLayer(layer: RecordedLayer, kernels: readonly KernelSource[]): void {
  for (const k of kernels) {
    const actual = createHash('sha256').update(k.wgsl).digest('hex');
    if (actual !== k.hash) throw new InvalidRecordError(`kernel ${k.label}: hash ${k.hash} is not the sha256 of its WGSL (${actual})`);
  }
  const names = new Set<string>();
  for (const v of layer.variants) {
    if (names.has(v.name)) throw new InvalidRecordError(`layer ${layer.index} has two variants named ${v.name}; names must be unique per layer`);
    names.add(v.name);
  }
  if (layer.skipped === undefined && !names.has(layer.chosen)) {
    throw new InvalidRecordError(`layer ${layer.index}: chosen variant ${layer.chosen} is not among its variants`);
  }
}

/** Every kernel a variant ran, main kernel included, without duplicates. */
function variantKernels(v: RecordedVariant): string[] {
  const list = v.kernelHashes ?? (v.wgslHash ? [v.wgslHash] : []);
  return [...new Set(v.wgslHash && !list.includes(v.wgslHash) ? [...list, v.wgslHash] : list)];
}

/**
 * Stores the reference run's wall time on one input of a run (the model's own end-to-end time in the timeline), ms.
 * @throws RunNotFoundError when the run does not exist; RunStateError when it has no such input; DatabaseError.
 */
export function recordReference(db: Db, runId: number, input: number, ms: number): void {
  guarded(db.name, `recording the reference time of input ${input} of run ${runId}`, () => {
    const info = db.prepare('UPDATE inputs SET reference_ms = ? WHERE run_id = ? AND position = ?').run(ms, runId, input);
    if (info.changes === 1) return;
    if (!runExists(db, runId)) throw new RunNotFoundError(runId, db.name);
    throw new RunStateError(`run ${runId} has no input ${input}`, runId);
  });
}

/**
 * Marks a running run complete: every layer was recorded.
 * @throws RunNotFoundError, RunStateError (the run is not 'running'), DatabaseError.
 */
export function finishRun(db: Db, runId: number): void {
  setFinalStatus(db, runId, 'complete', '');
}

/** Longest reason stored for an incomplete run, characters (a list of runs shows it in one column). */
export const STATUS_MESSAGE_MAX = 300;

/**
 * Marks a running run incomplete with the reason: `cancelled`, or one line saying what failed (only its first line
 * is kept, cut to STATUS_MESSAGE_MAX characters with `…`).
 * @throws RunNotFoundError, RunStateError (the run is not 'running'), DatabaseError.
 */
export function failRun(db: Db, runId: number, message: string): void {
  const line = (message.split(/\r?\n/).find((l) => l.trim()) ?? '').trim();
  const short = line.length > STATUS_MESSAGE_MAX ? `${line.slice(0, STATUS_MESSAGE_MAX - 1).trimEnd()}…` : line;
  setFinalStatus(db, runId, 'incomplete', short || 'failed');
}

function setFinalStatus(db: Db, runId: number, status: Exclude<RunStatus, 'running'>, message: string): void {
  guarded(db.name, `marking run ${runId} ${status}`, () =>
    db.transaction(() => {
      const info = db
        .prepare(`UPDATE runs SET status = ?, status_message = ?, finished_at = ? WHERE id = ? AND status = 'running'`)
        .run(status, message, nowIso(), runId);
      if (info.changes === 1) return;
      const row = db.prepare('SELECT status FROM runs WHERE id = ?').get(runId) as { status: RunStatus } | undefined;
      if (!row) throw new RunNotFoundError(runId, db.name);
      throw new RunStateError(`run ${runId} is already ${row.status}`, runId);
    }).immediate(),
  );
}

/**
 * Marks runs still 'running' whose writer process is gone as incomplete with message 'interrupted'. A run is left
 * alone when its writer is this process, or a live process on this host (`process.kill(pid, 0)`), or a process on
 * another host (a shared file: its liveness cannot be checked from here). A run written by an earlier process that
 * had this process's pid is recognised by its different start time. Called by openDatabase.
 * Limitation: if the dead writer's pid now belongs to an unrelated live process, the run stays 'running' until
 * that process exits.
 * @returns The ids of the runs marked.
 * @throws DatabaseError when the database cannot be written.
 */
export function markAbandonedRuns(db: Db): number[] {
  return guarded(db.name, 'marking interrupted runs', () =>
    db.transaction(() => {
      const running = db
        .prepare(`SELECT id, writer_host AS host, writer_pid AS pid, writer_started_at AS startedAt FROM runs WHERE status = 'running'`)
        .all() as { id: number; host: string; pid: number; startedAt: number }[];
      const gone = running.filter((r) => writerIsGone(r.host, r.pid, r.startedAt)).map((r) => r.id);
      const mark = db.prepare(
        `UPDATE runs SET status = 'incomplete', status_message = 'interrupted', finished_at = ? WHERE id = ? AND status = 'running'`,
      );
      for (const id of gone) mark.run(nowIso(), id);
      return gone;
    }).immediate(),
  );
}

function writerIsGone(host: string, pid: number, startedAt: number): boolean {
  if (host !== WRITER.host) return false;
  if (pid === WRITER.pid) return Math.abs(startedAt - WRITER.startedAt) > SAME_START_TOLERANCE_MS;
  if (!Number.isInteger(pid) || pid <= 0) return true; // kill(0 or negative) would signal process groups
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // EPERM: it exists but belongs to someone else, so it may be writing.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Whether a run with this id exists. */
export function runExists(db: Db, runId: number): boolean {
  return guarded(db.name, `looking up run ${runId}`, () => db.prepare('SELECT 1 FROM runs WHERE id = ?').get(runId) !== undefined);
}

/**
 * Deletes a run with everything recorded under it (inputs, layers, micro-tiles, heat maps, measurements). Kernel
 * texts stay (other runs may share them; see pruneKernels).
 * @returns Whether a run was deleted.
 * @throws DatabaseError when the database cannot be written.
 */
export function deleteRun(db: Db, runId: number): boolean {
  return guarded(db.name, `deleting run ${runId}`, () => db.transaction(() => db.prepare('DELETE FROM runs WHERE id = ?').run(runId).changes > 0).immediate());
}

/**
 * Deletes kernel texts no measurement refers to any more (after runs were deleted).
 * @returns The number of kernels deleted.
 */
export function pruneKernels(db: Db): number {
  const sql = `DELETE FROM kernels
               WHERE NOT EXISTS (SELECT 1 FROM measurements WHERE wgsl_hash = kernels.sha256)
                 AND NOT EXISTS (SELECT 1 FROM measurement_kernels WHERE kernel_sha256 = kernels.sha256)`;
  return guarded(db.name, 'pruning kernels', () => db.transaction(() => db.prepare(sql).run().changes).immediate());
}

/** The WGSL text stored under a sha256, or null when no kernel has that hash. */
export function getKernelWgsl(db: Db, hash: string): string | null {
  return guarded(db.name, `reading kernel ${hash}`, () => {
    const row = db.prepare('SELECT wgsl FROM kernels WHERE sha256 = ?').get(hash) as { wgsl: string } | undefined;
    return row ? row.wgsl : null;
  });
}

/** A kernel a variant dispatched: its hash and label (text via getKernelWgsl). */
export interface KernelRef {
  hash: string;
  label: string;
}

/**
 * Every kernel each variant of one layer dispatched, in dispatch order, by variant name (for export and for
 * showing the WGSL of detection or scatter kernels, not only the main one).
 * @throws RunNotFoundError when the run does not exist. Returns `{}` for a layer that was not recorded.
 */
export function getLayerKernels(db: Db, runId: number, input: number, layerIndex: number): Record<string, KernelRef[]> {
  return guarded(db.name, `reading kernels of layer ${layerIndex} of run ${runId}`, () => {
    if (!db.prepare('SELECT 1 FROM runs WHERE id = ?').get(runId)) throw new RunNotFoundError(runId, db.name);
    const rows = db
      .prepare(
        `SELECT ms.variant, k.sha256 AS hash, k.label
         FROM layers l
         JOIN measurements ms ON ms.layer_id = l.id
         JOIN measurement_kernels mk ON mk.measurement_id = ms.id
         JOIN kernels k ON k.sha256 = mk.kernel_sha256
         WHERE l.run_id = ? AND l.input_position = ? AND l.layer_index = ?
         ORDER BY ms.position, mk.position`,
      )
      .all(runId, input, layerIndex) as { variant: string; hash: string; label: string }[];
    const out: Record<string, KernelRef[]> = {};
    for (const r of rows) (out[r.variant] ??= []).push({ hash: r.hash, label: r.label });
    return out;
  });
}

interface RunRow {
  id: number;
  created_at: string;
  status: RunStatus;
  status_message: string;
  timestamp_query: number;
  variants_json: string;
  repeat: number;
  options_json: string;
  model_path: string;
  model_sha256: string;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
  writer_host: string;
  writer_pid: number;
  writer_started_at: number;
}

const RUN_SELECT = `
  SELECT r.id, r.created_at, r.status, r.status_message, r.timestamp_query, r.variants_json, r.repeat, r.options_json,
         r.writer_host, r.writer_pid, r.writer_started_at,
         m.path AS model_path, m.sha256 AS model_sha256,
         a.vendor, a.architecture, a.device, a.description, a.backend
  FROM runs r JOIN models m ON m.id = r.model_id JOIN adapters a ON a.id = r.adapter_id`;

interface InputRow {
  run_id: number;
  path: string;
  kind: InputRef['kind'];
  shape_json: string;
  preprocess: string;
  synthetic: number;
  reference_ms: number | null;
}

interface TotalsRow {
  run_id: number;
  dense: number;
  default_dense: number;
  chosen: number;
  detect: number;
  layout: number;
  ideal: number;
  layers: number;
}

const TOTALS_SELECT = `
  SELECT run_id, SUM(dense_ms) AS dense, SUM(default_dense_ms) AS default_dense, SUM(chosen_ms) AS chosen,
         SUM(detect_ms) AS detect, SUM(layout_ms) AS layout, SUM(ideal_ms) AS ideal, COUNT(*) AS layers
  FROM layer_costs`;

/**
 * Failed layer-runs per run: profiled (not skipped) but absent from `layer_costs`, i.e. without a verified dense
 * baseline — the layers the totals leave out. Derived, so runs recorded before issue 14 are counted too.
 */
const FAILED_SELECT = `
  SELECT l.run_id, COUNT(*) AS failed FROM layers l
  WHERE l.skipped IS NULL AND NOT EXISTS (SELECT 1 FROM layer_costs c WHERE c.layer_id = l.id)`;

const ZERO_TOTALS: RunTotals = { denseMs: 0, defaultDenseMs: 0, chosenMs: 0, detectMs: 0, layoutMs: 0, idealMs: 0, layers: 0, failedLayers: 0 };

function toTotals(row: TotalsRow | undefined, failed: number): RunTotals {
  return row
    ? { denseMs: row.dense, defaultDenseMs: row.default_dense, chosenMs: row.chosen, detectMs: row.detect, layoutMs: row.layout, idealMs: row.ideal, layers: row.layers, failedLayers: failed }
    : { ...ZERO_TOTALS, failedLayers: failed };
}

/**
 * RunSummary.status: the reason for an incomplete run ('cancelled', 'interrupted', an error line), 'running'
 * while a writer is at work, and empty for a complete run. A run still 'running' whose writer is gone reads as
 * 'interrupted', as markAbandonedRuns would mark it: a read-only connection cannot write that, but says it.
 */
function toSummary(r: RunRow, inputs: InputRef[]): RunSummary {
  const abandoned = r.status === 'running' && writerIsGone(r.writer_host, r.writer_pid, r.writer_started_at);
  const summary: RunSummary = {
    id: r.id,
    complete: r.status === 'complete',
    createdAt: r.created_at,
    model: { path: r.model_path, sha256: r.model_sha256 },
    adapter: adapterFromRow(r),
    inputs,
    families: JSON.parse(r.variants_json) as string[],
    repeat: r.repeat,
    options: JSON.parse(r.options_json) as Record<string, unknown>,
    status: r.status === 'incomplete' ? r.status_message : abandoned ? 'interrupted' : r.status === 'running' ? 'running' : '',
  };
  // The profiler stores how it chose variants in the run's options (policy tiledb, issue 3).
  const policy = (summary.options as { policy?: RunSummary['policy'] }).policy;
  if (policy && typeof policy === 'object') summary.policy = policy;
  // …and (issue 11) its dtype and what the device offered (shader-f16, subgroup matrices, Dawn toggles), which the
  // adapters table does not hold (they are not the adapter's identity).
  const o = summary.options as { dtype?: unknown; gpu?: Record<string, unknown> };
  if (o.dtype === 'f16' || o.dtype === 'f32') summary.dtype = o.dtype;
  if (o.gpu && typeof o.gpu === 'object') {
    const g = o.gpu;
    if (typeof g.shaderF16 === 'boolean') summary.adapter.shaderF16 = g.shaderF16;
    if (typeof g.subgroups === 'boolean') summary.adapter.subgroups = g.subgroups;
    if (Array.isArray(g.subgroupSizes) && g.subgroupSizes.length === 2) summary.adapter.subgroupSizes = g.subgroupSizes as [number, number];
    if (Array.isArray(g.subgroupMatrixConfigs)) summary.adapter.subgroupMatrixConfigs = g.subgroupMatrixConfigs as RunSummary['adapter']['subgroupMatrixConfigs'];
    if (Array.isArray(g.dawnToggles)) summary.adapter.dawnToggles = g.dawnToggles as string[];
  }
  return summary;
}

function toInput(r: InputRow): InputRef {
  const input: InputRef = { path: r.path, kind: r.kind, shape: JSON.parse(r.shape_json) as number[], preprocess: r.preprocess, synthetic: r.synthetic === 1 };
  if (r.reference_ms !== null) input.referenceMs = r.reference_ms;
  return input;
}

/**
 * All runs, newest first, with their layer count (skipped layers included) and totals (see getRunReport).
 * @throws DatabaseError when the database cannot be read.
 */
export function listRuns(db: Db): RunListItem[] {
  return guarded(db.name, 'listing runs', () =>
    db.transaction(() => {
      const runs = db.prepare(`${RUN_SELECT} ORDER BY r.created_at DESC, r.id DESC`).all() as RunRow[];
      const inputs = new Map<number, InputRef[]>();
      for (const r of db.prepare('SELECT * FROM inputs ORDER BY run_id, position').all() as InputRow[]) {
        let list = inputs.get(r.run_id);
        if (!list) inputs.set(r.run_id, (list = []));
        list.push(toInput(r));
      }
      const counts = new Map(
        (db.prepare('SELECT run_id, COUNT(*) AS n FROM layers GROUP BY run_id').all() as { run_id: number; n: number }[]).map((r) => [r.run_id, r.n]),
      );
      const totals = new Map((db.prepare(`${TOTALS_SELECT} GROUP BY run_id`).all() as TotalsRow[]).map((r) => [r.run_id, r]));
      const failed = new Map((db.prepare(`${FAILED_SELECT} GROUP BY l.run_id`).all() as { run_id: number; failed: number }[]).map((r) => [r.run_id, r.failed]));
      return runs.map((r) => ({
        ...toSummary(r, inputs.get(r.id) ?? []),
        layerCount: counts.get(r.id) ?? 0,
        totals: toTotals(totals.get(r.id), failed.get(r.id) ?? 0),
      }));
    })(),
  );
}

interface LayerRow {
  id: number;
  input_position: number;
  layer_index: number;
  name: string;
  op: string;
  m: number;
  n: number;
  k: number;
  sparsity: number | null;
  chosen: string;
  skipped: string | null;
  baseline: string | null;
  default_dense: string | null;
  ideal_density: number | null;
  attribution_json: string;
  readback_ms: number | null;
}

interface MeasurementRow {
  layer_id: number;
  variant: string;
  micro_tile: string | null;
  compute_tile: string;
  ms: number | null;
  detect_ms: number | null;
  max_abs_err: number | null;
  max_rel_err: number | null;
  ok: number;
  error: string | null;
  wgsl_hash: string | null;
  family: string | null;
  layout_ms: number | null;
  total_ms: number | null;
  min_ms: number | null;
  max_ms: number | null;
  q1_ms: number | null;
  q3_ms: number | null;
  repeats: number | null;
  method: 'timestamp' | 'cpu' | null;
  statistic: 'median' | null;
  samples: Buffer | null;
  effective_density: number | null;
  suspect: string | null;
  /** Added by migration v4. */
  index_ms: number | null;
}

interface HeatmapRow {
  layer_id: number;
  rows: number;
  cols: number;
  cell_m: number;
  cell_k: number;
  cell_values: Buffer;
}

/**
 * The full report of a run: its summary, its layers in (input, index) order with micro-tile densities, heat maps
 * and variants (in the order recorded), and totals over the layers that were profiled:
 * - denseMs: Σ dense ms;
 * - chosenMs: Σ kernel + detection ms of the chosen variant (dense's ms when the chosen one has no time);
 * - detectMs: Σ detection ms of the chosen variant;
 * - idealMs: Σ dense ms × the layer's lowest micro-tile density, element density `1x1` excluded (dense ms when none).
 * Skipped layers, and layers without a dense time (nothing to compare against), count for nothing.
 * The summary's `complete` is true only for a run marked by finishRun.
 * @throws RunNotFoundError when no run has this id.
 */
export function getRunReport(db: Db, runId: number, opts: { heatmaps?: boolean } = {}): RunReport {
  return guarded(db.name, `reading run ${runId}`, () =>
    // One read transaction: a writer adding a layer meanwhile cannot make layers and totals disagree.
    db.transaction(() => {
      const { run, totals } = runHead(db, runId);
      return { run, layers: readLayers(db, runId, 0, opts.heatmaps !== false).layers, totals };
    })(),
  );
}

/**
 * The heat map of one layer of a run on one input, or null when it has none (skipped, or not recorded).
 * @throws RunNotFoundError when no run has this id.
 */
export function getLayerHeatmap(db: Db, runId: number, input: number, layerIndex: number): Heatmap | null {
  return guarded(db.name, `reading the heat map of layer ${layerIndex} of run ${runId}`, () => {
    if (!runExists(db, runId)) throw new RunNotFoundError(runId, db.name);
    const h = db
      .prepare('SELECT h.* FROM heatmaps h JOIN layers l ON l.id = h.layer_id WHERE l.run_id = ? AND l.input_position = ? AND l.layer_index = ?')
      .get(runId, input, layerIndex) as HeatmapRow | undefined;
    return h ? { rows: h.rows, cols: h.cols, cellM: h.cell_m, cellK: h.cell_k, values: decodeF64(h.cell_values) } : null;
  });
}

/**
 * What changed in a run since `since` (a cursor a previous call returned; 0 for everything): the layers recorded
 * after it, in recording order and without heat maps (getLayerHeatmap), with the run's summary and totals now, and
 * the next cursor. The cursor is the row id of the last layer returned, so a layer is never sent twice nor skipped.
 * @throws RunNotFoundError when no run has this id.
 */
export function getRunLayersSince(db: Db, runId: number, since: number): { run: RunSummary; totals: RunTotals; layers: LayerResult[]; cursor: number } {
  return guarded(db.name, `reading run ${runId}`, () =>
    db.transaction(() => {
      const head = runHead(db, runId);
      const { layers, cursor } = readLayers(db, runId, since, false);
      return { ...head, layers, cursor: Math.max(since, cursor) };
    })(),
  );
}

/** The model a run profiled, or null when no run has this id. */
export function getRunModel(db: Db, runId: number): ModelRef | null {
  return guarded(db.name, `reading the model of run ${runId}`, () => {
    const row = db.prepare('SELECT m.path, m.sha256 FROM runs r JOIN models m ON m.id = r.model_id WHERE r.id = ?').get(runId) as ModelRef | undefined;
    return row ? { path: row.path, sha256: row.sha256 } : null;
  });
}

/** A run's summary and totals. @throws RunNotFoundError */
function runHead(db: Db, runId: number): { run: RunSummary; totals: RunTotals } {
  const run = db.prepare(`${RUN_SELECT} WHERE r.id = ?`).get(runId) as RunRow | undefined;
  if (!run) throw new RunNotFoundError(runId, db.name);
  const inputs = (db.prepare('SELECT * FROM inputs WHERE run_id = ? ORDER BY position').all(runId) as InputRow[]).map(toInput);
  const failed = (db.prepare(`${FAILED_SELECT} AND l.run_id = ?`).get(runId) as { failed: number }).failed;
  const totals = toTotals(db.prepare(`${TOTALS_SELECT} WHERE run_id = ? GROUP BY run_id`).get(runId) as TotalsRow | undefined, failed);
  return { run: toSummary(run, inputs), totals };
}

/**
 * A run's layers whose row id is above `since`, in (input, index) order for a whole run (since = 0) and in recording
 * order otherwise (the same order: a job records input by input, layer by layer), with the largest row id read.
 */
function readLayers(db: Db, runId: number, since: number, withHeatmaps: boolean): { layers: LayerResult[]; cursor: number } {
  const tiles = groupBy(
    db
      .prepare(
        `SELECT t.layer_id, t.shape, t.density, t.effective_density FROM micro_tiles t JOIN layers l ON l.id = t.layer_id
         WHERE l.run_id = ? AND l.id > ? ORDER BY t.layer_id, t.position`,
      )
      .all(runId, since) as { layer_id: number; shape: string; density: number; effective_density: number | null }[],
    (r): MicroTileDensity => (r.effective_density === null ? { shape: r.shape, density: r.density } : { shape: r.shape, density: r.density, effectiveDensity: r.effective_density }),
  );
  const variants = groupBy(
    db
      .prepare(
        `SELECT ms.* FROM measurements ms JOIN layers l ON l.id = ms.layer_id
         WHERE l.run_id = ? AND l.id > ? ORDER BY ms.layer_id, ms.position`,
      )
      .all(runId, since) as MeasurementRow[],
    toVariant,
  );
  const heatmaps = new Map(
    (withHeatmaps
      ? (db.prepare('SELECT h.* FROM heatmaps h JOIN layers l ON l.id = h.layer_id WHERE l.run_id = ? AND l.id > ?').all(runId, since) as HeatmapRow[])
      : []
    ).map((h): [number, Heatmap] => [h.layer_id, { rows: h.rows, cols: h.cols, cellM: h.cell_m, cellK: h.cell_k, values: decodeF64(h.cell_values) }]),
  );

  const order = since > 0 ? 'id' : 'input_position, layer_index';
  const layerRows = db.prepare(`SELECT * FROM layers WHERE run_id = ? AND id > ? ORDER BY ${order}`).all(runId, since) as LayerRow[];
  const layers = layerRows.map((l) => {
    const out: LayerResult = {
      index: l.layer_index,
      name: l.name,
      op: l.op,
      m: l.m,
      n: l.n,
      k: l.k,
      sparsity: nan(l.sparsity),
      microTiles: tiles.get(l.id) ?? [],
      variants: variants.get(l.id) ?? [],
      chosen: l.chosen,
      input: l.input_position,
    };
    if (l.skipped !== null) out.skipped = l.skipped;
    if (l.baseline !== null) out.baseline = l.baseline;
    if (l.default_dense !== null) out.defaultDense = l.default_dense;
    if (l.ideal_density !== null) out.idealDensity = l.ideal_density;
    if (l.readback_ms !== null) out.readbackMs = l.readback_ms;
    const { variantOperands, ...stored } = JSON.parse(l.attribution_json) as Partial<LayerResult> & { variantOperands?: Record<string, 'b'> };
    Object.assign(out, stored);
    if (variantOperands) for (const v of out.variants) if (variantOperands[v.name]) v.operand = variantOperands[v.name];
    const h = heatmaps.get(l.id);
    if (h) out.heatmap = h;
    return out;
  });
  const policies = layerPolicies(db, runId);
  for (const [i, l] of layerRows.entries()) {
    const p = policies.get(l.id);
    if (p) Object.assign(layers[i]!, p);
  }
  // A profiled layer the totals leave out (no verified dense baseline) is failed; runs recorded before issue 14 did
  // not say so: the reason is derived from its variants.
  const counted = new Set((db.prepare('SELECT layer_id FROM layer_costs WHERE run_id = ? AND layer_id > ?').all(runId, since) as { layer_id: number }[]).map((r) => r.layer_id));
  for (const [i, l] of layerRows.entries()) {
    if (l.skipped === null && !counted.has(l.id)) layers[i]!.failed ??= failureOf(layers[i]!.variants);
  }
  return { layers, cursor: layerRows.reduce((m, l) => Math.max(m, l.id), 0) };
}

/** Why a stored layer without a verified dense baseline failed, from its variants (for runs that did not store it). */
function failureOf(variants: readonly VariantResult[]): string {
  const first = variants.find((v) => !v.ok && v.error);
  const what = variants.some((v) => v.ok) ? 'no dense variant verified (nothing to compare against)' : 'no variant verified';
  if (!first) return what;
  return first.error!.startsWith(`variant ${first.name}`) ? `${what}: ${first.error}` : `${what}: ${first.name}: ${first.error}`;
}

function toVariant(r: MeasurementRow): VariantResult {
  const v: VariantResult = {
    name: r.variant,
    microTile: r.micro_tile,
    computeTile: r.compute_tile,
    ms: nan(r.ms),
    detectMs: nan(r.detect_ms),
    maxAbsErr: nan(r.max_abs_err),
    maxRelErr: nan(r.max_rel_err),
    ok: r.ok === 1,
    wgslHash: r.wgsl_hash ?? '',
  };
  if (r.error !== null) v.error = r.error;
  if (r.family !== null) v.family = r.family;
  if (r.total_ms !== null || r.repeats !== null) {
    Object.assign(v, {
      layoutMs: nan(r.layout_ms),
      totalMs: nan(r.total_ms),
      minMs: nan(r.min_ms),
      maxMs: nan(r.max_ms),
      q1Ms: nan(r.q1_ms),
      q3Ms: nan(r.q3_ms),
      iqrMs: nan(r.q3_ms) - nan(r.q1_ms),
      repeats: r.repeats ?? 0,
    });
    if (r.method !== null) v.method = r.method;
    if (r.statistic !== null) v.statistic = r.statistic;
  }
  if (r.samples !== null) v.samplesMs = decodeF64(r.samples);
  if (r.effective_density !== null) v.effectiveDensity = r.effective_density;
  if (r.suspect !== null) v.suspect = r.suspect;
  if (r.index_ms !== null) v.indexMs = r.index_ms;
  return v;
}

function groupBy<R extends { layer_id: number }, T>(rows: R[], map: (r: R) => T): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const r of rows) {
    let list = out.get(r.layer_id);
    if (!list) out.set(r.layer_id, (list = []));
    list.push(map(r));
  }
  return out;
}

/** float64 little-endian, so the file reads the same on any machine. */
function encodeF64(values: readonly number[]): Buffer {
  const buf = Buffer.allocUnsafe(values.length * 8);
  values.forEach((v, i) => buf.writeDoubleLE(v, i * 8));
  return buf;
}

function decodeF64(buf: Buffer): number[] {
  const out = new Array<number>(buf.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = buf.readDoubleLE(i * 8);
  return out;
}
