/** ONNX import: the real PaddleOCR v4 det model, tiny synthetic models (labelled), and bad files. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultModelPath } from '../../core/inputs/default.ts';
import { ModelError } from '../../core/model/errors.ts';
import { importOnnx, importOnnxBytes, modelProto, onnx } from '../../core/model/onnx-import.ts';
import { buildModel } from './onnx-builders.ts';

const DET = defaultModelPath();
const tmp = mkdtempSync(join(tmpdir(), 'pit-onnx-'));

describe('importOnnx on the PaddleOCR v4 det model', () => {
  const model = importOnnx(DET);

  it('reads the graph: 672 nodes, 62 Conv, opset 11, one dynamic NCHW input', () => {
    expect(model.nodes).toHaveLength(672);
    expect(model.nodes.filter((n) => n.opType === 'Conv')).toHaveLength(62);
    expect(model.opset).toBe(11);
    expect(model.inputs).toEqual([
      { name: 'x', elemType: 1, dims: ['p2o.DynamicDimension.0', 3, 'p2o.DynamicDimension.1', 'p2o.DynamicDimension.2'] },
    ]);
    expect(model.outputs.map((o) => o.name)).toEqual(['sigmoid_0.tmp_0']);
    expect(model.outputs[0].dims?.[1]).toBe(1);
  });

  it('resolves conv weights from Constant nodes (the file has no initializers)', () => {
    expect(modelProto(model).graph!.initializer).toHaveLength(0);
    expect(model.constants.size).toBe(342); // one per Constant node
    const conv0 = model.nodes.find((n) => n.name === 'p2o.Conv.0')!;
    const w = model.constants.get(conv0.inputs[1])!;
    expect(w.source).toBe('constant-node');
    expect(w.dims).toEqual([16, 3, 3, 3]);
    expect(w.data).toHaveLength(16 * 27);
    expect(w.data[0]).toBeCloseTo(0.14797999, 6);
    expect(w.data[1]).toBeCloseTo(-0.09998407, 6);
    // Every Conv's weight is a resolved constant with 4 dims.
    for (const n of model.nodes.filter((x) => x.opType === 'Conv')) {
      expect(model.constants.get(n.inputs[1])?.dims).toHaveLength(4);
    }
  });

  it('decodes attributes to plain JS', () => {
    const conv0 = model.nodes.find((n) => n.name === 'p2o.Conv.0')!;
    expect(conv0.attrs).toEqual({ dilations: [1, 1], kernel_shape: [3, 3], strides: [2, 2], group: 1, pads: [1, 1, 1, 1] });
    const resize = model.nodes.find((n) => n.opType === 'Resize')!;
    expect(resize.attrs['mode']).toBe('nearest');
  });

  it('hashes the file (sha256, stable across imports)', () => {
    expect(model.sha256).toBe('30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff');
    expect(importOnnx(DET).sha256).toBe(model.sha256);
    expect(model.byteLength).toBeGreaterThan(4_000_000);
  });
});

describe('importOnnx on synthetic models', () => {
  it('decodes float_data, raw_data, int64 and Constant-node tensors; names unnamed nodes op_index', () => {
    // Synthetic: MatMul(x, w) + Reshape(·, shape), weights stored four different ways.
    const bytes = buildModel({
      inputs: [{ name: 'x', dims: ['batch', 3] }],
      outputs: [{ name: 'y', dims: ['batch', 2] }],
      initializers: [
        { name: 'w_raw', dims: [3, 2], data: [1, 2, 3, 4, 5, 6], raw: true },
        { name: 'w_f', dims: [2], data: [0.5, -0.25] },
        { name: 'shape', dims: [2], data: [-1, 2], type: 'int64', raw: true },
        { name: 'shape2', dims: [2], data: [-1, 2], type: 'int64' },
      ],
      constantNodes: [{ name: 'w_const', dims: [3, 2], data: [6, 5, 4, 3, 2, 1] }],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'w_raw'], outputs: ['mm'] },
        { op: 'Add', inputs: ['mm', 'w_f'], outputs: ['add'] },
        { op: 'Reshape', inputs: ['add', 'shape'], outputs: ['y'], name: 'reshape_me' },
      ],
      initializersAsInputs: true,
    });
    const m = importOnnxBytes(bytes, 'synthetic.onnx');
    expect(Array.from(m.constants.get('w_raw')!.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(m.constants.get('w_f')!.data)).toEqual([0.5, -0.25]);
    expect(m.constants.get('shape')!.ints).toEqual([-1, 2]);
    expect(m.constants.get('shape2')!.ints).toEqual([-1, 2]);
    expect(m.constants.get('w_const')).toMatchObject({ dims: [3, 2], source: 'constant-node' });
    expect(Array.from(m.constants.get('w_const')!.data)).toEqual([6, 5, 4, 3, 2, 1]);
    expect(m.nodes.map((n) => n.name)).toEqual(['const_0', 'MatMul_1', 'Add_2', 'reshape_me']);
    // IR < 4 style: initializers listed as graph inputs are not inputs to feed.
    expect(m.inputs.map((i) => i.name)).toEqual(['x']);
    expect(m.inputs[0].dims).toEqual(['batch', 3]);
  });

  it('keeps a re-encodable ModelProto', () => {
    const m = importOnnx(DET);
    const again = onnx.ModelProto.decode(onnx.ModelProto.encode(modelProto(m)).finish());
    expect(again.graph!.node).toHaveLength(672);
  });
});

describe('importOnnx errors', () => {
  it('missing file → ModelError: model file not found', () => {
    const p = join(tmp, 'nope.onnx');
    expect(() => importOnnx(p)).toThrow(ModelError);
    expect(() => importOnnx(p)).toThrow(`model file not found: ${p}`);
  });

  it('garbage bytes → not a valid ONNX model', () => {
    const p = join(tmp, 'garbage.onnx');
    writeFileSync(p, Buffer.from('this is not a protobuf at all \u0000\u00ff\u00fe garbage'.repeat(20)));
    let err: unknown;
    try {
      importOnnx(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelError);
    expect(String(err)).toMatch(new RegExp(`^ModelError: ${p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not a valid ONNX model \\(`));
  });

  it('a protobuf without a graph → not a valid ONNX model (no graph)', () => {
    const p = join(tmp, 'nograph.onnx');
    writeFileSync(p, onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 7 })).finish());
    expect(() => importOnnx(p)).toThrow(/is not a valid ONNX model \(no graph in the file\)/);
  });

  it('an empty graph → clear error', () => {
    const p = join(tmp, 'empty.onnx');
    writeFileSync(p, onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 7, graph: { name: 'g' } })).finish());
    expect(() => importOnnx(p)).toThrow(`${p} has an empty graph (no nodes)`);
  });

  it('a directory → cannot read model file', () => {
    expect(() => importOnnx(tmp)).toThrow(/cannot read model file/);
  });
});
