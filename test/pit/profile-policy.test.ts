/**
 * The profiling job with the transformation policy (policy `tiledb`), on a synthetic model (two ReLU → MatMul
 * layers, labelled so) and a SYNTHETIC tile database stamped with this adapter and the current kernel hash: the
 * choice is predicted, only the chosen rule and dense are measured (every candidate with an audit, which gives the
 * regret), and a database of other kernels or no database at all makes the job say so and measure instead.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelSourcesHash, TUNER_VERSION, type TileDbSnapshot } from '../../core/pit/tiledb.ts';
import { regretOf } from '../../core/pit/policy.ts';
import { rulesFor } from '../../core/pit/rules.ts';
import { profileModel, type ProfileEnv, type ProfileOptions } from '../../core/profile/profile.ts';
import type { RunSink } from '../../core/profile/sink.ts';
import type { LayerResult, ProgressEvent, RunPolicy } from '../../core/protocol.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';
import { npyBytes } from '../inputs/npy-fixtures.ts';
import { buildModel, randomFloats } from '../model/onnx-builders.ts';
import { syntheticPoints } from './synthetic-tiledb.ts';

const dir = mkdtempSync(join(tmpdir(), 'pit-policy-'));
const modelPath = join(dir, 'synthetic-two-matmuls.onnx');
const inputPath = join(dir, 'x.npy');

interface Recorder {
  sink: RunSink;
  layers: LayerResult[];
  policy: () => RunPolicy | undefined;
  logs: string[];
  onProgress: (e: ProgressEvent) => void;
}

function recorder(): Recorder {
  const r: Recorder & { options?: { policy?: RunPolicy } } = {
    layers: [],
    logs: [],
    policy: () => r.options?.policy,
    onProgress: (e) => e.kind === 'log' && r.logs.push(e.message),
    sink: {
      createRun: (run) => ((r.options = run.options as { policy?: RunPolicy }), 1),
      recordLayer: (_id, layer) => void r.layers.push(layer),
      finishRun: () => {},
      failRun: () => {},
    },
  };
  return r;
}

const options = (over: Partial<ProfileOptions> = {}): ProfileOptions => ({
  modelPath,
  inputs: [inputPath],
  imageSize: 64,
  variants: ['dense', 'pit-k', 'pit-m'],
  repeat: 1,
  warmup: 0,
  rounds: 1,
  ...over,
});

describe('profileModel with policy tiledb', () => {
  let g: TestGpu;
  let snapshot: TileDbSnapshot;
  const env = (r: Recorder, tileDb?: ProfileEnv['tileDb']): ProfileEnv => ({ gpu: g.ctx, cache: g.cache, sink: r.sink, onProgress: r.onProgress, tileDb });

  beforeAll(async () => {
    g = await testGpu();
    snapshot = {
      id: 7,
      adapter: g.ctx.adapter,
      kernelHash: kernelSourcesHash(),
      tunerVersion: TUNER_VERSION,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
      timestampQuery: g.ctx.timestampQuery,
      points: syntheticPoints(),
    };
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
  afterAll(() => g.ctx.destroy());

  it('predicts, measures the two predicted fastest and dense, keeps the faster, and stores the reasons', async () => {
    const r = recorder();
    await profileModel(options(), env(r, { snapshot })); // no policy given: tiledb because a database fits
    expect(r.policy()).toMatchObject({ policy: 'tiledb', audit: false, shortlist: 2, tileDb: { id: 7, points: snapshot.points.length } });
    expect(r.logs.join('\n')).toMatch(/policy tiledb: tile database 7/);
    for (const l of r.layers) {
      const legal = rulesFor('MatMul', l.k).length;
      expect(l.candidates, l.name).toHaveLength(legal);
      expect(l.predicted!.variant).toBe(l.candidates![0]!.variant);
      expect(l.predicted!.ms).toBe(l.candidates![0]!.ms);
      expect(l.reason).toMatch(/^predicted .*; measured the 2 predicted fastest, kept /);
      const top2 = l.candidates!.slice(0, 2).map((c) => c.variant);
      const names = l.variants.map((v) => v.name);
      expect(names[0]).toBe('dense');
      expect(names).toEqual([...new Set(['dense', ...top2])]);
      for (const v of l.variants) expect(v.ok, `${l.name} ${v.name}: ${v.error}`).toBe(true);
      // The faster of the two measured shortlisted rules is kept (dense, measured as the baseline, only if listed).
      const listed = l.variants.filter((v) => top2.includes(v.name));
      const fastest = listed.reduce((a, b) => (b.ms + b.detectMs < a.ms + a.detectMs ? b : a));
      expect(l.chosen).toBe(fastest.name);
      expect(l.regret).toBeUndefined(); // not every candidate was measured
      // Every rule's micro-tile density is reported.
      expect(l.microTiles.map((t) => t.shape)).toEqual(expect.arrayContaining(['4x1', '8x1', '16x1', '32x1', '1x16', '1x32', '1x64', `1x${l.k}`]));
    }
  });

  it('with a shortlist of 1 trusts the prediction alone', async () => {
    const r = recorder();
    await profileModel(options({ shortlist: 1 }), env(r, { snapshot }));
    expect(r.policy()).toMatchObject({ policy: 'tiledb', shortlist: 1 });
    for (const l of r.layers) {
      expect(l.variants.map((v) => v.name)).toEqual([...new Set(['dense', l.predicted!.variant])]);
      expect(l.chosen).toBe(l.predicted!.variant);
      expect(l.reason).not.toMatch(/measured the/);
    }
  });

  it('with an audit, measures every candidate and knows the regret', async () => {
    const r = recorder();
    await profileModel(options({ policy: 'tiledb', audit: true }), env(r, { snapshot }));
    expect(r.policy()).toMatchObject({ policy: 'tiledb', audit: true });
    for (const l of r.layers) {
      expect(l.variants.map((v) => v.name).sort()).toEqual(l.candidates!.map((c) => c.variant).sort());
      expect(l.variants.every((v) => v.ok)).toBe(true);
      expect(l.regret).toBeGreaterThanOrEqual(0);
      expect(l.regret).toBe(regretOf(l.variants, l.chosen));
    }
  });

  it('never uses a database of other kernel sources: says so and measures every variant', async () => {
    const r = recorder();
    await profileModel(options(), env(r, { snapshot: { ...snapshot, kernelHash: 'f'.repeat(64) } }));
    expect(r.policy()).toMatchObject({ policy: 'measure' });
    expect(r.policy()!.note).toMatch(/tile database 7 not used: it was tuned with other kernel sources/);
    expect(r.logs.join('\n')).toMatch(/other kernel sources/);
    for (const l of r.layers) {
      expect(l.variants.map((v) => v.name)).toEqual(['dense', 'pit-k', 'pit-m']);
      expect(l.predicted).toBeUndefined();
    }
  });

  it('asked for tiledb without a database: says so and measures', async () => {
    const r = recorder();
    await profileModel(options({ policy: 'tiledb', maxLayers: 1 }), env(r, { snapshot: null, note: 'the 1 tile database(s) here were tuned on other adapters' }));
    expect(r.policy()).toMatchObject({ policy: 'measure' });
    expect(r.logs[0]).toMatch(/^no tile database for this adapter \(the 1 tile database\(s\) here were tuned on other adapters\): run `pit tune`/);
    expect(r.layers).toHaveLength(1);
  });
});
