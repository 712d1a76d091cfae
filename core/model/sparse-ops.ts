/**
 * Discovery of sparse-capable operators (DESIGN.md §5 step 1): MatMul, Gemm, Conv and ConvTranspose, in graph order,
 * each with whether PIT Studio can lower it to a matmul and how. Every lowerable op has an activation operand A —
 * the dynamically sparse operand PIT exploits (ReLU / hard-swish zeros, attention probabilities, zero-inserted
 * ConvTranspose inputs). The lowerings themselves are in `lowering.ts` (2-D) and `batched.ts` (batched).
 *
 * Operators inside subgraphs that were not inlined (`If` whose condition was not decided, `Loop` and `Scan` bodies)
 * are listed too, as unsupported entries naming the subgraph and why, so a run says what it did not profile.
 *
 * Follows the ONNX operator specs (onnx/docs/Operators.md): Conv and ConvTranspose (opset 1/11/22), Gemm (opset
 * 11/13), MatMul (opset 13, numpy broadcasting), If / Loop / Scan (opset 16).
 */
import type { onnx as OnnxNs } from 'onnx-proto';
import type { ConstTensor, OnnxModel, OnnxNode } from './ir.ts';
import { formatDims } from './ir.ts';

/** The operator types PIT Studio lowers to a matmul. */
export type SparseOpKind = 'MatMul' | 'Gemm' | 'Conv' | 'ConvTranspose';

/** ONNX Conv `auto_pad` values. */
export type AutoPad = 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';

/**
 * Attributes of a Conv or ConvTranspose with d spatial dims, ONNX defaults filled in when d is known (from
 * `kernel_shape` or a constant weight); per-axis arrays are empty when d is only known once shapes are captured.
 */
export interface ConvAttrs {
  /** Kernel spatial size from `kernel_shape`, or from the constant weight's dims; null when neither is known. */
  kernel: number[] | null;
  /** Per spatial axis; default 1s. */
  strides: number[];
  /** [begin_1…begin_d, end_1…end_d] (ONNX order: all begins, then all ends); default zeros; ignored unless autoPad is NOTSET. */
  pads: number[];
  /** Per spatial axis; default 1s. */
  dilations: number[];
  group: number;
  autoPad: AutoPad;
  /** ConvTranspose `output_padding` (extra output at the end of each axis); absent for Conv. */
  outputPadding?: number[];
  /** ConvTranspose `output_shape` (spatial output size; the pads are then derived from it); absent when not given. */
  outputShape?: number[];
}

/** Attributes of a Gemm, defaults filled in: Y = alpha·op(A)·op(B) + beta·C. */
export interface GemmAttrs {
  transA: boolean;
  transB: boolean;
  alpha: number;
  beta: number;
}

/** A sparse-capable operator found in the graph. */
export interface SparseOp {
  /** Position among the sparse-capable operators of the graph (0-based, graph order); the layer index of a run. */
  index: number;
  /** Position of the node in the graph (`OnnxNode.index`); for an op inside a subgraph, that of the top-level node holding it. */
  nodeIndex: number;
  /** Node name (synthesized `op_index` when the file has none); inside a subgraph, `PARENT/ATTR/NAME`. */
  name: string;
  op: SparseOpKind;
  /**
   * Whether PIT Studio can lower it (to a 2-D matmul, `lowering.ts`, or a batched one, `batched.ts`) and so captures
   * its tensors. Some limits are only known once shapes are captured: see `lowering.ts` `loweringOf`.
   */
  supported: boolean;
  /** Why not, when `supported` is false (e.g. `in subgraph Loop_3/body: …`). */
  reason?: string;
  /** The subgraph holding the op (`PARENT/ATTR`, nested ones joined with `/`), when it is not in the main graph. */
  subgraph?: string;
  /** The activation operand A: Conv X, MatMul A, Gemm A. */
  inputName: string;
  /** The B operand: Conv W, MatMul B, Gemm B. */
  weightName: string;
  /** Conv B / Gemm C, when present. */
  biasName?: string;
  outputName: string;
  /** Whether B is a constant (initializer or Constant node); otherwise the reference run captures it. */
  weightConstant: boolean;
  /** Whether the bias is a constant (false when absent). */
  biasConstant: boolean;
  /** Dims of B when it is a constant. */
  weightDims?: number[];
  /** Conv and ConvTranspose attributes. */
  conv?: ConvAttrs;
  gemm?: GemmAttrs;
}

