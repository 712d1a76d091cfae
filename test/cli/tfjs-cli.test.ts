/**
 * `pit profile` on TF.js layers models, end to end through the bundled CLI: nsfwjs' MobileNetV2 (`nsfwjs:mobilenet_v2`,
 * written out as model.json + shards into a temporary cache) on a real photo for its first layers, every variant
 * verified against TF.js; and the bad TF.js inputs the issue names (an unsupported layer type, a missing weight
 * shard), each a one-line error with nothing stored.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../core/protocol.ts';
import { uniform, writeTfjsModel } from '../model/tfjs-builders.ts';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'pit-tfjs-cli-'));
const photo = join(root, 'node_modules/@vladmandic/face-api/demo/sample1.jpg');

function pit(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [join(root, 'bin', 'pit.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, PIT_DB: join(dir, 'default.db'), PIT_CACHE_DIR: join(dir, 'cache') },
    timeout: 240_000,
  });
}

function expectOneLineError(r: SpawnSyncReturns<string>, pattern: RegExp): void {
  expect(r.status, r.stderr).toBe(1);
  const lines = r.stderr.trim().split('\n').filter((s) => s.startsWith('pit '));
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

/** A synthetic one-conv TF.js model (labelled synthetic), with `extra` layers after the conv. */
function smallModel(sub: string, extra: { name: string; cls: string; config?: Record<string, unknown>; inbound: string[] }[] = []): string {
  return writeTfjsModel(join(dir, sub), {
    input: { name: 'x', shape: [null, 8, 8, 3] },
    layers: [{ name: 'c1', cls: 'Conv2D', config: { filters: 4, kernel_size: [3, 3], padding: 'same', activation: 'relu', use_bias: false }, inbound: ['x'] }, ...extra],
    output: extra.length ? extra[extra.length - 1]!.name : 'c1',
    weights: [{ name: 'c1/kernel', shape: [3, 3, 3, 4], values: uniform(108, 3), store: 'uint8' }],
  });
}

beforeAll(() => {
  const b = spawnSync(process.execPath, [join(root, 'scripts', 'build-cli.mjs')], { encoding: 'utf8', cwd: root });
  expect(b.status, b.stderr).toBe(0);
});

describe('pit profile on TF.js layers models', () => {
  it('profiles the first layers of nsfwjs MobileNetV2 on a real photo, verified against TF.js', () => {
    const db = join(dir, 'mnv2.db');
    const json = join(dir, 'mnv2.json');
    const r = pit(['profile', '--model', 'nsfwjs:mobilenet_v2', '--input', photo, '--max-layers', '4', '--repeat', '1', '--policy', 'measure', '--db', db, '--json', json]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/reference run \(TF\.js wasm\) on .*sample1\.jpg \[1,3,224,224\]/);
    const report = JSON.parse(readFileSync(json, 'utf8')) as RunReport;
    expect(report.run.complete).toBe(true);
    expect(report.run.model.path).toBe(join(dir, 'cache', 'nsfwjs-4.4.0', 'mobilenet_v2', 'model.json'));
    expect(report.run.inputs[0]!.shape).toEqual([1, 3, 224, 224]);
    expect(report.run.inputs[0]!.preprocess).toMatch(/^rgb01 preset: RGB \/ 255/);
    expect(report.layers.map((l) => l.name)).toEqual(['Conv1', 'expanded_conv_depthwise', 'expanded_conv_project', 'block_1_expand']);
    // The DepthwiseConv2D (a grouped Conv) runs as a batched layer, one matmul per channel.
    const profiled = report.layers.filter((l) => !l.skipped);
    expect(profiled).toHaveLength(4);
    expect(profiled.map((l) => `${l.batch ? `[${l.batch}]·` : ''}${l.m}x${l.n}x${l.k}`)).toEqual(['12544x32x27', '[32]·12544x1x9', '12544x16x32', '12544x96x16']);
    for (const l of profiled) {
      for (const v of l.variants) expect(v.ok, `${l.name} ${v.name}: err ${v.maxAbsErr} ${v.error ?? ''}`).toBe(true);
    }
    // The depthwise conv and expanded_conv_project read ReLU6 outputs: real zeros. block_1_expand reads the linear
    // bottleneck: none.
    expect(profiled[1]!.sparsity).toBeGreaterThan(0.2);
    expect(profiled[1]!.perBatch!.sparsity).toHaveLength(32);
    expect(profiled[2]!.sparsity).toBeGreaterThan(0.2);
    expect(profiled[3]!.sparsity).toBe(0);
  });

  it('takes the written model.json directly, with an explicit preset', () => {
    const model = join(dir, 'cache', 'nsfwjs-4.4.0', 'mobilenet_v2', 'model.json');
    expect(existsSync(model)).toBe(true);
    const r = pit(['profile', '--model', model, '--image-preset', 'rgb01', '--input', photo, '--max-layers', '1', '--repeat', '1', '--variants', 'dense', '--policy', 'measure', '--db', join(dir, 'direct.db')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Conv1 +Conv +12544×32×27/);
  });
});

describe('bad TF.js inputs: one line, exit 1, nothing stored', () => {
  const db = join(dir, 'bad.db');

  it('an unsupported layer type names the layer and the type', () => {
    const model = smallModel('unsupported', [{ name: 'up', cls: 'UpSampling2D', config: { size: [2, 2] }, inbound: ['c1'] }]);
    expectOneLineError(pit(['profile', '--model', model, '--input', photo, '--db', db]), /layer up has type UpSampling2D, which PIT Studio cannot import/);
  });

  it('a missing weight shard names the file', () => {
    const model = smallModel('noshard');
    unlinkSync(join(dir, 'noshard', 'group1-shard1of1.bin'));
    expectOneLineError(pit(['profile', '--model', model, '--input', photo, '--db', db]), new RegExp(`weight shard not found: ${join(dir, 'noshard', 'group1-shard1of1.bin')}`));
  });

  it('an unknown bundled model or preset', () => {
    expectOneLineError(pit(['profile', '--model', 'nsfwjs:resnet', '--input', photo, '--db', db]), /unknown nsfwjs model 'resnet' \(known: mobilenet_v2, inception_v3\)/);
    const r = pit(['profile', '--model', 'nsfwjs:mobilenet_v2', '--image-preset', 'bgr', '--input', photo, '--db', db]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unknown image preset 'bgr' \(known: paddle-det, paddle-rec, paddle-cls, imagenet, rgb01\)/);
  });

  it('left no run behind', () => {
    expect(existsSync(db)).toBe(true); // opened before the model was imported
    const d = new Database(db, { readonly: true, fileMustExist: true });
    try {
      expect(d.prepare('SELECT COUNT(*) AS n FROM runs').get()).toEqual({ n: 0 });
    } finally {
      d.close();
    }
  });
});
