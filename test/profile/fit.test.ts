/**
 * Sizing a layer from its shapes before anything is allocated (issue 14 item 1; core/profile/fit.ts), at lavapipe's
 * limits (128 MiB per binding). The shapes are those of the hostile models: the 16 KB model X[1,1,512,512] →
 * ReLU → Conv 64x64 kernel (a 3.08 GiB im2col, M 201601, K 4096, N 1), its 0.19 GiB variant (X[1,1,256,256], 32x32
 * kernel) and a 49 GiB one; a weight too large for any binding; and batched layers (attention heads, depthwise
 * groups), which are sliced along the batch.
 */
import { describe, expect, it } from 'vitest';
import { FAMILIES } from '../../core/kernels/registry.ts';
import type { MatmulShape } from '../../core/kernels/shape.ts';
import { fitLayer, hostBytes, sliceShape } from '../../core/profile/fit.ts';

const LAVAPIPE = { bindingBytes: 128 * 2 ** 20, budgetBytes: 8 * 2 ** 30 };
// Every family measured on a layer without facts or a weight pattern (those need a plan context: fitLayer's `context`).
const configs = (s: MatmulShape) => FAMILIES.filter((f) => !f.needs && !f.weightCandidates).flatMap((f) => f.layerConfigs(s).filter((c) => !f.illegalReason(c, s)));
const fit = (shape: MatmulShape, limits = LAVAPIPE) => fitLayer({ shape, axis: (shape.batch ?? 1) > 1 ? 'batch' : 'rows', configs: configs(shape), freeLayouts: ['a', 'at'], limits, align: 128 });

