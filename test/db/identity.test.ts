/**
 * Which files openDatabase accepts: PIT Studio's own (stamped with PRAGMA application_id), new or empty files, and
 * databases written before the stamp existed (recognised by their tables, then stamped). Anything else is another
 * program's database: refused with one line, and left byte-identical (no table added, journal mode unchanged) —
 * also in read-only mode. Read-only opens write nothing at all.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatabaseError, NotPitDatabaseError } from '../../db/errors.ts';
import { openDatabase, PIT_APPLICATION_ID, SCHEMA_VERSION } from '../../db/open.ts';
import { createRun, getRunReport, listRuns } from '../../db/runs.ts';
import { newRun, tempDir } from './fixtures.ts';

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

/** Tables of a file, read through a read-only connection. */
function tablesOf(path: string): string[] {
  const d = new Database(path, { readonly: true });
  try {
    return (d.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
  } finally {
    d.close();
  }
}

describe('database identity', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it("refuses another program's database and leaves it byte-identical, even with a table named like ours", () => {
    const path = join(dir, 'other.db');
    const raw = new Database(path);
    raw.pragma('journal_mode = DELETE');
    raw.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me');");
    raw.exec('CREATE TABLE runs (x INTEGER)'); // a name clash with ours
    raw.close();
    const before = sha(path);

    for (const readonly of [false, true]) {
      const err = caught(() => openDatabase(path, { readonly }));
      expect(err).toBeInstanceOf(NotPitDatabaseError);
      expect(err).toBeInstanceOf(DatabaseError);
      expect((err as DatabaseError).code).toBe('PIT_NOT_PIT_DATABASE');
      expect(err.message).toBe(`${path} is not a PIT Studio database (no application_id; tables notes, runs): left untouched; choose another --db`);
    }
    expect(sha(path)).toBe(before);
    expect(tablesOf(path)).toEqual(['notes', 'runs']);
    const check = new Database(path, { readonly: true });
    expect(check.pragma('journal_mode', { simple: true })).toBe('delete');
    expect(check.pragma('application_id', { simple: true })).toBe(0);
    check.close();
    expect(readdirSync(dir).sort()).toEqual(['other.db']); // no -wal / -shm left either
  });

  it('refuses a file stamped with another application_id, even without tables', () => {
    const path = join(dir, 'stamped.db');
    const raw = new Database(path);
    raw.pragma('application_id = 1234');
    raw.close();
    const before = sha(path);
    expect(caught(() => openDatabase(path)).message).toBe(`${path} is not a PIT Studio database (application_id 1234): left untouched; choose another --db`);
    expect(sha(path)).toBe(before);
  });

  it('refuses a file that is not SQLite at all, unchanged', () => {
    const path = join(dir, 'notes.txt');
    writeFileSync(path, 'just some text, long enough to not look like an empty database file '.repeat(20));
    const before = sha(path);
    const err = caught(() => openDatabase(path));
    expect(err).toBeInstanceOf(DatabaseError);
    expect(err.message).toMatch(/is not an SQLite database \(SQLITE_NOTADB\)/);
    expect(sha(path)).toBe(before);
  });

  it('adopts a PIT Studio database written before the stamp: same data, stamped', () => {
    const path = join(dir, 'legacy.db');
    const db = openDatabase(path);
    const id = createRun(db, newRun());
    db.pragma('application_id = 0'); // as every file was before the stamp
    db.close();

    const again = openDatabase(path);
    try {
      expect(again.pragma('application_id', { simple: true })).toBe(PIT_APPLICATION_ID);
      expect(listRuns(again).map((r) => r.id)).toEqual([id]);
    } finally {
      again.close();
    }
  });

  it('stamps a new file at creation', () => {
    const path = join(dir, 'new.db');
    openDatabase(path).close();
    const d = new Database(path, { readonly: true });
    expect(d.pragma('application_id', { simple: true })).toBe(PIT_APPLICATION_ID);
    expect(d.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    d.close();
  });
});

describe('read-only open', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('needs the file to exist and creates nothing', () => {
    const path = join(dir, 'missing.db');
    const err = caught(() => openDatabase(path, { readonly: true }));
    expect((err as DatabaseError).code).toBe('PIT_NO_DATABASE');
    expect(err.message).toBe(`no run database at ${path} (pit profile or pit tune creates it)`);
    expect(existsSync(path)).toBe(false);
  });

  it('reads runs without writing a byte, and reports a run whose writer died as interrupted', () => {
    const path = join(dir, 'pit.db');
    openDatabase(path).close();
    // A writer that dies mid-run (SIGKILL): its run stays 'running' in the file.
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'writer-child.ts'), path, 'crash'], { encoding: 'utf8' });
    expect(child.signal).toBe('SIGKILL');
    const id = Number(/crashing (\d+)/.exec(child.stdout)![1]);
    // The database is the main file plus its write-ahead log (the -shm index is shared memory, not data).
    const data = () => sha(path) + (existsSync(`${path}-wal`) ? sha(`${path}-wal`) : '');
    const before = data();

    const ro = openDatabase(path, { readonly: true });
    try {
      expect(ro.readonly).toBe(true);
      const [run] = listRuns(ro);
      expect(run).toMatchObject({ id, complete: false, status: 'interrupted', layerCount: 2 });
      expect(getRunReport(ro, id).run.status).toBe('interrupted');
      expect(() => createRun(ro, newRun())).toThrow(/read-only/);
    } finally {
      ro.close();
    }
    expect(data()).toBe(before);
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT status FROM runs WHERE id = ?').get(id)).toEqual({ status: 'running' });
    raw.close();
  });

  it('says when an older schema needs a writing command first', () => {
    const path = join(dir, 'v1.db');
    const raw = new Database(path);
    raw.pragma(`application_id = ${PIT_APPLICATION_ID}`);
    raw.pragma('user_version = 1');
    raw.exec('CREATE TABLE adapters (id INTEGER)');
    raw.close();
    const err = caught(() => openDatabase(path, { readonly: true }));
    expect((err as DatabaseError).code).toBe('PIT_SCHEMA_OLD');
    expect(err.message).toMatch(/schema version 1, older than this PIT Studio's \d+: open it once with a command that writes/);
  });
});
