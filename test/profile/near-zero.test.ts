/**
 * Near-zero as zero (core/sparsity/near-zero.ts) and the batched layer problem built from it
 * (core/profile/layer-problem.ts): thresholds (inclusive, NaN/±Inf kept, -0 → +0), per-layer keep fractions with
 * ties, the approximation error, and that the verification reference becomes the CPU product of the thresholded
 * operands. Pure CPU.
 */
import { describe, expect, it } from 'vitest';
import { referenceBatchedMatmul, type BatchedMatmul } from '../../core/model/batched.ts';
import { applyEpilogue, layerProblem, operandCoverage } from '../../core/profile/layer-problem.ts';
import { approximationError, keepCut, nearZeroProblem, thresholdOperand } from '../../core/sparsity/near-zero.ts';
import { batchedCoverage } from '../../core/sparsity/per-batch.ts';
import { coverageOf } from '../../core/pit/coverage.ts';
import { randomDense, randomSparse } from '../kernels/fixtures.ts';

describe('thresholding an operand', () => {
  it('|x| <= T becomes +0 (inclusive), NaN and ±Infinity stay, the input is not modified', () => {
    const x = Float32Array.from([0.5, -0.001, 0.001, 0.0011, -0, 0, NaN, -Infinity, 2e-4]);
    const t = thresholdOperand(x, { threshold: 0.001 });
    expect(Array.from(t.data)).toEqual([0.5, 0, 0, Math.fround(0.0011), 0, 0, NaN, -Infinity, 0]);
    expect(Object.is(t.data[1], 0)).toBe(true); // -0.001 → +0
    expect(Object.is(t.data[4], 0)).toBe(true); // -0 → +0
    expect(t.sparsityBefore).toBeCloseTo(2 / 9, 12);
    expect(t.sparsityAfter).toBeCloseTo(5 / 9, 12);
    expect(t.cut).toBe(Math.fround(0.001)); // compared in f32: -0.001 as f32 is zeroed too
    expect(x[1]).toBeCloseTo(-0.001, 9);
    // T = 0: exact zeros only (the default behaviour).
    expect(thresholdOperand(x, { threshold: 0 }).sparsityAfter).toBeCloseTo(2 / 9, 12);
  });

  it('keep F: the ⌈F·n⌉ largest magnitudes stay, ties with the cut stay too', () => {
    const x = Float32Array.from([4, -3, 2, -1, 0.5, 0.25, 0, -0.125]);
    expect(keepCut(x, 0.5)).toBe(1);
    const t = thresholdOperand(x, { keep: 0.5 });
    expect(Array.from(t.data)).toEqual([4, -3, 2, -1, 0, 0, 0, 0]);
    expect(t.sparsityAfter).toBe(0.5);
    // 3 of 8 → ⌈2.4⌉ = 3 kept.
    expect(thresholdOperand(x, { keep: 0.3 }).sparsityAfter).toBe(5 / 8);
    // Ties: five equal magnitudes, keep 0.2 of 5 → the cut is that magnitude, all kept.
    expect(thresholdOperand(Float32Array.from([1, -1, 1, -1, 1]), { keep: 0.2 }).sparsityAfter).toBe(0);
    expect(thresholdOperand(x, { keep: 1 }).sparsityAfter).toBe(1 / 8);
  });

  it('refuses invalid options with one line', () => {
    expect(nearZeroProblem({})).toMatch(/exactly one/);
    expect(nearZeroProblem({ threshold: 1, keep: 0.5 })).toMatch(/exactly one/);
    expect(nearZeroProblem({ threshold: -1 })).toMatch(/>= 0/);
    expect(nearZeroProblem({ threshold: Infinity })).toMatch(/finite/);
    expect(nearZeroProblem({ keep: 0 })).toMatch(/\(0, 1\]/);
    expect(nearZeroProblem({ keep: 1.5 })).toMatch(/\(0, 1\]/);
    expect(nearZeroProblem({ keep: 1 })).toBeNull();
    expect(() => thresholdOperand(new Float32Array(1), { keep: 2 })).toThrow(RangeError);
  });

  it('approximation error: max abs, max relative and relative L2', () => {
    const truth = Float32Array.from([3, -4, 0]);
    const e = approximationError(Float32Array.from([3, -4.5, 0.5]), truth);
    expect(e.maxAbsErr).toBe(0.5);
    expect(e.maxRelErr).toBe(0.5 / 4);
    expect(e.relL2Err).toBeCloseTo(Math.sqrt(0.5) / 5, 12);
    expect(approximationError(truth, truth)).toEqual({ maxAbsErr: 0, maxRelErr: 0, relL2Err: 0 });
    expect(approximationError(Float32Array.from([NaN]), Float32Array.from([1])).maxAbsErr).toBe(Infinity);
  });
});