describe('fitLayer', () => {
  it('measures a layer that fits whole, whole', () => {
    const r = fit({ m: 4096, n: 64, k: 288 });
    expect(r.kind).toBe('whole');
    if (r.kind === 'whole') expect(r.hostBytes).toBe(hostBytes({ m: 4096, n: 64, k: 288 }));
  });

  it("tiles the 16 KB model's 3.08 GiB im2col into slices under one binding each, allocating nothing", () => {
    const before = process.memoryUsage().rss;
    const r = fit({ m: 201601, n: 1, k: 4096 });
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 2 ** 20);
    expect(r).toMatchObject({ kind: 'sliced', axis: 'rows', size: 8192, slices: 25 });
    if (r.kind !== 'sliced') return;
    expect(r.reason).toMatch(/^a(t)? \[(201601, 4096|4096, 201601)\] needs 3\.08 GiB, over this device's 128 MiB per binding$/);
    expect(8192 * 4096 * 4).toBeLessThanOrEqual(LAVAPIPE.bindingBytes); // one slice of A is one binding
    expect(r.gpuBytes).toBeLessThanOrEqual(LAVAPIPE.budgetBytes);
  });

  it('tiles the 0.19 GiB operand (the case that failed every variant with an invalid bind group) into two slices', () => {
    const r = fit({ m: 50625, n: 1, k: 1024 });
    expect(r).toMatchObject({ kind: 'sliced', slices: 2 });
    if (r.kind === 'sliced') expect(r.reason).toMatch(/needs 198 MiB, over this device's 128 MiB per binding/);
  });

  it('tiles a 49 GiB operand (an untyped RangeError before) into slices of at most one binding', () => {
    const shape = { m: 3_200_000, n: 1, k: 4096 }; // 48.8 GiB of A
    const r = fit(shape);
    expect(r.kind).toBe('sliced');
    if (r.kind === 'sliced') {
      expect(r.size * shape.k * 4).toBeLessThanOrEqual(LAVAPIPE.bindingBytes);
      expect(r.slices).toBe(Math.ceil(shape.m / r.size));
    }
  });

  it('splits by the memory budget too: slices whose host arrays and GPU buffers both fit it', () => {
    const shape = { m: 20000, n: 256, k: 1152 };
    const limits = { bindingBytes: 2 ** 40, budgetBytes: 64 * 2 ** 20 };
    const r = fit(shape, limits);
    expect(r.kind).toBe('sliced');
    if (r.kind !== 'sliced') return;
    expect(r.reason).toMatch(/over the memory budget of 64\.0 MiB$/);
    expect(r.hostBytes).toBeLessThanOrEqual(limits.budgetBytes);
    expect(r.gpuBytes).toBeLessThanOrEqual(limits.budgetBytes);
    expect(r.size % 128).toBe(0);
    // As few slices as fit: one row block more would not.
    expect(fitLayer({ shape: { ...shape, m: r.size + 128 }, axis: 'rows', configs: configs(shape), freeLayouts: ['a', 'at'], limits, align: 128 }).kind).not.toBe('whole');
  });

  it('a configuration that cannot plan for another reason (a family needing layer facts) does not make a layer skip', () => {
    const shape = { m: 4096, n: 64, k: 288 };
    const all = FAMILIES.flatMap((f) => f.layerConfigs(shape).filter((c) => !f.illegalReason(c, shape)));
    expect(all.some((c) => c.family === 'pit-m-seqlen')).toBe(true);
    expect(fitLayer({ shape, axis: 'rows', configs: all, freeLayouts: ['a', 'at'], limits: LAVAPIPE, align: 128 }).kind).toBe('whole');
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

  it('slices a batched layer along its batch: whole heads, each slice a batched matmul under one binding', () => {
    // Attention QKᵀ of 16 heads over 2048 tokens: A [16, 2048, 64], B [16, 64, 2048] (an activation), C 256 MiB.
    const shape: MatmulShape = { batch: 16, m: 2048, n: 2048, k: 64, bActivation: true };
    const r = fit(shape);
    expect(r).toMatchObject({ kind: 'sliced', axis: 'batch' });
    if (r.kind !== 'sliced') return;
    expect(r.reason).toMatch(/^c \[16, 2048, 2048\] needs 256 MiB, over this device's 128 MiB per binding$/);
    // 16 MiB of C per head: 8 heads fill one binding.
    expect(r).toMatchObject({ size: 8, slices: 2 });
    expect(r.size * 2048 * 2048 * 4).toBeLessThanOrEqual(LAVAPIPE.bindingBytes);
    expect(sliceShape(shape, 'batch', r.size)).toEqual({ batch: r.size, m: 2048, n: 2048, k: 64, bActivation: true });
    expect(sliceShape(shape, 'batch', 1)).toEqual({ m: 2048, n: 2048, k: 64, bActivation: true }); // one head is 2-D
  });

  it('skips a batched layer whose single batch does not fit, or whose shared operand slicing cannot shrink', () => {
    const oneHead = fit({ batch: 4, m: 6000, n: 6000, k: 64, bActivation: true }); // 137 MiB of C per head
    expect(oneHead.kind).toBe('skip');
    if (oneHead.kind === 'skip') expect(oneHead.reason).toMatch(/^too large for this device: c \[6000, 6000\] needs 137 MiB, over this device's 128 MiB per binding even in slices of one batch \(layer 4x6000×6000×64\)$/);
    const shared = fit({ batch: 8, m: 9000, n: 16, k: 4096, aShared: true }); // one A [9000, 4096] = 141 MiB for every batch
    expect(shared.kind).toBe('skip');
    if (shared.kind === 'skip') expect(shared.reason).toMatch(/a(t)? \[(9000, 4096|4096, 9000)\] needs 141 MiB, over this device's 128 MiB per binding even in slices of one batch/);
  });

  it('skips instead of slicing a layer that cannot be sliced (near-zero as zero), saying both why', () => {
    const shape = { m: 50625, n: 1, k: 1024 };
    const r = fitLayer({ shape, axis: 'rows', configs: configs(shape), freeLayouts: ['a', 'at'], limits: LAVAPIPE, align: 128, unsliceable: 'near-zero as zero needs the whole layer' });
    expect(r.kind).toBe('skip');
    if (r.kind === 'skip') expect(r.reason).toMatch(/^too large for this device: .*needs 198 MiB, over this device's 128 MiB per binding; near-zero as zero needs the whole layer \(layer 50625×1×1024\)$/);
  });

  it('counts host bytes over distinct matrices: a shared operand once', () => {
    expect(hostBytes({ m: 10, n: 4, k: 6 })).toBe(9 * 60 + 12 * 40 + 8 * 24);
    expect(hostBytes({ batch: 3, m: 10, n: 4, k: 6, aShared: true })).toBe(9 * 60 + 12 * 3 * 40 + 8 * 3 * 24);
  });
});
