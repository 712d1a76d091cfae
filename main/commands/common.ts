/** What every `pit` subcommand shares: the command shape, usage errors, and opening the database. */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
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

/** Exit codes of a job stopped by a signal: 128 + the signal's number, as shells report it. */
const SIGNAL_EXIT: Record<'SIGINT' | 'SIGTERM' | 'SIGHUP', number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/**
 * Ctrl-C, SIGTERM (a service manager, `kill`, a container stop) and SIGHUP (the terminal closed) all cancel the job
 * the same way: `abort` is aborted, the job stops after the step in flight and marks what it wrote as cancelled,
 * and the command then exits with `exitCode()` (130, 143 or 129). A second signal quits at once.
 * @param what what happens, for the message on stderr (e.g. `cancelling after the layer in flight`).
 * @returns the exit code to use once the job is done (0 while no signal came) and `dispose` to remove the handlers.
 */
export function cancelOnSignals(abort: AbortController, what: string): { exitCode(): number; dispose(): void } {
  let code = 0;
  const handlers = (Object.keys(SIGNAL_EXIT) as (keyof typeof SIGNAL_EXIT)[]).map((sig) => {
    const h = () => {
      if (abort.signal.aborted) process.exit(code || SIGNAL_EXIT[sig]);
      code = SIGNAL_EXIT[sig];
      console.error(`\npit: ${sig === 'SIGINT' ? 'Ctrl-C' : sig}: ${what} (${sig === 'SIGINT' ? 'Ctrl-C' : 'a second signal'} again to quit at once)`);
      abort.abort();
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return {
    exitCode: () => code,
    dispose: () => handlers.forEach(([sig, h]) => process.off(sig, h)),
  };
}

/**
 * Checks an output file's location before any work starts, so a typo does not cost a whole profile: its folder
 * must exist and the path must not be a folder.
 * @param flag the option, for the message (e.g. `--json`).
 * @throws Error (one line) saying what is wrong.
 */
export function checkOutputFile(flag: string, path: string | undefined): void {
  if (path === undefined || path === '-') return;
  const abs = resolve(path);
  const dir = dirname(abs);
  const d = statSync(dir, { throwIfNoEntry: false });
  if (!d || !d.isDirectory()) throw new Error(`${flag} ${abs}: the folder ${dir} ${d ? 'is not a folder' : 'does not exist'}; nothing was done`);
  if (statSync(abs, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${flag} ${abs} is a folder, not a file; nothing was done`);
}

export const VERBOSE_HELP = `  --verbose           also print the GPU driver's start-up warnings (Dawn's, hidden by default)`;

export const DB_HELP = `  --db FILE           run database (default: $PIT_DB, else $XDG_DATA_HOME/pit-studio/pit.db)`;
