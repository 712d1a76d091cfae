/**
 * Which layers of a model carry a prunable weight, and that weight as the matmul operand W [K, N]: MatMul B [K, N],
 * Gemm B [K, N] (or [N, K] with transB), Conv W [Cout, Cin, kh, kw] read as its matrix [Cout, Cin·kh·kw] = Wᵀ with
 * K ordered (ci, i, j) like `core/model/lowering.ts` im2col. The weight may be an initializer or a `Constant` node
 * (PaddleOCR's paddle2onnx export).
 */
import type { OnnxModel } from '../model/ir.ts';
import { elemTypeName, formatDims } from '../model/ir.ts';
import { findSparseOps, type SparseOp } from '../model/sparse-ops.ts';

/** How the ONNX tensor maps to W [K, N]: `kn` is W itself, `nk` is Wᵀ (Conv, Gemm with transB). */
export type WeightLayout = 'kn' | 'nk';

/** A layer whose constant weight can be pruned. */
export interface PrunableLayer {
  op: SparseOp;
  /** Node name. */
  name: string;
  /** The weight's value name (initializer or Constant node output). */
  weightName: string;
  layout: WeightLayout;
  /** W [K, N]: K reduction (Conv Cin·kh·kw), N output channels. */
  k: number;
  n: number;
  /** Conv kernel [kh, kw]; absent for MatMul/Gemm. */
  kernel?: [number, number];
  /** W [K, N] row-major float32 (a copy; the model's constant is left as it is). */
  w: Float32Array;
}

/** A sparse-capable layer that is not pruned, and why. */
export interface SkippedLayer {
  name: string;
  op: string;
  reason: string;
}

/** ONNX element type of float32 tensors. */
const FLOAT = 1;

/**
 * Finds the prunable layers of a model, in graph order.
 *
 * Skipped, with the reason: what `findSparseOps` does not support (grouped and depthwise Conv among them: their
 * weight is a separate [Cout/g, Cin/g·kh·kw] matrix per group, which no kernel family here computes, and depthwise
 * weights have K = kh·kw only), a B that is an activation rather than a weight, a weight that is not float32, and a
 * weight read by more than one node (pruning it for one would change the others).
 *
 * @returns prunable layers and skipped layers; never throws
 */
export function findPrunableLayers(model: OnnxModel): { layers: PrunableLayer[]; skipped: SkippedLayer[] } {
  const uses = new Map<string, number>();
  for (const node of model.nodes) for (const i of node.inputs) if (i) uses.set(i, (uses.get(i) ?? 0) + 1);
  const layers: PrunableLayer[] = [];
  const skipped: SkippedLayer[] = [];
  for (const op of findSparseOps(model)) {
    const skip = (reason: string) => skipped.push({ name: op.name, op: op.op, reason });
    if (op.conv && op.conv.group !== 1) {
      skip(`grouped conv (group=${op.conv.group}): a grouped/depthwise weight is one small matrix per group, not pruned`);
      continue;
    }
    if (op.op === 'ConvTranspose') {
      skip('ConvTranspose: its weight is applied transposed, not pruned');
      continue;
    }
    if (!op.supported) {
      skip(op.reason ?? 'unsupported');
      continue;
    }
    const w = model.constants.get(op.weightName);
    if (!w) {
      skip('B is an activation, not a weight');
      continue;
    }
    if (w.elemType !== FLOAT) {
      skip(`weight ${op.weightName} is ${elemTypeName(w.elemType)}; only float32 weights are pruned`);
      continue;
    }
    if ((uses.get(op.weightName) ?? 0) > 1) {
      skip(`weight ${op.weightName} is read by ${uses.get(op.weightName)} nodes`);
      continue;
    }
    const d = w.dims;
    let k: number, n: number, layout: WeightLayout, kernel: [number, number] | undefined;
    if (op.op === 'Conv') {
      [n, k, layout, kernel] = [d[0], d[1] * d[2] * d[3], 'nk', [d[2], d[3]]];
    } else if (op.op === 'Gemm') {
      [k, n, layout] = op.gemm!.transB ? [d[1], d[0], 'nk'] : [d[0], d[1], 'kn'];
    } else if (d.length === 1) {
      [k, n, layout] = [d[0], 1, 'kn'];
    } else {
      [k, n, layout] = [d[d.length - 2], d[d.length - 1], 'kn'];
    }
    if (k * n !== w.data.length || k === 0 || n === 0) {
      skip(`weight ${formatDims(d)} does not read as a matrix`);
      continue;
    }
    const m = new Float32Array(k * n);
    if (layout === 'kn') m.set(w.data);
    else for (let c = 0; c < n; c++) for (let r = 0; r < k; r++) m[r * n + c] = w.data[c * k + r];
    layers.push({ op, name: op.name, weightName: op.weightName, layout, k, n, kernel, w: m });
  }
  return { layers, skipped };
}

/**
 * Applies a mask to a layer's weight in its ONNX layout.
 *
 * @param original the weight's values in the ONNX tensor's own layout (row-major)
 * @param mask W [K, N] row-major, 0 = prune
 * @returns a new array in the ONNX layout with pruned entries set to 0 and kept entries bit-identical
 */
export function maskedWeight(original: Float32Array, layer: Pick<PrunableLayer, 'layout' | 'k' | 'n'>, mask: Uint8Array): Float32Array {
  const out = Float32Array.from(original);
  const { k, n } = layer;
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < n; c++) {
      if (mask[r * n + c]) continue;
      out[layer.layout === 'kn' ? r * n + c : c * k + r] = 0;
    }
  }
  return out;
}
