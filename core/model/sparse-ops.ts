/**
 * Discovery of sparse-capable operators (DESIGN.md §5 step 1): MatMul, Gemm and Conv, in graph order, each with
 * whether PIT Studio can profile it and how it lowers to C[M,N] = A[M,K]·B[K,N] with A the activation — the
 * dynamically sparse operand PIT exploits (ReLU / hard-swish zeros). The lowering itself is in `lowering.ts`.
 *
 * Follows the ONNX operator specs (onnx/docs/Operators.md): Conv (opset 1/11), Gemm (opset 11/13), MatMul (opset 13).
 */
import type { ConstTensor, Dim, OnnxModel, OnnxNode } from './ir.ts';
import { formatDims } from './ir.ts';

/** The operator types PIT Studio lowers to a matmul. */
export type SparseOpKind = 'MatMul' | 'Gemm' | 'Conv';

/** ONNX Conv `auto_pad` values. */
export type AutoPad = 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';

/** Attributes of a 2-D Conv, defaults filled in per the ONNX spec. */
export interface ConvAttrs {
  /** [kh, kw] from `kernel_shape`, or from the constant weight's dims; null when neither is known. */
  kernel: [number, number] | null;
  /** [sh, sw]; default [1, 1]. */
  strides: [number, number];
  /** [top, left, bottom, right] (ONNX order: all begins, then all ends); default zeros; ignored unless autoPad is NOTSET. */
  pads: [number, number, number, number];
  /** [dh, dw]; default [1, 1]. */
  dilations: [number, number];
  group: number;
  autoPad: AutoPad;
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
  /** Position of the node in the graph (`OnnxNode.index`). */
  nodeIndex: number;
  /** Node name (synthesized `op_index` when the file has none). */
  name: string;
  op: SparseOpKind;
  /** Whether PIT Studio profiles it. Some limits (batched B of an activation MatMul) are only known once shapes are captured: see `lowering.ts` `checkLowerable`. */
  supported: boolean;
  /** Why not, when `supported` is false (e.g. `grouped conv (group=16)`). */
  reason?: string;
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
  conv?: ConvAttrs;
  gemm?: GemmAttrs;
}

const SPARSE_KINDS: ReadonlySet<string> = new Set<SparseOpKind>(['MatMul', 'Gemm', 'Conv']);

/**
 * Finds MatMul, Gemm and Conv nodes (default ONNX domain) in graph order and decides which can be profiled.
 *
 * Unsupported, with a reason: grouped/depthwise Conv (`grouped conv (group=G)`), Conv that is not 2-D, MatMul whose
 * B is batched (a constant with a leading dim > 1, or an activation whose rank is known statically — `value_info`
 * or a producing Transpose — to exceed 2; other activation B are checked once shapes are captured, see
 * `lowering.ts` `checkLowerable`),
 * Gemm whose constant C is not a row bias ([N], [1, N] or a scalar), ops whose activation operand is itself a
 * constant (nothing dynamic to exploit).
 *
 * @param model imported model (`importOnnx`)
 * @returns the ops, `index` numbering them 0… in graph order; never throws
 */
export function findSparseOps(model: OnnxModel): SparseOp[] {
  const ops: SparseOp[] = [];
  const producers = new Map<string, OnnxNode>();
  for (const n of model.nodes) for (const o of n.outputs) producers.set(o, n);
  for (const node of model.nodes) {
    if (!SPARSE_KINDS.has(node.opType) || (node.domain !== '' && node.domain !== 'ai.onnx')) continue;
    ops.push(describe(node, ops.length, model, producers));
  }
  return ops;
}

/**
 * Static dims (or just the rank, as -1s) of a non-constant value: from `value_info` when the file declares it,
 * else from a producing Transpose's `perm`; null when unknown. Enough to spot attention-style batched MatMuls
 * (Q·Kᵀ after a 4-D transpose) before any run.
 */
function staticDims(name: string, model: OnnxModel, producers: Map<string, OnnxNode>): Dim[] | null {
  const vi = model.valueInfo.get(name);
  if (vi?.dims) return vi.dims;
  const p = producers.get(name);
  const perm = p?.opType === 'Transpose' ? p.attrs['perm'] : undefined;
  if (Array.isArray(perm) && perm.length > 0) return perm.map(() => -1);
  return null;
}

/** One node → SparseOp. */
function describe(node: OnnxNode, index: number, model: OnnxModel, producers: Map<string, OnnxNode>): SparseOp {
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

  if (op === 'Conv') {
    const conv = convAttrs(node, w);
    base.conv = conv;
    if (conv.group !== 1) return unsupported(`grouped conv (group=${conv.group})`);
    const spatial = w ? w.dims.length - 2 : ((node.attrs['kernel_shape'] as number[] | undefined)?.length ?? 2);
    if (spatial !== 2) return unsupported(`Conv with ${spatial} spatial dims (only 2-D Conv is lowered)`);
    if (!conv.kernel) return unsupported('Conv kernel shape unknown (no kernel_shape and the weight is not a constant)');
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
  } else {
    if (w && w.dims.length > 2 && w.dims.slice(0, -2).some((d) => d !== 1)) {
      return unsupported(`batched MatMul (B is ${formatDims(w.dims)})`);
    }
    if (!w) {
      const dims = staticDims(weightName, model, producers);
      // Leading dims must be known to be 1 for B to flatten; a symbolic or unknown leading dim counts as batched.
      if (dims && dims.length > 2 && dims.slice(0, -2).some((d) => d !== 1)) {
        return unsupported(`batched MatMul (B is a rank-${dims.length} activation ${formatDims(dims)})`);
      }
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

/** Conv attributes with ONNX defaults; kernel from `kernel_shape` or the constant weight [Cout, Cin/group, kh, kw]. */
function convAttrs(node: OnnxNode, w: ConstTensor | undefined): ConvAttrs {
  const a = node.attrs;
  const ks = a['kernel_shape'] as number[] | undefined;
  const kernel: [number, number] | null =
    ks && ks.length === 2 ? [ks[0], ks[1]] : w && w.dims.length === 4 ? [w.dims[2], w.dims[3]] : null;
  const pair = (v: AttrValue2, d: number): [number, number] => {
    const arr = Array.isArray(v) ? (v as number[]) : [];
    return [arr[0] ?? d, arr[1] ?? d];
  };
  const pads = Array.isArray(a['pads']) ? (a['pads'] as number[]) : [];
  const autoPadRaw = typeof a['auto_pad'] === 'string' ? (a['auto_pad'] as string) : 'NOTSET';
  const autoPad: AutoPad = (['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'] as const).includes(autoPadRaw as AutoPad)
    ? (autoPadRaw as AutoPad)
    : 'NOTSET';
  return {
    kernel,
    strides: pair(a['strides'], 1),
    pads: [pads[0] ?? 0, pads[1] ?? 0, pads[2] ?? 0, pads[3] ?? 0],
    dilations: pair(a['dilations'], 1),
    group: num(a['group'], 1),
    autoPad,
  };
}

type AttrValue2 = OnnxNode['attrs'][string] | undefined;

function num(v: AttrValue2, d: number): number {
  return typeof v === 'number' ? v : d;
}
