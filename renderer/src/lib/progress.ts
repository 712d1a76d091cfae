/**
 * The state of a profiling job as the New-profile view shows it, folded from host events. Pure (tested in
 * test/renderer): every function returns a new state and never mutates its input.
 */
import type { HostEvent, JobEnd, LayerResult, ProfileJobInfo } from '../../../core/protocol.ts';
import { fmtEta } from './format.ts';
import { layerTimes } from './layer.ts';

/** One finished layer, as the progress table lists it (a summary: the full result is fetched with the run). */
export interface ProgressRow {
  done: number;
  input: number;
  index: number;
  name: string;
  op: string;
  shape: string;
  sparsity: number;
  chosen: string;
  /** Whether the chosen variant is the layer's dense baseline (not PIT). */
  baselineChosen: boolean;
  /** dense / chosen (with detection); NaN for skipped layers. */
  speedup: number;
  skipped: string;
  /** Variants that failed verification or to run. */
  failed: string[];
}

/** A job from start to end. */
export interface JobState {
  jobId: string | null;
  runId: number | null;
  /** The latest stage message, e.g. `reference run (onnxruntime) on …`. */
  message: string;
  done: number;
  total: number;
  /** Estimated time left (the host's estimate), ms; null before the first layer. */
  etaMs: number | null;
  /** When the estimate arrived (client clock, ms since the epoch), so the view counts it down between events. */
  etaAt: number;
  rows: ProgressRow[];
  /** The job's log lines (e.g. which policy it runs and why it could not use the tile database), oldest first. */
  notes: string[];
  /** Set once the job ended. */
  end: JobEnd | null;
}

/** Rows kept per job: a bound against a runaway job (real models have hundreds of layers per input). */
export const MAX_ROWS = 10_000;

/** Log lines kept per job (the newest). */
export const MAX_NOTES = 20;

/** A job the client just asked for (its id comes with the response or its first event). */
export function startingJob(): JobState {
  return { jobId: null, runId: null, message: 'starting…', done: 0, total: 0, etaMs: null, etaAt: 0, rows: [], notes: [], end: null };
}

/** A job already running when the client connected (`profile.status`). */
export function jobFromInfo(info: ProfileJobInfo): JobState {
  const s: JobState = { ...startingJob(), jobId: info.jobId, runId: info.runId, message: 'running' };
  return info.last ? applyEvent(s, { type: 'progress', jobId: info.jobId, event: info.last }) : s;
}

/** The progress-table row of a finished layer. */
export function toRow(layer: LayerResult, done: number): ProgressRow {
  return {
    done,
    input: layer.input,
    index: layer.index,
    name: layer.name,
    op: layer.op,
    shape: `${layer.m}×${layer.n}×${layer.k}`,
    sparsity: layer.sparsity,
    chosen: layer.chosen,
    baselineChosen: layer.chosen === (layer.baseline ?? layer.chosen),
    speedup: layer.skipped ? Number.NaN : layerTimes(layer).speedup,
    skipped: layer.skipped ?? '',
    failed: layer.variants.filter((v) => !v.ok).map((v) => v.name),
  };
}

/**
 * Folds one host event into the job. Events of other jobs are ignored; while the job id is not known yet, the
 * first progress event names it (events can overtake the response to `profile.start`).
 */
export function applyEvent(s: JobState, e: HostEvent, now = Date.now()): JobState {
  if (e.type === 'progress') {
    if (s.end) return s;
    if (s.jobId !== null && e.jobId !== s.jobId) return s;
    const jobId = s.jobId ?? e.jobId;
    const ev = e.event;
    if (ev.kind === 'layer') {
      const rows = s.rows.length >= MAX_ROWS ? s.rows : [...s.rows, toRow(ev.layer, ev.done)];
      return { ...s, jobId, runId: ev.runId, done: ev.done, total: ev.total, etaMs: ev.etaMs, etaAt: now, rows };
    }
    if (ev.kind === 'log') return { ...s, jobId, message: ev.message, notes: [...s.notes, ev.message].slice(-MAX_NOTES) };
    return { ...s, jobId, message: ev.message };
  }
  if (e.type === 'job.end') {
    if (s.jobId === null || e.end.jobId !== s.jobId) return s;
    const message = e.end.status === 'complete' ? 'done' : e.end.status === 'cancelled' ? 'cancelled' : e.end.error;
    return { ...s, end: e.end, runId: e.end.runId ?? s.runId, etaMs: 0, message };
  }
  return s;
}

/**
 * The ETA as shown `nowMs` after it arrived: counted down from the host's estimate, and, once that has run out while
 * the job goes on, how much longer than estimated it is taking (instead of a stuck "1 s"). Null before any estimate.
 */
export function etaText(s: Pick<JobState, 'etaMs' | 'etaAt' | 'end'>, nowMs: number): { text: string; overdue: boolean } | null {
  if (s.end || s.etaMs === null) return null;
  const left = s.etaMs - Math.max(0, nowMs - s.etaAt);
  if (left > 0) return { text: `ETA ${fmtEta(left)}`, overdue: false };
  return { text: `longer than estimated (+${fmtEta(-left)})`, overdue: true };
}

/** Fraction 0–1 of layers done (0 before the total is known). */
export function fractionDone(s: JobState): number {
  return s.total > 0 ? Math.min(1, s.done / s.total) : 0;
}
