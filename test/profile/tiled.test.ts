/**
 * Layers too large for the memory budget are measured in slices (issue 14 item 1; core/profile/tiled.ts): rows of a
 * 2-D layer, batches of a batched one. The same synthetic models (labelled synthetic: a ReLU → 3x3 Conv, a ReLU →
 * MatMul, attention QKᵀ / AV over 4 heads with padded tokens, a ReLU → depthwise conv of 6 groups) profiled whole and
 * with a budget that forces slices must agree on everything the data decides — sparsity, every micro-tile density,
 * the heat map, per-batch sparsity and densities, B's statistics — and every variant must verify on every slice. A
 * budget below the smallest slice skips the layer with the reason.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSamples } from '../../core/inputs/samples.ts';
import { createReferenceSession } from '../../core/model/capture.ts';
import { importModel } from '../../core/model/import.ts';
import { findSparseOps } from '../../core/model/sparse-ops.ts';
import { MEASURE_POLICY, profileLayer, profileModel, type ProfileOptions } from '../../core/profile/profile.ts';
import { NO_STATIC_PATTERNS } from '../../core/profile/static-patterns.ts';
import { sliceBounds, sliceFacts } from '../../core/profile/tiled.ts';
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
    ['a MatMul', mmModel, mmInput, 300 * 1024],
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
      const rows = t!.tiled!.rows!;
      expect(rows % 128).toBe(0); // whole micro-tiles and computation tiles per slice
      expect(slices).toBe(Math.ceil(w!.m / rows));
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

  describe('batched layers, sliced along the batch', () => {
    const attnModel = join(dir, 'synthetic-attention.onnx');
    const dims = [1, 4, 12, 8];
    const attnInputs: Record<'q' | 'k' | 'v', string> = { q: join(dir, 'q.npy'), k: join(dir, 'k.npy'), v: join(dir, 'v.npy') };
    const dwModel = join(dir, 'synthetic-depthwise.onnx');
    const dwInput = join(dir, 'x-dw.npy');
    beforeAll(() => {
      // QKᵀ and AV of 4 heads of 8 over 12 tokens, the last 4 of them padding (zero rows of q, k and v in every head).
      writeFileSync(
        attnModel,
        buildModel({
          inputs: (['q', 'k', 'v'] as const).map((name) => ({ name, dims })),
          outputs: [{ name: 'y', dims }],
          nodes: [
            { op: 'Transpose', inputs: ['k'], outputs: ['kt'], attrs: { perm: [0, 1, 3, 2] } },
            { op: 'MatMul', inputs: ['q', 'kt'], outputs: ['scores'], name: 'qk' },
            { op: 'Softmax', inputs: ['scores'], outputs: ['p'], attrs: { axis: -1 } },
            { op: 'MatMul', inputs: ['p', 'v'], outputs: ['y'], name: 'av' },
          ],
        }),
      );
      for (const [i, name] of (['q', 'k', 'v'] as const).entries()) {
        const x = randomFloats(4 * 12 * 8, 20 + i);
        for (let h = 0; h < 4; h++) x.fill(0, (h * 12 + 8) * 8, (h + 1) * 12 * 8);
        writeFileSync(attnInputs[name], npyBytes('<f4', dims, new Uint8Array(x.buffer)));
      }
      // X [1, 6, 20, 20] → ReLU → depthwise 3x3 conv (6 groups of one channel), pad 1.
      writeFileSync(
        dwModel,
        buildModel({
          inputs: [{ name: 'x', dims: [1, 6, 20, 20] }],
          outputs: [{ name: 'y', dims: [1, 6, 20, 20] }],
          initializers: [{ name: 'w', dims: [6, 1, 3, 3], data: randomFloats(54, 9) }],
          nodes: [
            { op: 'Relu', inputs: ['x'], outputs: ['r'] },
            { op: 'Conv', inputs: ['r', 'w'], outputs: ['y'], name: 'dw', attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 6 } },
          ],
        }),
      );
      writeFileSync(dwInput, npyBytes('<f4', [1, 6, 20, 20], new Uint8Array(randomFloats(6 * 400, 5).buffer)));
    });

    const attention = (memoryBudget?: number): ProfileOptions => ({
      modelPath: attnModel,
      inputs: [],
      samples: [{ sources: (['q', 'k', 'v'] as const).map((name) => ({ name, path: attnInputs[name] })) }],
      imageSize: 64,
      families: ['pit-k', 'pit-m', 'pit-n'],
      repeat: 2,
      warmup: 0,
      warmupMs: 0,
      memoryBudget,
    });

    // Budgets (found by sizing these layers, core/profile/fit.ts) between what one or two batches and the whole layer
    // need on the GPU: 2 slices of 2 heads; 3 slices of 2 groups; 6 slices of one group (each a 2-D problem).
    for (const [what, options, budget, batches] of [
      ['attention QKᵀ and AV (B an activation)', attention, 32_000, 2],
      ['a depthwise conv', (b?: number) => opts(dwModel, dwInput, b), 256_000, 2],
      ['a depthwise conv, one group per slice', (b?: number) => opts(dwModel, dwInput, b), 128_000, 1],
    ] as const) {
      it(`${what}: batch slices of ${batches} reproduce every per-batch statistic, and every variant verifies on every slice`, async () => {
        const whole = sink();
        await profileModel(options(), { gpu: g.ctx, cache: g.cache, sink: whole });
        const sliced = sink();
        const logs: string[] = [];
        await profileModel(options(budget), { gpu: g.ctx, cache: g.cache, sink: sliced, onProgress: (e) => e.kind === 'log' && logs.push(e.message) });
        expect(whole.status).toBe('complete');
        expect(sliced.status).toBe('complete');
        expect(sliced.layers).toHaveLength(whole.layers.length);
        for (const [i, t] of sliced.layers.entries()) {
          const w = whole.layers[i]!;
          expect(w.tiled).toBeUndefined();
          expect(w.batch).toBeGreaterThan(1);
          const slices = Math.ceil(w.batch! / batches);
          expect(t.tiled, t.name).toEqual({ slices, batches, reason: expect.stringMatching(/over the memory budget of/) as unknown as string });
          expect(logs.some((l) => l.startsWith(`${t.name}: `) && l.includes(`measuring it in ${slices} batch slices of ${batches} batch`))).toBe(true);
          expect(logs.filter((l) => l.startsWith(`${t.name}: slice `) && / \(batches \d+–\d+\) measured$/.test(l))).toHaveLength(slices);
          // Exact: the layer's shape, batch axes, sparsity, micro-tiles, heat map, per-batch values and B's statistics.
          for (const key of ['m', 'n', 'k', 'batch', 'batchDims', 'batchKind', 'shared', 'lowering', 'sparsity', 'microTiles', 'heatmap', 'perBatch', 'operandB'] as const) {
            expect(t[key], `${t.name} ${key}`).toEqual(w[key]);
          }
          expect(t.perBatch!.sparsity).toHaveLength(w.batch!);
          expect(t.variants.map((v) => v.name)).toEqual(w.variants.map((v) => v.name));
          for (const v of t.variants) {
            expect(v.ok, `${t.name} ${v.name}: ${v.error}`).toBe(true);
            expect(v.repeats).toBe(2);
            expect(v.ms + v.detectMs + v.layoutMs!).toBeCloseTo(v.totalMs!, 9);
          }
          expect(t.failed).toBeUndefined();
          expect(t.baseline).toBeTruthy();
          expect(t.decision).toMatch(new RegExp(`^measured in ${slices} batch slices of ${batches} batch`));
        }
        // The attention's padded keys: its B is an activation with zero columns, which both runs see.
        if (options === attention) expect(sliced.layers[0]!.operandB!.sparsity).toBeCloseTo(1 / 3, 9);
      });
    }
  });

  it('with near-zero as zero, a layer that would need slicing is skipped with both reasons (its cut and error are over the whole layer)', async () => {
    const s = sink();
    await profileModel({ ...opts(convModel, convInput, 200 * 1024), zero: { threshold: 0.01 } }, { gpu: g.ctx, cache: g.cache, sink: s });
    expect(s.status).toBe('complete');
    expect(s.layers[0]!.skipped).toMatch(/^too large for this device: .*over the memory budget of 200 KiB; near-zero as zero needs the whole layer .* \(layer 576×8×36\)$/);
  });

  it('a layer with facts (valid rows of a padded batch): each row slice gets its own valid rows, and pit-m-seqlen verifies on every slice', async () => {
    const model = importModel(mmModel);
    const ops = findSparseOps(model);
    const session = await createReferenceSession(model, ops);
    const captured = await session.run(loadSamples(model, { inputs: [mmInput], imageSize: 64 })[0]!.feeds);
    await session.release();
    // Rows 0–99 and 200–249 valid: slices of 128 rows hold 100, 50 and 0 of them.
    const validRows = [...Array.from({ length: 100 }, (_, i) => i), ...Array.from({ length: 50 }, (_, i) => 200 + i)];
    const o = { ...opts(mmModel, mmInput, 250 * 1024), families: ['dense', 'pit-m-seqlen'] };
    const logs: string[] = [];
    const env = { gpu: g.ctx, cache: g.cache, sink: sink(), onProgress: (e: { kind: string; message?: string }) => e.kind === 'log' && logs.push(e.message!) };
    const { layer } = await profileLayer(ops[0]!, 0, captured, model, ['dense', 'pit-m-seqlen'], o, env, MEASURE_POLICY, NO_STATIC_PATTERNS, { validRows });
    expect(layer.tiled?.rows).toBe(128);
    expect(layer.tiled?.slices).toBe(3);
    const seqlen = layer.variants.find((v) => v.family === 'pit-m-seqlen')!;
    expect(seqlen, layer.variants.map((v) => v.name).join()).toBeTruthy();
    expect(seqlen.effectiveDensity).toBeCloseTo(150 / 300, 12);
    for (const v of layer.variants) expect(v.ok, `${v.name}: ${v.error}`).toBe(true);
    // The last slice (rows 256–299) has no valid row: pit-m-seqlen computes nothing there and is not run on it.
    expect(logs.filter((l) => /no valid row/.test(l))).toEqual([expect.stringMatching(/^mm: slice 3 of 3 \(rows 256–299\): no valid row, nothing for pit-m-seqlen .+ to compute \(0 ms\)$/)]);
  });

  it('cuts units into slices and renumbers the valid rows of each (rows of A viewed as [batch·M, K])', () => {
    expect(sliceBounds(10, 4)).toEqual([[0, 4], [4, 8], [8, 10]]);
    expect(sliceBounds(8, 8)).toEqual([[0, 8]]);
    const facts = { validRows: [0, 1, 5, 6, 7, 9] };
    expect(sliceFacts(facts, { axis: 'rows' }, 10, 4, 8)).toEqual({ validRows: [1, 2, 3] });
    // Batches of M = 3 rows: batches [1, 3) are rows [3, 9).
    expect(sliceFacts(facts, { axis: 'batch' }, 3, 1, 3)).toEqual({ validRows: [2, 3, 4] });
    expect(sliceFacts({}, { axis: 'rows' }, 10, 0, 4)).toEqual({});
  });

  it('skips a layer whose smallest slice is over the budget, with the reason, and completes the run', async () => {
    const s = sink();
    await profileModel(opts(convModel, convInput, 4 * 1024), { gpu: g.ctx, cache: g.cache, sink: s });
    expect(s.status).toBe('complete');
    expect(s.layers[0]!.skipped).toMatch(/^too large for this device: .*over the memory budget of 4\.00 KiB even in slices of 128 rows \(layer 576×8×36\)$/);
    expect(s.layers[0]!.variants).toEqual([]);
  });
});
