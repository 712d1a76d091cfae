/**
 * Conv and ConvTranspose as (batched) matmuls (core/model/conv.ts through batched.ts): grouped, depthwise, 1-D, 3-D
 * and transposed convolutions, each a synthetic single-op model (labelled synthetic) run by onnxruntime; the CPU
 * product of the lowered operands must reproduce ORT's output, and the layouts must be the documented ones.
 */
import { describe, expect, it } from 'vitest';
import { lowerToBatchedMatmul, loweringOf, referenceBatchedMatmul, type BatchedMatmul } from '../../core/model/batched.ts';
import { convGeometry } from '../../core/model/conv.ts';
import { checkLowerable, lowerToMatmul } from '../../core/model/lowering.ts';
import { importOnnxBytes } from '../../core/model/onnx-import.ts';
import { captureReference } from '../../core/model/reference.ts';
import { findSparseOps } from '../../core/model/sparse-ops.ts';
import { buildModel, randomFloats, relErr, zeroFraction, type AttrSpec } from './onnx-builders.ts';

const prod = (d: number[]) => d.reduce((a, b) => a * b, 1);

/** Synthetic single-op model: x → Relu (so A has real zeros) → OP(·, w[, b]) → y; weight and bias as initializers. */
async function convCase(op: 'Conv' | 'ConvTranspose', x: number[], w: number[], attrs: Record<string, AttrSpec>, bias: number | null, seed: number) {
  const bytes = buildModel({
    inputs: [{ name: 'x', dims: x }],
    outputs: [{ name: 'y', dims: x.map((_, i) => `d${i}`) }],
    initializers: [
      { name: 'w', dims: w, data: randomFloats(prod(w), seed), raw: true },
      ...(bias !== null ? [{ name: 'b', dims: [bias], data: randomFloats(bias, seed + 1) }] : []),
    ],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op, inputs: bias !== null ? ['r', 'w', 'b'] : ['r', 'w'], outputs: ['y'], name: 'layer', attrs },
    ],
  });
  const model = importOnnxBytes(bytes, `synthetic-${op}`);
  const [layer] = findSparseOps(model);
  const cap = await captureReference(model, [layer!], { dims: x, data: randomFloats(prod(x), seed + 2) });
  const mm = lowerToBatchedMatmul(layer!, cap, model);
  return { model, op: layer!, cap, mm, y: cap.ops.get(0)!.output, r: cap.ops.get(0)!.input };
}

function expectMatchesOrt(mm: BatchedMatmul, tol = 1e-5): void {
  expect(mm.a).toHaveLength(mm.batch * mm.m * mm.k);
  expect(mm.b).toHaveLength(mm.batch * mm.k * mm.n);
  expect(mm.expected).toHaveLength(mm.batch * mm.m * mm.n);
  expect(relErr(referenceBatchedMatmul(mm), mm.expected)).toBeLessThan(tol);
}

