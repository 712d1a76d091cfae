/** Sparse-op discovery on the real det model and on small synthetic graphs (labelled). */
import { describe, expect, it } from 'vitest';
import { defaultModelPath } from '../../core/inputs/default.ts';
import { importOnnx, importOnnxBytes } from '../../core/model/onnx-import.ts';
import { findSparseOps } from '../../core/model/sparse-ops.ts';
import { buildModel } from './onnx-builders.ts';

describe('findSparseOps on the PaddleOCR v4 det model', () => {
  const model = importOnnx(defaultModelPath());
  const ops = findSparseOps(model);

  it('finds the 62 Conv and 2 ConvTranspose nodes in graph order', () => {
    expect(ops).toHaveLength(64);
    expect(ops.filter((o) => o.op === 'Conv')).toHaveLength(62);
    expect(ops.filter((o) => o.op === 'ConvTranspose').map((o) => o.name)).toEqual(['p2o.ConvTranspose.0', 'p2o.ConvTranspose.2']);
    expect(ops.map((o) => o.index)).toEqual([...Array(64).keys()]);
    const nodeIdx = ops.map((o) => o.nodeIndex);
    expect([...nodeIdx].sort((a, b) => a - b)).toEqual(nodeIdx);
    expect(ops[0]).toMatchObject({ name: 'p2o.Conv.0', inputName: 'x', weightName: 'conv2d_0.w_0', outputName: 'conv2d_450.tmp_0' });
  });

  it('supports every one of them, the 14 depthwise convs included (their group is kept)', () => {
    expect(ops.every((o) => o.supported)).toBe(true);
    const grouped = ops.filter((o) => o.conv!.group > 1);
    expect(grouped.map((o) => o.name)).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 25, 29, 31].map((i) => `p2o.Conv.${i}`));
    expect(grouped[0]!.conv!.group).toBe(16);
    expect(grouped.find((o) => o.name === 'p2o.Conv.25')!.conv!.group).toBe(384);
  });

  it('reads ConvTranspose attributes (output_padding defaults to zeros)', () => {
    const t = ops.find((o) => o.name === 'p2o.ConvTranspose.0')!;
    expect(t.conv).toMatchObject({ kernel: [2, 2], strides: [2, 2], group: 1, outputPadding: [0, 0] });
    expect(t.weightDims).toHaveLength(4);
  });

  it('reads Conv attributes, weight constants and optional bias', () => {
    const c0 = ops[0];
    expect(c0.conv).toEqual({ kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], dilations: [1, 1], group: 1, autoPad: 'NOTSET' });
    expect(c0).toMatchObject({ weightConstant: true, weightDims: [16, 3, 3, 3], biasName: undefined, biasConstant: false });
    const c2 = ops[2];
    expect(c2.conv!.kernel).toEqual([1, 1]);
    expect(c2).toMatchObject({ biasName: 'conv2d_395.b_0', biasConstant: true });
    expect(ops.filter((o) => o.conv!.group === 1 && o.conv!.kernel![0] === 3).map((o) => o.name)).toEqual(
      ['p2o.Conv.0', 'p2o.Conv.49', 'p2o.Conv.52', 'p2o.Conv.55', 'p2o.Conv.58', 'p2o.Conv.61'],
    );
  });
});

