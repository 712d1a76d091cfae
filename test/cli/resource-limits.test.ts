/**
 * The 16 KB model (synthetic, built with onnx-builders): X [1, 1, 512, 512] → ReLU → Conv with one 64x64
 * kernel. Its im2col is A [201601, 4096], 3.08 GiB — before issue 14 the CLI built it whole (and a transposed copy),
 * reached 6.6 GB of memory and, on older builds, crashed lavapipe in a memcpy; a 0.19 GiB layer had every variant
 * fail yet was stored in a complete run. Now every layer is sized from its shapes first (core/profile/fit.ts):
 * - at the default budget, lavapipe's 128 MiB binding limit makes it a layer measured in 25 row slices of 8192 rows;
 *   the process never holds the whole im2col (its peak memory stays far below 3 GiB), and SIGTERM during the slices
 *   cancels cleanly (exit 143, run incomplete 'cancelled');
 * - with `--memory-budget` below its smallest slice it is skipped with the reason and the run completes.
 * Measuring all 25 slices takes minutes on lavapipe (N = 1 wastes most of every tile): scripts/hostile.ts runs it
 * to the end; a layer measured in slices to the end is covered by test/profile/tiled.test.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../core/protocol.ts';
import { npyBytes } from '../inputs/npy-fixtures.ts';
import { buildModel, randomFloats } from '../model/onnx-builders.ts';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'pit-limits-'));
const model = join(dir, 'synthetic-16kb-conv64.onnx');
const input = join(dir, 'x512.npy');

/** Peak resident memory of a live process, bytes (Linux /proc; VmHWM). */
function peakRss(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

function runs(db: string): { id: number; status: string; status_message: string }[] {
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return d.prepare('SELECT id, status, status_message FROM runs ORDER BY id').all() as never;
  } finally {
    d.close();
  }
}

describe('the 16 KB model with a 3.08 GiB im2col', () => {
  beforeAll(() => {
    writeFileSync(
      model,
      buildModel({
        inputs: [{ name: 'x', dims: [1, 1, 512, 512] }],
        outputs: [{ name: 'y', dims: [1, 1, 449, 449] }],
        initializers: [{ name: 'w', dims: [1, 1, 64, 64], data: randomFloats(64 * 64, 1), raw: true }],
        nodes: [
          { op: 'Relu', inputs: ['x'], outputs: ['r'] },
          { op: 'Conv', inputs: ['r', 'w'], outputs: ['y'], name: 'conv64', attrs: { kernel_shape: [64, 64] } },
        ],
      }),
    );
    writeFileSync(input, npyBytes('<f4', [1, 1, 512, 512], new Uint8Array(randomFloats(512 * 512, 2).buffer)));
    expect(readFileSync(model).length).toBeLessThan(17 * 1024);
  });

  it('is measured in row slices under one binding each, without ever holding the whole im2col; SIGTERM cancels it', async () => {
    const db = join(dir, 'tiled.db');
    const child = spawn(process.execPath, [join(root, 'bin', 'pit.mjs'), 'profile', '--model', model, '--input', input, '--variants', 'dense', '--repeat', '1', '--warmup-ms', '0', '--db', db]);
    let err = '';
    let peak = Number.NaN;
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (Number.isNaN(peak) && /measuring it in \d+ row slices/.test(err)) {
          peak = peakRss(child.pid!);
          setTimeout(() => child.kill('SIGTERM'), 2000); // into the slices' statistics pass
        }
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(err).toMatch(/conv64: a(t)? \[(201601, 4096|4096, 201601)\] needs 3\.08 GiB, over this device's 128 MiB per binding: measuring it in 25 row slices of 8192 rows/);
    expect(peak).toBeLessThan(1.5 * 2 ** 30);
    expect(code, err).toBe(143);
    expect(err).not.toMatch(/RangeError|Segmentation|Invalid BindGroup/);
    expect(runs(db)).toEqual([{ id: 1, status: 'incomplete', status_message: 'cancelled' }]);
  }, 120_000);

  it('is skipped with the reason when even its smallest slice is over --memory-budget; the run completes', () => {
    const db = join(dir, 'skipped.db');
    const json = join(dir, 'skipped.json');
    const r = spawnSync(process.execPath, [join(root, 'bin', 'pit.mjs'), 'profile', '--model', model, '--input', input, '--memory-budget', '1MiB', '--repeat', '1', '--db', db, '--json', json], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as RunReport;
    expect(report.run.complete).toBe(true);
    expect(report.layers).toHaveLength(1);
    expect(report.layers[0]!.skipped).toMatch(/^too large for this device: .*over the memory budget of 1\.00 MiB even in slices of 128 rows \(layer 201601×1×4096\)$/);
    expect(report.totals.failedLayers).toBe(0);
    expect(r.stdout).toMatch(/not profiled: 1 layer, by reason:\n {2}too large for this device/);
    // Usage: a budget that is not a size.
    const bad = spawnSync(process.execPath, [join(root, 'bin', 'pit.mjs'), 'profile', '--model', model, '--input', input, '--memory-budget', 'lots', '--db', db], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--memory-budget must be a size such as 2GiB/);
  }, 120_000);
});
