/**
 * Opening the run database: where it lives, connection settings, and schema migrations by `PRAGMA user_version`.
 */
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { DatabaseError, SchemaTooNewError, translateSqliteError } from './errors.ts';
import { MIGRATIONS, SCHEMA_VERSION, type Migration } from './migrations.ts';
import { markAbandonedRuns } from './runs.ts';

/** An open run database (a better-sqlite3 connection). */
export type PitDatabase = Database.Database;

/**
 * How long a statement waits for another process's write lock before failing with SQLITE_BUSY, ms. A profiling
 * CLI and the app may share one file; writes are one small transaction per layer, so seconds are plenty.
 */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * The database path used when none is given: `$PIT_DB` if set, else `$XDG_DATA_HOME/pit-studio/pit.db`, with
 * XDG_DATA_HOME defaulting to `~/.local/share` (a relative XDG_DATA_HOME is ignored, as the XDG spec says).
 */
export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PIT_DB) return resolve(env.PIT_DB);
  const xdg = env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share');
  return join(xdg, 'pit-studio', 'pit.db');
}

/**
 * Opens (creating if needed) the run database at `path`: creates parent directories, sets WAL journaling,
 * `synchronous=NORMAL` (durable at checkpoints; a power cut loses at most the last transactions, never
 * consistency), foreign keys and a busy timeout, applies pending migrations, and marks runs whose writer process
 * is gone as incomplete ('interrupted').
 * @param path File path; `:memory:` for a private in-memory database (tests).
 * @throws SchemaTooNewError when the file was written by a newer schema than this code knows.
 * @throws DatabaseError when the file cannot be opened or written (read-only, disk full, not a database…).
 */
export function openDatabase(path: string): PitDatabase {
  const file = path === ':memory:' ? path : resolve(path);
  let db: PitDatabase | undefined;
  try {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    migrate(db, file);
    markAbandonedRuns(db);
    return db;
  } catch (err) {
    db?.close();
    if (err instanceof DatabaseError) throw err;
    if (isFsError(err)) {
      throw new DatabaseError(`cannot create the directory of ${file}: ${err.message}`, err.code ?? 'PIT_FS', file, { cause: err });
    }
    throw translateSqliteError(err, file, `opening ${file}`);
  }
}

/** The schema version stored in the file (0 for a new file). */
export function schemaVersion(db: PitDatabase): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Applies every migration newer than the file's `user_version`, each in its own IMMEDIATE transaction (taken
 * before reading the version, so two processes opening a new file at once cannot both run a migration).
 * @throws SchemaTooNewError when the file is newer than this code.
 */
export function migrate(db: PitDatabase, path: string = db.name, migrations: readonly Migration[] = MIGRATIONS): void {
  const known = migrations.length;
  const found = schemaVersion(db);
  if (found > known) throw new SchemaTooNewError(path, found, known);
  for (const m of migrations) {
    if (m.version <= found) continue;
    db.transaction(() => {
      const now = schemaVersion(db);
      if (now >= m.version) return; // another process got there first
      if (now !== m.version - 1) throw new DatabaseError(`${path}: migration ${m.version} expects schema ${m.version - 1}, found ${now}`, 'PIT_SCHEMA_GAP', path);
      db.exec(m.sql);
      // user_version lives in the file header, which is part of the transaction: it rolls back with the DDL.
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
  const after = schemaVersion(db);
  if (after > known) throw new SchemaTooNewError(path, after, known);
}

function isFsError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

export { SCHEMA_VERSION };
