/**
 * Re-runs the hostile categories of issue 14 against the built CLI (`npm run build:cli` first) and counts what
 * happened: cases, clean outcomes, clean errors, crashes, hangs, data lost or wrong. Every model is synthetic (built
 * with test/model/onnx-builders.ts) and labelled so; everything is written to a temporary folder.
 *
 * Categories:
 * - `oversized`: layers whose operands are over the device's binding limit or the memory budget — the issue's 0.19
 *   GiB operand, its 16 KB model with a 3.08 GiB im2col (`--full` measures all 25 slices: minutes on lavapipe;
 *   otherwise it is cancelled with SIGTERM once its slices are decided), the same under a budget below one slice, a
 *   weight over one binding. Clean: exit 0, the run complete, the layer measured in slices with every verified
 *   variant, or skipped with the reason; never a failed layer inside the totals.
 * - `ort-rejects`: models the reference runtime rejects (an unknown op, opset 99, a Reshape refused at run time) and
 *   seeded mutations of a small valid model (byte flips, truncations, broken fields). Clean: exit 0 with a complete
 *   run, or exit 1 with one line and no run left behind.
 * - `no-inputs`: models without graph inputs (none at all; IR-3 style, every "input" an initializer). Clean: one line,
 *   exit 1, no run.
 * - `all-nan`: an all-NaN input to a MatMul and a Conv. Clean: the run complete, GPU detection agreeing with the CPU
 *   (NaN counts as non-zero: every micro-tile density 1), no variant failed for detection.
 * - `kill-9`: `pit profile` SIGKILLed at seeded random moments on one database. Clean: integrity_check ok, the run
 *   interrupted (or complete, if it had ended), every finished layer whole, the other runs unchanged.
 *
 * Usage: npx tsx scripts/hostile.ts [--full] [--mutations N] [--kills N] [--only CATEGORY] [--json FILE]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { onnx as OnnxNs } from 'onnx-proto';
import { onnx } from '../core/model/onnx-import.ts';
import type { RunReport } from '../core/protocol.ts';
import { mulberry32 } from '../core/synthetic/random.ts';
import { openDatabase } from '../db/open.ts';
import { getRunReport, listRuns } from '../db/runs.ts';
import { npyBytes } from '../test/inputs/npy-fixtures.ts';
import { buildModel, randomFloats, type ModelSpec } from '../test/model/onnx-builders.ts';

const { values } = parseArgs({
  options: { full: { type: 'boolean' }, mutations: { type: 'string' }, kills: { type: 'string' }, only: { type: 'string' }, json: { type: 'string' } },
});
const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'pit-hostile-'));
const CLI = join(root, 'bin', 'pit.mjs');

type Outcome = 'ok' | 'clean error' | 'crash' | 'hang' | 'data lost or wrong';
interface Case {
  category: string;
  name: string;
  outcome: Outcome;
  detail: string;
  seconds: number;
}
const cases: Case[] = [];
const record = (category: string, name: string, outcome: Outcome, detail: string, seconds: number) => {
  cases.push({ category, name, outcome, detail, seconds });
  console.error(`[${category}] ${name}: ${outcome} (${seconds.toFixed(1)} s) ${detail}`);
};

function f32npy(path: string, shape: number[], data: Float32Array): string {
  writeFileSync(path, npyBytes('<f4', shape, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
  return path;
}

function model(name: string, spec: ModelSpec): string {
  const path = join(dir, `synthetic-${name}.onnx`);
  writeFileSync(path, buildModel(spec));
  return path;
}

function runCount(db: string): number {
  try {
    const d = openDatabase(db, { readonly: true });
    try {
      return listRuns(d).length;
    } finally {
      d.close();
    }
  } catch {
    return 0;
  }
}

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  seconds: number;
}

/** Runs the CLI; `onStderr` may return a signal to send. Times out (a hang) after `timeoutS` without exiting. */
function cli(args: string[], timeoutS: number, onStderr?: (text: string) => NodeJS.Signals | null): Promise<CliResult> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, ...args]);
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  let sent = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutS * 1000);
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    const sig = !sent && onStderr ? onStderr(stderr) : null;
    if (sig) {
      sent = true;
      child.kill(sig);
    }
  });
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