const SPARSE_KINDS: ReadonlySet<string> = new Set<SparseOpKind>(['MatMul', 'Gemm', 'Conv', 'ConvTranspose']);

/** Control-flow operators whose bodies are subgraphs. */
const CONTROL_FLOW: ReadonlySet<string> = new Set(['If', 'Loop', 'Scan']);

function isDefaultDomain(domain: string | null | undefined): boolean {
  return !domain || domain === 'ai.onnx';
}

/**
 * Finds MatMul, Gemm, Conv and ConvTranspose nodes (default ONNX domain) in graph order and decides which can be
 * lowered. Ops inside the subgraphs of If / Loop / Scan nodes follow their parent node, unsupported, with a reason
 * naming the subgraph (see `model.subgraphNotes` for Ifs the branch inliner could not decide).
 *
 * Unsupported, with a reason: Conv / ConvTranspose whose weight has not 1–3 spatial dims, Gemm whose constant B is
 * not 2-D or whose constant C is not a row bias ([N], [1, N] or a scalar), ops whose activation operand is itself a
 * constant (nothing dynamic to exploit), ops inside subgraphs. Grouped / depthwise convs, Conv1d / Conv3d,
 * ConvTranspose and batched MatMuls (rank ≥ 3 with broadcasting, either operand an activation) are supported: they
 * lower to (batched) matmuls.
 *
 * @param model imported model (`importOnnx`), possibly with taken `If` branches inlined (`branches.ts`)
 * @returns the ops, `index` numbering them 0… in graph order; never throws
 */
export function findSparseOps(model: OnnxModel): SparseOp[] {
  const ops: SparseOp[] = [];
  const graph = (model.proto as OnnxNs.IModelProto | undefined)?.graph;
  for (const node of model.nodes) {
    if (SPARSE_KINDS.has(node.opType) && isDefaultDomain(node.domain)) {
      ops.push(describe(node, ops.length, model));
    } else if (CONTROL_FLOW.has(node.opType) && isDefaultDomain(node.domain) && graph?.node?.[node.index]) {
      for (const inner of subgraphSparseNodes(graph.node[node.index]!, node.name, node.index)) {
        ops.push(innerOp(inner, ops.length, node, model));
      }
    }
  }
  return ops;
}

/** A sparse-capable node found inside a subgraph. */
interface InnerNode {
  /** `PARENT/ATTR` path of the innermost subgraph holding it. */
  subgraph: string;
  /** The top-level control-flow node's op type and name, and the attribute (branch / body) at the top level. */
  topOp: string;
  topAttr: string;
  node: OnnxNs.INodeProto;
  position: number;
}

/** Sparse-capable nodes in the subgraphs of control-flow node `n` (recursively), in graph order. */
function subgraphSparseNodes(n: OnnxNs.INodeProto, path: string, position: number, top?: { op: string; attr: string }): InnerNode[] {
  const out: InnerNode[] = [];
  for (const a of n.attribute ?? []) {
    const graphs = a.g ? [a.g] : (a.graphs ?? []);
    for (const g of graphs) {
      const sub = `${path}/${a.name}`;
      const t = top ?? { op: n.opType ?? '', attr: a.name ?? '' };
      (g.node ?? []).forEach((inner, i) => {
        const name = inner.name || `${inner.opType}_${i}`;
        if (SPARSE_KINDS.has(inner.opType ?? '') && isDefaultDomain(inner.domain)) {
          out.push({ subgraph: sub, topOp: t.op, topAttr: t.attr, node: inner, position });
        }
        if ((inner.attribute ?? []).some((x) => x.g || (x.graphs && x.graphs.length))) {
          out.push(...subgraphSparseNodes(inner, `${sub}/${name}`, position, t));
        }
      });
    }
  }
  return out;
}

