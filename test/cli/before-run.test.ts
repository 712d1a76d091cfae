/**
 * Everything that can be checked before a run exists is checked before it (issue 14 item 3): a model the reference
 * runtime rejects — an operator it lacks, an opset it does not support, a shape it refuses only when it runs — a
 * model with no graph inputs, and `--json` into a missing folder each give one line and exit 1, and leave zero runs
 * in the database (before, the first three left an empty run marked incomplete each: 261 in one fuzzing session).
 * Models are synthetic (built with onnx-builders) and labelled so.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { npyBytes } from '../inputs/npy-fixtures.ts';
import { buildModel, randomFloats, type ModelSpec } from '../model/onnx-builders.ts';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'pit-before-run-'));

function pit(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [join(root, 'bin', 'pit.mjs'), ...args], { encoding: 'utf8', env: { ...process.env, PIT_DB: join(dir, 'default.db') }, timeout: 120_000 });
}

function runCount(db: string): number {
  if (!existsSync(db)) return 0;
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return (d.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n;
  } finally {
    d.close();
  }
}

/** x [n, 4] → ReLU → MatMul W [4, 3] → y, then `tail` nodes on y. */
function model(name: string, tail: Partial<ModelSpec> & { out?: string } = {}): string {
  const path = join(dir, `synthetic-${name}.onnx`);
  writeFileSync(
    path,
    buildModel({
      opset: tail.opset,
      inputs: tail.inputs ?? [{ name: 'x', dims: ['n', 4] }],
      outputs: [{ name: tail.out ?? 'y', dims: [] }],
      initializers: [{ name: 'W', dims: [4, 3], data: randomFloats(12, 1) }, ...(tail.initializers ?? [])],
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['r'] }, { op: 'MatMul', inputs: ['r', 'W'], outputs: ['y'], name: 'mm' }, ...(tail.nodes ?? [])],
    }),
  );
  return path;
}

const input = join(dir, 'x.npy');
writeFileSync(input, npyBytes('<f4', [2, 4], new Uint8Array(randomFloats(8, 2).buffer)));

describe('bad models and outputs fail before the run exists', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['an operator the runtime lacks', () => ['--model', model('unknown-op', { nodes: [{ op: 'NoSuchOp', inputs: ['y'], outputs: ['z'] }], out: 'z' }), '--input', input], /reference runtime rejected .*No Op registered for NoSuchOp/],
    ['an opset the runtime does not support', () => ['--model', model('opset-99', { opset: 99 }), '--input', input], /reference runtime rejected .*[Oo]pset 99/],
    [
      'a shape the runtime refuses only when it runs (Reshape of 6 values to [5, -1])',
      () => ['--model', model('runtime-reshape', { nodes: [{ op: 'Reshape', inputs: ['y', 'shape'], outputs: ['z'] }], initializers: [{ name: 'shape', dims: [2], data: [5, -1], type: 'int64' }], out: 'z' }), '--input', input],
      /pit profile: .*(reshape|Reshape|shape)/,
    ],
    ['a model with no graph inputs', () => ['--model', model('no-inputs', { inputs: [], initializers: [{ name: 'x', dims: [2, 4], data: randomFloats(8, 3) }] }), '--input', input], /has no graph inputs, so .*x\.npy cannot be fed to it/],
    ['--json into a missing folder', () => ['--model', model('json'), '--input', input, '--json', join(dir, 'missing', 'r.json')], /--json .*does not exist; nothing was done/],
  ];
  for (const [what, args, pattern] of cases) {
    it(`${what}: one line, exit 1, zero runs`, () => {
      const db = join(dir, `${what.replace(/\W+/g, '-')}.db`);
      const r = pit(['profile', ...args(), '--repeat', '1', '--warmup-ms', '0', '--db', db]);
      expect(r.status, r.stderr).toBe(1);
      const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('pit profile'));
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(pattern);
      expect(lines[0]!.length).toBeLessThan(400);
      expect(runCount(db)).toBe(0);
    });
  }

  it('a good model on the same input still profiles (the checks above are not refusing everything)', () => {
    const db = join(dir, 'good.db');
    const r = pit(['profile', '--model', model('good'), '--input', input, '--repeat', '1', '--warmup-ms', '0', '--db', db, '-q']);
    expect(r.status, r.stderr).toBe(0);
    expect(runCount(db)).toBe(1);
  });
});