/** The generic verdict of a profile: crash, hang, clean error (one line, no run added), or null to inspect further. */
function verdict(r: CliResult, db: string, runsBefore: number): { outcome: Outcome; detail: string } | null {
  const lastLine = r.stderr.trim().split('\n').filter((l) => l.startsWith('pit ')).at(-1) ?? '';
  if (r.timedOut) return { outcome: 'hang', detail: 'no exit within the time limit' };
  if (r.signal || (r.code !== 0 && r.code !== 1 && r.code !== 2 && r.code !== 143)) return { outcome: 'crash', detail: `exit ${r.code} signal ${r.signal}: ${r.stderr.slice(-300)}` };
  if (/RangeError|TypeError|Segmentation|    at /.test(r.stderr)) return { outcome: 'crash', detail: `untyped error or stack: ${r.stderr.slice(-300)}` };
  if (r.code === 1 || r.code === 2) {
    const lines = r.stderr.trim().split('\n').filter((l) => /^pit /.test(l));
    if (runCount(db) !== runsBefore) return { outcome: 'data lost or wrong', detail: `error after a run was created: ${lastLine}` };
    if (lines.length !== 1) return { outcome: 'data lost or wrong', detail: `${lines.length} error lines` };
    return { outcome: 'clean error', detail: lastLine.slice(0, 160) };
  }
  return null;
}

/** Checks of a stored run that must hold whatever the model: failed layers outside the totals, no made-up errors. */
function reportProblems(report: RunReport, text: string): string[] {
  const problems: string[] = [];
  if (!report.run.complete) problems.push(`run incomplete: ${report.run.status}`);
  const profiled = report.layers.filter((l) => !l.skipped);
  const failed = profiled.filter((l) => !l.variants.some((v) => v.ok && v.family === 'dense'));
  if ((report.totals.failedLayers ?? 0) !== failed.length) problems.push(`totals say ${report.totals.failedLayers} failed layers, ${failed.length} have no verified dense variant`);
  for (const l of failed) if (!l.failed) problems.push(`${l.name}: no verified dense variant but not marked failed`);
  for (const l of profiled) {
    const row = text.split('\n').find((x) => x.includes(` ${l.name} `));
    if (l.failed && row && /0\.0e\+0/.test(row)) problems.push(`${l.name}: failed layer shows max err 0.0e+0`);
  }
  return problems;
}

async function profileCase(category: string, name: string, args: string[], timeoutS: number, check: (report: RunReport, r: CliResult) => string[], onStderr?: (t: string) => NodeJS.Signals | null): Promise<void> {
  const db = join(dir, `${category}-${name.replace(/\W+/g, '-')}.db`);
  const json = join(dir, `${category}-${name.replace(/\W+/g, '-')}.json`);
  const before = runCount(db);
  const r = await cli(['profile', ...args, '--db', db, '--json', json], timeoutS, onStderr);
  const v = verdict(r, db, before);
  if (v) return record(category, name, v.outcome, v.detail, r.seconds);
  if (r.code === 143) {
    // Cancelled on purpose: the run must be marked cancelled, nothing else.
    const d = openDatabase(db, { readonly: true });
    const runs = listRuns(d);
    d.close();
    const ok = runs.length === 1 && runs[0]!.status === 'cancelled';
    const detail = (r.stderr.match(/^pit: .*row slices.*$/m)?.[0] ?? '').slice(0, 200);
    return record(category, name, ok ? 'ok' : 'data lost or wrong', ok ? `cancelled as asked; ${detail}` : `after SIGTERM: ${JSON.stringify(runs.map((x) => x.status))}`, r.seconds);
  }
  const report = JSON.parse(readFileSync(json, 'utf8')) as RunReport;
  const problems = [...reportProblems(report, r.stdout), ...check(report, r)];
  const l = report.layers[0];
  const what = l ? (l.skipped ? `skipped: ${l.skipped}` : `${l.tiled ? `${l.tiled.slices} slices, ` : ''}${l.variants.filter((v) => v.ok).length}/${l.variants.length} variants verified${l.failed ? `, FAILED: ${l.failed}` : ''}`) : '';
  record(category, name, problems.length ? 'data lost or wrong' : 'ok', problems.length ? problems.join('; ') : what.slice(0, 200), r.seconds);
}

