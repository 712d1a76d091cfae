/**
 * Errors of the run database. Each message is one line that says what failed and where, so the CLI can print it
 * as is and the UI can show it in a toast.
 */
import Database from 'better-sqlite3';

/**
 * The database could not be read or written: disk full, read-only file, I/O error, locked, not a PIT database,
 * or a schema newer than this code. The operation that hit it was rolled back, so the file holds no partial write.
 */
export class DatabaseError extends Error {
  override name = 'DatabaseError';
  /**
   * @param code SQLite's extended result code (e.g. `SQLITE_FULL`, `SQLITE_READONLY_DBMOVED`), or a `PIT_*` code
   *   for errors of our own.
   * @param path The database file.
   */
  constructor(
    message: string,
    readonly code: string,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The database's `user_version` is newer than any migration this code knows: written by a newer PIT Studio. */
export class SchemaTooNewError extends DatabaseError {
  override name = 'SchemaTooNewError';
  constructor(
    path: string,
    readonly found: number,
    readonly known: number,
  ) {
    super(
      `${path} has schema version ${found} but this PIT Studio knows up to ${known}: upgrade PIT Studio, or use another database (PIT_DB)`,
      'PIT_SCHEMA_TOO_NEW',
      path,
    );
  }
}

/**
 * The file is an SQLite database of another program (another `application_id`, or tables that are not PIT Studio's):
 * refused before anything is written, so it stays byte-identical.
 */
export class NotPitDatabaseError extends DatabaseError {
  override name = 'NotPitDatabaseError';
  constructor(
    path: string,
    readonly applicationId: number,
    readonly tables: readonly string[],
  ) {
    const shown = tables.slice(0, 4).join(', ') + (tables.length > 4 ? `, … (${tables.length} tables)` : '');
    super(
      `${path} is not a PIT Studio database (${applicationId ? `application_id ${applicationId}` : 'no application_id'}` +
        `${tables.length ? `; tables ${shown}` : ''}): left untouched; choose another --db`,
      'PIT_NOT_PIT_DATABASE',
      path,
    );
  }
}

/** No run with this id exists in the database. */
export class RunNotFoundError extends Error {
  override name = 'RunNotFoundError';
  constructor(
    readonly runId: number,
    readonly path: string,
  ) {
    super(`no run ${runId} in ${path}`);
  }
}

/**
 * The run exists but is not in a state that allows the operation (e.g. recording a layer into a finished run), or
 * the record to store is inconsistent with the run (a layer on an input the run does not have).
 */
export class RunStateError extends Error {
  override name = 'RunStateError';
  constructor(
    message: string,
    readonly runId: number,
  ) {
    super(message);
  }
}

/**
 * Turns an environment failure of SQLite (full disk, read-only file, I/O error, busy, corrupt) into a
 * DatabaseError that says so in words; anything else (constraint violations, programming errors) is returned
 * unchanged because its own message is the useful one.
 * @param what What was being done, e.g. `recording layer 3 of run 12`.
 */
export function translateSqliteError(err: unknown, path: string, what: string): unknown {
  if (!(err instanceof Database.SqliteError)) return err;
  const code = err.code;
  const reason = REASONS[primaryCode(code)];
  if (!reason) return err;
  return new DatabaseError(`${what} failed: ${reason(path)} (${code}); nothing was written`, code, path, { cause: err });
}

/** `SQLITE_IOERR_WRITE` → `SQLITE_IOERR`. */
function primaryCode(code: string): string {
  const m = /^SQLITE_[A-Z]+/.exec(code);
  return m ? m[0] : code;
}

const REASONS: Record<string, (path: string) => string> = {
  SQLITE_FULL: (p) => `the disk holding ${p} is full (or the database reached its size limit)`,
  SQLITE_READONLY: (p) => `${p} is read-only (check the file's and its directory's permissions)`,
  SQLITE_IOERR: (p) => `an I/O error occurred on ${p} (disk failing, removed, or out of space)`,
  SQLITE_CANTOPEN: (p) => `${p} cannot be opened (missing directory or no permission)`,
  SQLITE_BUSY: (p) => `${p} is locked by another process`,
  SQLITE_LOCKED: (p) => `${p} is locked by another connection`,
  SQLITE_CORRUPT: (p) => `${p} is corrupt`,
  SQLITE_NOTADB: (p) => `${p} is not an SQLite database`,
  SQLITE_PERM: (p) => `no permission to write ${p}`,
};

/**
 * Runs `fn` and rethrows SQLite environment failures as DatabaseError (see translateSqliteError). `fn` should be a
 * better-sqlite3 transaction, so the rollback has already happened when the error arrives here.
 */
export function guarded<T>(path: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw translateSqliteError(err, path, what);
  }
}
