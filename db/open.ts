/**
 * Opening the run database: where it lives, connection settings, and schema migrations by `PRAGMA user_version`.
 */
import { mkdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { DatabaseError, NotPitDatabaseError, SchemaTooNewError, translateSqliteError } from './errors.ts';
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

/** How to open the run database. */
export interface OpenOptions {
  /**
   * Read only: nothing is ever written (no migration, no journal-mode switch, no marking of interrupted runs; a run
   * whose writer died is still *reported* 'interrupted'). The file must exist. For commands that only read (`pit
   * runs`, `pit show`, `pit export`): they work on a read-only file, directory or mount.
   */
  readonly?: boolean;
  /**
   * Create missing parent folders (default false: a `--db` in a folder that does not exist is a typo to report, not
   * a folder to make). The default location (defaultDbPath without $PIT_DB) passes true.
   */
  createDirs?: boolean;
  /**
   * Mark runs whose writer process is gone as 'interrupted' on open (default true when writable). A supervisor that
   * marks its dead child's run with the crash reason itself passes false.
   */
  markAbandoned?: boolean;
}

/**
 * Opens the run database at `path`. Writable (the default): creates the file when missing (its folder must exist
 * unless `createDirs`), refuses a file that is not PIT Studio's before touching it (checkIdentity), then sets WAL
 * journaling, `synchronous=NORMAL` (durable at checkpoints; a power cut loses at most the last transactions, never
 * consistency), foreign keys and a busy timeout, applies pending migrations, stamps the file with PIT Studio's
 * `application_id`, and marks runs whose writer process is gone as incomplete ('interrupted'). Read-only: see
 * OpenOptions.readonly.
 * @param path File path; `:memory:` for a private in-memory database (tests).
 * @throws NotPitDatabaseError when the file is another program's SQLite database (it is left byte-identical).
 * @throws SchemaTooNewError when the file was written by a newer schema than this code knows.
 * @throws DatabaseError when the file or its folder does not exist (code `PIT_NO_DATABASE`, `PIT_NO_FOLDER`), or
 *   cannot be opened or written (read-only, disk full, not a database…).
 */
export function openDatabase(path: string, options: OpenOptions = {}): PitDatabase {
  const file = path === ':memory:' ? path : resolve(path);
  let db: PitDatabase | undefined;
  try {
    if (file !== ':memory:') prepareLocation(file, options);
    db = options.readonly ? openReadOnly(file) : new Database(file);
    // Identity first: nothing below may touch another program's file (not even its journal mode).
    const identity = checkIdentity(db, file);
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (options.readonly) {
      if (identity === 'empty') throw new DatabaseError(`${file} holds no PIT Studio data yet (pit profile or pit tune writes it)`, 'PIT_NO_DATABASE', file);
      const found = schemaVersion(db);
      if (found > MIGRATIONS.length) throw new SchemaTooNewError(file, found, MIGRATIONS.length);
      if (found < MIGRATIONS.length) {
        throw new DatabaseError(
          `${file} has schema version ${found}, older than this PIT Studio's ${MIGRATIONS.length}: open it once with a command that writes (pit profile, pit tune) to upgrade it`,
          'PIT_SCHEMA_OLD',
          file,
        );
      }
      return db;
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    migrate(db, file);
    claim(db);
    if (options.markAbandoned ?? true) markAbandonedRuns(db);
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

/**
 * A read-only connection to `file`. SQLite cannot open a WAL database read-only when its `-shm` index does not exist
 * and cannot be created (a read-only folder or mount: SQLITE_READONLY_DIRECTORY / SQLITE_CANTOPEN). Then the file
 * is read into memory and opened from there — a snapshot, which is all a reader of a folder nobody can write to
 * needs — unless a write-ahead log with data lies beside it (the snapshot would silently miss it).
 * @throws DatabaseError `PIT_READONLY_WAL` in that last case.
 */
function openReadOnly(file: string): PitDatabase {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('application_id', { simple: true }); // the first read is where a missing -shm shows
    return db;
  } catch (err) {
    db.close();
    const code = (err as { code?: string }).code ?? '';
    if (!/^SQLITE_(READONLY|CANTOPEN)/.test(code)) throw err;
  }
  const wal = statSync(`${file}-wal`, { throwIfNoEntry: false });
  if (wal && wal.size > 0) {
    throw new DatabaseError(
      `cannot read ${file} read-only: its write-ahead log (${file}-wal) holds data and the folder is read-only; open it once where it is writable`,
      'PIT_READONLY_WAL',
      file,
    );
  }
  const bytes = readFileSync(file);
  // Header bytes 18–19 say "WAL" (2); an in-memory database cannot have a WAL, so read it as a rollback-journal file.
  if (bytes.length >= 20 && bytes[18] === 2 && bytes[19] === 2) bytes[18] = bytes[19] = 1;
  const snapshot = new Database(bytes, { readonly: true });
  // Messages name the database by db.name, which for a deserialized database is ':memory:' (and not writable): a
  // proxy answers the file's path instead and hands every other member out bound to the real connection.
  return new Proxy(snapshot, {
    get(target, prop) {
      if (prop === 'name') return file;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * Checks (or, with `createDirs`, makes) the folder of `file`; in read-only mode, that the file exists.
 * @throws DatabaseError `PIT_NO_FOLDER` / `PIT_NO_DATABASE` saying which is missing.
 */
function prepareLocation(file: string, options: OpenOptions): void {
  const dir = dirname(file);
  if (options.createDirs && !options.readonly) {
    mkdirSync(dir, { recursive: true });
    return;
  }
  const st = statOrNull(dir, file);
  if (!st || !st.isDirectory()) {
    throw new DatabaseError(
      `${file}: the folder ${dir} ${st ? 'is not a folder' : 'does not exist'} (create it first, or choose another --db)`,
      'PIT_NO_FOLDER',
      file,
    );
  }
  if (options.readonly && !statOrNull(file, file)) {
    throw new DatabaseError(`no run database at ${file} (pit profile or pit tune creates it)`, 'PIT_NO_DATABASE', file);
  }
}

/**
 * `stat` of `path`, null when it does not exist.
 * @throws DatabaseError naming `file` when it cannot be looked at (EACCES: a folder on the way is not searchable).
 */
function statOrNull(path: string, file: string): Stats | null {
  try {
    return statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'PIT_FS';
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new DatabaseError(`cannot open ${file}: no permission to look at ${path} (${code})`, code, file, { cause: err });
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

/**
 * PIT Studio's `PRAGMA application_id` (SQLite file header offset 68): "PITS" in ASCII. `file(1)` and any SQLite tool
 * can tell a PIT Studio database by it; openDatabase refuses files stamped with another id.
 */
export const PIT_APPLICATION_ID = 0x50495453;

/**
 * Tables every PIT Studio schema version has created (databases from before the application_id stamp are
 * recognised by them).
 */
const TABLES_BY_VERSION: Record<number, readonly string[]> = {
  1: ['adapters', 'models', 'runs', 'inputs', 'layers', 'heatmaps', 'micro_tiles', 'kernels', 'measurements', 'measurement_kernels'],
  2: ['tile_dbs', 'tile_points', 'layer_policy'],
};

/**
 * Whether the open file is PIT Studio's, by reading only (so a refused file is left byte-identical):
 * - `pit`: stamped with PIT_APPLICATION_ID;
 * - `empty`: no tables and no application id (a new or empty file: ours to initialise);
 * - `legacy`: no application id, but every table of its schema version (written before the stamp existed).
 * @throws NotPitDatabaseError for anything else: another application id, or tables that are not PIT Studio's.
 * @throws SqliteError SQLITE_NOTADB when the file is not SQLite at all (translated by the caller).
 */
export function checkIdentity(db: PitDatabase, path: string = db.name): 'pit' | 'empty' | 'legacy' {
  const appId = db.pragma('application_id', { simple: true }) as number;
  if (appId === PIT_APPLICATION_ID) return 'pit';
  const tables = (db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
  if (appId === 0 && tables.length === 0) return 'empty';
  const version = schemaVersion(db);
  if (appId === 0 && version >= 1 && version <= MIGRATIONS.length) {
    const expected = Object.entries(TABLES_BY_VERSION).filter(([v]) => Number(v) <= version).flatMap(([, t]) => t);
    if (expected.every((t) => tables.includes(t))) return 'legacy';
  }
  throw new NotPitDatabaseError(path, appId, tables);
}

/** Stamps the file as PIT Studio's (new files and databases from before the stamp), in its own transaction. */
function claim(db: PitDatabase): void {
  if ((db.pragma('application_id', { simple: true }) as number) === PIT_APPLICATION_ID) return;
  db.transaction(() => db.pragma(`application_id = ${PIT_APPLICATION_ID}`)).immediate();
}

function isFsError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

export { SCHEMA_VERSION };
