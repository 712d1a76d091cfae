/**
 * The profiling job with the transformation policy (policy `tiledb`), on a synthetic model (two ReLU → MatMul
 * layers, labelled so) and a SYNTHETIC tile database stamped with this adapter and the current kernel hash: the
 * PIT rules are predicted, only the shortlist is measured beside the dense candidates (every rule with an audit,
 * which gives the regret), and a database of other kernels or no database at all makes the job say so and measure.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelSourcesHash, TUNER_VERSION, type TileDbSnapshot } from '../../core/pit/tiledb.ts';
import { regretOf } from '../../core/pit/policy.ts';
import { denseCandidates } from '../../core/kernels/dense.ts';
import { familyOf } from '../../core/kernels/registry.ts';
import { rulesFor } from '../../core/pit/rules.ts';
import { profileModel, type ProfileEnv, type ProfileOptions } from '../../core/profile/profile.ts';
import type { RunSink } from '../../core/profile/sink.ts';
import type { LayerResult, ProgressEvent, RunPolicy } from '../../core/protocol.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';
import { npyBytes } from '../inputs/npy-fixtures.ts';
import { buildModel, randomFloats } from '../model/onnx-builders.ts';
import { syntheticConfigs, syntheticPoints } from './synthetic-tiledb.ts';

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
  families: ['dense', 'pit-k', 'pit-m'],
  repeat: 3,
  warmup: 0,
  warmupMs: 0,
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

  /** Variant names of the dense candidates of a layer (measured under every policy: the baseline is the fastest). */
  const denseNames = (l: LayerResult) => denseCandidates(l).map((tile) => familyOf('dense').variantName({ family: 'dense', microTile: null, tile }));
  // The rules the synthetic database (and the families the job asks for) can predict.
  const pitRules = (l: LayerResult) => rulesFor('MatMul', l, syntheticConfigs()).filter((r) => r.config.family !== 'dense');

  it('predicts, measures the two predicted fastest PIT rules beside the dense tiles, and stores the reasons', async () => {
    const r = recorder();
    await profileModel(options(), env(r, { snapshot })); // no policy given: tiledb because a database fits
    expect(r.policy()).toMatchObject({ policy: 'tiledb', audit: false, shortlist: 2, tileDb: { id: 7, points: snapshot.points.length } });
    expect(r.logs.join('\n')).toMatch(/policy tiledb: tile database 7/);
    expect(r.layers.map((l) => l.name)).toEqual(['mm1', 'mm2']);
    for (const l of r.layers) {
      // Every legal PIT rule was predicted, besides the dense candidates.
      expect(l.candidates!.filter((c) => !c.variant.startsWith('dense')).map((c) => c.variant).sort(), l.name).toEqual(pitRules(l).map((x) => x.variant).sort());
      expect(l.predicted!.variant).toBe(l.candidates![0]!.variant);
      expect(l.predicted!.ms).toBe(l.candidates![0]!.ms);
      const top2 = l.candidates!.filter((c) => !c.variant.startsWith('dense')).slice(0, 2).map((c) => c.variant);
      expect(l.reason).toMatch(new RegExp(`^predicted .*; measured ${top2.join(', ')} with the dense tiles, chose `));
      expect(l.variants.map((v) => v.name)).toEqual([...denseNames(l), ...top2]);
      for (const v of l.variants) expect(v.ok, `${l.name} ${v.name}: ${v.error}`).toBe(true);
      // The baseline is the fastest dense tile; a PIT variant is chosen only beyond the noise.
      const dense = l.variants.filter((v) => v.name.startsWith('dense'));
      expect(l.baseline).toBe(dense.reduce((a, b) => (b.totalMs! < a.totalMs! ? b : a)).name);
      expect([l.baseline, ...top2]).toContain(l.chosen);
      if (l.chosen !== l.baseline) {
        const base = l.variants.find((v) => v.name === l.baseline)!;
        expect(l.variants.find((v) => v.name === l.chosen)!.q3Ms!).toBeLessThan(base.q1Ms!);
      }
      expect(l.regret).toBeUndefined(); // not every candidate was measured
      // Every measured rule's micro-tile density is reported.
      for (const v of l.variants) if (v.microTile) expect(l.microTiles.map((t) => t.shape)).toContain(v.microTile);
    }
  });

  it('with a shortlist of 1 measures the predicted PIT rule only', async () => {
    const r = recorder();
    await profileModel(options({ shortlist: 1 }), env(r, { snapshot }));
    expect(r.policy()).toMatchObject({ policy: 'tiledb', shortlist: 1 });
    expect(r.layers).toHaveLength(2);
    for (const l of r.layers) {
      const top = l.candidates!.find((c) => !c.variant.startsWith('dense'))!.variant;
      expect(l.variants.map((v) => v.name)).toEqual([...denseNames(l), top]);
    }
  });

  it('with an audit, measures every candidate and knows the regret', async () => {
    const r = recorder();
    await profileModel(options({ policy: 'tiledb', audit: true }), env(r, { snapshot }));
    expect(r.policy()).toMatchObject({ policy: 'tiledb', audit: true });
    expect(r.layers).toHaveLength(2);
    for (const l of r.layers) {
      // Every candidate is measured; besides them only dense tiles the database has no points for (split-K
      // candidates of small grids, issue 11), which are always measured as baseline candidates.
      const candidates = l.candidates!.map((c) => c.variant);
      expect(l.variants.map((v) => v.name)).toEqual(expect.arrayContaining(candidates));
      expect(l.variants.map((v) => v.name).filter((n) => !candidates.includes(n)).every((n) => /^dense .*\/k\d+$/.test(n))).toBe(true);
      expect(l.variants.every((v) => v.ok)).toBe(true);
      expect(l.regret).toBeGreaterThanOrEqual(0);
      expect(l.regret).toBe(regretOf(l.variants, l.chosen));
    }
  });

  it('never uses a database of other kernel sources: says so and measures every family', async () => {
    const r = recorder();
    await profileModel(options(), env(r, { snapshot: { ...snapshot, kernelHash: 'f'.repeat(64) } }));
    expect(r.policy()).toMatchObject({ policy: 'measure' });
    expect(r.policy()!.note).toMatch(/tile database 7 not used: it was tuned with other kernel sources/);
    expect(r.logs.join('\n')).toMatch(/other kernel sources/);
    expect(r.layers).toHaveLength(2);
    for (const l of r.layers) {
      expect(l.variants.map((v) => v.name)).toEqual([...denseNames(l), 'pit-k', 'pit-m']);
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
