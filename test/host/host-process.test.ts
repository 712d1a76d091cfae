/**
 * The real host process (main/host/main.ts, run from source with tsx) under the supervisor, as Electron main runs
 * it: ready over IPC, the contract served with its validation, and a restart after it is killed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HostSupervisor } from '../../main/host/supervisor.ts';

const root = resolve(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'pit-hostproc-'));
const s = new HostSupervisor({
  execPath: process.execPath,
  execArgv: ['--import', 'tsx'],
  entry: join(root, 'main', 'host', 'main.ts'),
  args: ['--db', join(dir, 'pit.db')],
  initialBackoffMs: 50,
});

afterAll(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('host process', () => {
  it('serves the contract over IPC', async () => {
    s.start();
    const info = await s.request('host.info', {});
    expect(info.dbPath).toBe(join(dir, 'pit.db'));
    expect(info.adapter !== null || typeof info.gpuError === 'string').toBe(true);
    expect(await s.request('runs.list', {})).toEqual([]);
    const d = await s.request('models.default', {});
    expect(d.modelPath).toMatch(/ch_PP-OCRv4_det_infer\.onnx$/);
    await expect(s.request('runs.get', { id: -1 })).rejects.toMatchObject({ code: 'invalid-params', message: "runs.get: 'id' must be ≥ 1, got -1" });
    await expect(s.request('runs.get', { id: 42 })).rejects.toMatchObject({ code: 'not-found' });
    await expect(s.request('profile.start', { modelPath: '/nope.onnx', inputs: ['/nope.jpg'] })).rejects.toThrow('model file not found: /nope.onnx');
  });

  it('comes back after being killed', async () => {
    const pid = s.pid!;
    const down = new Promise<void>((r) => s.on('status', (st) => st.state === 'restarting' && r()));
    process.kill(pid, 'SIGKILL');
    await down;
    // Made while the host restarts: waits for the new one.
    expect(await s.request('runs.list', {})).toEqual([]);
    expect(s.pid).not.toBe(pid);
    expect(s.status.restarts).toBe(1);
  });
});
