/**
 * Lowering to C[M,N] = A[M,K]·B[K,N]: a CPU matmul of the lowered operands must reproduce onnxruntime's output,
 * for real layers of the PaddleOCR v4 det model on a real photo, and for synthetic Conv / MatMul / Gemm graphs
 * (labelled synthetic) covering pads, strides, dilations, auto_pad, batch, transposes, alpha/beta.
 */
import { describe, expect, it } from 'vitest';
import { defaultInputs, loadInput } from '../../core/inputs/default.ts';
import { ModelError } from '../../core/model/errors.ts';
import { importOnnx, importOnnxBytes } from '../../core/model/onnx-import.ts';
import { referenceMatmul } from '../../core/kernels/reference.ts';
import { checkLowerable, convGeometry, lowerToMatmul, type LoweredMatmul } from '../../core/model/lowering.ts';
import { captureReference } from '../../core/model/reference.ts';
import { findSparseOps } from '../../core/model/sparse-ops.ts';
import { buildModel, randomFloats, relErr, type AttrSpec } from './onnx-builders.ts';

/** C = alpha·A·B + bias on the CPU (float64 accumulation), the lowered layer's full output. */
function cpu(mm: LoweredMatmul): Float32Array {
  const c = referenceMatmul(mm.a, mm.b, mm.m, mm.n, mm.k);
  const alpha = mm.alpha ?? 1;
  for (let i = 0; i < mm.m; i++) for (let j = 0; j < mm.n; j++) c[i * mm.n + j] = alpha * c[i * mm.n + j]! + (mm.bias ? mm.bias[j]! : 0);
  return c;
}

describe('lowering real det layers (sample1.jpg at limit_side_len 96 → 1x3x64x96)', async () => {
  const d = defaultInputs();
  const model = importOnnx(d.modelPath);
  const ops = findSparseOps(model);
  const input = loadInput(d.inputs[0], { imageSize: 96 }, model.inputs[0]);
  const cap = await captureReference(model, ops, input);
  const byName = (n: string) => ops.find((o) => o.name === n)!;

  it('feeds the small input', () => {
    expect(input.dims).toEqual([1, 3, 64, 96]);
  });

  it('3x3 stride-2 conv (Conv.0) via im2col matches ORT', () => {
    const mm = lowerToMatmul(byName('p2o.Conv.0'), cap, model);
    expect(mm).toMatchObject({ m: 32 * 48, n: 16, k: 27, lowering: 'im2col', bias: undefined });
    expect(mm.a).toHaveLength(1536 * 27);
    // Output pixel (0, 0) with pad 1: its window row 0 and column 0 fall in the padding.
    expect(mm.a[0]).toBe(0);
    expect(mm.a[4]).toBe(cap.ops.get(0)!.input.data[0]); // (ci 0, i 1, j 1) → X[0, 0, 0, 0]
    expect(relErr(cpu(mm), mm.expected)).toBeLessThan(1e-4);
  });

  it('1x1 conv (Conv.2) is a transpose, with bias, and matches ORT', () => {
    const op = byName('p2o.Conv.2');
    const mm = lowerToMatmul(op, cap, model);
    expect(mm).toMatchObject({ m: 1536, n: 32, k: 16, lowering: 'conv1x1' });
    expect(mm.bias).toHaveLength(32);
    const x = cap.ops.get(op.index)!.input;
    // A[m = h·W + w, c] = X[0, c, h, w]
    expect(mm.a[(5 * 48 + 7) * 16 + 3]).toBe(x.data[3 * 32 * 48 + 5 * 48 + 7]);
    expect(relErr(cpu(mm), mm.expected)).toBeLessThan(1e-4);
  });

  it('3x3 stride-1 pad-1 conv without bias (Conv.49) matches ORT', () => {
    const mm = lowerToMatmul(byName('p2o.Conv.49'), cap, model);
    expect(mm).toMatchObject({ n: 24, k: 96 * 9, lowering: 'im2col' });
    expect(relErr(cpu(mm), mm.expected)).toBeLessThan(1e-4);
  });

  it('every 2-D layer (all but the 14 depthwise convs and 2 ConvTranspose) lowers within 1e-4 relative', () => {
    let worst = 0;
    const twoD = ops.filter((o) => o.supported && checkLowerable(o, cap, model) === null);
    expect(twoD).toHaveLength(48);
    for (const op of twoD) {
      const mm = lowerToMatmul(op, cap, model);
      expect(mm.a).toHaveLength(mm.m * mm.k);
      expect(mm.b).toHaveLength(mm.k * mm.n);
      expect(mm.expected).toHaveLength(mm.m * mm.n);
      worst = Math.max(worst, relErr(cpu(mm), mm.expected));
    }
    expect(worst).toBeLessThan(1e-4);
  });

  it('refuses a depthwise layer: it lowers only to the batched form (batched.ts)', () => {
    const op = byName('p2o.Conv.1');
    expect(op.supported).toBe(true);
    expect(checkLowerable(op, cap, model)).toBe('grouped conv (group > 1): lowers to a batched matmul with the groups as the batch (lowerToBatchedMatmul), not to the 2-D form');
    expect(() => lowerToMatmul(op, cap, model)).toThrow('p2o.Conv.1: grouped conv (group > 1)');
  });

  it('refuses an unsupported op with its reason (never captured)', () => {
    const op = { ...byName('p2o.Conv.0'), supported: false, reason: 'synthetic reason' };
    expect(() => lowerToMatmul(op, cap, model)).toThrow('p2o.Conv.0: not lowerable: synthetic reason');
  });
});

