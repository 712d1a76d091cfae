/**
 * ONNX import: file → `OnnxModel` (see `ir.ts`). Decodes the protobuf with `onnx-proto` (protobufjs 6 classes
 * generated from onnx.proto v1.10), computes the file's sha256, and decodes constant tensors from initializers and
 * from `Constant` nodes (PaddleOCR's paddle2onnx exports keep conv weights in `Constant` nodes, not initializers).
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { onnx as OnnxNs } from 'onnx-proto';
import { ModelError, oneLine } from './errors.ts';
import type { AttrValue, ConstTensor, Dim, OnnxModel, OnnxNode, ValueInfo } from './ir.ts';
import { halfToFloat } from '../kernels/f16.ts';
import { readModelFile } from './model-file.ts';

const require = createRequire(import.meta.url);
// onnx-proto is CommonJS with `module.exports = $root`, which Node's ESM named-export detection cannot see.
/** The `onnx` protobuf namespace of `onnx-proto` (ModelProto, GraphProto, … with encode/decode). */
export const onnx: typeof OnnxNs = (require('onnx-proto') as { onnx: typeof OnnxNs }).onnx;

/** ONNX `AttributeProto.AttributeType` codes (onnx.proto). */
const ATTR = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
} as const;

/** ONNX `TensorProto.DataType` codes used below. */
const DT = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
} as const;

/** protobufjs yields int64 fields as `Long` objects (the `long` package is installed) or plain numbers. */
type LongLike = number | { toNumber(): number } | { low: number; high: number; unsigned?: boolean };

/** int64 field value → JS number (exact up to 2^53). */
function toNum(v: LongLike | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if ('toNumber' in v && typeof v.toNumber === 'function') return v.toNumber();
  const { low, high, unsigned } = v as { low: number; high: number; unsigned?: boolean };
  return (unsigned ? high >>> 0 : high) * 4294967296 + (low >>> 0);
}

const utf8 = new TextDecoder('utf-8');

/**
 * Reads and imports an ONNX model file.
 *
 * @param path model file path (resolved to an absolute path in the result)
 * @returns the graph IR, constants decoded to float32, the file's sha256 and the decoded `ModelProto`
 * @throws ModelError `model file not found: PATH` when the file does not exist; `cannot read model file PATH: …`
 *   for other I/O errors; `PATH is not a valid ONNX model (…)` when the bytes are not an ONNX protobuf;
 *   `PATH has an empty graph (no nodes)` when the graph has no nodes.
 */
export function importOnnx(path: string): OnnxModel {
  const { abs, bytes } = readModelFile(path);
  return importOnnxBytes(bytes, abs);
}

/**
 * Imports an ONNX model from bytes already in memory (tests build small models this way).
 *
 * @param bytes the serialized `ModelProto`
 * @param label path or label used in the result and in error messages
 * @throws ModelError as `importOnnx` (except the file errors)
 */
export function importOnnxBytes(bytes: Uint8Array, label: string): OnnxModel {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  let proto: OnnxNs.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new ModelError(`${label} is not a valid ONNX model (protobuf decode failed: ${oneLine(err)})`, {
      path: label,
      cause: err,
    });
  }
  // Arbitrary bytes sometimes decode as a protobuf with only unknown fields; an ONNX model always has a graph.
  // Decoded messages are class instances: repeated fields default to [] and strings to ''.
  const graph = proto.graph as OnnxNs.GraphProto | null;
  if (!graph) throw new ModelError(`${label} is not a valid ONNX model (no graph in the file)`, { path: label });
  if (graph.node.length === 0) throw new ModelError(`${label} has an empty graph (no nodes)`, { path: label });

  const constants = new Map<string, ConstTensor>();
  for (const init of graph.initializer as OnnxNs.TensorProto[]) {
    constants.set(init.name, decodeTensor(init, init.name, 'initializer', label));
  }

  const nodes: OnnxNode[] = (graph.node as OnnxNs.NodeProto[]).map((n, index) => {
    const name = n.name && n.name.length > 0 ? n.name : `${n.opType}_${index}`;
    const attrs: Record<string, AttrValue> = {};
    for (const a of n.attribute as OnnxNs.AttributeProto[]) attrs[a.name] = decodeAttr(a, `${name}.${a.name}`, label);
    return {
      index,
      name,
      opType: n.opType,
      domain: n.domain ?? '',
      inputs: [...n.input],
      outputs: [...n.output],
      attrs,
    };
  });

  for (const n of nodes) {
    if (n.opType !== 'Constant' || (n.domain !== '' && n.domain !== 'ai.onnx') || n.outputs.length !== 1) continue;
    const t = constantNodeValue(n);
    if (t) constants.set(n.outputs[0], { ...t, name: n.outputs[0], source: 'constant-node' });
  }

  const initNames = new Set(graph.initializer.map((t) => t.name));
  const valueInfo = new Map<string, ValueInfo>();
  for (const v of graph.valueInfo as OnnxNs.ValueInfoProto[]) valueInfo.set(v.name, decodeValueInfo(v));

  const defaultOpset = proto.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  return {
    path: label,
    sha256,
    byteLength: bytes.byteLength,
    irVersion: toNum(proto.irVersion as LongLike),
    opset: defaultOpset ? toNum(defaultOpset.version as LongLike) : 0,
    producer: [proto.producerName, proto.producerVersion].filter((s) => s).join(' '),
    // IR < 4 lists initializers among graph inputs; those are not fed at run time.
    inputs: graph.input.filter((v) => !initNames.has(v.name)).map(decodeValueInfo),
    outputs: graph.output.map(decodeValueInfo),
    valueInfo,
    nodes,
    constants,
    proto,
  };
}

