/**
 * The model graph the Graph view lays out (core/model/graph.ts): Constant nodes folded into their consumers, edges
 * along values, graph inputs and outputs as nodes, profiled layers marked with their index or the reason they are not
 * profiled, attributes on one line. On a tiny synthetic model (labelled) and on the real PaddleOCR v4 det model.
 */
import { describe, expect, it } from 'vitest';
import { defaultModelPath } from '../../core/inputs/default.ts';
import { formatAttrs, modelGraph } from '../../core/model/graph.ts';
import { importOnnx, importOnnxBytes } from '../../core/model/onnx-import.ts';
import { findSparseOps } from '../../core/model/sparse-ops.ts';
import { buildModel } from './onnx-builders.ts';

describe('modelGraph on a synthetic model (Conv → Relu → grouped Conv → MatMul)', () => {
  const bytes = buildModel({
    inputs: [{ name: 'x', dims: [1, 2, 4, 4] }],
    outputs: [{ name: 'y', dims: [1, 2, 4, 'w'] }],
    constantNodes: [
      { name: 'w1', dims: [2, 2, 1, 1], data: [1, 0, 0, 1] },
      { name: 'w2', dims: [2, 1, 3, 3], data: new Array(18).fill(0.5) },
      { name: 'w3', dims: [4, 4], data: new Array(16).fill(1) },
    ],
    nodes: [
      { op: 'Conv', name: 'conv_a', inputs: ['x', 'w1'], outputs: ['c1'], attrs: { kernel_shape: [1, 1], strides: [1, 1] } },
      { op: 'Relu', name: 'relu', inputs: ['c1'], outputs: ['r1'] },
      { op: 'Conv', name: 'dw', inputs: ['r1', 'w2'], outputs: ['c2'], attrs: { group: 2, kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
      { op: 'MatMul', name: 'mm', inputs: ['c2', 'w3'], outputs: ['y'] },
    ],
  });
  const model = importOnnxBytes(bytes, 'synthetic');
  const g = modelGraph(model, findSparseOps(model));

  it('folds the three Constant nodes and keeps input, 4 operators and output', () => {
    expect(g.foldedConstants).toBe(3);
    expect(g.nodes.map((n) => `${n.kind}:${n.op}:${n.name}`)).toEqual(['input:input:x', 'op:Conv:conv_a', 'op:Relu:relu', 'op:Conv:dw', 'op:MatMul:mm', 'output:output:y']);
  });

  it('links values producer → consumer, constants excluded', () => {
    const name = (id: string) => g.nodes.find((n) => n.id === id)!.name;
    expect(g.edges.map((e) => `${name(e.from)} -${e.value}→ ${name(e.to)}`)).toEqual(['x -x→ conv_a', 'conv_a -c1→ relu', 'relu -r1→ dw', 'dw -c2→ mm', 'mm -y→ y']);
  });

  it('marks the sparse-capable operators with their layer index (the grouped conv lowers as a batched matmul)', () => {
    const byName = new Map(g.nodes.map((n) => [n.name, n]));
    expect(byName.get('conv_a')!.layer).toBe(0);
    expect(byName.get('dw')!.layer).toBe(1);
    expect(byName.get('dw')!.unsupported).toBeUndefined();
    expect(byName.get('mm')!.layer).toBe(2);
    expect(byName.get('relu')!.layer).toBeUndefined();
  });

  it('lists constant inputs with their dims and attributes on one line; the I/O types', () => {
    const dw = g.nodes.find((n) => n.name === 'dw')!;
    expect(dw.constants).toEqual([{ name: 'w2', dims: [2, 1, 3, 3] }]);
    expect(dw.attrs).toEqual({ group: '2', kernel_shape: '[3, 3]', pads: '[1, 1, 1, 1]' });
    expect(g.nodes[0]!.attrs.type).toBe('float32 [1, 2, 4, 4]');
    expect(g.nodes.at(-1)!.attrs.type).toBe('float32 [1, 2, 4, w]');
  });
});

describe('formatAttrs', () => {
  it('prints floats at float32 precision, strings quoted, tensors by type and dims, long lists cut', () => {
    const t = { name: 't', dims: [2], elemType: 7, data: new Float32Array([3, 4]), ints: [3, 4], source: 'initializer' as const };
    const out = formatAttrs({ alpha: Math.fround(0.1666666716337204), mode: 'nearest', value: t, many: Array.from({ length: 100 }, (_, i) => i) });
    expect(out.alpha).toBe('0.1666667');
    expect(out.mode).toBe('"nearest"');
    expect(out.value).toBe('tensor int64 [2] = [3, 4]');
    expect(out.many!.length).toBe(120);
    expect(out.many!.endsWith('…')).toBe(true);
  });
});

describe('modelGraph on the PaddleOCR v4 det model', () => {
  const model = importOnnx(defaultModelPath());
  const g = modelGraph(model, findSparseOps(model));

  it('has 330 operators (672 nodes less 342 Constant), its input and output, and 64 layers: 62 Conv (14 grouped) and 2 ConvTranspose', () => {
    expect(g.foldedConstants).toBe(342);
    expect(g.nodes.filter((n) => n.kind === 'op')).toHaveLength(330);
    expect(g.nodes.filter((n) => n.kind !== 'op').map((n) => n.id)).toEqual(['in:x', 'out:sigmoid_0.tmp_0']);
    const layers = g.nodes.filter((n) => n.layer !== undefined);
    expect(layers).toHaveLength(64);
    expect(layers.map((n) => n.layer)).toEqual([...Array(64).keys()]);
    expect(layers.filter((n) => n.op === 'ConvTranspose')).toHaveLength(2);
    expect(layers.filter((n) => n.op === 'Conv' && n.attrs.group !== undefined && n.attrs.group !== '1')).toHaveLength(14);
  });

  it('every edge joins two nodes of the graph, and every operator but the first is reached', () => {
    const ids = new Set(g.nodes.map((n) => n.id));
    for (const e of g.edges) {
      expect(ids.has(e.from)).toBe(true);
      expect(ids.has(e.to)).toBe(true);
    }
    const reached = new Set(g.edges.map((e) => e.to));
    expect(g.nodes.filter((n) => n.kind !== 'input' && !reached.has(n.id))).toEqual([]);
  });
});