/** Synthetic single-Conv model: x [N, C, H, W] → y, weight (and bias) as initializers. */
async function convCase(x: number[], w: number[], attrs: Record<string, AttrSpec>, bias: boolean, seed: number) {
  const bytes = buildModel({
    inputs: [{ name: 'x', dims: x }],
    outputs: [{ name: 'y', dims: ['n', 'c', 'h', 'w'] }],
    initializers: [
      { name: 'w', dims: w, data: randomFloats(w.reduce((a, b) => a * b, 1), seed), raw: true },
      ...(bias ? [{ name: 'b', dims: [w[0]], data: randomFloats(w[0], seed + 1) }] : []),
    ],
    nodes: [{ op: 'Conv', inputs: bias ? ['x', 'w', 'b'] : ['x', 'w'], outputs: ['y'], name: 'conv', attrs }],
  });
  const model = importOnnxBytes(bytes, 'synthetic-conv');
  const [op] = findSparseOps(model);
  const data = randomFloats(x.reduce((a, b) => a * b, 1), seed + 2);
  const cap = await captureReference(model, [op], { dims: x, data });
  return { op, mm: lowerToMatmul(op, cap, model), y: cap.ops.get(0)!.output };
}

describe('lowering synthetic Conv configurations against ORT', () => {
  const cases: [string, number[], number[], Record<string, AttrSpec>, boolean][] = [
    ['3x3 s2, asymmetric pads, batch 2, bias', [2, 3, 9, 11], [4, 3, 3, 3], { kernel_shape: [3, 3], strides: [2, 2], pads: [0, 1, 2, 1] }, true],
    ['3x3 dilation 2, pad 2', [1, 2, 8, 8], [3, 2, 3, 3], { dilations: [2, 2], pads: [2, 2, 2, 2] }, false],
    ['4x4 s2 SAME_UPPER, odd size', [1, 2, 7, 9], [5, 2, 4, 4], { auto_pad: 'SAME_UPPER', strides: [2, 2] }, true],
    ['2x2 SAME_LOWER', [1, 3, 6, 5], [2, 3, 2, 2], { auto_pad: 'SAME_LOWER' }, false],
    ['3x2 VALID, strides [2, 3]', [2, 2, 9, 10], [3, 2, 3, 2], { auto_pad: 'VALID', strides: [2, 3] }, true],
    ['1x1 stride 2', [1, 4, 7, 7], [6, 4, 1, 1], { strides: [2, 2] }, true],
    ['1x1 pointwise, batch 2', [2, 5, 3, 4], [7, 5, 1, 1], {}, true],
  ];
  for (const [label, x, w, attrs, bias] of cases) {
    it(label, async () => {
      const { op, mm, y } = await convCase(x, w, attrs, bias, label.length);
      const g = convGeometry(x, w, op.conv!);
      expect(y.dims).toEqual([x[0], w[0], ...g.outSize]);
      expect(mm).toMatchObject({ m: x[0] * g.outSize[0]! * g.outSize[1]!, n: w[0], k: w[1] * w[2] * w[3] });
      expect(relErr(cpu(mm), mm.expected)).toBeLessThan(1e-5);
    });
  }

  it('auto_pad geometry follows the ONNX formulas', () => {
    const attrs = { kernel: [4, 4], strides: [2, 2], pads: [0, 0, 0, 0], dilations: [1, 1], group: 1 };
    // SAME: out = ceil(7 / 2) = 4; total pad = 3·2 + 4 − 7 = 3 → UPPER [1, 2], LOWER [2, 1].
    expect(convGeometry([1, 1, 7, 7], [1, 1, 4, 4], { ...attrs, autoPad: 'SAME_UPPER' })).toMatchObject({ outSize: [4, 4], pads: [1, 1, 2, 2] });
    expect(convGeometry([1, 1, 7, 7], [1, 1, 4, 4], { ...attrs, autoPad: 'SAME_LOWER' })).toMatchObject({ outSize: [4, 4], pads: [2, 2, 1, 1] });
    expect(convGeometry([1, 1, 7, 7], [1, 1, 4, 4], { ...attrs, autoPad: 'VALID' })).toMatchObject({ outSize: [2, 2], pads: [0, 0, 0, 0] });
    expect(() => convGeometry([1, 2, 7, 7], [1, 3, 4, 4], { ...attrs, autoPad: 'NOTSET' })).toThrow(ModelError);
  });
});

