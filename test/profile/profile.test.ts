/**
 * The profiling job against an in-memory sink: what it writes, in what order, and how a lost device or a cancel
 * ends a run (incomplete, finished layers kept). The model is synthetic (two ReLU → MatMul layers) and labelled so.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceLostError } from '../../core/gpu/errors.ts';
import { CancelledError, profileModel, type ProfileOptions } from '../../core/profile/profile.ts';
import type { KernelText, RunSink } from '../../core/profile/sink.ts';
import type { LayerResult } from '../../core/protocol.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';
import { npyBytes } from '../inputs/npy-fixtures.ts';
import { buildModel, randomFloats } from '../model/onnx-builders.ts';

interface MemorySink extends RunSink {
  layers: LayerResult[];
  kernels: Map<string, KernelText>;
  status: string;
}

function memorySink(): MemorySink {
  const s: MemorySink = {
    layers: [],
    kernels: new Map(),
    status: 'none',
    createRun: () => ((s.status = 'running'), 1),
    recordLayer: (_id, layer, kernels) => {
      s.layers.push(layer);
      for (const k of kernels) s.kernels.set(k.hash, k);
    },
    finishRun: () => void (s.status = 'complete'),
    failRun: (_id, message) => void (s.status = `incomplete: ${message}`),
  };
  return s;
}

const dir = mkdtempSync(join(tmpdir(), 'pit-profile-'));
const modelPath = join(dir, 'synthetic-two-matmuls.onnx');
const inputPath = join(dir, 'x.npy');

function options(): ProfileOptions {
  return { modelPath, inputs: [inputPath], imageSize: 64, families: ['dense', 'pit-k', 'pit-m'], repeat: 3, warmup: 0, warmupMs: 0 };
}

describe('profileModel', () => {
  let g: TestGpu;
  beforeAll(async () => {
    g = await testGpu();
    writeFileSync(
      modelPath,
      buildModel({
        inputs: [{ name: 'x', dims: [40, 48] }],
        outputs: [{ name: 'y', dims: [40, 16] }],
        initializers: [
          { name: 'W1', dims: [48, 32], data: randomFloats(48 * 32, 1) },
          { name: 'W2', dims: [32, 16], data: randomFloats(32 * 16, 2) },
        ],
        nodes: [
          { op: 'Relu', inputs: ['x'], outputs: ['r1'] },
          { op: 'MatMul', inputs: ['r1', 'W1'], outputs: ['h'], name: 'mm1' },
          { op: 'Relu', inputs: ['h'], outputs: ['r2'] },
          { op: 'MatMul', inputs: ['r2', 'W2'], outputs: ['y'], name: 'mm2' },
        ],
      }),
    );
    const x = randomFloats(40 * 48, 9);
    writeFileSync(inputPath, npyBytes('<f4', [40, 48], new Uint8Array(x.buffer)));
  });
  afterAll(() => g.ctx.destroy());

  it('writes every layer with verified variants and the WGSL that ran, then completes', async () => {
    const sink = memorySink();
    const events: string[] = [];
    const { layers } = await profileModel(options(), { gpu: g.ctx, cache: g.cache, sink, onProgress: (e) => events.push(e.kind) });
    expect(sink.status).toBe('complete');
    expect(sink.layers.map((l) => [l.name, l.m, l.n, l.k])).toEqual([
      ['mm1', 40, 32, 48],
      ['mm2', 40, 16, 32],
    ]);
    expect(layers).toEqual(sink.layers);
    for (const l of sink.layers) {
      expect(l.sparsity).toBeGreaterThan(0.2); // ReLU of symmetric random data: about half zeros
      expect(l.variants.map((v) => v.family)).toEqual(expect.arrayContaining(['dense', 'pit-k', 'pit-m']));
      for (const v of l.variants) {
        expect(v.ok, `${l.name} ${v.name}: ${v.error}`).toBe(true);
        for (const h of v.kernelHashes ?? []) expect(sink.kernels.get(h)?.wgsl).toMatch(/@compute/);
        // Every measurement says what it is: median of its samples, their spread, count and method.
        expect(v.statistic).toBe('median');
        expect(v.repeats).toBeGreaterThanOrEqual(3);
        expect(v.samplesMs).toHaveLength(v.repeats!);
        expect(v.minMs!).toBeLessThanOrEqual(v.q1Ms!);
        expect(v.q1Ms!).toBeLessThanOrEqual(v.totalMs!);
        expect(v.totalMs!).toBeLessThanOrEqual(v.q3Ms!);
        expect(v.q3Ms!).toBeLessThanOrEqual(v.maxMs!);
        expect(v.ms + v.detectMs + v.layoutMs!).toBeCloseTo(v.totalMs!, 9);
        expect(['timestamp', 'cpu']).toContain(v.method);
      }
      // A MatMul activation is row-major: pit-k pays for its transpose in the layout phase.
      expect(l.variants.find((v) => v.family === 'pit-k')!.layoutMs!).toBeGreaterThan(0);
      // The baseline is the fastest verified dense tile; the default tile's gain over it is reported apart.
      const dense = l.variants.filter((v) => v.family === 'dense');
      expect(l.baseline).toBe(dense.reduce((a, b) => (b.totalMs! < a.totalMs! ? b : a)).name);
      expect(l.denseTileGain!).toBeGreaterThanOrEqual(1);
      expect(l.idealMs!).toBeLessThanOrEqual(l.variants.find((v) => v.name === l.baseline)!.totalMs!);
      expect(l.decision).toBeTruthy();
      expect(l.heatmap!.values.length).toBe(l.heatmap!.rows * l.heatmap!.cols);
    }
    expect(events.filter((e) => e === 'layer')).toHaveLength(2);
  });

  it('marks the run incomplete with the device-lost message and keeps finished layers', async () => {
    const sink = memorySink();
    const ctx = { ...g.ctx };
    const run = profileModel(options(), {
      gpu: ctx,
      cache: g.cache,
      sink,
      // Fault injection: the device is reported lost after the first layer (as dawn's device.lost would).
      onProgress: (e) => {
        if (e.kind === 'layer') ctx.lostError = new DeviceLostError('WebGPU device lost (unknown): simulated driver reset');
      },
    });
    await expect(run).rejects.toThrow(DeviceLostError);
    expect(sink.layers).toHaveLength(1);
    expect(sink.status).toBe('incomplete: WebGPU device lost (unknown): simulated driver reset');
  });

  it('--dtype f16: the f16 counterparts (dense-f16 the baseline) on operands rounded to f16, each verified, the run saying so', async () => {
    const sink = memorySink();
    let created: Parameters<RunSink['createRun']>[0] | null = null;
    const logs: string[] = [];
    const { layers } = await profileModel(
      { ...options(), dtype: 'f16' },
      {
        gpu: g.ctx,
        cache: g.cache,
        sink: { ...sink, createRun: (run) => ((created = run), sink.createRun(run)) },
        onProgress: (e) => e.kind === 'log' && logs.push(e.message),
      },
    );
    expect(sink.status).toBe('complete');
    expect(created!.families).toEqual(['dense-f16', 'pit-k-f16', 'pit-m-f16']);
    const opts = created!.options as { dtype?: string; gpu?: { shaderF16: boolean } };
    expect(opts.dtype).toBe('f16');
    expect(opts.gpu!.shaderF16).toBe(true);
    expect(logs.some((l) => l.startsWith('dtype f16'))).toBe(true);
    expect(layers).toHaveLength(2);
    for (const l of layers) {
      expect(new Set(l.variants.map((v) => v.family))).toEqual(new Set(['dense-f16', 'pit-k-f16', 'pit-m-f16']));
      for (const v of l.variants) expect(v.ok, `${l.name} ${v.name}: ${v.error}`).toBe(true);
      // The baseline is the fastest verified dense-f16 tile.
      const dense = l.variants.filter((v) => v.family === 'dense-f16');
      expect(l.baseline).toBe(dense.reduce((a, b) => (b.totalMs! < a.totalMs! ? b : a)).name);
      // Verified against the product of the rounded operands: errors at f32 summation level, far below f16's 2^-11.
      for (const v of l.variants) expect(v.maxRelErr).toBeLessThan(2 ** -16);
    }
  });

  it('--dtype defaults to the model weight dtype (f32 here) and an unknown f16 family name maps back to f32', async () => {
    const sink = memorySink();
    let families: string[] = [];
    await profileModel(
      { ...options(), families: ['pit-k-f16'], maxLayers: 1 },
      { gpu: g.ctx, cache: g.cache, sink: { ...sink, createRun: (run) => ((families = run.families), sink.createRun(run)) } },
    );
    expect(families).toEqual(['dense', 'direct', 'pit-k']);
  });

  it('cancels between layers', async () => {
    const sink = memorySink();
    const abort = new AbortController();
    const run = profileModel(options(), { gpu: g.ctx, cache: g.cache, sink, signal: abort.signal, onProgress: (e) => e.kind === 'layer' && abort.abort() });
    await expect(run).rejects.toThrow(CancelledError);
    expect(sink.layers).toHaveLength(1);
    expect(sink.status).toBe('incomplete: cancelled');
  });
});
