/**
 * Starts web mode for the e2e tests: `pit serve` on a free port with a temporary database, exactly as a user
 * would (the built CLI and renderer; rebuilt here when stale). Its URL (with the token) and port reach the tests
 * through the environment; the returned function stops the server and removes the database.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const root = resolve(import.meta.dirname, '..', '..');

/** Latest modification time (ms) of a file, or of any file under a directory. */
function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((n) => newest(join(path, n))));
}

/** Whether `out` is missing or older than any of `sources` (relative to the repository root). */
function stale(out: string, sources: string[]): boolean {
  const o = join(root, out);
  return !existsSync(o) || sources.some((s) => newest(join(root, s)) > statSync(o).mtimeMs);
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  // The tests run what a user runs: the built CLI and UI, rebuilt here when their sources are newer.
  if (stale('out/cli/pit.mjs', ['main', 'core', 'db', 'shaders'])) execFileSync('npm', ['run', '--silent', 'build:cli'], { cwd: root, stdio: 'inherit' });
  if (stale('out/renderer/index.html', ['renderer', 'core/protocol.ts', 'vite.renderer.config.ts'])) {
    execFileSync('npm', ['run', '--silent', 'build:renderer'], { cwd: root, stdio: 'inherit' });
  }
  const dir = mkdtempSync(join(tmpdir(), 'pit-e2e-'));
  const db = join(dir, 'e2e.db');
  const server = spawn(process.execPath, [join(root, 'bin', 'pit.mjs'), 'serve', '--db', db], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PIT_RENDERER_DIR: join(root, 'out', 'renderer') },
  });
  const stderr: string[] = [];
  server.stderr.on('data', (b: Buffer) => stderr.push(b.toString()));
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`pit serve printed no URL within 30 s:\n${stderr.join('')}`)), 30_000);
    server.once('exit', (code) => fail(new Error(`pit serve exited (${code}):\n${stderr.join('')}`)));
    createInterface({ input: server.stdout }).once('line', (line) => {
      clearTimeout(timer);
      ok(line.trim());
    });
  });
  process.env.PIT_E2E_URL = url;
  process.env.PIT_E2E_DB = db;
  return async () => {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (server.exitCode === null) server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
}
