/**
 * Layers too large for the memory budget are measured in row slices (issue 14 item 1; core/profile/tiled.ts): the
 * same synthetic models (labelled synthetic: a ReLU → 3x3 Conv, a ReLU → MatMul) profiled whole and with a budget
 * that forces slices must agree on everything the data decides — sparsity, every micro-tile density, the heat map —
 * and every variant must verify on every slice. A budget below the smallest slice skips the layer with the reason.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { profileModel, type ProfileOptions } from '../../core/profile/profile.ts';
import type { RunSink } from '../../core/profile/sink.ts';
import type { LayerResult } from '../../core/protocol.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';
import { npyBytes } from '../inputs/npy-fixtures.ts';
import { buildModel, randomFloats } from '../model/onnx-builders.ts';

function sink(): RunSink & { layers: LayerResult[]; status: string } {
  const s = {
    layers: [] as LayerResult[],
    status: 'none',
    createRun: () => ((s.status = 'running'), 1),
    recordLayer: (_id: number, layer: LayerResult) => void s.layers.push(layer),
    finishRun: () => void (s.status = 'complete'),
    failRun: (_id: number, message: string) => void (s.status = `incomplete: ${message}`),
  };
  return s;
}

const dir = mkdtempSync(join(tmpdir(), 'pit-tiled-'));
const convModel = join(dir, 'synthetic-relu-conv.onnx');
const convInput = join(dir, 'x-conv.npy');
const mmModel = join(dir, 'synthetic-relu-matmul.onnx');
const mmInput = join(dir, 'x-mm.npy');

function opts(modelPath: string, input: string, memoryBudget?: number): ProfileOptions {
  return { modelPath, inputs: [input], imageSize: 64, families: ['dense', 'pit-k', 'pit-m'], repeat: 2, warmup: 0, warmupMs: 0, memoryBudget };
}

describe('layers measured in row slices', () => {
  let g: TestGpu;
  beforeAll(async () => {
    g = await testGpu();
    // Conv: X [1, 4, 24, 24] → ReLU → 3x3 conv, 8 channels, pad 1: M = 576 rows, K = 36, N = 8.
    writeFileSync(
      convModel,
      buildModel({
        inputs: [{ name: 'x', dims: [1, 4, 24, 24] }],
        outputs: [{ name: 'y', dims: [1, 8, 24, 24] }],
        initializers: [{ name: 'w', dims: [8, 4, 3, 3], data: randomFloats(8 * 4 * 9, 3) }],
        nodes: [
          { op: 'Relu', inputs: ['x'], outputs: ['r'] },
          { op: 'Conv', inputs: ['r', 'w'], outputs: ['y'], name: 'conv', attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
        ],
      }),
    );
    writeFileSync(convInput, npyBytes('<f4', [1, 4, 24, 24], new Uint8Array(randomFloats(4 * 24 * 24, 4).buffer)));
    // MatMul: A [300, 40] (ReLU), B [40, 24].
    writeFileSync(
      mmModel,
      buildModel({
        inputs: [{ name: 'x', dims: [300, 40] }],
        outputs: [{ name: 'y', dims: [300, 24] }],
        initializers: [{ name: 'w', dims: [40, 24], data: randomFloats(40 * 24, 5) }],
        nodes: [
          { op: 'Relu', inputs: ['x'], outputs: ['r'] },
          { op: 'MatMul', inputs: ['r', 'w'], outputs: ['y'], name: 'mm' },
        ],
      }),
    );
    writeFileSync(mmInput, npyBytes('<f4', [300, 40], new Uint8Array(randomFloats(300 * 40, 6).buffer)));
  });
  afterAll(() => g.ctx.destroy());

  // Budgets between what the smallest slice (128 rows) and the whole layer need on the GPU (every variant together).
  for (const [what, model, input, budget] of [
    ['an im2col Conv', convModel, convInput, 200 * 1024],
    ['a MatMul', mmModel, mmInput, 250 * 1024],
  ] as const) {
    it(`${what}: slices reproduce the whole layer's statistics, and every variant verifies on every slice`, async () => {
      const whole = sink();
      await profileModel(opts(model, input), { gpu: g.ctx, cache: g.cache, sink: whole });
      const tiledSink = sink();
      const logs: string[] = [];
      await profileModel(opts(model, input, budget), { gpu: g.ctx, cache: g.cache, sink: tiledSink, onProgress: (e) => e.kind === 'log' && logs.push(e.message) });
      expect(whole.status).toBe('complete');
      expect(tiledSink.status).toBe('complete');
      const [w] = whole.layers;
      const [t] = tiledSink.layers;
      expect(w!.tiled).toBeUndefined();
      const slices = t!.tiled?.slices ?? 0;
      expect(slices).toBeGreaterThanOrEqual(2);
      expect(t!.tiled!.rows % 128).toBe(0); // whole micro-tiles and computation tiles per slice
      expect(slices).toBe(Math.ceil(w!.m / t!.tiled!.rows));
      expect(t!.tiled?.reason).toMatch(/over the memory budget of/);
      expect(logs.some((l) => l.includes(`measuring it in ${slices} row slices`))).toBe(true);
      expect(logs.filter((l) => / slice \d+ of \d+ .* measured$/.test(l))).toHaveLength(slices);
      expect([t!.m, t!.n, t!.k]).toEqual([w!.m, w!.n, w!.k]);
      expect(t!.sparsity).toBe(w!.sparsity);
      expect(t!.sparsity).toBeGreaterThan(0.3);
      // Exact: every micro-tile density and effective density, and the heat map, as if A were whole.
      expect(t!.microTiles).toEqual(w!.microTiles);
      expect(t!.heatmap).toEqual(w!.heatmap);
      expect(t!.variants.map((v) => v.name)).toEqual(w!.variants.map((v) => v.name));
      for (const v of t!.variants) {
        expect(v.ok, `${v.name}: ${v.error}`).toBe(true);
        expect(v.maxAbsErr).toBeLessThan(1e-4);
        expect(v.repeats).toBe(2); // sample j = Σ over slices of sample j
        expect(v.samplesMs).toHaveLength(2);
        expect(v.ms + v.detectMs + v.layoutMs!).toBeCloseTo(v.totalMs!, 9);
      }
      expect(t!.failed).toBeUndefined();
      expect(t!.baseline).toBeTruthy();
      expect(t!.decision).toMatch(new RegExp(`^measured in ${slices} row slices`));
    });
  }

  it('skips a layer whose smallest slice is over the budget, with the reason, and completes the run', async () => {
    const s = sink();
    await profileModel(opts(convModel, convInput, 4 * 1024), { gpu: g.ctx, cache: g.cache, sink: s });
    expect(s.status).toBe('complete');
    expect(s.layers[0]!.skipped).toMatch(/^too large for this device: .*over the memory budget of 4\.00 KiB even in slices of 128 rows \(layer 576×8×36\)$/);
    expect(s.layers[0]!.variants).toEqual([]);
  });
});