/** Why a subgraph of control-flow node `parent` is not profiled. */
function subgraphReason(inner: InnerNode, parent: OnnxNode, model: OnnxModel): string {
  const note = model.subgraphNotes?.get(parent.name);
  if (inner.topOp === 'If') {
    return `in subgraph ${inner.subgraph}: If branches are profiled only when inlined${note ? `; not inlined: ${note}` : ' (condition decided by the inputs or constants)'}`;
  }
  const why = inner.topOp === 'Loop' ? 'a Loop body runs once per iteration with loop-carried values' : 'a Scan body runs once per scanned slice';
  return `in subgraph ${inner.subgraph}: ${why}; subgraph bodies are not profiled${note ? ` (${note})` : ''}`;
}

/** An op inside a subgraph → an unsupported SparseOp naming the subgraph. */
function innerOp(inner: InnerNode, index: number, parent: OnnxNode, model: OnnxModel): SparseOp {
  const n = inner.node;
  const name = `${inner.subgraph}/${n.name || n.opType}`;
  const inputs = n.input ?? [];
  return {
    index,
    nodeIndex: inner.position,
    name,
    op: n.opType as SparseOpKind,
    supported: false,
    reason: subgraphReason(inner, parent, model),
    subgraph: inner.subgraph,
    inputName: inputs[0] ?? '',
    weightName: inputs[1] ?? '',
    biasName: inputs[2] ? inputs[2] : undefined,
    outputName: n.output?.[0] ?? '',
    weightConstant: false,
    biasConstant: false,
  };
}

/** One node → SparseOp. */
function describe(node: OnnxNode, index: number, model: OnnxModel): SparseOp {
  const constants = model.constants;
  const op = node.opType as SparseOpKind;
  const inputName = node.inputs[0] ?? '';
  const weightName = node.inputs[1] ?? '';
  const biasName = node.inputs[2] ? node.inputs[2] : undefined;
  const w = constants.get(weightName);
  const base: SparseOp = {
    index,
    nodeIndex: node.index,
    name: node.name,
    op,
    supported: true,
    inputName,
    weightName,
    biasName,
    outputName: node.outputs[0] ?? '',
    weightConstant: w !== undefined,
    biasConstant: biasName !== undefined && constants.has(biasName),
    weightDims: w?.dims.slice(),
  };
  const unsupported = (reason: string): SparseOp => ({ ...base, supported: false, reason });

  if (op === 'Conv' || op === 'ConvTranspose') {
    const conv = convAttrs(node, w);
    base.conv = conv;
    const spatial = w ? w.dims.length - 2 : conv.kernel ? conv.kernel.length : null;
    if (spatial !== null && (spatial < 1 || spatial > 3)) {
      return unsupported(`${op} with ${spatial} spatial dims (1-D, 2-D and 3-D are lowered)`);
    }
  } else if (op === 'Gemm') {
    const a = node.attrs;
    base.gemm = {
      transA: num(a['transA'], 0) !== 0,
      transB: num(a['transB'], 0) !== 0,
      alpha: num(a['alpha'], 1),
      beta: num(a['beta'], 1),
    };
    const c = biasName ? constants.get(biasName) : undefined;
    if (w && w.dims.length !== 2) return unsupported(`Gemm B is ${formatDims(w.dims)}, expected 2-D`);
    if (c && w) {
      const n = base.gemm.transB ? w.dims[0] : w.dims[1];
      const reason = gemmBiasProblem(c.dims, n);
      if (reason) return unsupported(reason);
    }
  }
  if (constants.has(inputName)) return unsupported('the activation operand is a constant (nothing dynamic to exploit)');
  return base;
}

/**
 * Why a Gemm C of dims `cDims` cannot be folded into a row bias [N], or null when it can
 * (scalar, [1], [N], [1, N]: ONNX unidirectional broadcast along rows).
 */
