/**
 * `pit serve` survives a GPU job that crashes its process: the host runs in a supervised child, so when a driver
 * fault kills it mid-profile (injected here as SIGSEGV, what a lavapipe memcpy fault delivers), the job ends
 * `failed`, its run is marked incomplete with the reason and keeps its finished layers, the host comes back, and
 * the same server and socket keep answering. Run from source (tsx), as the bundled CLI runs the same code.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { HostEvent, RunListItem } from '../../core/protocol.ts';

const root = resolve(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'pit-serve-crash-'));
let server: ChildProcessWithoutNullStreams | null = null;

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (server.exitCode === null) server.kill('SIGKILL');
  }
});

describe('pit serve with a crashing GPU job', () => {
  it('marks the run failed, restarts the host and keeps serving', async () => {
    server = spawn(process.execPath, ['--import', 'tsx', '-e', `import('./main/cli.ts').then(async (m) => { process.exitCode = await m.main(process.argv.slice(1)); })`, 'serve', '--db', join(dir, 'pit.db')], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env },
    });
    let stderr = '';
    server.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = await new Promise<string>((ok, fail) => {
      const t = setTimeout(() => fail(new Error(`no URL within 60 s:\n${stderr}`)), 60_000);
      createInterface({ input: server!.stdout }).once('line', (l) => {
        clearTimeout(t);
        ok(l.trim());
      });
    });
    const hostPid = () => Number([...stderr.matchAll(/host ready \(pid (\d+)\)/g)].at(-1)![1]);
    const firstPid = hostPid();
    expect(firstPid).toBeGreaterThan(0);

    const u = new URL(url);
    const ws = new WebSocket(`ws://${u.host}/rpc?token=${new URLSearchParams(u.hash.slice(1)).get('token')}`);
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    const events: HostEvent[] = [];
    const replies = new Map<number, { result?: unknown; error?: { message: string } }>();
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as { id?: number; event?: HostEvent; result?: unknown; error?: { message: string } };
      if (m.event) events.push(m.event);
      else if (typeof m.id === 'number') replies.set(m.id, m);
    });
    let nextId = 1;
    const until = async (pred: () => boolean, ms: number, what: string) => {
      const t0 = Date.now();
      while (!pred()) {
        if (Date.now() - t0 > ms) throw new Error(`${what} did not happen within ${ms} ms; stderr:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const call = async (method: string, params: unknown) => {
      const id = nextId++;
      ws.send(JSON.stringify({ id, method, params }));
      await until(() => replies.has(id), 60_000, `a reply to ${method}`);
      const r = replies.get(id)!;
      if (r.error) throw new Error(r.error.message);
      return r.result;
    };

    const { jobId } = (await call('profile.start', { useDefault: true, inputs: [], imageSize: 64, repeat: 1, warmup: 0 })) as { jobId: string };
    // Crash the host once the run exists and a layer is stored (as lavapipe's fault hits mid-profile).
    await until(() => events.some((e) => e.type === 'progress' && e.jobId === jobId && e.event.kind === 'layer'), 120_000, 'a first profiled layer');
    const runId = (events.find((e) => e.type === 'progress' && e.event.kind === 'layer') as { event: { runId: number } }).event.runId;
    process.kill(firstPid, 'SIGSEGV');

    await until(() => events.some((e) => e.type === 'job.end'), 30_000, 'the end of the job');
    const end = events.find((e) => e.type === 'job.end') as Extract<HostEvent, { type: 'job.end' }>;
    expect(end.end).toMatchObject({ jobId, runId, status: 'failed' });
    expect(end.end.error).toMatch(/the host exited \(signal SIGSEGV\)/);
    await until(() => events.some((e) => e.type === 'host.status' && e.status.state === 'ready' && e.status.restarts === 1), 60_000, 'the host restart');

    // The same server and socket keep serving, from the restarted host.
    const runs = (await call('runs.list', {})) as RunListItem[];
    expect(hostPid()).not.toBe(firstPid);
    const run = runs.find((r) => r.id === runId)!;
    expect(run.complete).toBe(false);
    expect(run.status).toMatch(/^the GPU process crashed: the host exited \(signal SIGSEGV\)/);
    expect(run.layerCount).toBeGreaterThanOrEqual(1);
    expect(((await call('host.info', {})) as { dbPath: string }).dbPath).toBe(join(dir, 'pit.db'));
    ws.close();

    const exited = new Promise<number | null>((r) => server!.once('exit', (c) => r(c)));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