const conv = (name: string, hw: number, kk: number): { model: string; input: string } => ({
  model: model(name, {
    inputs: [{ name: 'x', dims: [1, 1, hw, hw] }],
    outputs: [{ name: 'y', dims: [1, 1, hw - kk + 1, hw - kk + 1] }],
    initializers: [{ name: 'w', dims: [1, 1, kk, kk], data: randomFloats(kk * kk, 1), raw: true }],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'Conv', inputs: ['r', 'w'], outputs: ['y'], name: 'conv', attrs: { kernel_shape: [kk, kk] } },
    ],
  }),
  input: f32npy(join(dir, `${name}.npy`), [1, 1, hw, hw], randomFloats(hw * hw, 2)),
});

async function oversized(): Promise<void> {
  const everyVerified = (report: RunReport) => {
    const l = report.layers[0]!;
    if (l.skipped) return [`skipped: ${l.skipped}`];
    return l.variants.filter((v) => !v.ok).map((v) => `${v.name} failed: ${v.error}`);
  };
  const mid = conv('conv32-0.19GiB', 256, 32);
  await profileCase('oversized', '0.19 GiB im2col (A [50625, 1024]), every family', ['--model', mid.model, '--input', mid.input, '--repeat', '1', '--warmup-ms', '0'], 1800, (rep) => [
    ...everyVerified(rep),
    ...(rep.layers[0]!.tiled ? [] : ['not tiled']),
  ]);
  const big = conv('conv64-16KB', 512, 64);
  if (values.full) {
    await profileCase('oversized', '16 KB model, 3.08 GiB im2col, all 25 slices (dense tiles)', ['--model', big.model, '--input', big.input, '--variants', 'dense', '--repeat', '1', '--warmup-ms', '0'], 7200, (rep) => [
      ...everyVerified(rep),
      ...(rep.layers[0]!.tiled?.slices === 25 ? [] : ['not in 25 slices']),
    ]);
  } else {
    await profileCase('oversized', '16 KB model, 3.08 GiB im2col: sliced, then SIGTERM', ['--model', big.model, '--input', big.input, '--variants', 'dense', '--repeat', '1', '--warmup-ms', '0'], 600, () => [], (t) =>
      /slice 1 of 25 .* measured/.test(t) ? 'SIGTERM' : null,
    );
  }
  await profileCase('oversized', '16 KB model under --memory-budget 1MiB', ['--model', big.model, '--input', big.input, '--memory-budget', '1MiB'], 600, (rep) =>
    rep.layers[0]!.skipped?.startsWith('too large for this device') ? [] : ['not skipped with the reason'],
  );
  // A batched layer (attention QKᵀ / AV over 4 heads) over the budget: sliced along its heads, not along M.
  const dims = [1, 4, 12, 8];
  const attn = model('attention-4-heads', {
    inputs: (['q', 'k', 'v'] as const).map((name) => ({ name, dims })),
    outputs: [{ name: 'y', dims }],
    nodes: [
      { op: 'Transpose', inputs: ['k'], outputs: ['kt'], attrs: { perm: [0, 1, 3, 2] } },
      { op: 'MatMul', inputs: ['q', 'kt'], outputs: ['s'], name: 'qk' },
      { op: 'Softmax', inputs: ['s'], outputs: ['p'], attrs: { axis: -1 } },
      { op: 'MatMul', inputs: ['p', 'v'], outputs: ['y'], name: 'av' },
    ],
  });
  const qkv = (['q', 'k', 'v'] as const).flatMap((name, i) => ['--input', `${name}=${f32npy(join(dir, `attn-${name}.npy`), dims, randomFloats(4 * 12 * 8, 10 + i))}`]);
  await profileCase('oversized', 'attention QKᵀ / AV (4 heads) under --memory-budget 32000: batch slices', ['--model', attn, ...qkv, '--memory-budget', '32000', '--repeat', '1', '--warmup-ms', '0'], 600, (rep) =>
    rep.layers.flatMap((l) => [...(l.tiled?.batches ? [] : [`${l.name} not in batch slices`]), ...l.variants.filter((v) => !v.ok).map((v) => `${l.name} ${v.name} failed: ${v.error}`)]),
  );
  const wide = model('matmul-B-137MiB', {
    inputs: [{ name: 'x', dims: [64, 8192] }],
    outputs: [{ name: 'y', dims: [64, 4400] }],
    initializers: [{ name: 'W', dims: [8192, 4400], data: new Float32Array(8192 * 4400).fill(0.001), raw: true }],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'MatMul', inputs: ['r', 'W'], outputs: ['y'], name: 'wide' },
    ],
  });
  await profileCase('oversized', 'weight B [8192, 4400] (137 MiB) over one binding', ['--model', wide, '--input', f32npy(join(dir, 'wide.npy'), [64, 8192], randomFloats(64 * 8192, 3)), '--repeat', '1', '--warmup-ms', '0'], 600, (rep) =>
    rep.layers[0]!.skipped?.match(/^too large for this device: b \[8192, 4400\]/) ? [] : [`not skipped as expected: ${rep.layers[0]!.skipped ?? 'profiled'}`],
  );
}

