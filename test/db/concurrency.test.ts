/**
 * Two writers on one database file, each in its own process, as two `pit profile` runs (or `pit profile` beside the
 * app) are. Every write transaction is IMMEDIATE: it takes the write lock before reading, so a writer waits for the
 * other (busy_timeout) instead of failing at once with SQLITE_BUSY when a read transaction cannot be upgraded.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../db/open.ts';
import { getRunReport, listRuns } from '../../db/runs.ts';
import { tempDir } from './fixtures.ts';

const CHILD = join(import.meta.dirname, 'writer-child.ts');
const LAYERS = 150;

function writer(path: string): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, path, 'many', String(LAYERS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out, err })));
}

describe('two writer processes on one file', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('both finish, and every layer of both runs is stored', async () => {
    const path = join(dir, 'shared.db');
    openDatabase(path).close(); // schema in place, so the race is between layer writes, not migrations
    const a = writer(path);
    const b = writer(path);
    // Both children wait for this file: tsx start-up takes long enough that they then write at the same time.
    await new Promise((r) => setTimeout(r, 2500));
    writeFileSync(`${path}.go`, '');
    const results = await Promise.all([a, b]);
    for (const r of results) {
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^done \d+$/m);
    }
    const db = openDatabase(path);
    try {
      const runs = listRuns(db);
      expect(runs).toHaveLength(2);
      for (const run of runs) {
        expect(run.complete).toBe(true);
        expect(run.layerCount).toBe(LAYERS);
        expect(getRunReport(db, run.id).layers.map((l) => l.index)).toEqual(Array.from({ length: LAYERS }, (_, i) => i));
      }
    } finally {
      db.close();
    }
  });
});
