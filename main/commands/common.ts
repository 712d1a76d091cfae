/** What every `pit` subcommand shares: the command shape, usage errors, and opening the database. */
import Database from 'better-sqlite3';
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

/** Opens the run database at `--db`, else `$PIT_DB`, else `$XDG_DATA_HOME/pit-studio/pit.db`. */
export function openDb(dbFlag: string | undefined): { db: Database.Database; path: string } {
  const path = dbFlag ?? defaultDbPath();
  return { db: openDatabase(path), path };
}

/** Parses a positive integer flag. @throws UsageError naming the flag. */
export function positiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a positive integer, got '${value}'`);
  return n;
}

export const DB_HELP = `  --db FILE           run database (default: $PIT_DB, else $XDG_DATA_HOME/pit-studio/pit.db)`;