/** A small valid model: x [n, 4] → ReLU → MatMul W [4, 3] → y, plus `extra`. */
function small(name: string, extra: Partial<ModelSpec> & { out?: string } = {}): string {
  return model(name, {
    opset: extra.opset,
    irVersion: extra.irVersion,
    initializersAsInputs: extra.initializersAsInputs,
    inputs: extra.inputs ?? [{ name: 'x', dims: ['n', 4] }],
    outputs: [{ name: extra.out ?? 'y', dims: [] }],
    initializers: [{ name: 'W', dims: [4, 3], data: randomFloats(12, 1) }, ...(extra.initializers ?? [])],
    nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['r'] }, { op: 'MatMul', inputs: ['r', 'W'], outputs: ['y'], name: 'mm' }, ...(extra.nodes ?? [])],
  });
}

async function ortRejects(): Promise<void> {
  const input = f32npy(join(dir, 'x24.npy'), [2, 4], randomFloats(8, 4));
  const named: [string, string][] = [
    ['unknown op', small('unknown-op', { nodes: [{ op: 'NoSuchOp', inputs: ['y'], outputs: ['z'] }], out: 'z' })],
    ['opset 99', small('opset-99', { opset: 99 })],
    ['Reshape refused at run time', small('runtime-reshape', { nodes: [{ op: 'Reshape', inputs: ['y', 's'], outputs: ['z'] }], initializers: [{ name: 's', dims: [2], data: [5, -1], type: 'int64' }], out: 'z' })],
  ];
  for (const [name, path] of named) await profileCase('ort-rejects', name, ['--model', path, '--input', input, '--repeat', '1', '--warmup-ms', '0'], 300, () => []);
  // Seeded mutations of a valid model (byte flips, truncations, field mutations), through the whole CLI.
  const base = buildModel({
    inputs: [{ name: 'x', dims: ['n', 4] }],
    outputs: [{ name: 'y', dims: ['n', 3] }],
    initializers: [{ name: 'W', dims: [4, 3], data: randomFloats(12, 1) }, { name: 'b', dims: [3], data: randomFloats(3, 2) }],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'Gemm', inputs: ['r', 'W', 'b'], outputs: ['y'], name: 'gemm' },
    ],
  });
  const rand = mulberry32(1414);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const count = Number(values.mutations ?? 40);
  for (let i = 0; i < count; i++) {
    let bytes: Uint8Array;
    let kind: string;
    const r = rand();
    if (r < 0.3) {
      kind = 'byte-flip';
      bytes = Uint8Array.from(base);
      for (let j = 1 + int(6); j > 0; j--) bytes[int(bytes.length)] ^= 1 << int(8);
    } else if (r < 0.4) {
      kind = 'truncate';
      bytes = base.slice(0, int(base.length));
    } else {
      const m = onnx.ModelProto.decode(base);
      const g = m.graph! as OnnxNs.GraphProto & { input: OnnxNs.ValueInfoProto[]; node: OnnxNs.NodeProto[] };
      const muts: [string, () => void][] = [
        ['opset', () => (m.opsetImport = [{ domain: '', version: pick([1, 6, 26, 99]) }])],
        ['op-type', () => (pick(g.node).opType = pick(['NoSuchOp', 'Attention', 'Conv', '']))],
        ['domain', () => (pick(g.node).domain = pick(['com.microsoft', 'bogus']))],
        ['input-dim', () => (g.input[0]!.type!.tensorType!.shape!.dim![1] = { dimValue: pick([0, 5, -1]) })],
        ['init-dims', () => ((g.initializer as OnnxNs.TensorProto[])[0]!.dims = [pick([3, 5, 0]), 3])],
        ['drop-input', () => g.node[1]!.input.pop()],
        ['ir-version', () => (m.irVersion = pick([0, 1, 99]))],
        ['gemm-attr', () => g.node[1]!.attribute.push(onnx.AttributeProto.create({ name: 'transA', type: 2, i: 1 }))],
      ];
      const [k, f] = pick(muts);
      kind = `field:${k}`;
      f();
      bytes = onnx.ModelProto.encode(m).finish();
    }
    const path = join(dir, `mutant-${i}.onnx`);
    writeFileSync(path, bytes);
    await profileCase('ort-rejects', `mutant ${i} (${kind})`, ['--model', path, '--input', input, '--repeat', '1', '--warmup-ms', '0', '-q'], 300, () => []);
  }
}