/** The decoded `ModelProto` of an imported model, typed (it is kept as `unknown` in the IR to keep `ir.ts` free of protobuf types). */
export function modelProto(model: OnnxModel): OnnxNs.ModelProto {
  return model.proto as OnnxNs.ModelProto;
}

/** `ValueInfoProto` → `ValueInfo`: elem type and dims (number, `dim_param` string, or -1 when neither is set). */
function decodeValueInfo(v: OnnxNs.IValueInfoProto): ValueInfo {
  const tt = v.type?.tensorType;
  const shape = tt?.shape;
  let dims: Dim[] | null = null;
  if (shape) {
    dims = (shape.dim ?? []).map((d) => {
      if (d.dimParam) return d.dimParam;
      if (d.dimValue !== null && d.dimValue !== undefined) {
        const n = toNum(d.dimValue as LongLike);
        // protobufjs reports an unset oneof member as 0 on decoded messages; a 0 dim is legal but rare.
        if ((d as OnnxNs.TensorShapeProto.Dimension).value === 'dimValue' || n !== 0) return n;
      }
      return -1;
    });
  }
  return { name: v.name ?? '', elemType: tt?.elemType ?? 0, dims };
}

/** The tensor a `Constant` node produces (`value`, `value_float(s)`, `value_int(s)`), or null for string/sparse values. */
function constantNodeValue(n: OnnxNode): Omit<ConstTensor, 'name' | 'source'> | null {
  const a = n.attrs;
  const v = a['value'];
  if (v && typeof v === 'object' && !Array.isArray(v) && 'data' in v) return v;
  if (typeof a['value_float'] === 'number') return scalarTensor([a['value_float']], [], DT.FLOAT);
  if (typeof a['value_int'] === 'number') return scalarTensor([a['value_int']], [], DT.INT64);
  const fl = a['value_floats'];
  if (Array.isArray(fl) && fl.every((x) => typeof x === 'number')) return scalarTensor(fl as number[], [fl.length], DT.FLOAT);
  const il = a['value_ints'];
  if (Array.isArray(il) && il.every((x) => typeof x === 'number')) return scalarTensor(il as number[], [il.length], DT.INT64);
  return null;
}

function scalarTensor(values: number[], dims: number[], elemType: number): Omit<ConstTensor, 'name' | 'source'> {
  return {
    dims,
    elemType,
    data: Float32Array.from(values),
    ints: elemType === DT.FLOAT ? undefined : values.slice(),
  };
}

/** `AttributeProto` → plain JS value. Uses the declared type, or the populated field for untyped (old) attributes. */
function decodeAttr(a: OnnxNs.AttributeProto, where: string, label: string): AttrValue {
  let type = a.type as number;
  if (!type) {
    // IR < 3 attributes carry no type: infer from the populated field.
    if (a.t) type = ATTR.TENSOR;
    else if (a.g) type = ATTR.GRAPH;
    else if (a.floats.length) type = ATTR.FLOATS;
    else if (a.ints.length) type = ATTR.INTS;
    else if (a.strings.length) type = ATTR.STRINGS;
    else if (a.tensors.length) type = ATTR.TENSORS;
    else if (a.s && a.s.length) type = ATTR.STRING;
    else if (a.f) type = ATTR.FLOAT;
    else type = ATTR.INT;
  }
  switch (type) {
    case ATTR.FLOAT:
      return a.f;
    case ATTR.INT:
      return toNum(a.i as LongLike);
    case ATTR.STRING:
      return utf8.decode(a.s);
    case ATTR.TENSOR:
      return a.t ? decodeTensor(a.t, a.t.name || where, 'constant-node', label) : null;
    case ATTR.GRAPH:
      return { graph: a.g?.name ?? '' };
    case ATTR.FLOATS:
      return [...a.floats];
    case ATTR.INTS:
      return a.ints.map((x) => toNum(x as LongLike));
    case ATTR.STRINGS:
      return a.strings.map((s) => utf8.decode(s));
    case ATTR.TENSORS:
      return a.tensors.map((t, i) => decodeTensor(t, t.name || `${where}[${i}]`, 'constant-node', label));
    case ATTR.GRAPHS:
      return { graphs: a.graphs.map((g) => g.name ?? '') };
    default:
      // Sparse tensors and type protos: nothing in PIT's path reads them.
      return null;
  }
}