describe('grouped and depthwise Conv as a batched matmul with the groups as the batch', () => {
  it('group 2 (Cin 4, Cout 6, 3x3, pad 1, batch 2, bias): A [2, M, 18], B [2, 18, 3], bias [2, 3]', async () => {
    const { mm, y, r } = await convCase('Conv', [2, 4, 5, 6], [6, 2, 3, 3], { group: 2, pads: [1, 1, 1, 1] }, 6, 11);
    expect(y.dims).toEqual([2, 6, 5, 6]);
    expect(mm).toMatchObject({ batch: 2, batchDims: [2], batchKind: 'groups', m: 2 * 5 * 6, n: 3, k: 2 * 9, lowering: 'im2col', aBatchStride: 60 * 18, bBatchStride: 18 * 3 });
    expect(mm.activations).toEqual({ a: true, b: false });
    // A[g=1, row (n=0, oh=2, ow=3), col (ci=1, i=1, j=1)] is the centre tap: X[0, 2 + 1, 2, 3].
    expect(mm.a[60 * 18 + (2 * 6 + 3) * 18 + 1 * 9 + 4]).toBe(r.data[3 * 30 + 2 * 6 + 3]);
    // expected[g=1, row (n=1, p=7), co=2] = Y[1, 3 + 2, p].
    expect(mm.expected[60 * 3 + (30 + 7) * 3 + 2]).toBe(y.data[(1 * 6 + 5) * 30 + 7]);
    expectMatchesOrt(mm);
  });

  it('depthwise 3x3 stride 2 (group = Cin = Cout = 8): per group K = 9 taps, N = 1', async () => {
    const { mm, op } = await convCase('Conv', [1, 8, 9, 7], [8, 1, 3, 3], { group: 8, strides: [2, 2], pads: [1, 1, 1, 1] }, 8, 12);
    expect(mm).toMatchObject({ batch: 8, batchDims: [8], m: 5 * 4, n: 1, k: 9 });
    expect(op.conv!.group).toBe(8);
    expectMatchesOrt(mm);
  });

  it('depthwise with channel multiplier 2 (Cout = 2·Cin), dilation 2, pad 2', async () => {
    // (onnxruntime refuses dilation together with auto_pad SAME_*, so the pads are explicit.)
    const { mm } = await convCase('Conv', [1, 3, 8, 8], [6, 1, 3, 3], { group: 3, dilations: [2, 2], pads: [2, 2, 2, 2] }, null, 13);
    expect(mm).toMatchObject({ batch: 3, m: 64, n: 2, k: 9, bias: undefined });
    expectMatchesOrt(mm);
  });

  it('the 2-D path refuses a grouped conv, and loweringOf gives its batched shape', async () => {
    const { op, cap, model } = await convCase('Conv', [1, 4, 4, 4], [4, 1, 3, 3], { group: 4 }, null, 14);
    expect(loweringOf(op, cap, model)).toEqual({ form: 'batched', batch: 4, batchDims: [4], batchKind: 'groups', m: 4, n: 1, k: 9 });
    expect(checkLowerable(op, cap, model)).toMatch(/^grouped conv \(group > 1\)/);
    expect(() => lowerToMatmul(op, cap, model)).toThrow(/^layer: grouped conv/);
  });
});

describe('Conv1d and Conv3d through the same im2col', () => {
  const cases: [string, number[], number[], Record<string, AttrSpec>, number | null][] = [
    ['Conv1d k5 stride 2, pads [1, 2], bias', [2, 3, 20], [4, 3, 5], { strides: [2], pads: [1, 2] }, 4],
    ['Conv1d k3 dilation 3, pads [3, 2]', [1, 2, 11], [5, 2, 3], { dilations: [3], pads: [3, 2] }, null],
    ['Conv1d k4 stride 2, SAME_LOWER (odd total pad at the beginning)', [1, 2, 11], [5, 2, 4], { strides: [2], auto_pad: 'SAME_LOWER' }, null],
    ['Conv1d grouped (group 2) k3', [1, 4, 9], [6, 2, 3], { group: 2, pads: [1, 1] }, 6],
    ['Conv3d 3x3x3 pad 1, bias', [1, 2, 4, 5, 6], [3, 2, 3, 3, 3], { pads: [1, 1, 1, 1, 1, 1] }, 3],
    ['Conv3d 2x1x3 strides [2, 1, 2] VALID', [2, 3, 5, 4, 7], [2, 3, 2, 1, 3], { strides: [2, 1, 2], auto_pad: 'VALID' }, null],
  ];
  for (const [label, x, w, attrs, bias] of cases) {
    it(label, async () => {
      const { mm, y, op } = await convCase('Conv', x, w, attrs, bias, label.length + 20);
      const g = convGeometry(x, w, op.conv!);
      expect(y.dims).toEqual([x[0], w[0], ...g.outSize]);
      const group = (attrs['group'] as number | undefined) ?? 1;
      expect(mm).toMatchObject({ batch: group, m: x[0]! * prod(g.outSize), n: w[0]! / group, k: w[1]! * prod(w.slice(2)) });
      expectMatchesOrt(mm);
    });
  }

  it('a 1-D group-1 conv is a 2-D layer the profile job takes', async () => {
    const { op, cap, model } = await convCase('Conv', [1, 2, 10], [3, 2, 3], {}, 3, 31);
    expect(checkLowerable(op, cap, model)).toBeNull();
    const mm = lowerToMatmul(op, cap, model);
    expect(mm).toMatchObject({ m: 8, n: 3, k: 6, lowering: 'im2col' });
  });

  it('a pointwise Conv1d is the channels-last copy (conv1x1)', async () => {
    const { mm, r } = await convCase('Conv', [2, 3, 5], [4, 3, 1], {}, null, 32);
    expect(mm.lowering).toBe('conv1x1');
    // A[(n=1, p=2), c=1] = X[1, 1, 2]
    expect(mm.a[(5 + 2) * 3 + 1]).toBe(r.data[(1 * 3 + 1) * 5 + 2]);
    expectMatchesOrt(mm);
  });
});