async function noInputs(): Promise<void> {
  const input = f32npy(join(dir, 'x24b.npy'), [2, 4], randomFloats(8, 5));
  const constX = { name: 'x', dims: [2, 4], data: randomFloats(8, 6) };
  const none = small('no-inputs', { inputs: [], initializers: [constX] });
  const ir3 = small('ir3-initializers-as-inputs', { inputs: [], initializers: [constX], initializersAsInputs: true, irVersion: 3 });
  const manifest = join(dir, 'empty-sample.json');
  writeFileSync(manifest, JSON.stringify({ samples: [{}] }));
  await profileCase('no-inputs', 'no graph inputs, --input given', ['--model', none, '--input', input], 300, () => []);
  await profileCase('no-inputs', 'IR 3, every input an initializer, --input given', ['--model', ir3, '--input', input], 300, () => []);
  await profileCase('no-inputs', 'no graph inputs, an empty sample in a manifest', ['--model', none, '--inputs-manifest', manifest], 300, () => []);
}

async function allNan(): Promise<void> {
  const mm = small('nan-matmul', { inputs: [{ name: 'x', dims: [64, 4] }] });
  const nanMm = f32npy(join(dir, 'nan-64x4.npy'), [64, 4], new Float32Array(256).fill(Number.NaN));
  const c = model('nan-conv', {
    inputs: [{ name: 'x', dims: [1, 2, 16, 16] }],
    outputs: [{ name: 'y', dims: [1, 4, 14, 14] }],
    initializers: [{ name: 'w', dims: [4, 2, 3, 3], data: randomFloats(72, 7) }],
    nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], name: 'conv', attrs: { kernel_shape: [3, 3] } }],
  });
  const nanConv = f32npy(join(dir, 'nan-conv.npy'), [1, 2, 16, 16], new Float32Array(512).fill(Number.NaN));
  const check = (rep: RunReport) => {
    const l = rep.layers[0]!;
    const problems = l.microTiles.filter((t) => t.density !== 1).map((t) => `${t.shape} density ${t.density} (NaN is non-zero)`);
    for (const v of l.variants) if (!v.ok && /detection/.test(v.error ?? '')) problems.push(`${v.name}: ${v.error}`);
    return problems;
  };
  await profileCase('all-nan', 'all-NaN MatMul input', ['--model', mm, '--input', nanMm, '--repeat', '1', '--warmup-ms', '0'], 300, check);
  await profileCase('all-nan', 'all-NaN Conv input', ['--model', c, '--input', nanConv, '--repeat', '1', '--warmup-ms', '0'], 300, check);
}

