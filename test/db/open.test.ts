import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatabaseError, SchemaTooNewError } from '../../db/errors.ts';
import { MIGRATIONS, SCHEMA_VERSION } from '../../db/migrations.ts';
import { defaultDbPath, migrate, openDatabase, PIT_APPLICATION_ID, schemaVersion } from '../../db/open.ts';
import { createRun, getRunReport, listRuns } from '../../db/runs.ts';
import { newRun, tempDir } from './fixtures.ts';

describe('openDatabase', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('creates parent directories (when asked) and migrates an empty file to the latest schema', () => {
    const path = join(dir, 'a', 'b', 'pit.db');
    const db = openDatabase(path, { createDirs: true });
    try {
      expect(existsSync(path)).toBe(true);
      expect(db.name).toBe(path);
      expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
      expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
      MIGRATIONS.forEach((m, i) => expect(m.version).toBe(i + 1));
      const tables = (db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
      expect(tables).toEqual([
        'adapters',
        'heatmaps',
        'inputs',
        'kernels',
        'layer_policy',
        'layers',
        'measurement_kernels',
        'measurements',
        'micro_tiles',
        'models',
        'runs',
        'tile_dbs',
        'tile_points',
      ]);
      const indexes = (db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'runs' AND sql IS NOT NULL`).all() as { name: string }[]).map((r) => r.name);
      expect(indexes).toContain('runs_created_at');
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
      expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
      expect(db.pragma('foreign_key_check')).toEqual([]);
      expect(db.pragma('application_id', { simple: true })).toBe(PIT_APPLICATION_ID);
      expect(PIT_APPLICATION_ID).toBe(0x50495453); // "PITS"
    } finally {
      db.close();
    }
  });

  it('re-opens idempotently: no migration re-runs and data stays', () => {
    const path = join(dir, 'pit.db');
    const db1 = openDatabase(path);
    const id = createRun(db1, newRun());
    db1.close();
    const db2 = openDatabase(path);
    try {
      expect(schemaVersion(db2)).toBe(SCHEMA_VERSION);
      expect(listRuns(db2).map((r) => r.id)).toEqual([id]);
      expect(getRunReport(db2, id).run.repeat).toBe(5);
      // Applying migrations again on an up-to-date file is a no-op.
      migrate(db2);
      expect(schemaVersion(db2)).toBe(SCHEMA_VERSION);
    } finally {
      db2.close();
    }
  });

  it('refuses a database whose schema is newer than the code, and leaves it untouched', () => {
    const path = join(dir, 'future.db');
    const raw = new Database(path);
    raw.pragma(`application_id = ${PIT_APPLICATION_ID}`); // a newer PIT Studio's file
    raw.pragma(`user_version = ${SCHEMA_VERSION + 3}`);
    raw.exec('CREATE TABLE future_thing (x INTEGER)');
    raw.close();

    let err: unknown;
    try {
      openDatabase(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SchemaTooNewError);
    expect(err).toBeInstanceOf(DatabaseError);
    const e = err as SchemaTooNewError;
    expect(e.message).toBe(
      `${path} has schema version ${SCHEMA_VERSION + 3} but this PIT Studio knows up to ${SCHEMA_VERSION}: upgrade PIT Studio, or use another database (PIT_DB)`,
    );
    expect(e.found).toBe(SCHEMA_VERSION + 3);
    expect(e.known).toBe(SCHEMA_VERSION);
    expect(e.message).not.toContain('\n');

    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 3);
    expect(check.prepare(`SELECT COUNT(*) AS n FROM sqlite_schema WHERE name = 'runs'`).get()).toEqual({ n: 0 });
    check.close();
  });

  it('rolls a failing migration back whole: schema and user_version as before', () => {
    const path = join(dir, 'm.db');
    const db = new Database(path);
    const steps = [
      { version: 1, description: 'one', sql: 'CREATE TABLE a (x INTEGER);' },
      { version: 2, description: 'two', sql: 'CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);' },
    ];
    expect(() => migrate(db, path, steps)).toThrow(/no such table: nowhere/);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    const names = (db.prepare(`SELECT name FROM sqlite_schema ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
    expect(names).toEqual(['a']);
    db.close();
  });

  it('reports a path that cannot be created as a DatabaseError', () => {
    const blocker = join(dir, 'file');
    const db = new Database(blocker); // a file where a directory is needed
    db.close();
    expect(() => openDatabase(join(blocker, 'sub', 'pit.db'), { createDirs: true })).toThrow(DatabaseError);
    expect(() => openDatabase(join(blocker, 'sub', 'pit.db'), { createDirs: true })).toThrow(/cannot create the directory of .*file\/sub\/pit\.db/);
  });

  it('refuses a --db in a folder that does not exist, and creates no folder', () => {
    const path = join(dir, 'typo', 'pit.db');
    for (const readonly of [false, true]) {
      const err = catchError(() => openDatabase(path, { readonly }));
      expect(err).toBeInstanceOf(DatabaseError);
      expect((err as DatabaseError).code).toBe('PIT_NO_FOLDER');
      expect((err as Error).message).toBe(`${path}: the folder ${join(dir, 'typo')} does not exist (create it first, or choose another --db)`);
    }
    expect(existsSync(join(dir, 'typo'))).toBe(false);
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

describe('defaultDbPath', () => {
  it('prefers $PIT_DB', () => {
    expect(defaultDbPath({ PIT_DB: '/data/x.db', XDG_DATA_HOME: '/xdg' })).toBe('/data/x.db');
  });
  it('uses $XDG_DATA_HOME/pit-studio/pit.db', () => {
    expect(defaultDbPath({ XDG_DATA_HOME: '/xdg' })).toBe('/xdg/pit-studio/pit.db');
  });
  it('defaults XDG_DATA_HOME to ~/.local/share, ignoring empty or relative values', () => {
    const expected = join(homedir(), '.local', 'share', 'pit-studio', 'pit.db');
    expect(defaultDbPath({})).toBe(expected);
    expect(defaultDbPath({ XDG_DATA_HOME: '', PIT_DB: '' })).toBe(expected);
    expect(defaultDbPath({ XDG_DATA_HOME: 'relative/dir' })).toBe(expected);
  });
});
