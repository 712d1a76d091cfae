/**
 * Memory limits and GPU errors (issue 14 items 1 and 2): sizes parsed and printed; a variant over the binding limit
 * or the memory budget refused with a typed error before anything is created; and a GPU error reported by its own
 * cause — the bind group that could not be created — not by the "[Invalid BindGroup] is invalid" it leaves behind
 * at dispatch, which is what every variant of the 0.19 GiB layer reported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withGpuErrors } from '../../core/gpu/error-scope.ts';
import { GpuValidationError, ResourceLimitError } from '../../core/gpu/errors.ts';
import { defaultMemoryBudget, formatBytes, parseBytes } from '../../core/gpu/limits.ts';
import type { GpuContext } from '../../core/gpu/device.ts';
import { FAMILIES } from '../../core/kernels/registry.ts';
import { prepareVariant, runVariant, type MatmulOperands } from '../../core/kernels/variants.ts';
import { LayerMeasurement } from '../../core/profile/measure.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';
import { randomDense } from '../kernels/fixtures.ts';

describe('sizes', () => {
  it('parses sizes with units and refuses anything else', () => {
    expect(parseBytes('2GiB')).toBe(2 * 2 ** 30);
    expect(parseBytes('512 MiB')).toBe(512 * 2 ** 20);
    expect(parseBytes('1.5g')).toBe(1.5e9);
    expect(parseBytes('3e9')).toBe(3e9);
    expect(parseBytes('4096')).toBe(4096);
    for (const bad of ['', '-1', '0', 'lots', '2 parsecs', '0.1']) expect(parseBytes(bad), bad).toBeNull();
  });

  it('prints binary units and defaults the budget to half the free memory', () => {
    expect(formatBytes(3.3e9)).toBe('3.07 GiB');
    expect(formatBytes(128 * 2 ** 20)).toBe('128 MiB');
    expect(formatBytes(12)).toBe('12 B');
    expect(defaultMemoryBudget(16 * 2 ** 30)).toBe(8 * 2 ** 30);
    expect(defaultMemoryBudget(0)).toBe(64 * 2 ** 20);
  });
});

describe('limits and errors on the GPU', () => {
  let g: TestGpu;
  beforeAll(async () => {
    g = await testGpu();
  });
  afterAll(() => g.ctx.destroy());

  const ops = (m: number, n: number, k: number, extra: Partial<MatmulOperands> = {}): MatmulOperands => ({ m, n, k, a: randomDense(m * k, 1), b: randomDense(k * n, 2), ...extra });

  it('refuses a variant whose buffers together are over the budget (ResourceLimitError, nothing created)', async () => {
    const dense = FAMILIES[0]!.layerConfigs({ m: 64, n: 64, k: 64 })[0]!;
    const err = await prepareVariant(g.ctx, g.cache, ops(64, 64, 64, { budgetBytes: 40_000 }), dense).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceLimitError);
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).name).toBe('ResourceLimitError');
    expect((err as Error).message).toMatch(/^variant dense 32x128x8\/4x4: its GPU buffers need 64\.0 KiB together, over the memory budget of 39\.1 KiB$/);
    // Within the budget it runs.
    const run = await runVariant(g.ctx, g.cache, ops(64, 64, 64, { budgetBytes: 1 << 20 }), dense, { warmup: 0, repeat: 1 });
    expect(run.output).toHaveLength(64 * 64);
  });

  it('refuses a buffer over the binding limit by name, before creating it', async () => {
    const dense = FAMILIES[0]!.layerConfigs({ m: 8, n: 8, k: 8 })[0]!;
    const limits = { ...g.ctx.device.limits, maxStorageBufferBindingSize: 128, maxBufferSize: g.ctx.device.limits.maxBufferSize } as GPUSupportedLimits;
    const device = new Proxy(g.ctx.device, {
      get(t, p) {
        if (p === 'limits') return limits;
        const v = Reflect.get(t, p) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
    const ctx: GpuContext = { ...g.ctx, device };
    await expect(prepareVariant(ctx, g.cache, ops(8, 8, 8), dense)).rejects.toThrow(/^variant dense 32x128x8\/4x4: buffer 'a' \[8, 8\] needs 256 B, over this device's 128 B per binding$/);
  });

  it('withGpuErrors reports the bind group that failed, where a dispatch scope sees only the invalid object', async () => {
    const { device } = g.ctx;
    const module = device.createShaderModule({ code: '@group(0) @binding(0) var<storage, read_write> x: array<f32>; @compute @workgroup_size(1) fn main() { x[0] = 1.0; }' });
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const wrongUsage = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM });
    const bind = () => device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: wrongUsage } }] });
    // The old way: only the dispatch in a scope — the bind group's own error escapes, the dispatch echoes it.
    const silent = bind();
    device.pushErrorScope('validation');
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, silent);
    pass.dispatchWorkgroups(1);
    pass.end();
    device.queue.submit([enc.finish()]);
    const echo = await device.popErrorScope();
    expect(echo?.message).toMatch(/Invalid BindGroup/);
    // withGpuErrors around the creation: the cause itself.
    const err = await withGpuErrors(device, 'variant x: binding main', bind).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuValidationError);
    expect((err as Error).message).toMatch(/^variant x: binding main: GPU validation error: /);
    expect((err as Error).message).toMatch(/[Uu]sage/);
    expect((err as Error).message).not.toMatch(/Invalid BindGroup/);
    expect((err as Error).message).not.toMatch(/\n/);
    wrongUsage.destroy();
  });

  it('a variant whose bind group cannot be created fails with that cause, and the layer keeps measuring the others', async () => {
    const { device } = g.ctx;
    const bad = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM });
    let sabotage = true;
    // Fault injection: the first variant's first bind group gets a buffer without STORAGE usage.
    const proxied = new Proxy(device, {
      get(t, p) {
        const v = Reflect.get(t, p) as unknown;
        if (p === 'createBindGroup') {
          return (d: GPUBindGroupDescriptor) => {
            if (!sabotage) return t.createBindGroup(d);
            sabotage = false;
            return t.createBindGroup({ ...d, entries: [...d.entries].map((e, i) => (i === 0 ? { ...e, resource: { buffer: bad } } : e)) });
          };
        }
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
    const ctx: GpuContext = { ...g.ctx, device: proxied };
    const o = ops(32, 16, 24);
    const dense = FAMILIES[0]!.layerConfigs(o);
    const candidates = dense.slice(0, 2).map((spec, i) => ({ name: `v${i}`, spec, microTile: null, effectiveDensity: null }));
    const verifier = { output: () => ({ maxAbsErr: 0, maxRelErr: 0, tolerance: 1, worstIndex: -1, ok: true }), density: () => 1 };
    const lm = await LayerMeasurement.start(ctx, g.cache, o, candidates, verifier, () => {}, () => {});
    lm.release();
    const [first, second] = lm.measured;
    expect(first!.result.ok).toBe(false);
    expect(first!.result.error).toMatch(new RegExp(`^variant ${candidates[0]!.spec.family}.*: binding .*: GPU validation error: Binding usage`));
    expect(first!.result.error).not.toMatch(/Invalid BindGroup/);
    expect(second!.result.ok).toBe(true);
    bad.destroy();
  });
});
