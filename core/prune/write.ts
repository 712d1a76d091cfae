/**
 * Writes a pruned model: the input model's `ModelProto` with some float32 weights replaced (initializers or the
 * `value` tensor of `Constant` nodes) and one `metadata_props` entry added; every other byte of meaning (graph,
 * names, attributes, opsets, other tensors) is carried over. The imported model is not modified: replaced messages
 * are shallow copies.
 */
import type { onnx as OnnxNs } from 'onnx-proto';
import type { OnnxModel } from '../model/ir.ts';
import { modelProto, onnx } from '../model/onnx-import.ts';

/**
 * Encodes the model with new weight values.
 *
 * @param weights new float32 values by value name, in the tensor's own layout and length
 * @param metadata `metadata_props` entries to set (replacing entries with the same key)
 * @returns the serialized `ModelProto`
 * @throws Error when a weight name is neither an initializer nor a `Constant` node output, or a length differs
 */
export function encodePrunedModel(model: OnnxModel, weights: ReadonlyMap<string, Float32Array>, metadata: Record<string, string>): Uint8Array {
  const proto = modelProto(model);
  // Decoded messages are class instances: repeated fields are arrays and strings '' when unset.
  const graph = proto.graph as OnnxNs.GraphProto;
  const done = new Set<string>();
  const replace = (t: OnnxNs.ITensorProto, name: string): OnnxNs.TensorProto => {
    const values = weights.get(name)!;
    const count = (t.dims ?? []).reduce<number>((a, d) => a * Number(d), 1);
    if (values.length !== count) throw new Error(`weight ${name}: ${values.length} values for a tensor of ${count}`);
    done.add(name);
    // raw_data, little-endian float32: exact values, and the typed field is cleared so only one holds data.
    const raw = new Uint8Array(values.length * 4);
    const dv = new DataView(raw.buffer);
    for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i], true);
    return onnx.TensorProto.create({ ...t, floatData: [], rawData: raw });
  };
  const initializer = (graph.initializer as OnnxNs.TensorProto[]).map((t) => (weights.has(t.name) ? replace(t, t.name) : t));
  const node = (graph.node as OnnxNs.NodeProto[]).map((n) => {
    const out = n.output[0];
    if (n.opType !== 'Constant' || !out || !weights.has(out)) return n;
    const attribute = n.attribute.map((a) => (a.name === 'value' && a.t ? onnx.AttributeProto.create({ ...a, t: replace(a.t, out) }) : a));
    return onnx.NodeProto.create({ ...n, attribute });
  });
  const missing = [...weights.keys()].filter((k) => !done.has(k));
  if (missing.length) throw new Error(`weights not found in the model: ${missing.join(', ')}`);
  const props = (proto.metadataProps as OnnxNs.StringStringEntryProto[]).filter((p) => !(p.key in metadata));
  for (const [key, value] of Object.entries(metadata)) props.push(onnx.StringStringEntryProto.create({ key, value }));
  const out = onnx.ModelProto.create({ ...proto, graph: onnx.GraphProto.create({ ...graph, initializer, node }), metadataProps: props });
  return onnx.ModelProto.encode(out).finish();
}
