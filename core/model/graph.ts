/**
 * The operator graph of an imported model, as the Graph view shows it (issue 13): one node per operator plus the
 * graph's inputs and outputs, edges along the values between them, the profiled layers marked. Works on the graph IR
 * (`ir.ts`), not on a file format: whatever importer produced the IR, this is the one place that turns it into a graph.
 *
 * Constant-producing nodes (ONNX `Constant`, how paddle2onnx stores every weight) are folded into their consumers, as
 * Netron does with initializers: they would otherwise double the node count with boxes that carry no computation.
 */
import type { ModelGraph, ModelGraphEdge, ModelGraphNode } from '../protocol.ts';
import type { AttrValue, ConstTensor, OnnxModel } from './ir.ts';
import { elemTypeName, formatDims } from './ir.ts';
import type { SparseOp } from './sparse-ops.ts';

/** Longest attribute line kept (a long list is cut with `…`). */
const MAX_ATTR_CHARS = 120;

/**
 * The graph of `model` with `ops` (its sparse-capable operators, `findSparseOps`) marked as layers.
 * Node ids: `n<index>` for operators, `in:<name>` / `out:<name>` for graph inputs and outputs.
 */
export function modelGraph(model: OnnxModel, ops: readonly SparseOp[]): Omit<ModelGraph, 'model' | 'warning'> {
  const byNode = new Map(ops.map((o) => [o.nodeIndex, o]));
  const folded = new Set(model.nodes.filter((n) => n.opType === 'Constant' && n.inputs.every((i) => !i)).map((n) => n.index));
  const producer = new Map<string, string>();
  const nodes: ModelGraphNode[] = [];
  for (const v of model.inputs) {
    const id = `in:${v.name}`;
    producer.set(v.name, id);
    nodes.push({ id, name: v.name, op: 'input', kind: 'input', attrs: { type: `${elemTypeName(v.elemType)} ${formatDims(v.dims)}` }, constants: [] });
  }
  const edges: ModelGraphEdge[] = [];
  for (const n of model.nodes) {
    if (folded.has(n.index)) continue;
    const id = `n${n.index}`;
    const constants: ModelGraphNode['constants'] = [];
    for (const input of n.inputs) {
      if (!input) continue;
      const c = model.constants.get(input);
      if (c) constants.push({ name: input, dims: c.dims.slice() });
      else if (producer.has(input)) edges.push({ from: producer.get(input)!, to: id, value: input });
    }
    const node: ModelGraphNode = { id, name: n.name, op: n.opType, kind: 'op', attrs: formatAttrs(n.attrs), constants };
    const op = byNode.get(n.index);
    if (op) {
      node.layer = op.index;
      if (!op.supported && op.reason) node.unsupported = op.reason;
    }
    nodes.push(node);
    for (const o of n.outputs) if (o) producer.set(o, id);
  }
  for (const v of model.outputs) {
    const id = `out:${v.name}`;
    nodes.push({ id, name: v.name, op: 'output', kind: 'output', attrs: { type: `${elemTypeName(v.elemType)} ${formatDims(v.dims)}` }, constants: [] });
    const from = producer.get(v.name);
    if (from) edges.push({ from, to: id, value: v.name });
  }
  return { nodes, edges, foldedConstants: folded.size };
}

/** Attributes as one short line each. */
export function formatAttrs(attrs: Record<string, AttrValue>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) {
    const s = formatAttr(v);
    out[k] = s.length > MAX_ATTR_CHARS ? `${s.slice(0, MAX_ATTR_CHARS - 1)}…` : s;
  }
  return out;
}

function formatAttr(v: AttrValue): string {
  if (v === null) return 'null';
  // Float attributes are float32 in ONNX: 7 significant digits say all they hold.
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(7)));
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) {
    if (v.length && typeof v[0] === 'object') return `[${(v as ConstTensor[]).map(tensorLine).join(', ')}]`;
    return `[${(v as (number | string)[]).map((x) => (typeof x === 'number' ? formatAttr(x) : JSON.stringify(x))).join(', ')}]`;
  }
  if ('graph' in v) return `graph ${v.graph}`;
  if ('graphs' in v) return `graphs ${v.graphs.join(', ')}`;
  return tensorLine(v);
}

function tensorLine(t: ConstTensor): string {
  const small = t.data.length <= 8 ? ` = [${Array.from(t.ints ?? t.data, (x) => Number(x.toPrecision(6))).join(', ')}]` : '';
  return `tensor ${elemTypeName(t.elemType)} ${formatDims(t.dims)}${small}`;
}
