/**
 * Lowering of a captured sparse op to a plain matmul C[M,N] = alpha·A[M,K]·B[K,N] + bias[N], all float32 row-major,
 * with A the activation operand (the one PIT exploits) and the reference output rearranged to [M, N].
 *
 * - Conv (ONNX Conv, group = 1, 2-D, NCHW): A = im2col(X) [batch·Ho·Wo, Cin·kh·kw] with rows ordered (n, oh, ow)
 *   and columns (ci, i, j); B = W reshaped [Cout, Cin·kh·kw] and transposed to [K, Cout]; bias = B input [Cout];
 *   expected = Y [N, Cout, Ho, Wo] transposed to [N·Ho·Wo, Cout]. A 1x1 / stride 1 / no-pad conv needs only the
 *   NCHW → [N·H·W, C] transpose.
 * - MatMul (ONNX MatMul, numpy semantics): A [..., M', K] flattened to [prod(...)·M', K] (1-D A is one row);
 *   B [K, N] (1-D B is [K, 1]; leading dims of 1 are dropped); expected = Y flattened to [M, N].
 * - Gemm: A = transA ? Aᵀ : A, B = transB ? Bᵀ : B; alpha scales the product; bias = beta·C when C is a row bias.
 */
import { transpose } from '../kernels/reference.ts';
import { ModelError } from './errors.ts';
import type { ConstTensor, NamedTensor, OnnxModel, TensorData } from './ir.ts';
import { formatDims, numel } from './ir.ts';
import type { CapturedOp, ReferenceCapture } from './reference.ts';
import type { ConvAttrs, SparseOp } from './sparse-ops.ts';
import { gemmBiasProblem } from './sparse-ops.ts';

/**
 * A layer as a matmul problem. All arrays are float32, row-major. They may alias the captured tensors or the model
 * constants (MatMul A, untransposed B): treat them as read-only.
 */
export interface LoweredMatmul {
  /** Rows of A and C: Conv batch·Ho·Wo, MatMul prod(batch dims)·rows, Gemm M. */
  m: number;
  /** Columns of B and C: Conv Cout, MatMul/Gemm N. */
  n: number;
  /** Reduction length: Conv Cin·kh·kw, MatMul/Gemm K. */
  k: number;
  /** The activation operand, [M, K] row-major. */
  a: Float32Array;
  /** The weight operand, [K, N] row-major. */
  b: Float32Array;
  /** Added to every row of alpha·A·B, [N]; absent when the layer has none (already scaled by Gemm beta). */
  bias?: Float32Array;
  /** Scale of the product (Gemm alpha); absent when 1. */
  alpha?: number;
  /** The reference output (ORT) rearranged to [M, N] row-major: C = alpha·A·B + bias should match it. */
  expected: Float32Array;
  /** How it was lowered. */
  lowering: 'im2col' | 'conv1x1' | 'matmul' | 'gemm';
}

/** Output geometry and effective padding of a 2-D Conv: sizes in elements (channels) and pixels (H, W, kernel, Ho, Wo). */
export interface ConvGeometry {
  batch: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  kh: number;
  kw: number;
  ho: number;
  wo: number;
  /** Effective pads after `auto_pad`: [top, left, bottom, right]. */
  pads: [number, number, number, number];
  strides: [number, number];
  dilations: [number, number];
}

/**
 * Conv output size and effective pads, per the ONNX Conv spec: NOTSET uses `pads`; VALID uses none; SAME_UPPER /
 * SAME_LOWER choose out = ceil(in / stride) and pad (out − 1)·stride + (k − 1)·dilation + 1 − in in total, the odd
 * element at the end (UPPER) or the beginning (LOWER).
 *
 * @param x input dims [N, C, H, W]
 * @param wDims weight dims [Cout, Cin, kh, kw]
 * @throws ModelError when ranks are not 4, channels disagree, or the output would be empty
 */