async function kill9(): Promise<void> {
  const layers = 6;
  const nodes = [];
  const initializers = [];
  let prev = 'x';
  for (let i = 0; i < layers; i++) {
    nodes.push({ op: 'Relu', inputs: [prev], outputs: [`r${i}`] }, { op: 'MatMul', inputs: [`r${i}`, `W${i}`], outputs: [`h${i}`], name: `mm${i}` });
    initializers.push({ name: `W${i}`, dims: [64, 64], data: randomFloats(64 * 64, 20 + i) });
    prev = `h${i}`;
  }
  const m = model('six-matmuls', { inputs: [{ name: 'x', dims: [96, 64] }], outputs: [{ name: prev, dims: [96, 64] }], initializers, nodes });
  const input = f32npy(join(dir, 'x96.npy'), [96, 64], randomFloats(96 * 64, 8));
  const db = join(dir, 'kill9.db');
  const args = ['profile', '--model', m, '--input', input, '--repeat', '1', '--warmup-ms', '0', '--db', db];
  const first = spawnSync(process.execPath, [CLI, ...args, '-q'], { encoding: 'utf8' });
  if (first.status !== 0) throw new Error(`kill-9: the first run failed: ${first.stderr}`);
  const rand = mulberry32(99);
  const dump = (except: Set<number>) => {
    const d = openDatabase(db, { readonly: true });
    try {
      return JSON.stringify(listRuns(d).filter((r) => !except.has(r.id)).map((r) => getRunReport(d, r.id)));
    } finally {
      d.close();
    }
  };
  const touched = new Set<number>();
  for (let i = 0; i < Number(values.kills ?? 10); i++) {
    const before = dump(touched);
    const ro = openDatabase(db, { readonly: true });
    const ids = listRuns(ro).map((r) => r.id);
    ro.close();
    const after = Math.floor(rand() * layers);
    const delay = Math.floor(rand() * 80);
    let seen = 0;
    const child = spawn(process.execPath, [CLI, ...args]);
    let err = '';
    let armed = false;
    const t0 = performance.now();
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        const lines = (err.match(/^\[\d+\/\d+\]/gm) ?? []).length;
        if (!armed && (after === 0 ? /^pit: importing/m.test(err) : lines >= after)) {
          armed = true;
          setTimeout(() => {
            seen = (err.match(/^\[\d+\/\d+\]/gm) ?? []).length;
            child.kill('SIGKILL');
          }, delay);
        }
      });
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    const problems: string[] = [];
    if (exit.signal !== 'SIGKILL' && exit.code !== 0) problems.push(`profile ended with exit ${exit.code} before the kill: ${err.slice(-200)}`);
    if (exit.signal !== 'SIGKILL') seen = layers;
    const d = openDatabase(db);
    try {
      if (d.pragma('integrity_check', { simple: true }) !== 'ok') problems.push('integrity_check failed');
      const added = listRuns(d).filter((x) => !ids.includes(x.id));
      for (const run of added) {
        touched.add(run.id);
        const rep = getRunReport(d, run.id);
        if (!rep.run.complete && rep.run.status !== 'interrupted') problems.push(`run ${run.id} is ${rep.run.status}`);
        if (rep.layers.length < Math.min(seen, layers)) problems.push(`run ${run.id}: ${rep.layers.length} layers stored, ${seen} were reported done`);
        for (const l of rep.layers) if (!l.variants.length || l.variants.some((v) => !v.ok)) problems.push(`${l.name} not whole`);
      }
    } finally {
      d.close();
    }
    if (dump(touched) !== before) problems.push('other runs changed');
    record('kill-9', `kill ${i} after ${after} layers + ${delay} ms`, problems.length ? 'data lost or wrong' : 'ok', problems.join('; ') || (exit.signal === 'SIGKILL' ? `integrity ok; killed after ${seen} layers were reported` : 'finished before the kill; complete'), (performance.now() - t0) / 1000);
  }
}

const categories: Record<string, () => Promise<void>> = { oversized, 'ort-rejects': ortRejects, 'no-inputs': noInputs, 'all-nan': allNan, 'kill-9': kill9 };
for (const [name, run] of Object.entries(categories)) if (!values.only || values.only === name) await run();

const outcomes: Outcome[] = ['ok', 'clean error', 'crash', 'hang', 'data lost or wrong'];
console.log(`| category | cases | ${outcomes.join(' | ')} |`);
console.log(`|---|---:|${outcomes.map(() => '---:').join('|')}|`);
for (const cat of [...new Set(cases.map((c) => c.category))]) {
  const of = cases.filter((c) => c.category === cat);
  console.log(`| ${cat} | ${of.length} | ${outcomes.map((o) => of.filter((c) => c.outcome === o).length).join(' | ')} |`);
}
if (values.json) writeFileSync(values.json, JSON.stringify(cases, null, 2));
