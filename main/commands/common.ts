/** What every `pit` subcommand shares: the command shape, usage errors, and opening the database. */
import { resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { defaultDbPath, openDatabase } from '../../db/open.ts';

/** A subcommand of `pit`. `run` returns the exit code (0 ok, 1 failure, 2 usage). */
export interface Command {
  name: string;
  summary: string;
  help: string;
  run(argv: string[]): Promise<number>;
}

/** Wrong arguments: printed with a pointer to `--help`, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Opens the run database at `--db`, else `$PIT_DB`, else `$XDG_DATA_HOME/pit-studio/pit.db`. Commands that only
 * read pass `'read'`: the file is opened read-only (it may sit on a read-only file, folder or mount, and is never
 * changed). Only the default location has its folder created; a `--db` or `$PIT_DB` in a missing folder is an error.
 * @throws DatabaseError (one line) when the file is missing (read), its folder is missing, or it is not PIT Studio's.
 */
export function openDb(dbFlag: string | undefined, mode: 'read' | 'write'): { db: Database.Database; path: string } {
  const path = resolve(dbFlag ?? defaultDbPath());
  return { db: openDatabase(path, { readonly: mode === 'read', createDirs: isDefaultLocation(dbFlag) }), path };
}

/** Whether the database is the default XDG location (neither `--db` nor `$PIT_DB`): its folder may be created. */
export function isDefaultLocation(dbFlag: string | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return dbFlag === undefined && !env.PIT_DB;
}

/** Parses a positive integer flag. @throws UsageError naming the flag. */
export function positiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a positive integer, got '${value}'`);
  return n;
}

export const DB_HELP = `  --db FILE           run database (default: $PIT_DB, else $XDG_DATA_HOME/pit-studio/pit.db)`;