export function convGeometry(x: readonly number[], wDims: readonly number[], attrs: ConvAttrs, where = 'Conv'): ConvGeometry {
  if (x.length !== 4 || wDims.length !== 4) {
    throw new ModelError(`${where}: expected 4-D input and weight, got ${formatDims(x)} and ${formatDims(wDims)}`, { node: where });
  }
  const [batch, cin, h, w] = x as [number, number, number, number];
  const [cout, wcin, kh, kw] = wDims as [number, number, number, number];
  if (wcin !== cin) {
    throw new ModelError(`${where}: weight ${formatDims(wDims)} expects ${wcin} input channels, input ${formatDims(x)} has ${cin}`, { node: where });
  }
  const [sh, sw] = attrs.strides;
  const [dh, dw] = attrs.dilations;
  const extentH = (kh - 1) * dh + 1;
  const extentW = (kw - 1) * dw + 1;
  let pads: [number, number, number, number];
  let ho: number;
  let wo: number;
  if (attrs.autoPad === 'NOTSET' || attrs.autoPad === 'VALID') {
    pads = attrs.autoPad === 'VALID' ? [0, 0, 0, 0] : [...attrs.pads];
    ho = Math.floor((h + pads[0] + pads[2] - extentH) / sh) + 1;
    wo = Math.floor((w + pads[1] + pads[3] - extentW) / sw) + 1;
  } else {
    ho = Math.ceil(h / sh);
    wo = Math.ceil(w / sw);
    const totH = Math.max(0, (ho - 1) * sh + extentH - h);
    const totW = Math.max(0, (wo - 1) * sw + extentW - w);
    const upper = attrs.autoPad === 'SAME_UPPER';
    const beginH = upper ? Math.floor(totH / 2) : Math.ceil(totH / 2);
    const beginW = upper ? Math.floor(totW / 2) : Math.ceil(totW / 2);
    pads = [beginH, beginW, totH - beginH, totW - beginW];
  }
  if (ho <= 0 || wo <= 0) {
    throw new ModelError(`${where}: input ${formatDims(x)} is too small for kernel ${kh}x${kw} (output ${ho}x${wo})`, { node: where });
  }
  return { batch, cin, h, w, cout, kh, kw, ho, wo, pads, strides: [sh, sw], dilations: [dh, dw] };
}

/**
 * im2col of an NCHW tensor for a 2-D Conv: A[m, kk] with m = (n·Ho + oh)·Wo + ow and kk = (ci·kh + i)·kw + j holds
 * X[n, ci, oh·sh − padTop + i·dh, ow·sw − padLeft + j·dw], or 0 where that falls in the padding.
 *
 * @param x input data [N, C, H, W] row-major
 * @returns [N·Ho·Wo, C·kh·kw] row-major
 */
export function im2col(x: Float32Array, g: ConvGeometry): Float32Array {
  const { batch, cin, h, w, kh, kw, ho, wo } = g;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const [pt, pl] = g.pads;
  const k = cin * kh * kw;
  const out = new Float32Array(batch * ho * wo * k); // zero-filled: padding stays 0
  for (let n = 0; n < batch; n++) {
    for (let oh = 0; oh < ho; oh++) {
      for (let ow = 0; ow < wo; ow++) {
        const rowBase = ((n * ho + oh) * wo + ow) * k;
        for (let ci = 0; ci < cin; ci++) {
          const plane = (n * cin + ci) * h * w;
          for (let i = 0; i < kh; i++) {
            const y = oh * sh - pt + i * dh;
            if (y < 0 || y >= h) continue;
            const colBase = rowBase + (ci * kh + i) * kw;
            for (let j = 0; j < kw; j++) {
              const xx = ow * sw - pl + j * dw;
              if (xx >= 0 && xx < w) out[colBase + j] = x[plane + y * w + xx];
            }
          }
        }
      }
    }
  }
  return out;
}

/**
 * NCHW → [N·H·W, C] (channels last, rows ordered (n, h, w)). Used for the 1x1 Conv A operand and to rearrange
 * every Conv's NCHW output to [M, Cout].
 */