describe('the layer problem (batched lowering → what the kernels run and are verified against)', () => {
  /** A synthetic batched layer: 3 batches, A per batch, B shared, a bias per batch, alpha 2. */
  function layer(): BatchedMatmul {
    const [batch, m, n, k] = [3, 5, 4, 6];
    const mm: BatchedMatmul = {
      batch,
      batchDims: [3],
      batchKind: 'broadcast',
      m,
      n,
      k,
      a: randomSparse(batch * m, k, 0.3, 1),
      aBatchStride: m * k,
      b: randomDense(k * n, 2),
      bBatchStride: 0,
      bias: randomDense(batch * n, 3),
      alpha: 2,
      expected: new Float32Array(batch * m * n),
      activations: { a: true, b: true },
      lowering: 'matmul',
    };
    mm.expected = referenceBatchedMatmul(mm);
    return mm;
  }

  it('without near-zero: the runtime output is the reference; shape, strides, free layouts and per-batch scales', () => {
    const mm = layer();
    const p = layerProblem(mm);
    expect(p.mm).toBe(mm);
    expect(p.reference).toBe(mm.expected);
    expect(p.shape).toEqual({ m: 5, n: 4, k: 6, batch: 3, bShared: true, bActivation: true });
    expect(p.freeLayouts).toEqual(['a']); // B is an activation: Bᵀ is not free
    expect(p.scales).toHaveLength(3);
    expect(p.approximation).toBeUndefined();
    // The epilogue (alpha, bias per batch) turns the kernels' A·B into the layer's output.
    const ab = referenceBatchedMatmul({ ...mm, alpha: undefined, bias: undefined });
    const out = applyEpilogue(ab, mm);
    for (let i = 0; i < out.length; i++) expect(out[i]).toBeCloseTo(mm.expected[i]!, 5);
  });

  it('with near-zero: operands thresholded (copies), the CPU product of them is the reference, the error beside it', () => {
    const mm = layer();
    const a0 = mm.a.slice();
    const p = layerProblem(mm, { threshold: 0.2 });
    expect(Array.from(mm.a)).toEqual(Array.from(a0)); // the lowering's arrays are left alone
    expect(p.mm.a).not.toBe(mm.a);
    expect(p.approximation!.operands.map((o) => o.operand)).toEqual(['a', 'b']);
    expect(p.approximation!.operands[0]!.sparsityAfter).toBeGreaterThan(p.approximation!.operands[0]!.sparsityBefore);
    expect(Array.from(p.reference)).toEqual(Array.from(referenceBatchedMatmul(p.mm)));
    expect(p.approximation!.relL2Err).toBeGreaterThan(0);
    expect(p.approximation!).toMatchObject(approximationError(p.reference, mm.expected));
    // A constant B is not thresholded.
    expect(layerProblem({ ...mm, activations: { a: true, b: false } }, { threshold: 0.2 }).approximation!.operands.map((o) => o.operand)).toEqual(['a']);
  });

  it('coverage per batch: of A per batch, of a shared B once (repeated per batch), equal to the 2-D coverage of each matrix', () => {
    const mm = layer();
    const cov = operandCoverage(mm, 'a', ['1x3', '2x1']);
    for (let b = 0; b < 3; b++) {
      const one = coverageOf({ a: mm.a.subarray(b * 30, (b + 1) * 30), m: 5, k: 6 }, ['1x3']).get('1x3')!;
      expect(cov.get('1x3')!.perBatch.density[b]).toBe(one.density);
      expect(cov.get('1x3')!.perBatch.effectiveDensity[b]).toBe(one.effectiveDensity);
    }
    const mean = Array.from(cov.get('1x3')!.perBatch.density).reduce((x, y) => x + y) / 3;
    expect(cov.get('1x3')!.density).toBeCloseTo(mean, 12);
    const covB = operandCoverage(mm, 'b', ['6x1']);
    expect(Array.from(covB.get('6x1')!.perBatch.density)).toEqual([1, 1, 1]);
    expect(() => batchedCoverage(mm.a, { mats: 2, batch: 3, rows: 5, cols: 6 }, ['1x1'])).toThrow(/1 or 3/);
  });
});
