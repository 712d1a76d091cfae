/**
 * Tile databases and policy decisions in SQLite (schema v2, db/tiledb.ts): identity by adapter + kernel hash +
 * tuner version, resumable point storage with NaN for failures, lookups that never hand back another adapter's or
 * other kernels' database silently, and the per-layer policy fields through recordLayer / getRunReport.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kernelSourcesHash, pointKey, TUNER_VERSION, type TilePoint } from '../../core/pit/tiledb.ts';
import type { AdapterDescriptor, RunPolicy } from '../../core/protocol.ts';
import { SCHEMA_VERSION } from '../../db/migrations.ts';
import { openDatabase, schemaVersion, type PitDatabase } from '../../db/open.ts';
import { createRun, getRunReport, recordLayer } from '../../db/runs.ts';
import { deleteTileDb, listTileDbs, loadTileDb, openTileDb, recordTilePoint, tileDbsForAdapter, tilePointKeys } from '../../db/tiledb.ts';
import { lookupTileDb } from '../../main/commands/tune.ts';
import { ADAPTER, K_DENSE, K_DETECT, K_PITK, layer0, newRun, tempDir } from '../db/fixtures.ts';

const HASH = 'c'.repeat(64);

function point(over: Partial<TilePoint> = {}): TilePoint {
  return {
    family: 'pit-k',
    microTile: '8x1',
    tile: { bm: 8, bn: 64, bk: 8, tm: 2, tn: 4 },
    m: 64,
    n: 32,
    k: 96,
    sparsity: 0.9,
    density: 0.104,
    counts: [10, 9, 11, 10, 12, 8, 10, 10],
    kernelMs: 0.42,
    detectMs: 0.11,
    ok: true,
    maxAbsErr: 1.5e-6,
    wgslHash: 'd'.repeat(64),
    ...over,
  };
}

describe('tile database repository', () => {
  let cleanup: () => void;
  let db: PitDatabase;
  beforeEach(() => {
    const t = tempDir();
    cleanup = t.cleanup;
    db = openDatabase(join(t.dir, 'pit.db'));
  });
  afterEach(() => {
    db.close();
    cleanup();
  });

  it('migrates to the current schema and keys a database by adapter, kernel hash and tuner version', () => {
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    const id = openTileDb(db, { adapter: ADAPTER, kernelHash: HASH, tunerVersion: 1 });
    expect(openTileDb(db, { adapter: ADAPTER, kernelHash: HASH, tunerVersion: 1 })).toBe(id); // resumes the same one
    expect(openTileDb(db, { adapter: ADAPTER, kernelHash: 'e'.repeat(64), tunerVersion: 1 })).not.toBe(id);
    expect(openTileDb(db, { adapter: { ...ADAPTER, device: 'other' }, kernelHash: HASH, tunerVersion: 1 })).not.toBe(id);
    expect(listTileDbs(db)).toHaveLength(3);
    expect(tileDbsForAdapter(db, ADAPTER)).toHaveLength(2);
  });

  it('stores points (a failed one with NaN times), lists their keys for resuming, and reads them back', () => {
    const id = openTileDb(db, { adapter: ADAPTER, kernelHash: HASH, tunerVersion: 1 });
    const ok = point();
    const failed = point({ sparsity: 0.5, kernelMs: Number.NaN, detectMs: Number.NaN, ok: false, maxAbsErr: Number.NaN, error: 'workgroup memory exceeds the limit' });
    recordTilePoint(db, id, pointKey(ok), ok);
    recordTilePoint(db, id, pointKey(failed), failed);
    recordTilePoint(db, id, pointKey(ok), { ...ok, kernelMs: 0.4 }); // re-measured: replaced, not duplicated
    expect(tilePointKeys(db, id)).toEqual(new Set([pointKey(ok), pointKey(failed)]));
    const snap = loadTileDb(db, id)!;
    expect(snap.points).toHaveLength(2);
    expect(snap.points.find((p) => p.sparsity === 0.9)).toEqual({ ...ok, kernelMs: 0.4 });
    const f = snap.points.find((p) => p.sparsity === 0.5)!;
    expect([f.ok, f.kernelMs, f.detectMs, f.error]).toEqual([false, Number.NaN, Number.NaN, 'workgroup memory exceeds the limit']);
    expect(listTileDbs(db)[0]).toMatchObject({ id, points: 2, failed: 1, kernelHash: HASH });
    expect(loadTileDb(db, 999)).toBeNull();
    expect(deleteTileDb(db, id)).toBe(true);
    expect(tilePointKeys(db, id).size).toBe(0); // points go with their database
  });

  it('never hands back another adapter’s or other kernels’ database, and says why', () => {
    const current = kernelSourcesHash();
    expect(lookupTileDb(db, ADAPTER)).toEqual({ snapshot: null });
    const other: AdapterDescriptor = { ...ADAPTER, device: 'NVIDIA H200', vendor: 'nvidia' };
    recordTilePoint(db, openTileDb(db, { adapter: other, kernelHash: current, tunerVersion: TUNER_VERSION }), 'k', point());
    expect(lookupTileDb(db, ADAPTER).note).toMatch(/tuned on other adapters/);
    const stale = openTileDb(db, { adapter: ADAPTER, kernelHash: HASH, tunerVersion: TUNER_VERSION });
    recordTilePoint(db, stale, 'k', point());
    const r = lookupTileDb(db, ADAPTER);
    expect(r.snapshot).toBeNull();
    expect(r.note).toMatch(/tuned with other kernel sources \(hash cccccccccccc…/);
    const fresh = openTileDb(db, { adapter: ADAPTER, kernelHash: current, tunerVersion: TUNER_VERSION });
    recordTilePoint(db, fresh, 'k', point());
    expect(lookupTileDb(db, ADAPTER).snapshot?.id).toBe(fresh);
  });

  it('stores the policy of a run and of each layer, and reads them back in the report', () => {
    const policy: RunPolicy = { policy: 'tiledb', audit: true, tileDb: { id: 3, kernelHash: HASH, points: 288, updatedAt: '2026-01-01T00:00:00.000Z' } };
    const runId = createRun(db, newRun({ options: { warmup: 1, policy } }));
    const l = layer0();
    l.predicted = { variant: 'pit-k', ms: 1.1 };
    l.candidates = [
      { variant: 'pit-k', rule: 'Conv (im2col): axis k, micro-tile 32x1', ms: 1.1, kernelMs: 0.9, detectMs: 0.2, density: 0.5 },
      { variant: 'dense', rule: 'Conv (im2col): dense', ms: 3.9, kernelMs: 3.9, detectMs: 0, density: null },
    ];
    l.regret = 0.125;
    l.reason = 'predicted pit-k 1.100 ms';
    recordLayer(db, runId, l, [K_DENSE, K_DETECT, K_PITK]);
    const r = getRunReport(db, runId);
    expect(r.run.policy).toEqual(policy);
    expect(r.layers[0]).toMatchObject({ predicted: l.predicted, candidates: l.candidates, regret: 0.125, reason: l.reason });
    // A layer of a measure-policy run has none of these fields.
    const plain = createRun(db, newRun());
    recordLayer(db, plain, layer0(), [K_DENSE, K_DETECT, K_PITK]);
    const p = getRunReport(db, plain);
    expect(p.run.policy).toBeUndefined();
    expect(p.layers[0]!.predicted).toBeUndefined();
    expect(p.layers[0]!.regret).toBeUndefined();
  });
});