export function nchwToRows(x: Float32Array, dims: readonly number[]): Float32Array {
  const [batch, c, h, w] = dims as [number, number, number, number];
  const hw = h * w;
  const out = new Float32Array(batch * hw * c);
  for (let n = 0; n < batch; n++) {
    for (let ci = 0; ci < c; ci++) {
      const src = (n * c + ci) * hw;
      for (let p = 0; p < hw; p++) out[(n * hw + p) * c + ci] = x[src + p];
    }
  }
  return out;
}

/** Constants of a model, or the map itself. */
type Constants = OnnxModel | ReadonlyMap<string, ConstTensor>;

function constantsOf(c: Constants): ReadonlyMap<string, ConstTensor> {
  return 'constants' in c && c.constants instanceof Map ? c.constants : (c as ReadonlyMap<string, ConstTensor>);
}

function capturedOf(op: SparseOp, captured: CapturedOp | ReferenceCapture): CapturedOp {
  // Unsupported ops are never captured: say why they are not lowerable rather than that they are missing.
  if (!op.supported) throw new ModelError(`${op.name}: not lowerable: ${op.reason ?? 'unsupported'}`, { node: op.name });
  if ('ops' in captured) {
    const c = captured.ops.get(op.index);
    if (!c) throw new ModelError(`${op.name}: no captured tensors (was the op passed to the reference run?)`, { node: op.name });
    return c;
  }
  return captured;
}

/** B / bias tensor: the model constant, else the captured value. */
function operand(name: string, constants: ReadonlyMap<string, ConstTensor>, captured?: NamedTensor): TensorData | undefined {
  const c = constants.get(name);
  if (c) return { dims: c.dims, data: c.data };
  return captured;
}

/**
 * Why this op cannot be lowered with the captured shapes, or null when it can. Covers what `findSparseOps` cannot
 * know without shapes (e.g. a MatMul whose non-constant B turns out batched).
 */
export function checkLowerable(op: SparseOp, captured: CapturedOp | ReferenceCapture, model: Constants): string | null {
  if (!op.supported) return op.reason ?? 'unsupported';
  try {
    lowerShapes(op, capturedOf(op, captured), constantsOf(model));
    return null;
  } catch (err) {
    if (err instanceof ModelError) return err.message.replace(`${op.name}: `, '');
    throw err;
  }
}

/** Shape analysis shared by `checkLowerable` and `lowerToMatmul`. */
function lowerShapes(op: SparseOp, cap: CapturedOp, constants: ReadonlyMap<string, ConstTensor>) {
  const w = operand(op.weightName, constants, cap.weight);
  if (!w) throw new ModelError(`${op.name}: B operand ${op.weightName} is neither a constant nor captured`, { node: op.name });
  const bias = op.biasName ? operand(op.biasName, constants, cap.bias) : undefined;
  const aDims = cap.input.dims;
  const fail = (msg: string): never => {
    throw new ModelError(`${op.name}: ${msg}`, { node: op.name });
  };

  if (op.op === 'Conv') {
    const g = convGeometry(aDims, w.dims, op.conv!, op.name);
    const expectDims = [g.batch, g.cout, g.ho, g.wo];
    if (cap.output.dims.join() !== expectDims.join()) {
      fail(`output ${formatDims(cap.output.dims)} differs from the ONNX Conv output size ${formatDims(expectDims)}`);
    }
    if (bias && numel(bias.dims) !== g.cout) fail(`bias ${formatDims(bias.dims)} is not [${g.cout}]`);
    return { kind: 'conv' as const, w, bias, g, m: g.batch * g.ho * g.wo, n: g.cout, k: g.cin * g.kh * g.kw };
  }

  if (op.op === 'Gemm') {
    const ga = op.gemm!;
    if (aDims.length !== 2 || w.dims.length !== 2) fail(`Gemm needs 2-D A and B, got ${formatDims(aDims)} and ${formatDims(w.dims)}`);
    const [m, k] = ga.transA ? [aDims[1], aDims[0]] : [aDims[0], aDims[1]];
    const [kb, n] = ga.transB ? [w.dims[1], w.dims[0]] : [w.dims[0], w.dims[1]];
    if (kb !== k) fail(`Gemm inner dims differ: A gives K=${k}, B gives K=${kb}`);
    if (bias) {
      const problem = gemmBiasProblem(bias.dims, n);
      if (problem) fail(problem);
    }
    if (numel(cap.output.dims) !== m * n) fail(`output ${formatDims(cap.output.dims)} is not [${m}, ${n}]`);
    return { kind: 'gemm' as const, w, bias, m, n, k };
  }

  // MatMul (numpy matmul semantics).
  let bDims = w.dims.slice();
  if (bDims.length > 2) {
    if (bDims.slice(0, -2).some((d) => d !== 1)) fail(`batched MatMul (B is ${formatDims(w.dims)})`);
    bDims = bDims.slice(-2);
  }
  const k = aDims.length === 0 ? 0 : aDims[aDims.length - 1];
  const [kb, n] = bDims.length === 1 ? [bDims[0], 1] : [bDims[0], bDims[1]];
  if (kb !== k) fail(`MatMul inner dims differ: A ${formatDims(aDims)}, B ${formatDims(w.dims)}`);
  const m = k === 0 ? 0 : numel(aDims) / k;
  if (numel(cap.output.dims) !== m * n) fail(`output ${formatDims(cap.output.dims)} does not hold ${m}x${n} values`);
  return { kind: 'matmul' as const, w, bias: undefined, m, n, k };
}