describe('lowering synthetic MatMul and Gemm against ORT', () => {
  it('MatMul with 3-D A and a 2-D constant B flattens A to [batch·rows, K]', async () => {
    const bytes = buildModel({
      inputs: [{ name: 'a', dims: ['b', 5, 7] }],
      outputs: [{ name: 'y', dims: ['b', 5, 4] }],
      initializers: [{ name: 'B', dims: [7, 4], data: randomFloats(28, 1) }],
      nodes: [{ op: 'MatMul', inputs: ['a', 'B'], outputs: ['y'] }],
    });
    const model = importOnnxBytes(bytes, 'synthetic-matmul');
    const ops = findSparseOps(model);
    const cap = await captureReference(model, ops, { dims: [2, 5, 7], data: randomFloats(70, 2) });
    const mm = lowerToMatmul(ops[0], cap, model);
    expect(mm).toMatchObject({ m: 10, n: 4, k: 7, lowering: 'matmul' });
    expect(relErr(cpu(mm), mm.expected)).toBeLessThan(1e-5);
  });

  it('MatMul with a 2-D activation B captures B; a 3-D activation B lowers only to the batched form', async () => {
    const bytes = buildModel({
      inputs: [{ name: 'a', dims: ['m', 6] }, { name: 'b', dims: ['k', 'n'] }, { name: 'b3', dims: ['z', 'k', 'n'] }, { name: 'a3', dims: ['z', 'm', 6] }],
      outputs: [{ name: 'y', dims: ['m', 'n'] }, { name: 'y3', dims: ['z', 'm', 'n'] }],
      nodes: [
        { op: 'Relu', inputs: ['b'], outputs: ['br'] },
        { op: 'MatMul', inputs: ['a', 'br'], outputs: ['y'], name: 'mm_act' },
        { op: 'MatMul', inputs: ['a3', 'b3'], outputs: ['y3'], name: 'mm_batched' },
      ],
    });
    const model = importOnnxBytes(bytes, 'synthetic-matmul-act');
    const ops = findSparseOps(model);
    expect(ops.map((o) => [o.supported, o.weightConstant])).toEqual([[true, false], [true, false]]);
    const cap = await captureReference(model, ops, {
      a: { dims: [3, 6], data: randomFloats(18, 3) },
      b: { dims: [6, 5], data: randomFloats(30, 4) },
      a3: { dims: [2, 3, 6], data: randomFloats(36, 5) },
      b3: { dims: [2, 6, 5], data: randomFloats(60, 6) },
    });
    expect(cap.ops.get(0)!.weight!.dims).toEqual([6, 5]);
    const mm = lowerToMatmul(ops[0], cap, model);
    expect(mm).toMatchObject({ m: 3, n: 5, k: 6 });
    expect(mm.b.some((v) => v === 0)).toBe(true); // the ReLU'd activation B, not the raw input
    expect(relErr(cpu(mm), mm.expected)).toBeLessThan(1e-5);
    expect(checkLowerable(ops[1], cap, model)).toBe('batched MatMul (B has batch dims, e.g. attention QKᵀ / AV): lowers to a batched matmul (lowerToBatchedMatmul), not to the 2-D form');
    expect(() => lowerToMatmul(ops[1], cap, model)).toThrow('mm_batched: batched MatMul (B has batch dims');
  });

  it('Gemm with transA, transB, alpha and beta·C as a row bias', async () => {
    // Y = 0.5·Aᵀ·Bᵀ + 2·C with A stored [K=6, M=4], B stored [N=3, K=6], C [3].
    const bytes = buildModel({
      inputs: [{ name: 'a', dims: [6, 4] }],
      outputs: [{ name: 'y', dims: [4, 3] }],
      initializers: [
        { name: 'B', dims: [3, 6], data: randomFloats(18, 7) },
        { name: 'C', dims: [3], data: [0.25, -1, 3] },
      ],
      nodes: [{ op: 'Gemm', inputs: ['a', 'B', 'C'], outputs: ['y'], attrs: { transA: 1, transB: 1, alpha: { float: 0.5 }, beta: { float: 2 } } }],
    });
    const model = importOnnxBytes(bytes, 'synthetic-gemm');
    const ops = findSparseOps(model);
    const a = randomFloats(24, 8);
    const cap = await captureReference(model, ops, { dims: [6, 4], data: a });
    const mm = lowerToMatmul(ops[0], cap, model);
    expect(mm).toMatchObject({ m: 4, n: 3, k: 6, alpha: 0.5, lowering: 'gemm' });
    expect(Array.from(mm.bias!)).toEqual([0.5, -2, 6]);
    expect(mm.a[1 * 6 + 2]).toBe(a[2 * 4 + 1]); // A[m=1, k=2] = stored[k=2, m=1]
    expect(relErr(cpu(mm), mm.expected)).toBeLessThan(1e-5);
  });

  it('Gemm with a scalar C broadcasts it to every column', async () => {
    const bytes = buildModel({
      inputs: [{ name: 'a', dims: [2, 3] }],
      outputs: [{ name: 'y', dims: [2, 4] }],
      initializers: [
        { name: 'B', dims: [3, 4], data: randomFloats(12, 9) },
        { name: 'C', dims: [1], data: [1.5] },
      ],
      nodes: [{ op: 'Gemm', inputs: ['a', 'B', 'C'], outputs: ['y'] }],
    });
    const model = importOnnxBytes(bytes, 'synthetic-gemm-scalar');
    const ops = findSparseOps(model);
    const cap = await captureReference(model, ops, { dims: [2, 3], data: randomFloats(6, 10) });
    const mm = lowerToMatmul(ops[0], cap, model);
    expect(Array.from(mm.bias!)).toEqual([1.5, 1.5, 1.5, 1.5]);
    expect(mm.alpha).toBeUndefined();
    expect(relErr(cpu(mm), mm.expected)).toBeLessThan(1e-5);
  });
});
