import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatabaseError } from '../../db/errors.ts';
import { openDatabase, type PitDatabase } from '../../db/open.ts';
import { createRun, failRun, finishRun, getRunReport, listRuns, markAbandonedRuns, recordLayer } from '../../db/runs.ts';
import { asReported, K_DENSE, K_DETECT, K_PITK, layer0, layer0input1, layer1, newRun, tempDir } from './fixtures.ts';

const CHILD = join(import.meta.dirname, 'writer-child.ts');
const nodeArgs = (path: string, mode: string): string[] => ['--import', 'tsx', CHILD, path, mode];

describe('interrupted runs', () => {
  let cleanup: () => void;
  let path: string;
  beforeEach(() => {
    const t = tempDir();
    cleanup = t.cleanup;
    path = join(t.dir, 'pit.db');
  });
  afterEach(() => cleanup());

  it('a run whose writer died becomes incomplete on reopen, with its finished layers', () => {
    const child = spawnSync(process.execPath, nodeArgs(path, 'crash'), { encoding: 'utf8' });
    expect(child.signal).toBe('SIGKILL');
    const id = Number(/crashing (\d+)/.exec(child.stdout)![1]);

    const db = openDatabase(path);
    try {
      const report = getRunReport(db, id);
      expect(report.run.complete).toBe(false);
      expect(report.run.status).toBe('interrupted');
      expect(report.layers).toStrictEqual([asReported(layer0()), asReported(layer1())]);
      expect(report.totals).toEqual({ denseMs: 6, defaultDenseMs: 6, chosenMs: 3.25, detectMs: 0.25, layoutMs: 0, idealMs: 2.5, layers: 2, failedLayers: 0 });
      expect(markAbandonedRuns(db)).toEqual([]); // already marked
      expect(() => recordLayer(db, id, layer0input1(), [])).toThrow(`run ${id} is incomplete`);
    } finally {
      db.close();
    }
  });

  it('leaves a run alone while its writer process is alive', async () => {
    const child = spawn(process.execPath, nodeArgs(path, 'hold'), { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const id = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /ready (\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.on('exit', (code) => reject(new Error(`writer exited early (${code})`)));
      });
      const db = openDatabase(path);
      expect(getRunReport(db, id).run.status).toBe('running');
      db.close();

      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      const db2 = openDatabase(path);
      expect(getRunReport(db2, id).run).toMatchObject({ complete: false, status: 'interrupted' });
      expect(getRunReport(db2, id).layers).toHaveLength(1);
      db2.close();
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it("never marks this process's own runs; recognises an earlier process with the same pid", () => {
    const db = openDatabase(path);
    try {
      const mine = createRun(db, newRun());
      const reused = createRun(db, newRun());
      const remote = createRun(db, newRun());
      db.prepare('UPDATE runs SET writer_started_at = writer_started_at - 3600000 WHERE id = ?').run(reused);
      db.prepare(`UPDATE runs SET writer_host = 'another-host', writer_pid = 2147483000 WHERE id = ?`).run(remote);
      expect(markAbandonedRuns(db)).toEqual([reused]);
      expect(listRuns(db).map((r) => [r.id, r.status])).toEqual([
        [remote, 'running'],
        [reused, 'interrupted'],
        [mine, 'running'],
      ]);
      finishRun(db, mine);
    } finally {
      db.close();
    }
  });
});

describe('storage failures', () => {
  let cleanup: () => void;
  let path: string;
  let db: PitDatabase;
  beforeEach(() => {
    const t = tempDir();
    cleanup = t.cleanup;
    path = join(t.dir, 'pit.db');
    db = openDatabase(path);
  });
  afterEach(() => {
    db.close();
    cleanup();
  });

  it('disk full: DatabaseError saying so, the layer rolled back, earlier layers intact', () => {
    const id = createRun(db, newRun());
    recordLayer(db, id, layer0(), [K_DENSE, K_DETECT, K_PITK]);
    recordLayer(db, id, layer1(), []);
    const before = getRunReport(db, id);

    // Cap the file at its current size: the next layer's 128x128 heat map (128 KiB) needs new pages.
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    const big = { ...layer0input1(), heatmap: { rows: 128, cols: 128, cellM: 32, cellK: 1, values: Array.from({ length: 128 * 128 }, (_, i) => (i % 7) / 7) } };

    let err: unknown;
    try {
      recordLayer(db, id, big, []);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatabaseError);
    const e = err as DatabaseError;
    expect(e.code).toBe('SQLITE_FULL');
    expect(e.path).toBe(path);
    expect(e.message).toBe(
      `recording layer 0 (input 1) of run ${id} failed: the disk holding ${path} is full (or the database reached its size limit) (SQLITE_FULL); nothing was written`,
    );
    expect(db.inTransaction).toBe(false);
    expect(getRunReport(db, id)).toStrictEqual(before);
    expect(getRunReport(db, id).run.complete).toBe(false);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');

    // Space back: the same layer goes in and the run can finish.
    db.pragma('max_page_count = 1073741823');
    recordLayer(db, id, big, []);
    finishRun(db, id);
    const after = getRunReport(db, id);
    expect(after.run.complete).toBe(true);
    expect(after.layers[2]!.heatmap!.values).toEqual(big.heatmap.values);
  });

  it('read-only file: DatabaseError saying so, nothing changes', () => {
    const id = createRun(db, newRun());
    recordLayer(db, id, layer0(), [K_DENSE, K_DETECT, K_PITK]);
    const ro = new Database(path, { readonly: true });
    try {
      for (const [what, f] of [
        [`recording layer 1 (input 0) of run ${id}`, () => recordLayer(ro, id, layer1(), [])],
        [`marking run ${id} complete`, () => finishRun(ro, id)],
        [`marking run ${id} incomplete`, () => failRun(ro, id, 'cancelled')],
        ['creating a run', () => createRun(ro, newRun())],
      ] as const) {
        let err: unknown;
        try {
          f();
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(DatabaseError);
        expect((err as DatabaseError).code).toMatch(/^SQLITE_READONLY/);
        expect((err as DatabaseError).message).toBe(
          `${what} failed: ${path} is read-only (check the file's and its directory's permissions) (${(err as DatabaseError).code}); nothing was written`,
        );
      }
      expect(getRunReport(ro, id).layers).toHaveLength(1);
      expect(getRunReport(ro, id).run.status).toBe('running');
    } finally {
      ro.close();
    }
  });
});
