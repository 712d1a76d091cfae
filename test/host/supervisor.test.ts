/**
 * Host supervision in plain Node (no Electron): spawn, crash detection, restart with back-off, giving up, and
 * what happens to requests and jobs in flight — against a tiny fake host (fixtures/fake-host.mjs).
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { HostEvent, HostStatus } from '../../core/protocol.ts';
import { RpcError } from '../../main/host/rpc.ts';
import { errorLineOf, HostSupervisor, type SupervisorOptions } from '../../main/host/supervisor.ts';

const FAKE = join(import.meta.dirname, 'fixtures', 'fake-host.mjs');
const live: HostSupervisor[] = [];

function supervise(opts: Partial<SupervisorOptions> = {}): { s: HostSupervisor; states: HostStatus[]; events: HostEvent[] } {
  const s = new HostSupervisor({ execPath: process.execPath, entry: FAKE, initialBackoffMs: 20, maxBackoffMs: 100, stableMs: 60_000, ...opts });
  const states: HostStatus[] = [];
  const events: HostEvent[] = [];
  s.on('status', (st) => states.push(st));
  s.on('event', (e) => events.push(e));
  live.push(s);
  return { s, states, events };
}

function until(pred: () => boolean, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => (pred() ? resolve() : Date.now() - t0 > ms ? reject(new Error('condition not met in time')) : setTimeout(tick, 10));
    tick();
  });
}

/** Calls a fake-host method that is not part of the contract (the supervisor relays any name). */
const raw = (s: HostSupervisor, method: string, params: unknown = {}) => s.request(method, params);

afterEach(async () => {
  await Promise.all(live.splice(0).map((s) => s.stop(1000)));
});

describe('HostSupervisor', () => {
  it('spawns the host, waits for ready, and relays requests (queued ones included)', async () => {
    const { s, states } = supervise();
    s.start();
    // Sent before the host is ready: waits instead of failing.
    const answer = raw(s, 'echo', { x: 1 });
    expect(await answer).toEqual({ x: 1 });
    expect(states.map((x) => x.state)).toEqual(['starting', 'ready']);
    expect(s.pid).toBeGreaterThan(0);
    await expect(raw(s, 'nope')).rejects.toMatchObject({ code: 'unknown-method' });
  });

  it('restarts a host that dies, rejecting the request it was serving and ending its jobs', async () => {
    const { s, states, events } = supervise();
    s.start();
    const pid1 = (await raw(s, 'pid')) as number;
    await raw(s, 'profile.start');
    await raw(s, 'tiledb.tune');
    const hanging = raw(s, 'hang');
    await until(() => events.some((e) => e.type === 'runs.changed')); // the host has it
    process.kill(pid1, 'SIGKILL');
    const err = await hanging.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: 'host-unavailable' });
    expect((err as Error).message).toMatch(/host exited \(signal SIGKILL\).*while serving hang/);
    const end = events.find((e) => e.type === 'job.end');
    expect(end).toMatchObject({ type: 'job.end', end: { jobId: 'job-1', status: 'failed', runId: null } });
    const tuneEnd = events.find((e) => e.type === 'tune.end');
    expect(tuneEnd).toMatchObject({ type: 'tune.end', end: { jobId: 'tune-1', status: 'failed', tileDbId: 4 } });
    expect((tuneEnd as { end: { error: string } }).end.error).toMatch(/host exited .*measured points are stored/);

    const pid2 = (await raw(s, 'pid')) as number;
    expect(pid2).not.toBe(pid1);
    expect(s.status).toMatchObject({ state: 'ready', restarts: 1 });
    expect(states.map((x) => x.state)).toEqual(['starting', 'ready', 'restarting', 'restarting', 'ready']);
  });

  it('reports the error line of a host that crashes', async () => {
    const { s, states } = supervise();
    s.start();
    await expect(raw(s, 'crash')).rejects.toMatchObject({ code: 'host-unavailable' });
    await until(() => states.some((x) => x.state === 'restarting'));
    expect(states.find((x) => x.state === 'restarting')!.message).toContain('the host exited (code 7): TypeError: crashing on request');
    await until(() => s.status.state === 'ready');
  });

  it('gives up after repeated failures, then starts again on restart()', async () => {
    const { s, states } = supervise({ args: ['--fail-start'], maxConsecutiveFailures: 2 });
    s.start();
    await until(() => s.status.state === 'failed');
    expect(states.filter((x) => x.state === 'restarting' && x.message.includes('restarting in')).length).toBe(2);
    expect(s.status.message).toContain('Error: boom');
    expect(s.status.message).toContain('gave up after 2 restarts');
    await expect(raw(s, 'echo')).rejects.toMatchObject({ code: 'host-unavailable', message: expect.stringContaining('boom') });
    s.restart();
    expect(s.status.state).toBe('restarting');
    await until(() => s.status.state === 'failed');
  });

  it('says when PIT_NODE does not exist', async () => {
    const { s } = supervise({ execPath: '/nonexistent/node', maxConsecutiveFailures: 0 });
    s.start();
    await until(() => s.status.state === 'failed');
    expect(s.status.message).toContain("'/nonexistent/node' was not found: set PIT_NODE");
  });

  it('kills a host that never becomes ready', async () => {
    const { s } = supervise({ args: ['--never-ready'], readyTimeoutMs: 200, maxConsecutiveFailures: 0 });
    s.start();
    await until(() => s.status.state === 'failed');
    expect(s.status.message).toContain('signal SIGKILL');
  });

  it('stops the host with SIGTERM and does not restart it', async () => {
    const logs: string[] = [];
    const { s } = supervise();
    s.on('log', (l) => logs.push(l));
    s.start();
    await raw(s, 'pid');
    await s.stop();
    expect(s.status.state).toBe('disconnected');
    expect(s.pid).toBeNull();
    await until(() => logs.includes('fake host: SIGTERM'));
    await new Promise((r) => setTimeout(r, 100));
    expect(s.status.state).toBe('disconnected');
    await expect(raw(s, 'echo')).rejects.toMatchObject({ code: 'host-unavailable' });
  });
});

describe("the host's output", () => {
  it("drops Dawn's start-up warnings, keeps every other line; dropLines null keeps them all", async () => {
    for (const [dropLines, expected] of [
      [undefined, ['fake host: a line that matters']],
      [
        null,
        [
          'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.',
          'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.',
          'fake host: a line that matters',
        ],
      ],
    ] as const) {
      const logs: string[] = [];
      const { s } = supervise({ args: ['--dawn-warnings'], ...(dropLines === null ? { dropLines } : {}) });
      s.on('log', (l) => logs.push(l));
      s.start();
      await raw(s, 'pid');
      await until(() => logs.length >= expected.length);
      await new Promise((r) => setTimeout(r, 100));
      expect(logs).toEqual(expected);
      await s.stop();
    }
  });
});

describe('errorLineOf', () => {
  it('picks the line naming the error, not the Node banner or a driver warning', () => {
    expect(errorLineOf(['x', 'SyntaxError: bad', '    at foo (a.js:1)', 'Node.js v20.20.2'])).toBe('SyntaxError: bad');
    expect(errorLineOf(['pit host: DatabaseError: disk full', 'Warning: limits reduced'])).toBe('pit host: DatabaseError: disk full');
    expect(errorLineOf(['Warning: limits reduced'])).toBeUndefined();
  });
});
