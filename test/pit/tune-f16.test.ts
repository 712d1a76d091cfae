/**
 * f16 tile databases (issue 11): `pit tune --dtype f16` tunes the f16 families' tiles of this adapter (lavapipe: f16
 * SIMT tiles) on operands rounded to f16, verified against the product of the rounded operands; the points go to a
 * database of their own (`tileDbHash('f16', adapter)`), which f32 lookups never see and f16 lookups find; an f16
 * profile predicts from it (policy tiledb) and verifies what it measures; an adapter without shader-f16 is refused.
 * A tiny plan (two sizes, two sparsities, one configuration per f16 family and the default dense-f16 tile) keeps
 * this within seconds on lavapipe. The model is SYNTHETIC (two ReLU → MatMul layers).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareOutputs, matmulErrorScale, referenceMatmul } from '../../core/kernels/reference.ts';
import { configId, spaceConfigs, type RuleConfig } from '../../core/pit/rules.ts';
import { kernelSourcesHash, pointKey, tileDbDtypeOf, tileDbHash, TUNER_VERSION } from '../../core/pit/tiledb.ts';
import { structuredOperand, tune, tuneSpace, type TunePlan } from '../../core/pit/tuner.ts';
import { roundOperandsToF16 } from '../../core/profile/dtype.ts';
import { profileModel, resolvePolicy, type ProfileOptions } from '../../core/profile/profile.ts';
import type { RunSink } from '../../core/profile/sink.ts';
import type { AdapterDescriptor, LayerResult, RunPolicy } from '../../core/protocol.ts';
import { listTileDbs, openTileDb, recordTilePoint, tilePointKeys } from '../../db/tiledb.ts';
import { openDatabase } from '../../db/open.ts';
import { lookupTileDb } from '../../main/commands/tune.ts';
import { listItem } from '../../main/host/tiledb.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';
import { npyBytes } from '../inputs/npy-fixtures.ts';
import { buildModel, randomFloats } from '../model/onnx-builders.ts';
import { syntheticPoints } from './synthetic-tiledb.ts';

const dir = mkdtempSync(join(tmpdir(), 'pit-tune-f16-'));
const modelPath = join(dir, 'synthetic-two-matmuls.onnx');
const inputPath = join(dir, 'x.npy');

/** An adapter as a device without f16 reports it (a fake: only the fields the checks read). */
const NO_F16: AdapterDescriptor = { vendor: 'fake', architecture: 'none', device: 'no-f16', description: 'fake adapter', backend: 'vulkan', timestampQuery: false, shaderF16: false };

describe('pit tune --dtype: the rule space and the refusal', () => {
  it('refuses f16 on an adapter without shader-f16, in one line; f32 needs nothing', () => {
    expect(() => tuneSpace('f16', NO_F16)).toThrow(/^--dtype f16 needs the WebGPU feature 'shader-f16', which this adapter \(fake \/ no-f16 \/ fake adapter\) does not expose$/);
    const f32 = tuneSpace('f32', NO_F16);
    expect(f32.kernelHash).toBe(kernelSourcesHash()); // existing f32 databases keep their hash
    expect(f32.configs.map(configId)).toEqual(spaceConfigs().map(configId));
  });

  it('f16: the f16 families with the tiles of the device, under a hash of their own', () => {
    const simt = tuneSpace('f16', { ...NO_F16, shaderF16: true, subgroups: true, subgroupSizes: [8, 8], subgroupMatrixConfigs: [] });
    expect(new Set(simt.configs.map((c) => c.family))).toEqual(new Set(['dense-f16', 'pit-k-f16', 'pit-m-f16']));
    expect(simt.configs.every((c) => !c.tile.mma)).toBe(true);
    expect(simt.kernelHash).not.toBe(kernelSourcesHash());
    expect(simt.kernelHash).toBe(kernelSourcesHash(simt.configs, 'f16'));
    // With subgroup matrices the space holds tensor-core tiles, so the database is another one.
    const mma = tuneSpace('f16', {
      ...NO_F16,
      shaderF16: true,
      subgroups: true,
      subgroupSizes: [32, 32],
      subgroupMatrixConfigs: [{ componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 }],
    });
    expect(mma.configs.some((c) => c.tile.mma)).toBe(true);
    expect(mma.kernelHash).not.toBe(simt.kernelHash);
    expect(tileDbDtypeOf(['pit-k-f16', 'dense-f16'])).toBe('f16');
    expect(tileDbDtypeOf(['dense', 'pit-m'])).toBe('f32');
    expect(tileDbDtypeOf([])).toBe('f32');
  });
});

