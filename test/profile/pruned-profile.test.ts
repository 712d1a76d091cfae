/**
 * `pit prune` → `pit profile` end to end through the core API, on small SYNTHETIC models (seeded random weights and
 * inputs, built with test/model/onnx-builders.ts): for every pattern (tw, vw, nm, hinm with gyro, bw) the pruned
 * model's `pit.prune` metadata makes every pruned layer run its matching static family beside the dense tiles and
 * the dynamic PIT rules, verified against onnxruntime's output, with the index time kept apart and the effective
 * density of the weight's work. A pattern that does not fit a layer is refused before a run exists, naming the layer.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '../../core/model/errors.ts';
import type { OnnxModel } from '../../core/model/ir.ts';
import { importOnnxBytes } from '../../core/model/onnx-import.ts';
import { defaultFamilies, profileModel, type ProfileOptions } from '../../core/profile/profile.ts';
import type { RunSink } from '../../core/profile/sink.ts';
import { calibrate } from '../../core/prune/calibrate.ts';
import { findPrunableLayers } from '../../core/prune/layers.ts';
import { PRUNE_METADATA_KEY, type PruneMetadata } from '../../core/prune/metadata.ts';
import { buildMetadata, prunedWeights, pruneLayers, selectLayers, type PruneConfig } from '../../core/prune/prune.ts';
import type { PatternName } from '../../core/prune/types.ts';
import { encodePrunedModel } from '../../core/prune/write.ts';
import type { LayerResult } from '../../core/protocol.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';
import { npyBytes } from '../inputs/npy-fixtures.ts';
import { buildModel, randomFloats } from '../model/onnx-builders.ts';

const dir = mkdtempSync(join(tmpdir(), 'pit-pruned-profile-'));

/** Synthetic: x [24, 64] → Relu → MatMul W1 [64, 64] (mm1) → Relu → Gemm transB W2 [32, 64] (gemm2: W [K=64, N=32]). */
function denseModel(): OnnxModel {
  return importOnnxBytes(
    buildModel({
      inputs: [{ name: 'x', dims: [24, 64] }],
      outputs: [{ name: 'y', dims: [24, 32] }],
      initializers: [
        { name: 'W1', dims: [64, 64], data: randomFloats(64 * 64, 31) },
        { name: 'W2', dims: [32, 64], data: randomFloats(32 * 64, 32) },
      ],
      nodes: [
        { op: 'Relu', inputs: ['x'], outputs: ['r1'] },
        { op: 'MatMul', name: 'mm1', inputs: ['r1', 'W1'], outputs: ['h'] },
        { op: 'Relu', inputs: ['h'], outputs: ['r2'] },
        { op: 'Gemm', name: 'gemm2', inputs: ['r2', 'W2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
    }),
    'synthetic-mm-gemm',
  );
}

/** Synthetic: x [1, 8, 6, 6] → Conv 3x3 pad 1 W [32, 8, 3, 3] (conv1: W [K=72, N=32]) → Relu. */
function convModel(): OnnxModel {
  return importOnnxBytes(
    buildModel({
      inputs: [{ name: 'x', dims: [1, 8, 6, 6] }],
      outputs: [{ name: 'y', dims: [1, 32, 6, 6] }],
      initializers: [{ name: 'W', dims: [32, 8, 3, 3], data: randomFloats(32 * 72, 33) }],
      nodes: [
        { op: 'Conv', name: 'conv1', inputs: ['x', 'W'], outputs: ['h'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
        { op: 'Relu', inputs: ['h'], outputs: ['y'] },
      ],
    }),
    'synthetic-conv',
  );
}

const mmFeeds = [0, 1].map((i) => ({ dims: [24, 64], data: randomFloats(24 * 64, 40 + i) }));
const convFeeds = [0, 1].map((i) => ({ dims: [1, 8, 6, 6], data: randomFloats(288, 50 + i) }));

/** Prunes `model` as `pit prune` does and writes the file; returns its path and metadata. */
async function prune(model: OnnxModel, feeds: typeof mmFeeds, over: Partial<PruneConfig>, name: string): Promise<{ path: string; meta: PruneMetadata }> {
  const config: PruneConfig = { pattern: 'tw', sparsity: 0.75, vector: 16, permute: 'none', seed: 3, skipUnfit: false, ...over };
  const found = findPrunableLayers(model);
  const { layers, skipped } = selectLayers(found.layers, found.skipped, config);
  const pruned = pruneLayers(layers, await calibrate(model, layers, feeds), config);
  const meta = buildMetadata(model, pruned, skipped, config, { inputs: ['synthetic'], imageSize: 0 });
  const path = join(dir, `${name}.onnx`);
  writeFileSync(path, encodePrunedModel(model, prunedWeights(model, pruned), { [PRUNE_METADATA_KEY]: JSON.stringify(meta) }));
  return { path, meta };
}

function input(name: string, dims: number[], seed: number): string {
  const path = join(dir, `${name}.npy`);
  const x = randomFloats(dims.reduce((a, b) => a * b, 1), seed);
  writeFileSync(path, npyBytes('<f4', dims, new Uint8Array(x.buffer)));
  return path;
}

/** A sink that keeps layers and whether a run was created. */
function sink(): RunSink & { layers: LayerResult[]; created: boolean } {
  const s = {
    layers: [] as LayerResult[],
    created: false,
    createRun: () => ((s.created = true), 1),
    recordLayer: (_id: number, l: LayerResult) => void s.layers.push(l),
    finishRun: () => {},
    failRun: () => {},
  };
  return s;
}

/** The family that runs each pit prune pattern. */
const FAMILY_OF: Record<PatternName, string> = { tw: 'tile-wise', vw: 'tile-wise', nm: 'nm', hinm: 'hinm', bw: 'bcsr-w' };

describe('pit prune → pit profile: every pruned layer runs a matching static family, verified', () => {
  let g: TestGpu;
  beforeAll(async () => {
    g = await testGpu();
  });
  afterAll(() => g.ctx.destroy());

  const profile = async (modelPath: string, inputPath: string, logs: string[] = []) => {
    const s = sink();
    const opts: ProfileOptions = { modelPath, inputs: [inputPath], imageSize: 64, families: defaultFamilies(), repeat: 1, warmup: 0, warmupMs: 0 };
    await profileModel(opts, { gpu: g.ctx, cache: g.cache, sink: s, onProgress: (e) => e.kind === 'log' && logs.push(e.message) });
    return s;
  };

  const cases: [PatternName, Partial<PruneConfig>, 'mm' | 'conv'][] = [
    ['tw', { pattern: 'tw', sparsity: 0.75 }, 'mm'],
    ['vw', { pattern: 'vw', sparsity: 0.75, permute: 'gyro' }, 'mm'],
    ['nm', { pattern: 'nm', sparsity: 0.5 }, 'mm'],
    ['hinm', { pattern: 'hinm', sparsity: 0.75, permute: 'gyro' }, 'mm'],
    ['bw', { pattern: 'bw', sparsity: 0.5 }, 'mm'],
    ['hinm', { pattern: 'hinm', sparsity: 0.875, permute: 'gyro' }, 'conv'],
    ['tw', { pattern: 'tw', sparsity: 0.5 }, 'conv'],
  ];
  for (const [pattern, config, kind] of cases) {
    it(`${pattern} at ${config.sparsity} on the ${kind === 'mm' ? 'MatMul + Gemm' : 'Conv'} model`, async () => {
      const model = kind === 'mm' ? denseModel() : convModel();
      const { path, meta } = await prune(model, kind === 'mm' ? mmFeeds : convFeeds, config, `${kind}-${pattern}-${config.sparsity}`);
      expect(meta.layers.length).toBeGreaterThan(0);
      const logs: string[] = [];
      const s = await profile(path, kind === 'mm' ? input('x-mm', [24, 64], 60) : input('x-conv', [1, 8, 6, 6], 61), logs);
      expect(logs.join('\n')).toMatch(new RegExp(`pit\\.prune metadata: ${pattern} at ${config.sparsity! * 100} % on ${meta.layers.length} layer`));
      for (const l of meta.layers) {
        const layer = s.layers.find((x) => x.name === l.name)!;
        const family = FAMILY_OF[pattern];
        const v = layer.variants.find((x) => x.family === family);
        expect(v, `${l.name}: a ${family} variant`).toBeDefined();
        expect(v!.ok, `${l.name} ${v!.name}: ${v!.error}`).toBe(true);
        expect(v!.microTile).toBeNull();
        expect(v!.detectMs).toBe(0);
        expect(v!.indexMs!).toBeGreaterThanOrEqual(0);
        // The weight's work the kernel does: 1 − the mask's sparsity (tw, vw, bw exactly; 2:4 inside hinm's vectors).
        expect(v!.effectiveDensity!).toBeCloseTo(1 - l.sparsity, 6);
        // Beside the dense tiles and the dynamic PIT rules on the activation, all verified.
        expect(layer.variants.map((x) => x.family)).toEqual(expect.arrayContaining(['dense', 'pit-k', 'pit-m']));
        for (const x of layer.variants) expect(x.ok, `${l.name} ${x.name}: ${x.error}`).toBe(true);
      }
    });
  }

  it('refuses a pattern that does not fit a layer before any run exists, naming the layer', async () => {
    const model = denseModel();
    const { meta } = await prune(model, mmFeeds, { pattern: 'nm', sparsity: 0.5 }, 'nm-ok');
    // The dense weights with the 2:4 metadata: the metadata no longer describes them.
    const path = join(dir, 'nm-mismatch.onnx');
    writeFileSync(path, encodePrunedModel(model, new Map(), { [PRUNE_METADATA_KEY]: JSON.stringify(meta) }));
    const s = sink();
    const opts: ProfileOptions = { modelPath: path, inputs: [input('x-bad', [24, 64], 62)], imageSize: 64, families: defaultFamilies(), repeat: 1, warmup: 0, warmupMs: 0 };
    const run = profileModel(opts, { gpu: g.ctx, cache: g.cache, sink: s });
    await expect(run).rejects.toThrow(ModelError);
    await expect(profileModel(opts, { gpu: g.ctx, cache: g.cache, sink: s })).rejects.toThrow(
      /^layer mm1: its pit\.prune pattern is 2:4, but W\[k=\d+\.\.\d+, n=\d+\] holds [34] non-zeros, more than 2 of 4 \(nm\)$/,
    );
    expect(s.created).toBe(false);
    // Metadata for another model (a layer of another shape): refused the same way.
    const other = { ...meta, layers: meta.layers.map((l) => ({ ...l, k: l.k * 2 })) };
    writeFileSync(path, encodePrunedModel(model, new Map(), { [PRUNE_METADATA_KEY]: JSON.stringify(other) }));
    await expect(profileModel(opts, { gpu: g.ctx, cache: g.cache, sink: s })).rejects.toThrow(/^layer mm1: the pit\.prune metadata is for W \[K=128, N=64\], the model's weight is \[K=64, N=64\]$/);
    expect(s.created).toBe(false);
  });
});