export function gemmBiasProblem(cDims: readonly number[], n: number): string | null {
  const numel = cDims.reduce((p, d) => p * d, 1);
  const rowBias = numel === 1 || (numel === n && cDims[cDims.length - 1] === n);
  return rowBias ? null : `Gemm C is ${formatDims(cDims)}, not a row bias [${n}]`;
}

/**
 * Conv / ConvTranspose attributes with ONNX defaults; the kernel from `kernel_shape` or the constant weight
 * (Conv [Cout, Cin/G, *k], ConvTranspose [Cin, Cout/G, *k]).
 */
function convAttrs(node: OnnxNode, w: ConstTensor | undefined): ConvAttrs {
  const a = node.attrs;
  const ints = (v: AttrValue2): number[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : undefined);
  const ks = ints(a['kernel_shape']);
  const kernel = ks && ks.length > 0 ? ks.slice() : w && w.dims.length >= 3 ? w.dims.slice(2) : null;
  const d = kernel?.length ?? ints(a['strides'])?.length ?? ints(a['dilations'])?.length ?? 0;
  const perAxis = (v: AttrValue2, len: number, dflt: number): number[] => {
    const arr = ints(v);
    return arr && arr.length === len ? arr.slice() : new Array<number>(len).fill(dflt);
  };
  const autoPadRaw = typeof a['auto_pad'] === 'string' ? (a['auto_pad'] as string) : 'NOTSET';
  const autoPad: AutoPad = (['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'] as const).includes(autoPadRaw as AutoPad)
    ? (autoPadRaw as AutoPad)
    : 'NOTSET';
  const attrs: ConvAttrs = {
    kernel,
    strides: perAxis(a['strides'], d, 1),
    pads: perAxis(a['pads'], 2 * d, 0),
    dilations: perAxis(a['dilations'], d, 1),
    group: num(a['group'], 1),
    autoPad,
  };
  if (node.opType === 'ConvTranspose') {
    attrs.outputPadding = perAxis(a['output_padding'], d, 0);
    const shape = ints(a['output_shape']);
    if (shape && shape.length) attrs.outputShape = shape.slice();
  }
  return attrs;
}

type AttrValue2 = OnnxNode['attrs'][string] | undefined;

function num(v: AttrValue2, d: number): number {
  return typeof v === 'number' ? v : d;
}

/**
 * The one-line message for a model in which no operator can be profiled: how many nodes the main graph has, the first
 * unsupported op and its reason, and — because the operators may sit in subgraphs — which control-flow nodes hold
 * subgraphs and what is in them.
 *
 * @param ops `findSparseOps(model)`
 */
export function noSupportedOperatorMessage(model: OnnxModel, ops: readonly SparseOp[]): string {
  const parts = [`${model.path}: no supported operator (MatMul, Gemm, Conv or ConvTranspose) among ${model.nodes.length} nodes of the main graph`];
  // Ops inside subgraphs are summed up per control-flow node below; name a main-graph one here.
  const first = ops.find((o) => !o.subgraph);
  if (first) parts.push(`${ops.length} unsupported, e.g. ${first.name}: ${first.reason}`);
  const graph = (model.proto as OnnxNs.IModelProto | undefined)?.graph;
  const holders = model.nodes.filter((n) => CONTROL_FLOW.has(n.opType));
  if (holders.length) {
    const described = holders.map((n) => {
      const proto = graph?.node?.[n.index];
      const inner = proto ? subgraphSparseNodes(proto, n.name, n.index) : [];
      const attrs = (proto?.attribute ?? []).filter((x) => x.g || (x.graphs && x.graphs.length)).map((x) => x.name);
      const note = model.subgraphNotes?.get(n.name);
      return `${n.opType} ${n.name} (${attrs.join(', ')}: ${inner.length} sparse-capable op${inner.length === 1 ? '' : 's'}${note ? `; ${note}` : ''})`;
    });
    parts.push(`subgraphs are not profiled unless an If is inlined: ${described.join(', ')}`);
  } else {
    parts.push('the model has no subgraphs (If / Loop / Scan) either');
  }
  return parts.join('; ');
}
