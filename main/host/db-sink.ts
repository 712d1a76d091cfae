/** A RunSink backed by the SQLite repository: what the CLI and the host give the profiling job. */
import type Database from 'better-sqlite3';
import type { RunSink } from '../../core/profile/sink.ts';
import { createRun, failRun, finishRun, recordLayer, recordReference } from '../../db/runs.ts';

/** Wraps `db` as a RunSink; every call is one transaction, durable when it returns. */
export function dbSink(db: Database.Database): RunSink {
  return {
    createRun: (run) => createRun(db, run),
    recordLayer: (runId, layer, kernels) => recordLayer(db, runId, layer, kernels),
    recordReference: (runId, input, ms) => recordReference(db, runId, input, ms),
    finishRun: (runId) => finishRun(db, runId),
    failRun: (runId, message) => failRun(db, runId, message),
  };
}
