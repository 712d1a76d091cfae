/**
 * TF.js layers import (core/model/tfjs-import.ts) on a small synthetic Keras model (labelled synthetic) that has every
 * construct the nsfwjs models use — ZeroPadding2D before a valid conv, BatchNormalization with and without gamma,
 * ReLU6, DepthwiseConv2D with depth_multiplier 2, a fused ReLU, SAME padding with odd totals, Concatenate, Add,
 * pooling, Flatten, Dense with ReLU and softmax — with weights stored float32, uint8, uint16 and float16. The IR is
 * checked structurally, then every op's lowering is checked against what TF.js itself computes from the same file:
 * folded batch norm, padding and quantisation must all agree.
 */
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createReferenceSession } from '../../core/model/capture.ts';
import { ModelError } from '../../core/model/errors.ts';
import { importModel } from '../../core/model/import.ts';
import { lowerToMatmul } from '../../core/model/lowering.ts';
import { findSparseOps } from '../../core/model/sparse-ops.ts';
import { importTfjs, type TfjsModel } from '../../core/model/tfjs-import.ts';
import { referenceMatmul } from '../../core/kernels/reference.ts';
import { buildModel, randomFloats } from './onnx-builders.ts';
import { uniform, writeTfjsModel, type LayerSpec, type WeightSpec } from './tfjs-builders.ts';
import { groupedConvNchw, maxRelErr } from './tfjs-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'pit-tfjs-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The synthetic model: input [null, 7, 7, 2]. */
function synthetic(sub: string, extra: { layers?: LayerSpec[]; weights?: WeightSpec[]; output?: string } = {}): string {
  const w = (name: string, shape: number[], seed: number, store?: WeightSpec['store'], lo = -1, hi = 1): WeightSpec => ({
    name,
    shape,
    values: uniform(shape.reduce((a, b) => a * b, 1), seed, lo, hi),
    store,
  });
  const layers: LayerSpec[] = [
    { name: 'pad', cls: 'ZeroPadding2D', config: { padding: [[0, 1], [0, 1]], data_format: 'channels_last' }, inbound: ['x'] },
    { name: 'c1', cls: 'Conv2D', config: { filters: 4, kernel_size: [3, 3], strides: [2, 2], padding: 'valid', data_format: 'channels_last', dilation_rate: [1, 1], activation: 'linear', use_bias: false }, inbound: ['pad'] },
    { name: 'bn1', cls: 'BatchNormalization', config: { axis: -1, epsilon: 0.001, center: true, scale: true }, inbound: ['c1'] },
    { name: 'r1', cls: 'ReLU', config: { max_value: 6, negative_slope: 0, threshold: 0 }, inbound: ['bn1'] },
    { name: 'dw', cls: 'DepthwiseConv2D', config: { kernel_size: [3, 3], strides: [1, 1], padding: 'same', data_format: 'channels_last', dilation_rate: [1, 1], activation: 'linear', use_bias: true, depth_multiplier: 2 }, inbound: ['r1'] },
    { name: 'bn2', cls: 'BatchNormalization', config: { axis: 3, epsilon: 0.001, center: true, scale: false }, inbound: ['dw'] },
    { name: 'r2', cls: 'Activation', config: { activation: 'relu' }, inbound: ['bn2'] },
    { name: 'c2', cls: 'Conv2D', config: { filters: 5, kernel_size: [1, 1], strides: [1, 1], padding: 'same', activation: 'relu', use_bias: true }, inbound: ['r2'] },
    { name: 'cat', cls: 'Concatenate', config: { axis: -1 }, inbound: ['c2', 'r2'] },
    { name: 'c4', cls: 'Conv2D', config: { filters: 4, kernel_size: [2, 2], strides: [2, 2], padding: 'same', activation: 'linear', use_bias: true }, inbound: ['cat'] },
    { name: 'c5', cls: 'Conv2D', config: { filters: 4, kernel_size: [2, 2], strides: [2, 2], padding: 'same', activation: 'linear', use_bias: false }, inbound: ['cat'] },
    { name: 'add', cls: 'Add', config: {}, inbound: ['c4', 'c5'] },
    { name: 'mp', cls: 'MaxPooling2D', config: { pool_size: [2, 2], strides: [1, 1], padding: 'valid' }, inbound: ['add'] },
    { name: 'fl', cls: 'Flatten', config: {}, inbound: ['mp'] },
    { name: 'd1', cls: 'Dense', config: { units: 6, activation: 'relu', use_bias: true }, inbound: ['fl'] },
    { name: 'drop', cls: 'Dropout', config: { rate: 0.5 }, inbound: ['d1'] },
    { name: 'd2', cls: 'Dense', config: { units: 3, activation: 'softmax', use_bias: true }, inbound: ['drop'] },
    ...(extra.layers ?? []),
  ];
  const weights: WeightSpec[] = [
    w('c1/kernel', [3, 3, 2, 4], 1, 'uint8'),
    w('bn1/gamma', [4], 2, 'float16', 0.5, 1.5),
    w('bn1/beta', [4], 3, 'uint16'),
    w('bn1/moving_mean', [4], 4),
    w('bn1/moving_variance', [4], 5, 'uint8', 0.2, 2),
    w('dw/depthwise_kernel', [3, 3, 4, 2], 6, 'uint8'),
    w('dw/bias', [8], 7),
    w('bn2/beta', [8], 8),
    w('bn2/moving_mean', [8], 9, 'float16'),
    w('bn2/moving_variance', [8], 10, undefined, 0.5, 1.5),
    w('c2/kernel', [1, 1, 8, 5], 11, 'uint16'),
    w('c2/bias', [5], 12),
    w('c4/kernel', [2, 2, 13, 4], 13),
    w('c4/bias', [4], 14),
    w('c5/kernel', [2, 2, 13, 4], 15, 'float16'),
    w('d1/kernel', [4, 6], 16),
    w('d1/bias', [6], 17),
    w('d2/kernel', [6, 3], 18, 'uint8'),
    w('d2/bias', [3], 19),
    ...(extra.weights ?? []),
  ];
  return writeTfjsModel(join(dir, sub), { input: { name: 'x', shape: [null, 7, 7, 2] }, layers, output: extra.output ?? 'd2', weights, shards: 2 });
}

