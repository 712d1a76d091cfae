import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readF32, storageFrom, storageZeros } from '../core/gpu/buffers.ts';
import { acquireDevice } from '../core/gpu/device.ts';
import { MissingFeatureError, NoAdapterError, ShaderCompileError } from '../core/gpu/errors.ts';
import { median, runDispatches, timeDispatches } from '../core/gpu/timing.ts';
import { ceilDiv, dim, grid } from '../core/kernels/grid.ts';
import { makeProgram, prepareDispatch, type KernelProgram } from '../core/kernels/program.ts';
import { testGpu, type TestGpu } from './gpu-helpers.ts';

const doubler: KernelProgram = makeProgram(
  {
  family: 'test',
  label: 'double',
  wgsl: `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < arrayLength(&x)) { y[g.x] = 2.0 * x[g.x]; }
}`,
  bindings: [
    { name: 'x', kind: 'read-only-storage' },
    { name: 'y', kind: 'storage' },
  ],
  workgroupSize: [64, 1, 1],
  grid: grid(ceilDiv(dim('n'), 64), 1, 1),
  },
  { n: 128 },
);

describe('GPU runtime', () => {
  let g: TestGpu;
  beforeAll(async () => {
    g = await testGpu();
  });
  afterAll(() => g.ctx.destroy());

  it('runs a kernel, reads back, and caches the pipeline by WGSL', async () => {
    const x = Float32Array.from({ length: 100 }, (_, i) => i - 50);
    const bx = storageFrom(g.ctx.device, x, 'x');
    const by = storageZeros(g.ctx.device, 400, 'y');
    const d = await prepareDispatch(g.ctx, g.cache, doubler, { x: bx, y: by });
    await runDispatches(g.ctx, [d]);
    const y = await readF32(g.ctx.device, by, 100);
    expect(Array.from(y)).toEqual(Array.from(x, (v) => 2 * v));
    await prepareDispatch(g.ctx, g.cache, { ...doubler, label: 'same text' }, { x: bx, y: by });
    expect(g.cache.size).toBe(1);
  });

  it('times with warm-up and repeats', async () => {
    const bx = storageFrom(g.ctx.device, new Float32Array(128), 'x');
    const by = storageZeros(g.ctx.device, 512, 'y');
    const d = await prepareDispatch(g.ctx, g.cache, doubler, { x: bx, y: by });
    const t = await timeDispatches(g.ctx, [d], { warmup: 1, repeat: 3 });
    expect(t.samplesMs.length).toBeGreaterThan(0);
    expect(t.medianMs).toBeGreaterThan(0);
    const c = await timeDispatches(g.ctx, [d], { warmup: 0, repeat: 2, cpuClock: true });
    expect(c.method).toBe('cpu');
    expect(c.samplesMs).toHaveLength(2);
  });

  it('turns a WGSL error into a ShaderCompileError naming the kernel and line', async () => {
    const bad = { ...doubler, label: 'broken', wgsl: doubler.wgsl.replace('2.0 * x[g.x]', '2.0 * undefined_thing') };
    await expect(prepareDispatch(g.ctx, g.cache, bad, {})).rejects.toThrow(ShaderCompileError);
    await expect(prepareDispatch(g.ctx, g.cache, bad, {})).rejects.toThrow(/broken.*line 4/);
  });

  it('says which binding is missing', async () => {
    const bx = storageFrom(g.ctx.device, new Float32Array(4), 'x');
    await expect(prepareDispatch(g.ctx, g.cache, doubler, { x: bx })).rejects.toThrow(/binding 1 'y'/);
  });

  it('reports a missing adapter and a missing feature clearly', async () => {
    const noAdapter = { requestAdapter: async () => null } as unknown as GPU;
    await expect(acquireDevice(noAdapter)).rejects.toThrow(NoAdapterError);
    const fakeAdapter = { features: new Set<string>(), info: { vendor: 'acme' } };
    const gpu = { requestAdapter: async () => fakeAdapter } as unknown as GPU;
    await expect(acquireDevice(gpu, { requiredFeatures: ['shader-f16-nonexistent' as GPUFeatureName] })).rejects.toThrow(
      MissingFeatureError,
    );
  });

  it('computes medians', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});