/**
 * Lowers one captured op to a matmul problem (see the module comment for the layouts).
 *
 * @param op a supported op from `findSparseOps`
 * @param captured the op's captured tensors, or the whole `ReferenceCapture` (looked up by `op.index`)
 * @param model the imported model (or its constants map), for constant B / bias
 * @returns A [M, K], B [K, N], bias [N], alpha, and the reference output as [M, N], all float32 row-major
 * @throws ModelError `NAME: …` when the op is unsupported, not captured, or its shapes do not lower (batched B,
 *   a Gemm C that is not a row bias, an output size that disagrees with the ONNX Conv formula)
 */
export function lowerToMatmul(op: SparseOp, captured: CapturedOp | ReferenceCapture, model: Constants): LoweredMatmul {
  const cap = capturedOf(op, captured);
  const s = lowerShapes(op, cap, constantsOf(model));
  const x = cap.input.data;

  if (s.kind === 'conv') {
    const g = s.g;
    const pointwise =
      g.kh === 1 && g.kw === 1 && g.strides[0] === 1 && g.strides[1] === 1 && g.pads.every((p) => p === 0);
    const a = pointwise ? nchwToRows(x, cap.input.dims) : im2col(x, g);
    // W [Cout, K] row-major is exactly Bᵀ.
    const b = transpose(s.w.data, s.n, s.k);
    return {
      m: s.m,
      n: s.n,
      k: s.k,
      a,
      b,
      bias: s.bias ? Float32Array.from(s.bias.data) : undefined,
      expected: nchwToRows(cap.output.data, cap.output.dims),
      lowering: pointwise ? 'conv1x1' : 'im2col',
    };
  }

  if (s.kind === 'gemm') {
    const ga = op.gemm!;
    const a = ga.transA ? transpose(x, s.k, s.m) : x;
    const b = ga.transB ? transpose(s.w.data, s.n, s.k) : s.w.data;
    let bias: Float32Array | undefined;
    if (s.bias && ga.beta !== 0) {
      bias = new Float32Array(s.n);
      const c = s.bias.data;
      for (let j = 0; j < s.n; j++) bias[j] = ga.beta * (c.length === 1 ? c[0] : c[j]);
    }
    return {
      m: s.m,
      n: s.n,
      k: s.k,
      a,
      b,
      bias,
      alpha: ga.alpha !== 1 ? ga.alpha : undefined,
      expected: cap.output.data,
      lowering: 'gemm',
    };
  }

  // MatMul: A's leading dims flatten into rows with no copy; Y [..., M', N] is already [M, N] row-major.
  return { m: s.m, n: s.n, k: s.k, a: x, b: s.w.data, expected: cap.output.data, lowering: 'matmul' };
}