describe('ConvTranspose as a stride-1 conv over the zero-inserted input (no col2im)', () => {
  const cases: [string, number[], number[], Record<string, AttrSpec>, number | null][] = [
    ['2x2 stride 2 (the det head): 75 % structural zeros', [1, 3, 4, 5], [3, 2, 2, 2], { strides: [2, 2] }, 2],
    ['3x3 stride 2, pads 1, output_padding 1, bias', [2, 2, 3, 4], [2, 3, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }, 3],
    ['3x3 strides [3, 2], asymmetric pads (ONNX backend test shape)', [1, 1, 3, 3], [1, 2, 3, 3], { strides: [3, 2], pads: [1, 2, 1, 2] }, null],
    ['3x3 dilation 2, stride 1', [1, 2, 5, 5], [2, 2, 3, 3], { dilations: [2, 2] }, null],
    ['grouped (group 2), stride 2', [1, 4, 3, 3], [4, 3, 3, 3], { group: 2, strides: [2, 2] }, 6],
    ['output_shape [10, 8] with strides [3, 2] (pads derived)', [1, 1, 3, 3], [1, 2, 3, 3], { strides: [3, 2], output_shape: [10, 8] }, null],
    ['SAME_UPPER, stride 2, odd total padding', [1, 2, 3, 3], [2, 2, 4, 4], { strides: [2, 2], auto_pad: 'SAME_UPPER' }, null],
    ['SAME_LOWER, stride 2, odd total padding', [1, 2, 3, 3], [2, 2, 4, 4], { strides: [2, 2], auto_pad: 'SAME_LOWER' }, null],
    ['1-D, k4 stride 2, pads [1, 1]', [1, 2, 6], [2, 3, 4], { strides: [2], pads: [1, 1] }, 3],
  ];
  for (const [label, x, w, attrs, bias] of cases) {
    it(label, async () => {
      const { mm, y, op } = await convCase('ConvTranspose', x, w, attrs, bias, label.length + 40);
      const g = convGeometry(x, w, op.conv!, 'layer', true);
      expect(y.dims).toEqual([x[0], w[1]! * g.group, ...g.outSize]);
      expect(mm.lowering).toBe('conv-transpose');
      expect(mm).toMatchObject({ batch: g.group, m: x[0]! * prod(g.outSize), n: w[1], k: (x[1]! / g.group) * prod(w.slice(2)) });
      expectMatchesOrt(mm);
    });
  }

  it('the zero insertion shows as sparsity of A: exactly 3 of 4 taps are zero for 2x2 stride 2', async () => {
    const { mm, r } = await convCase('ConvTranspose', [1, 3, 4, 5], [3, 2, 2, 2], { strides: [2, 2] }, null, 50);
    // Every output pixel reads exactly one input pixel per channel: 1/4 of A's entries can be non-zero.
    const reluZeros = zeroFraction(r.data);
    expect(zeroFraction(mm.a)).toBeCloseTo(0.75 + 0.25 * reluZeros, 6);
  });

  it('the 2-D path leaves ConvTranspose to the batched form (no PIT rule for it yet)', async () => {
    const { op, cap, model } = await convCase('ConvTranspose', [1, 2, 3, 3], [2, 2, 2, 2], { strides: [2, 2] }, null, 51);
    expect(loweringOf(op, cap, model)).toMatchObject({ form: 'batched', batch: 1, batchKind: 'none' });
    expect(checkLowerable(op, cap, model)).toBe('ConvTranspose: lowers to a matmul over a zero-inserted im2col (lowerToBatchedMatmul), not to the 2-D form');
  });
});