describe('an f16 tile database on this adapter', () => {
  let g: TestGpu;
  let db: Database.Database;
  let f16Id = 0;
  let plan: TunePlan;

  beforeAll(async () => {
    g = await testGpu();
    db = openDatabase(join(dir, 'runs.db'));
    const space = tuneSpace('f16', g.ctx.adapter);
    // One configuration per f16 family, and the default dense-f16 tile (every layer's default dense candidate).
    const pick = (family: string, microTile?: string): RuleConfig => space.configs.find((c) => c.family === family && (microTile === undefined || c.microTile === microTile))!;
    plan = {
      name: 'test',
      sizes: [
        { m: 24, n: 32, k: 80 },
        { m: 40, n: 48, k: 72 },
      ],
      sparsities: [0, 0.9],
      configs: [pick('dense-f16'), pick('pit-k-f16', '8x1'), pick('pit-m-f16', '1x16')],
      timing: { warmup: 0, repeat: 1, rounds: 2 },
    };
    f16Id = openTileDb(db, { adapter: g.ctx.adapter, kernelHash: space.kernelHash, tunerVersion: TUNER_VERSION });
    writeFileSync(
      modelPath,
      buildModel({
        inputs: [{ name: 'x', dims: [40, 72] }],
        outputs: [{ name: 'y', dims: [40, 16] }],
        initializers: [
          { name: 'W1', dims: [72, 48], data: randomFloats(72 * 48, 1) },
          { name: 'W2', dims: [48, 16], data: randomFloats(48 * 16, 2) },
        ],
        nodes: [
          { op: 'Relu', inputs: ['x'], outputs: ['r1'] },
          { op: 'MatMul', inputs: ['r1', 'W1'], outputs: ['h'], name: 'mm1' },
          { op: 'Relu', inputs: ['h'], outputs: ['r2'] },
          { op: 'MatMul', inputs: ['r2', 'W2'], outputs: ['y'], name: 'mm2' },
        ],
      }),
    );
    writeFileSync(inputPath, npyBytes('<f4', [40, 72], new Uint8Array(randomFloats(40 * 72, 9).buffer)));
  });
  afterAll(() => {
    db?.close();
    g?.ctx.destroy();
  });

  it('tunes the f16 families on f16-rounded operands, every point verified, stored under the f16 hash', async () => {
    expect(g.ctx.adapter.shaderF16).toBe(true); // lavapipe exposes shader-f16 (issue 11)
    const have = tilePointKeys(db, f16Id);
    const summary = await tune(g.ctx, g.cache, plan, { has: (k) => have.has(k), record: (p) => recordTilePoint(db, f16Id, pointKey(p), p) });
    expect(summary).toMatchObject({ measured: 12, failed: 0, cancelled: false });
    const found = lookupTileDb(db, g.ctx.adapter, 'f16');
    expect(found.snapshot?.id).toBe(f16Id);
    expect(found.snapshot!.kernelHash).toBe(tileDbHash('f16', g.ctx.adapter));
    const points = found.snapshot!.points;
    expect(points).toHaveLength(12);
    for (const p of points) {
      expect(p.ok, `${pointKey(p)}: ${p.error}`).toBe(true);
      expect(p.family.endsWith('-f16')).toBe(true);
      expect(p.kernelMs).toBeGreaterThan(0);
      // Against the product of the rounded operands the error is at f32 summation level, far below f16's 2^-11.
      expect(p.maxAbsErr).toBeLessThan(1e-4);
      if (p.family === 'dense-f16') expect(p.detectMs).toBe(0);
      else expect(p.detectMs).toBeGreaterThan(0);
    }
    // Not vacuous: against the unrounded operands' product an f16 result fails the f32 tolerance.
    const { m, n, k } = plan.sizes[0]!;
    const a = structuredOperand(m, k, null, 0, 1);
    const b = structuredOperand(k, n, null, 0, 2);
    const r = roundOperandsToF16(a, b);
    const cmp = compareOutputs(referenceMatmul(r.a, r.b, m, n, k), referenceMatmul(a, b, m, n, k), { k, scale: matmulErrorScale(a, b, m, n, k) });
    expect(cmp.ok).toBe(false);
  }, 60_000);

  it('an f32 lookup does not see the f16 database, nor an f16 lookup an f32 one', () => {
    expect(lookupTileDb(db, g.ctx.adapter, 'f32')).toEqual({
      snapshot: null,
      note: 'this adapter has no f32 tile database (1 of other dtypes; run `pit tune`)',
    });
    const f32Id = openTileDb(db, { adapter: g.ctx.adapter, kernelHash: kernelSourcesHash(), tunerVersion: TUNER_VERSION });
    for (const p of syntheticPoints().slice(0, 20)) recordTilePoint(db, f32Id, pointKey(p), p);
    expect(lookupTileDb(db, g.ctx.adapter).snapshot?.id).toBe(f32Id);
    expect(lookupTileDb(db, g.ctx.adapter, 'f32').snapshot?.id).toBe(f32Id);
    expect(lookupTileDb(db, g.ctx.adapter, 'f16').snapshot?.id).toBe(f16Id);
    // The lists say the dtype of each, and each is usable by profiles of its dtype.
    const items = new Map(listTileDbs(db).map((t) => [t.id, listItem(t, g.ctx.adapter)]));
    expect(items.get(f16Id)).toMatchObject({ dtype: 'f16', usable: true });
    expect(items.get(f32Id)).toMatchObject({ dtype: 'f32', usable: true });
    // A snapshot of the other dtype handed to the policy is refused, naming why.
    const f16Snap = lookupTileDb(db, g.ctx.adapter, 'f16').snapshot!;
    const r = resolvePolicy({ policy: 'tiledb', dtype: 'f32' }, { gpu: g.ctx, tileDb: { snapshot: f16Snap } });
    expect(r.info).toMatchObject({ policy: 'measure' });
    expect(r.info.note).toBe(`tile database ${f16Id} not used: it is an f16 tile database (this run is f32); re-run \`pit tune\`; measuring every variant instead`);
  });

  it('pit profile --dtype f16 predicts from the f16 database (policy tiledb) and verifies every variant it measures', async () => {
    let policy: RunPolicy | undefined;
    const layers: LayerResult[] = [];
    const logs: string[] = [];
    const sink: RunSink = {
      createRun: (run) => ((policy = (run.options as { policy?: RunPolicy }).policy), 1),
      recordLayer: (_id, layer) => void layers.push(layer),
      finishRun: () => {},
      failRun: () => {},
    };
    const opts: ProfileOptions = { modelPath, inputs: [inputPath], imageSize: 64, families: ['dense', 'pit-k', 'pit-m'], repeat: 2, warmup: 0, warmupMs: 0, dtype: 'f16' };
    const asked: string[] = [];
    await profileModel(opts, {
      gpu: g.ctx,
      cache: g.cache,
      sink,
      onProgress: (e) => e.kind === 'log' && logs.push(e.message),
      tileDb: (d) => (asked.push(d), lookupTileDb(db, g.ctx.adapter, d)),
    });
    expect(asked).toEqual(['f16']);
    expect(policy).toMatchObject({ policy: 'tiledb', tileDb: { id: f16Id, points: 12 } });
    expect(logs.join('\n')).toMatch(new RegExp(`policy tiledb: tile database ${f16Id} `));
    expect(layers.map((l) => l.name)).toEqual(['mm1', 'mm2']);
    for (const l of layers) {
      expect(l.skipped, l.name).toBeUndefined();
      expect(l.predicted, l.name).toBeDefined();
      // Only f16 rules were predicted and measured, the dense-f16 baseline among them.
      expect(l.candidates!.length).toBeGreaterThan(1);
      expect(l.candidates!.every((c) => c.variant.startsWith('dense-f16') || c.variant.startsWith('pit-k-f16') || c.variant.startsWith('pit-m-f16'))).toBe(true);
      expect(l.variants.every((v) => v.family?.endsWith('-f16'))).toBe(true);
      expect(l.variants.some((v) => v.family === 'dense-f16')).toBe(true);
      expect(l.variants.some((v) => v.family !== 'dense-f16')).toBe(true);
      for (const v of l.variants) expect(v.ok, `${l.name} ${v.name}: ${v.error}`).toBe(true);
      expect(l.baseline?.startsWith('dense-f16')).toBe(true);
    }
  }, 60_000);
});