/**
 * `TensorProto` → `ConstTensor`. Reads the typed repeated fields (`float_data`, `int32_data`, `int64_data`,
 * `double_data`, `uint64_data`) or little-endian `raw_data`, per onnx.proto.
 *
 * @throws ModelError for external data (not supported) or a data length that does not match the dims
 */
export function decodeTensor(
  t: OnnxNs.ITensorProto,
  name: string,
  source: ConstTensor['source'],
  label = '<model>',
): ConstTensor {
  const dims = (t.dims ?? []).map((d) => toNum(d as LongLike));
  const count = dims.reduce((a, b) => a * b, 1);
  const elemType = t.dataType ?? 0;
  if (t.dataLocation === 1) {
    throw new ModelError(`${label}: tensor ${name} uses external data, which PIT Studio does not load`, { path: label });
  }
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : null;
  let data: Float32Array;
  let ints: number[] | undefined;

  if (raw) {
    // Copy: the decoded bytes are a view into the file buffer (a Node Buffer, whose slice() does not copy).
    const copy = new Uint8Array(raw.length);
    copy.set(raw);
    const dv = new DataView(copy.buffer);
    const need = (size: number): void => {
      if (raw.length !== count * size) {
        throw new ModelError(
          `${label}: tensor ${name} has ${raw.length} bytes of raw_data, expected ${count * size} for dims [${dims.join(', ')}]`,
          { path: label },
        );
      }
    };
    switch (elemType) {
      case DT.FLOAT:
        need(4);
        data = new Float32Array(count);
        for (let i = 0; i < count; i++) data[i] = dv.getFloat32(i * 4, true);
        break;
      case DT.DOUBLE:
        need(8);
        data = new Float32Array(count);
        for (let i = 0; i < count; i++) data[i] = dv.getFloat64(i * 8, true);
        break;
      case DT.FLOAT16:
        need(2);
        data = new Float32Array(count);
        for (let i = 0; i < count; i++) data[i] = halfToFloat(dv.getUint16(i * 2, true));
        break;
      case DT.INT64:
      case DT.UINT64:
        need(8);
        ints = new Array<number>(count);
        for (let i = 0; i < count; i++) {
          ints[i] = Number(elemType === DT.INT64 ? dv.getBigInt64(i * 8, true) : dv.getBigUint64(i * 8, true));
        }
        break;
      case DT.INT32:
      case DT.UINT32:
        need(4);
        ints = new Array<number>(count);
        for (let i = 0; i < count; i++) ints[i] = elemType === DT.INT32 ? dv.getInt32(i * 4, true) : dv.getUint32(i * 4, true);
        break;
      case DT.INT16:
      case DT.UINT16:
        need(2);
        ints = new Array<number>(count);
        for (let i = 0; i < count; i++) ints[i] = elemType === DT.INT16 ? dv.getInt16(i * 2, true) : dv.getUint16(i * 2, true);
        break;
      case DT.INT8:
      case DT.UINT8:
      case DT.BOOL:
        need(1);
        ints = new Array<number>(count);
        for (let i = 0; i < count; i++) ints[i] = elemType === DT.INT8 ? dv.getInt8(i) : dv.getUint8(i);
        break;
      default:
        ints = undefined;
        data = new Float32Array(0);
    }
  } else {
    switch (elemType) {
      case DT.FLOAT:
        data = Float32Array.from(t.floatData ?? []);
        break;
      case DT.DOUBLE:
        data = Float32Array.from(t.doubleData ?? []);
        break;
      case DT.FLOAT16:
        // float16 values are stored as their bit patterns in int32_data.
        data = Float32Array.from((t.int32Data ?? []).map((b) => halfToFloat(b & 0xffff)));
        break;
      case DT.INT64:
        ints = (t.int64Data ?? []).map((x) => toNum(x as LongLike));
        break;
      case DT.UINT64:
      case DT.UINT32:
        ints = (t.uint64Data ?? []).map((x) => toNum(x as LongLike));
        break;
      case DT.INT32:
      case DT.INT16:
      case DT.UINT16:
      case DT.INT8:
      case DT.UINT8:
      case DT.BOOL:
        ints = [...(t.int32Data ?? [])];
        break;
      default:
        data = new Float32Array(0);
    }
  }
  if (ints) data = Float32Array.from(ints);
  data ??= new Float32Array(0);
  if (elemType !== DT.STRING && data.length !== count && !(data.length === 0 && count === 0)) {
    // An empty tensor of non-empty dims is malformed; anything else of the wrong length too.
    throw new ModelError(`${label}: tensor ${name} holds ${data.length} values, expected ${count} for dims [${dims.join(', ')}]`, {
      path: label,
    });
  }
  return { name, dims, elemType, data, ints, source };
}