describe('findSparseOps on synthetic graphs', () => {
  it('MatMul: 2-D constant B, batched constant B and a rank-4 transposed activation B are all supported', () => {
    // Synthetic: y1 = x·W2, y2 = x3·W3 (W3 batched), y3 = q·transpose(k) (attention-style): the batched ones lower
    // to batched matmuls (batched.ts), which lowering.ts's checkLowerable tells apart once shapes are captured.
    const bytes = buildModel({
      inputs: [
        { name: 'x', dims: ['n', 4] },
        { name: 'x3', dims: [3, 'n', 4] },
        { name: 'q', dims: [1, 2, 5, 4] },
        { name: 'k', dims: [1, 2, 5, 4] },
      ],
      outputs: [
        { name: 'y1', dims: ['n', 2] },
        { name: 'y2', dims: [3, 'n', 2] },
        { name: 'y3', dims: [1, 2, 5, 5] },
      ],
      initializers: [
        { name: 'W2', dims: [4, 2], data: new Array(8).fill(1) },
        { name: 'W3', dims: [3, 4, 2], data: new Array(24).fill(1) },
      ],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'W2'], outputs: ['y1'], name: 'mm2d' },
        { op: 'MatMul', inputs: ['x3', 'W3'], outputs: ['y2'], name: 'mmbatched' },
        { op: 'Transpose', inputs: ['k'], outputs: ['kt'], attrs: { perm: [0, 1, 3, 2] } },
        { op: 'MatMul', inputs: ['q', 'kt'], outputs: ['y3'], name: 'qk' },
      ],
    });
    const ops = findSparseOps(importOnnxBytes(bytes, 'synthetic'));
    expect(ops.map((o) => [o.name, o.supported, o.weightConstant, o.weightDims])).toEqual([
      ['mm2d', true, true, [4, 2]],
      ['mmbatched', true, true, [3, 4, 2]],
      ['qk', true, false, undefined],
    ]);
  });

  it('Conv with 4 spatial dims is refused; Conv1d and Conv3d are supported', () => {
    // Synthetic: three convs of 1, 3 and 4 spatial dims (the last only declared, never run).
    const bytes = buildModel({
      inputs: [{ name: 'x1', dims: [1, 2, 9] }, { name: 'x3', dims: [1, 2, 4, 4, 4] }, { name: 'x4', dims: [1, 1, 2, 2, 2, 2] }],
      outputs: [{ name: 'y1', dims: [1, 3, 7] }, { name: 'y3', dims: [1, 3, 2, 2, 2] }, { name: 'y4', dims: [1, 1, 1, 1, 1, 1] }],
      initializers: [
        { name: 'w1', dims: [3, 2, 3], data: new Array(18).fill(1) },
        { name: 'w3', dims: [3, 2, 3, 3, 3], data: new Array(162).fill(1) },
        { name: 'w4', dims: [1, 1, 2, 2, 2, 2], data: new Array(16).fill(1) },
      ],
      nodes: [
        { op: 'Conv', inputs: ['x1', 'w1'], outputs: ['y1'], name: 'c1' },
        { op: 'Conv', inputs: ['x3', 'w3'], outputs: ['y3'], name: 'c3', attrs: { strides: [1, 1, 1] } },
        { op: 'Conv', inputs: ['x4', 'w4'], outputs: ['y4'], name: 'c4' },
      ],
    });
    const ops = findSparseOps(importOnnxBytes(bytes, 'synthetic'));
    expect(ops.map((o) => [o.name, o.supported, o.reason])).toEqual([
      ['c1', true, undefined],
      ['c3', true, undefined],
      ['c4', false, 'Conv with 4 spatial dims (1-D, 2-D and 3-D are lowered)'],
    ]);
    expect(ops[0]!.conv).toEqual({ kernel: [3], strides: [1], pads: [0, 0], dilations: [1], group: 1, autoPad: 'NOTSET' });
    expect(ops[1]!.conv).toMatchObject({ kernel: [3, 3, 3], pads: [0, 0, 0, 0, 0, 0] });
  });

  it('Gemm: attributes with defaults; a full [M, N] C is not a row bias; a constant A is not dynamic', () => {
    // Synthetic: three Gemms.
    const bytes = buildModel({
      inputs: [{ name: 'a', dims: [3, 4] }],
      outputs: [{ name: 'y1', dims: [3, 2] }, { name: 'y2', dims: [3, 2] }, { name: 'y3', dims: [3, 2] }],
      initializers: [
        { name: 'B', dims: [2, 4], data: new Array(8).fill(1) },
        { name: 'Crow', dims: [2], data: [1, 2] },
        { name: 'Cfull', dims: [3, 2], data: new Array(6).fill(1) },
        { name: 'Aconst', dims: [3, 4], data: new Array(12).fill(1) },
      ],
      nodes: [
        { op: 'Gemm', inputs: ['a', 'B', 'Crow'], outputs: ['y1'], name: 'g1', attrs: { transB: 1, alpha: { float: 0.5 } } },
        { op: 'Gemm', inputs: ['a', 'B', 'Cfull'], outputs: ['y2'], name: 'g2', attrs: { transB: 1 } },
        { op: 'Gemm', inputs: ['Aconst', 'B'], outputs: ['y3'], name: 'g3', attrs: { transB: 1 } },
      ],
    });
    const ops = findSparseOps(importOnnxBytes(bytes, 'synthetic'));
    expect(ops[0]).toMatchObject({ supported: true, gemm: { transA: false, transB: true, alpha: 0.5, beta: 1 }, biasName: 'Crow' });
    expect(ops[1]).toMatchObject({ supported: false, reason: 'Gemm C is [3, 2], not a row bias [2]' });
    expect(ops[2]).toMatchObject({ supported: false, reason: 'the activation operand is a constant (nothing dynamic to exploit)' });
  });
});
