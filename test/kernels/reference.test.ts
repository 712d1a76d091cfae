import { describe, expect, it } from 'vitest';
import { compareOutputs, FP32_UNIT_ROUNDOFF, matmulErrorScale, referenceMatmul, transpose } from '../../core/kernels/reference.ts';
import { randomDense } from './fixtures.ts';

describe('CPU reference', () => {
  it('multiplies a hand-checked 2x3 · 3x2', () => {
    const a = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const b = Float32Array.from([7, 8, 9, 10, 11, 12]);
    expect(Array.from(referenceMatmul(a, b, 2, 2, 3))).toEqual([58, 64, 139, 154]);
  });

  it('accumulates in float64 (a sum that fp32 would lose)', () => {
    // 2^24 + 1 + 1 - 2^24 = 2 exactly; an fp32 running sum gives 0.
    const a = Float32Array.from([2 ** 24, 1, 1, -(2 ** 24)]);
    const b = Float32Array.from([1, 1, 1, 1]);
    expect(referenceMatmul(a, b, 1, 1, 4)[0]).toBe(2);
  });

  it('rejects operands that do not match the shape', () => {
    expect(() => referenceMatmul(new Float32Array(5), new Float32Array(6), 2, 2, 3)).toThrow(/A has 5 elements/);
  });

  it('transposes [rows, cols] into [cols, rows]', () => {
    const x = Float32Array.from([1, 2, 3, 4, 5, 6]); // [2, 3]
    expect(Array.from(transpose(x, 2, 3))).toEqual([1, 4, 2, 5, 3, 6]);
    const y = randomDense(7 * 5, 3);
    expect(Array.from(transpose(transpose(y, 7, 5), 5, 7))).toEqual(Array.from(y));
  });

  it('bounds Σ|a||b| by max row L1 of A times max|B|', () => {
    const a = Float32Array.from([1, -2, 0.5, 0.5]); // rows L1: 3, 1
    const b = Float32Array.from([-4, 1, 2, 3]);
    expect(matmulErrorScale(a, b, 2, 2, 2)).toBe(12);
  });
});

describe('compareOutputs', () => {
  const m = 16;
  const n = 12;
  const k = 40;
  const a = randomDense(m * k, 1);
  const b = randomDense(k * n, 2);
  const ref = referenceMatmul(a, b, m, n, k);
  const scale = matmulErrorScale(a, b, m, n, k);

  it('accepts an fp32 computation of the same product', () => {
    // Naive fp32 accumulation, reverse k order: a legitimate result with real rounding differences.
    const ours = new Float32Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = Math.fround(0);
        for (let p = k - 1; p >= 0; p--) s = Math.fround(s + Math.fround(a[i * k + p]! * b[p * n + j]!));
        ours[i * n + j] = s;
      }
    }
    const r = compareOutputs(ours, ref, { k, scale });
    expect(r.ok).toBe(true);
    expect(r.maxAbsErr).toBeGreaterThan(0);
    expect(r.maxAbsErr).toBeLessThan(r.tolerance);
    expect(r.tolerance).toBeCloseTo(16 * FP32_UNIT_ROUNDOFF * Math.sqrt(k) * scale + 1e-30, 12);
  });

  it('fails on a wrong gather (one dropped k term) and names the worst element', () => {
    const ours = ref.slice();
    ours[5 * n + 3] = ref[5 * n + 3]! - a[5 * k + 17]! * b[17 * n + 3]!;
    const r = compareOutputs(ours, ref, { k, scale });
    expect(r.ok).toBe(false);
    expect(r.worstIndex).toBe(5 * n + 3);
    expect(r.maxAbsErr).toBeCloseTo(Math.abs(a[5 * k + 17]! * b[17 * n + 3]!), 5);
    expect(compareOutputs(ours, ref, k).ok).toBe(false);
  });

  it('fails on swapped rows (a wrong SWrite)', () => {
    const ours = ref.slice();
    ours.set(ref.subarray(0, n), n);
    ours.set(ref.subarray(n, 2 * n), 0);
    expect(compareOutputs(ours, ref, { k, scale }).ok).toBe(false);
  });

  it('reports relative error against max|ref|, and NaN as infinite error', () => {
    const ours = ref.slice();
    let refMax = 0;
    for (const v of ref) refMax = Math.max(refMax, Math.abs(v));
    ours[0] = ref[0]! + 0.5;
    const r = compareOutputs(ours, ref, { k, scale });
    expect(r.maxRelErr).toBeCloseTo(0.5 / refMax, 5);
    ours[0] = NaN;
    const nan = compareOutputs(ours, ref, { k });
    expect(nan.maxAbsErr).toBe(Infinity);
    expect(nan.ok).toBe(false);
  });

  it('demands zeros for an all-zero reference', () => {
    const zero = new Float32Array(10);
    expect(compareOutputs(zero.slice(), zero, { k }).ok).toBe(true);
    const bad = zero.slice();
    bad[3] = 1e-6;
    const r = compareOutputs(bad, zero, { k });
    expect(r.ok).toBe(false);
    expect(r.maxRelErr).toBe(Infinity);
  });

  it('throws on a length mismatch', () => {
    expect(() => compareOutputs(new Float32Array(3), new Float32Array(4))).toThrow(RangeError);
  });
});
