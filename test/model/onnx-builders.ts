/**
 * Builders for tiny synthetic ONNX models used by the model tests (labelled synthetic wherever they are used):
 * a few nodes with explicit attributes, encoded with onnx-proto exactly like a real exporter would.
 */
import type { onnx as OnnxNs } from 'onnx-proto';
import { onnx } from '../../core/model/onnx-import.ts';
import { mulberry32 } from '../../core/synthetic/random.ts';

export type AttrSpec = number | number[] | string | { float: number } | { floats: number[] } | { graph: GraphSpec };

/** A subgraph (If branch, Loop / Scan body): its own nodes, outputs and initializers; inputs for Loop / Scan bodies. */
export interface GraphSpec {
  name?: string;
  inputs?: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  initializers?: TensorSpec[];
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attrs?: Record<string, AttrSpec>;
}

export interface TensorSpec {
  name: string;
  dims: number[];
  data: ArrayLike<number>;
  /** 'float' (default), 'int64' or 'bool'. */
  type?: 'float' | 'int64' | 'bool';
  /** Store as raw_data (little-endian bytes) instead of the typed repeated field. */
  raw?: boolean;
}

export interface ValueSpec {
  name: string;
  /** Numbers are fixed dims, strings symbolic. */
  dims: (number | string)[];
  elemType?: number;
}

export interface ModelSpec {
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  initializers?: TensorSpec[];
  /** Constant nodes holding a tensor `value` (as paddle2onnx emits weights). */
  constantNodes?: TensorSpec[];
  opset?: number;
  irVersion?: number;
  /** List initializers among graph inputs too (IR < 4 style). */
  initializersAsInputs?: boolean;
}

function tensorProto(t: TensorSpec): OnnxNs.TensorProto {
  if (t.type === 'bool') return onnx.TensorProto.create({ name: t.name, dims: t.dims, dataType: 9, int32Data: Array.from(t.data, (v) => (v ? 1 : 0)) });
  const isInt = t.type === 'int64';
  const p = onnx.TensorProto.create({ name: t.name, dims: t.dims, dataType: isInt ? 7 : 1 });
  if (t.raw) {
    const buf = new ArrayBuffer(t.data.length * (isInt ? 8 : 4));
    const dv = new DataView(buf);
    for (let i = 0; i < t.data.length; i++) {
      if (isInt) dv.setBigInt64(i * 8, BigInt(t.data[i]), true);
      else dv.setFloat32(i * 4, t.data[i], true);
    }
    p.rawData = new Uint8Array(buf);
  } else if (isInt) {
    p.int64Data = Array.from(t.data);
  } else {
    p.floatData = Array.from(t.data);
  }
  return p;
}

function attrProto(name: string, v: AttrSpec): OnnxNs.AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return onnx.AttributeProto.create({ name, type: T.INT, i: v });
  if (typeof v === 'string') return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v)) return onnx.AttributeProto.create({ name, type: T.INTS, ints: v });
  if ('float' in v) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: v.float });
  if ('graph' in v) return onnx.AttributeProto.create({ name, type: T.GRAPH, g: graphProto(v.graph) });
  return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: v.floats });
}

function valueInfo(v: ValueSpec): OnnxNs.ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name: v.name,
    type: {
      tensorType: {
        elemType: v.elemType ?? 1,
        shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

function nodeProto(n: NodeSpec): OnnxNs.NodeProto {
  return onnx.NodeProto.create({
    name: n.name ?? '',
    opType: n.op,
    input: n.inputs,
    output: n.outputs,
    attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attrProto(k, v)),
  });
}

function graphProto(g: GraphSpec): OnnxNs.GraphProto {
  return onnx.GraphProto.create({
    name: g.name ?? 'subgraph',
    node: g.nodes.map(nodeProto),
    initializer: (g.initializers ?? []).map(tensorProto),
    input: (g.inputs ?? []).map(valueInfo),
    output: g.outputs.map(valueInfo),
  });
}

/** Encodes a model described by `spec` to ONNX protobuf bytes. */
export function buildModel(spec: ModelSpec): Uint8Array {
  const inits = (spec.initializers ?? []).map(tensorProto);
  const constNodes = (spec.constantNodes ?? []).map((t, i) =>
    onnx.NodeProto.create({
      name: `const_${i}`,
      opType: 'Constant',
      output: [t.name],
      attribute: [onnx.AttributeProto.create({ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: tensorProto(t) })],
    }),
  );
  const nodes = spec.nodes.map(nodeProto);
  const inputs = spec.inputs.map(valueInfo);
  if (spec.initializersAsInputs) {
    for (const t of spec.initializers ?? []) inputs.push(valueInfo({ name: t.name, dims: t.dims }));
  }
  const model = onnx.ModelProto.create({
    irVersion: spec.irVersion ?? 7,
    producerName: 'pit-studio-test',
    opsetImport: [{ domain: '', version: spec.opset ?? 13 }],
    graph: {
      name: 'synthetic',
      node: [...constNodes, ...nodes],
      initializer: inits,
      input: inputs,
      output: spec.outputs.map(valueInfo),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Deterministic pseudo-random floats in [-1, 1) (mulberry32), so failures reproduce. */
export function randomFloats(n: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => rand() * 2 - 1);
}

/** Max |a − b| / max |b| over two arrays of the same length. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
    maxRef = Math.max(maxRef, Math.abs(b[i]));
  }
  return maxAbs / (maxRef || 1);
}

/** Fraction of exact zeros. */
export function zeroFraction(x: ArrayLike<number>): number {
  let z = 0;
  for (let i = 0; i < x.length; i++) if (x[i] === 0) z++;
  return z / x.length;
}
