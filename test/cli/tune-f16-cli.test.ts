/**
 * `pit tune --dtype` and `pit profile --dtype f16 --policy tiledb` as a user runs them (the bundled CLI in a child
 * process): a bad dtype is a usage error that creates nothing, `--list` says each database's dtype, and an f16
 * profile predicts from the f16 tile database of this adapter. The f16 database is filled in this process by the
 * tuner with a tiny plan (what `pit tune --dtype f16` runs, restricted to two sizes, two sparsities and one
 * configuration per f16 family, so the test takes seconds on lavapipe). The model is SYNTHETIC (ReLU → MatMul).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pointKey, TUNER_VERSION } from '../../core/pit/tiledb.ts';
import { tune, tuneSpace } from '../../core/pit/tuner.ts';
import type { RunReport } from '../../core/protocol.ts';
import { openDatabase } from '../../db/open.ts';
import { openTileDb, recordTilePoint } from '../../db/tiledb.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';
import { npyBytes } from '../inputs/npy-fixtures.ts';
import { buildModel, randomFloats } from '../model/onnx-builders.ts';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'pit-tune-f16-cli-'));
const dbPath = join(dir, 'runs.db');
const model = join(dir, 'synthetic-matmul.onnx');
const input = join(dir, 'x.npy');

function pit(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [join(root, 'bin', 'pit.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, PIT_DB: join(dir, 'default.db') },
    timeout: 120_000,
  });
}

describe('pit tune --dtype / pit profile --dtype f16 --policy tiledb', () => {
  let g: TestGpu;
  let f16Id = 0;

  beforeAll(async () => {
    g = await testGpu();
    const space = tuneSpace('f16', g.ctx.adapter);
    const db = openDatabase(dbPath);
    try {
      f16Id = openTileDb(db, { adapter: g.ctx.adapter, kernelHash: space.kernelHash, tunerVersion: TUNER_VERSION });
      const pick = (family: string, microTile?: string) => space.configs.find((c) => c.family === family && (microTile === undefined || c.microTile === microTile))!;
      await tune(
        g.ctx,
        g.cache,
        {
          name: 'test',
          sizes: [
            { m: 4, n: 20, k: 24 },
            { m: 24, n: 32, k: 80 },
          ],
          sparsities: [0, 0.9],
          configs: [pick('dense-f16'), pick('pit-k-f16', '8x1'), pick('pit-m-f16', '1x16')],
          timing: { warmup: 0, repeat: 1, rounds: 2 },
        },
        { has: () => false, record: (p) => recordTilePoint(db, f16Id, pointKey(p), p) },
      );
    } finally {
      db.close();
    }
    writeFileSync(
      model,
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
    const x = randomFloats(4 * 24, 3);
    writeFileSync(input, npyBytes('<f4', [4, 24], new Uint8Array(x.buffer, x.byteOffset, x.byteLength)));
  }, 60_000);
  afterAll(() => g?.ctx.destroy());

  it('help explains --dtype; a bad dtype is a one-line usage error that creates nothing', () => {
    const h = pit(['tune', '--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/--dtype D +f32 \(default\) or f16/);
    expect(h.stdout).toContain('pit profile --dtype f16');
    const fresh = join(dir, 'never.db');
    const r = pit(['tune', '--quick', '--dtype', 'bf16', '--db', fresh]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`pit tune: --dtype must be f16 or f32, got 'bf16' (see pit tune --help)`]);
    expect(existsSync(fresh)).toBe(false);
  });

  it('--list says the dtype of each database', () => {
    const r = pit(['tune', '--list', '--db', dbPath]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^tile database ${f16Id} \\(f16\\): .* — 12 points \\(0 failed\\), current kernels, `, 'm'));
  });

  it('pit profile --dtype f16 --policy tiledb predicts from the f16 database and verifies what it measures', () => {
    const json = join(dir, 'f16.json');
    const r = pit(['profile', '--model', model, '--input', input, '--repeat', '1', '--dtype', 'f16', '--policy', 'tiledb', '--db', dbPath, '--json', json]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`pit: policy tiledb: tile database ${f16Id} \\(12 points`));
    const report = JSON.parse(readFileSync(json, 'utf8')) as RunReport;
    expect(report.run.dtype).toBe('f16');
    expect(report.run.policy).toMatchObject({ policy: 'tiledb', tileDb: { id: f16Id, points: 12 } });
    const [layer] = report.layers;
    expect(layer!.predicted).toBeDefined();
    expect(layer!.variants.length).toBeGreaterThan(1);
    for (const v of layer!.variants) {
      expect(v.family?.endsWith('-f16'), v.name).toBe(true);
      expect(v.ok, `${v.name}: ${v.error}`).toBe(true);
    }
    // An f32 profile on the same database file finds no f32 database and says so.
    const r32 = pit(['profile', '--model', model, '--input', input, '--repeat', '1', '--policy', 'tiledb', '--db', dbPath]);
    expect(r32.status, r32.stderr).toBe(0);
    expect(r32.stderr).toContain('no tile database for this adapter (this adapter has no f32 tile database (1 of other dtypes; run `pit tune`)): run `pit tune`; measuring every variant instead');
  });
});