describe('importTfjs (synthetic Keras model)', () => {
  const path = synthetic('base');
  const model = importTfjs(path);

  it('maps the layers to ONNX ops with NCHW values, folding the padding and both batch norms', () => {
    expect(model.format).toBe('tfjs-layers');
    expect(model.inputs).toEqual([{ name: 'x', elemType: 1, dims: ['N', 2, 7, 7] }]);
    expect(model.outputs.map((o) => [o.name, o.dims])).toEqual([['d2', ['N', 3]]]);
    expect(model.nodes.map((n) => `${n.opType}:${n.name}`)).toEqual([
      'Conv:c1', 'Clip:r1', 'Conv:dw', 'Relu:r2', 'Conv:c2', 'Relu:c2/relu', 'Concat:cat', 'Conv:c4', 'Conv:c5', 'Add:add',
      'MaxPool:mp', 'Transpose:fl/nhwc', 'Flatten:fl', 'Gemm:d1', 'Relu:d1/relu', 'Identity:drop', 'Gemm:d2', 'Softmax:d2/softmax',
    ]);
    expect([...model.tfjs.foldedBatchNorms]).toEqual([['bn1', 'c1'], ['bn2', 'dw']]);
    expect([...model.tfjs.foldedPaddings]).toEqual([['pad', 'c1']]);
    const node = (n: string) => model.nodes.find((x) => x.name === n)!;
    // ZeroPadding2D [[0, 1], [0, 1]] folded: pads [top, left, bottom, right] = [0, 0, 1, 1] on the unpadded input.
    expect(node('c1').inputs).toEqual(['x', 'c1/kernel', 'c1/bias']);
    expect(node('c1').outputs).toEqual(['bn1']);
    expect(node('c1').attrs).toMatchObject({ auto_pad: 'NOTSET', pads: [0, 0, 1, 1], strides: [2, 2], group: 1, folded_batch_norm: 'bn1' });
    // DepthwiseConv2D: a grouped conv with one group per input channel, W [C·mult, 1, kh, kw].
    expect(node('dw').attrs).toMatchObject({ group: 4, auto_pad: 'SAME_UPPER', kernel_shape: [3, 3] });
    expect(model.constants.get('dw/kernel')!.dims).toEqual([8, 1, 3, 3]);
    expect(node('c2').outputs).toEqual(['c2/pre_activation']);
    expect(node('cat').attrs).toEqual({ axis: 1 });
    expect(node('fl/nhwc').attrs).toEqual({ perm: [0, 2, 3, 1] });
    expect(model.valueInfo.get('bn1')!.dims).toEqual(['N', 4, 3, 3]);
    expect(model.valueInfo.get('cat')!.dims).toEqual(['N', 13, 3, 3]);
    expect(model.valueInfo.get('add')!.dims).toEqual(['N', 4, 2, 2]);
    expect(model.tfjs.sources.get('c2/pre_activation')).toEqual({ layer: 'c2', kind: 'pre-activation' });
    expect(model.tfjs.sources.get('bn2')).toEqual({ layer: 'bn2', kind: 'output' });
  });

  it('finds the convs (the depthwise one as a grouped conv) and the dense layers as sparse ops', () => {
    const ops = findSparseOps(model);
    expect(ops.find((o) => o.name === 'dw')!.conv!.group).toBe(4);
    expect(ops.map((o) => `${o.op}:${o.name}:${o.supported ? 'ok' : o.reason}`)).toEqual([
      'Conv:c1:ok', 'Conv:dw:ok', 'Conv:c2:ok', 'Conv:c4:ok', 'Conv:c5:ok', 'Gemm:d1:ok', 'Gemm:d2:ok',
    ]);
  });

  it('every op lowered from the IR reproduces what TF.js computes from the same file (folded BN, pads, quantisation)', async () => {
    const ops = findSparseOps(model);
    const all = ops.map((o) => ({ ...o, supported: true })); // capture the depthwise conv too, for the check below
    const session = await createReferenceSession(model, all);
    expect(session.runtime).toBe('TF.js wasm');
    const x = uniform(2 * 7 * 7, 42, 0, 1);
    const cap = await session.run({ dims: [1, 2, 7, 7], data: x });
    await session.release();
    expect(cap.ops.size).toBe(7);
    // 2-D lowering (the grouped conv lowers to a batched matmul: checked directly below).
    for (const op of ops.filter((o) => o.supported && (o.conv?.group ?? 1) === 1)) {
      const mm = lowerToMatmul(op, cap, model);
      const c = referenceMatmul(mm.a, mm.b, mm.m, mm.n, mm.k);
      for (let i = 0; i < mm.m; i++) for (let j = 0; j < mm.n; j++) c[i * mm.n + j] += mm.bias ? mm.bias[j]! : 0;
      expect(maxRelErr(c, mm.expected), op.name).toBeLessThan(2e-6);
    }
    // The depthwise conv as the IR states it (grouped conv, folded bn2) against TF.js' bn2 output.
    const dw = all.find((o) => o.name === 'dw')!;
    const got = cap.ops.get(dw.index)!;
    expect(got.output.name).toBe('bn2');
    expect(got.output.dims).toEqual([1, 8, 3, 3]);
    const w = model.constants.get('dw/kernel')!;
    const y = groupedConvNchw(got.input, w, model.constants.get('dw/bias')!.data, 4, [1, 1], 'SAME_UPPER');
    expect(maxRelErr(y, got.output.data)).toBeLessThan(2e-6);
    // c2's captured output is before its fused ReLU: it has negatives, and ReLU of it is TF.js' c2 output (cat's first 5 channels).
    const c2 = cap.ops.get(ops.find((o) => o.name === 'c2')!.index)!;
    expect(Math.min(...c2.output.data)).toBeLessThan(0);
    const c4in = cap.ops.get(ops.find((o) => o.name === 'c4')!.index)!.input; // cat [1, 13, 3, 3]
    for (let i = 0; i < 5 * 9; i++) expect(c4in.data[i]).toBeCloseTo(Math.max(0, c2.output.data[i]!), 6);
    // The model output is a softmax over 3 classes.
    expect(cap.outputs[0]!.dims).toEqual([1, 3]);
    expect(cap.outputs[0]!.data.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });
});

describe('importModel dispatch and bad TF.js models', () => {
  it('imports model.json as TF.js, .onnx as ONNX, and sniffs files without an extension', () => {
    const onnxPath = join(dir, 'tiny.onnx');
    writeFileSync(
      onnxPath,
      buildModel({
        inputs: [{ name: 'a', dims: [2, 3] }],
        outputs: [{ name: 'y', dims: [2, 4] }],
        initializers: [{ name: 'W', dims: [3, 4], data: randomFloats(12, 1) }],
        nodes: [{ op: 'MatMul', inputs: ['a', 'W'], outputs: ['y'] }],
      }),
    );
    expect(importModel(onnxPath).format).toBeUndefined();
    const p = synthetic('sniff');
    expect(importModel(p).format).toBe('tfjs-layers');
    const bare = join(dir, 'sniff', 'model');
    renameSync(p, bare);
    expect((importModel(bare) as TfjsModel).tfjs.layers.length).toBe(18);
    expect(() => importModel(join(dir, 'nope.json'))).toThrow(`model file not found: ${join(dir, 'nope.json')}`);
  });

  it('an unsupported layer type names the layer and the type, in one line', () => {
    const p = synthetic('unsupported', {
      layers: [{ name: 'up1', cls: 'Conv2DTranspose', config: { filters: 2, kernel_size: [2, 2] }, inbound: ['add'] }],
    });
    let err: unknown;
    try {
      importTfjs(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^.*model\.json: layer up1 has type Conv2DTranspose, which PIT Studio cannot import \(supported: Conv2D, DepthwiseConv2D, Dense, /);
    expect(msg).not.toContain('\n');
    expect((err as ModelError).node).toBe('up1');
  });

  it('a missing weight shard is named', () => {
    const p = synthetic('missing');
    unlinkSync(join(dir, 'missing', 'group1-shard2of2.bin'));
    expect(() => importTfjs(p)).toThrow(`weight shard not found: ${join(dir, 'missing', 'group1-shard2of2.bin')} (listed in the weightsManifest of ${p})`);
  });

  it('says what is wrong with other broken files', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"modelTopology": ');
    expect(() => importModel(bad)).toThrow(/bad\.json is not valid JSON/);
    writeFileSync(bad, JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] }));
    expect(() => importModel(bad)).toThrow('is a TF.js graph model; PIT Studio imports TF.js layers models (Keras topology) and ONNX');
    writeFileSync(bad, JSON.stringify({ hello: 1 }));
    expect(() => importModel(bad)).toThrow('is not a TF.js layers model.json (no Keras modelTopology)');
    // A weight the topology needs but the manifest lacks.
    const p = synthetic('noweight', { layers: [{ name: 'd3', cls: 'Dense', config: { units: 2 }, inbound: ['d2'] }], output: 'd3' });
    expect(() => importTfjs(p)).toThrow(/layer d3 \(Dense\): weight d3\/kernel is not in the weightsManifest/);
  });
});
