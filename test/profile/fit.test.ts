/**
 * Sizing a layer from its shapes before anything is allocated (issue 14 item 1; core/profile/fit.ts), at lavapipe's
 * limits (128 MiB per binding). The shapes are those of the hostile models: the 16 KB model X[1,1,512,512] →
 * ReLU → Conv 64x64 kernel (a 3.08 GiB im2col, M 201601, K 4096, N 1), its 0.19 GiB variant (X[1,1,256,256], 32x32
 * kernel) and a 49 GiB one; and a weight too large for any binding.
 */
import { describe, expect, it } from 'vitest';
import { FAMILIES } from '../../core/kernels/registry.ts';
import type { MatmulShape } from '../../core/kernels/shape.ts';
import { fitLayer, hostBytes } from '../../core/profile/fit.ts';

const LAVAPIPE = { bindingBytes: 128 * 2 ** 20, budgetBytes: 8 * 2 ** 30 };
const configs = (s: MatmulShape) => FAMILIES.flatMap((f) => f.layerConfigs(s).filter((c) => !f.illegalReason(c, s)));
const fit = (shape: MatmulShape, limits = LAVAPIPE) => fitLayer({ shape, configs: configs(shape), freeLayouts: ['a', 'at'], limits, align: 128 });

describe('fitLayer', () => {
  it('measures a layer that fits whole, whole', () => {
    const r = fit({ m: 4096, n: 64, k: 288 });
    expect(r.kind).toBe('whole');
    if (r.kind === 'whole') expect(r.hostBytes).toBe(hostBytes(4096, 64, 288));
  });

  it("tiles the 16 KB model's 3.08 GiB im2col into slices under one binding each, allocating nothing", () => {
    const before = process.memoryUsage().rss;
    const r = fit({ m: 201601, n: 1, k: 4096 });
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 2 ** 20);
    expect(r).toMatchObject({ kind: 'tiled', rows: 8192, slices: 25 });
    if (r.kind !== 'tiled') return;
    expect(r.reason).toMatch(/^a(t)? \[(201601, 4096|4096, 201601)\] needs 3\.08 GiB, over this device's 128 MiB per binding$/);
    expect(8192 * 4096 * 4).toBeLessThanOrEqual(LAVAPIPE.bindingBytes); // one slice of A is one binding
    expect(r.gpuBytes).toBeLessThanOrEqual(LAVAPIPE.budgetBytes);
  });

  it('tiles the 0.19 GiB operand (the case that failed every variant with an invalid bind group) into two slices', () => {
    const r = fit({ m: 50625, n: 1, k: 1024 });
    expect(r).toMatchObject({ kind: 'tiled', slices: 2 });
    if (r.kind === 'tiled') expect(r.reason).toMatch(/needs 198 MiB, over this device's 128 MiB per binding/);
  });

  it('tiles a 49 GiB operand (an untyped RangeError before) into slices of at most one binding', () => {
    const shape = { m: 3_200_000, n: 1, k: 4096 }; // 48.8 GiB of A
    const r = fit(shape);
    expect(r.kind).toBe('tiled');
    if (r.kind === 'tiled') {
      expect(r.rows * shape.k * 4).toBeLessThanOrEqual(LAVAPIPE.bindingBytes);
      expect(r.slices).toBe(Math.ceil(shape.m / r.rows));
    }
  });

  it('splits by the memory budget too: slices whose host arrays and GPU buffers both fit it', () => {
    const shape = { m: 20000, n: 256, k: 1152 };
    const limits = { bindingBytes: 2 ** 40, budgetBytes: 64 * 2 ** 20 };
    const r = fit(shape, limits);
    expect(r.kind).toBe('tiled');
    if (r.kind !== 'tiled') return;
    expect(r.reason).toMatch(/over the memory budget of 64\.0 MiB$/);
    expect(r.hostBytes).toBeLessThanOrEqual(limits.budgetBytes);
    expect(r.gpuBytes).toBeLessThanOrEqual(limits.budgetBytes);
    expect(r.rows % 128).toBe(0);
    // As few slices as fit: one row block more would not.
    expect(fitLayer({ shape: { ...shape, m: r.rows + 128 }, configs: configs(shape), freeLayouts: ['a', 'at'], limits, align: 128 }).kind).not.toBe('whole');
  });

  it('skips a layer whose weight alone is over a binding (slicing along M cannot shrink B), saying so', () => {
    const r = fit({ m: 1024, n: 9000, k: 4096 }); // B [4096, 9000] = 141 MiB
    expect(r.kind).toBe('skip');
    if (r.kind === 'skip') expect(r.reason).toMatch(/^too large for this device: b \[4096, 9000\] needs 141 MiB, over this device's 128 MiB per binding even in slices of 128 rows/);
  });

  it('skips a layer shorter than one slice that does not fit', () => {
    const r = fit({ m: 100, n: 64, k: 4096 }, { bindingBytes: 2 ** 40, budgetBytes: 1024 });
    expect(r.kind).toBe('skip');
    if (r.kind === 'skip') expect(r.reason).toMatch(/over the memory budget of 1\.00 KiB \(layer 100×64×4096\)$/);
  });
});
