/**
 * Lowering of every lowerable op to a **batched** matmul: for each b in [0, batch),
 * `C_b[M, N] = alpha·A_b[M, K]·B_b[K, N] + bias_b[N]`, float32 row-major, A the activation PIT exploits.
 *
 * - MatMul (ONNX MatMul opset 13 = numpy `matmul`): A [..., M, K], B [..., K, N]; 1-D A is one row [1, K] (the M axis
 *   is dropped from Y), 1-D B one column [K, 1] (N dropped). The leading (batch) dims broadcast numpy-style; their
 *   broadcast shape is `batchDims` (e.g. [B, H] for attention QKᵀ and AV, where both operands are activations).
 *   When B has no batch (all its leading dims are 1), A's leading dims fold into M and batch = 1 — the 2-D case.
 *   An operand that is the same for every batch is not copied (batch stride 0); one broadcast along some batch dims
 *   only is materialised to [batch, …].
 * - Conv / ConvTranspose (1–3 spatial dims, any `group`; `conv.ts`): the groups are the batch, A = im2col
 *   [G, N·prod(out), (Cin/G)·prod(k)], B = weight [G, (Cin/G)·prod(k), Cout/G], bias [G, Cout/G],
 *   expected = Y [N, Cout, *out] as [G, N·prod(out), Cout/G]. Depthwise: K = prod(kernel), N = multiplier.
 * - Gemm: batch 1; A = transA ? Aᵀ : A, B = transB ? Bᵀ : B, alpha kept, bias = beta·C (a row bias).
 *
 * The kernel side consumes `BatchedMatmul` (the profile job lowers every layer with it; 2-D layers are batch 1);
 * `lowering.ts` keeps the 2-D `LoweredMatmul` for the other callers (pruning calibration).
 */
import { referenceMatmul, transpose } from '../kernels/reference.ts';
import { convGeometry, convMatmulSize, convOutputToRows, convWeightToB, im2colGrouped, isPointwise, type ConvGeometry } from './conv.ts';
import { ModelError } from './errors.ts';
import type { TensorData } from './ir.ts';
import { formatDims, numel } from './ir.ts';
import { biasErrorScaleName, capturedOf, constantsOf, operand, type Constants } from './operands.ts';
import type { CapturedOp, ReferenceCapture } from './reference.ts';
import type { SparseOp } from './sparse-ops.ts';
import { gemmBiasProblem } from './sparse-ops.ts';

/** How a layer was lowered. */
export type LoweringKind = 'matmul' | 'gemm' | 'im2col' | 'conv1x1' | 'conv-transpose';

/**
 * A layer as a batched matmul. For b in [0, batch): `C_b = alpha·A_b·B_b + bias_b` with
 * `A_b = a[b·aBatchStride … + M·K]` as [M, K], `B_b = b[b·bBatchStride … + K·N]` as [K, N], both row-major float32.
 * Arrays may alias the captured tensors or the model's constants: treat them as read-only.
 */
export interface BatchedMatmul {
  /** Number of independent matmuls: product of `batchDims` (1 for a 2-D layer). */
  batch: number;
  /**
   * The batch as the layer's own axes, row-major (batch index b = flattened index over them): MatMul: the broadcast
   * leading dims of Y (e.g. [B, H] for attention, batch·head); grouped Conv: [G]; batch 1: [].
   */
  batchDims: number[];
  /** What the batch axes are: `broadcast` (MatMul leading dims), `groups` (Conv group), `none` (batch = 1). */
  batchKind: 'none' | 'broadcast' | 'groups';
  /** Rows of every A_b and C_b. */
  m: number;
  /** Columns of every B_b and C_b. */
  n: number;
  /** Reduction length. */
  k: number;
  /** A: [batch, M, K] row-major when `aBatchStride` = M·K; a single [M, K] shared by every batch when it is 0. */
  a: Float32Array;
  /** Elements between consecutive A_b: M·K, or 0 when every batch reads the same A. */
  aBatchStride: number;
  /** B: [batch, K, N] row-major when `bBatchStride` = K·N; a single [K, N] shared by every batch when it is 0. */
  b: Float32Array;
  /** Elements between consecutive B_b: K·N, or 0 when every batch reads the same B. */
  bBatchStride: number;
  /** [batch, N] row-major, added to every row of C_b; absent when the layer has none (already scaled by Gemm beta). */
  bias?: Float32Array;
  /**
   * [batch, N] like `bias`: the magnitude at which the reference runtime rounds the bias where it computes unfused
   * what the import folded into it (`biasErrorScaleName`); absent when the bias is what the runtime adds.
   */
  biasErrorScale?: Float32Array;
  /** Scale of the product (Gemm alpha); absent when 1. */
  alpha?: number;
  /** The reference output (onnxruntime) as [batch, M, N] row-major. */
  expected: Float32Array;
  /** Which operands are run-time values (captured activations) rather than model constants. A always is. */
  activations: { a: true; b: boolean };
  lowering: LoweringKind;
}

/**
 * A Gemm's row bias beta·C as [N] (C a scalar or [N]); undefined without C or with beta 0.
 * @param c the Gemm's C input; @param n the output's columns
 */
export function gemmRowBias(c: TensorData | undefined, beta: number, n: number): Float32Array | undefined {
  if (!c || beta === 0) return undefined;
  const bias = new Float32Array(n);
  for (let j = 0; j < n; j++) bias[j] = beta * (c.data.length === 1 ? c.data[0]! : c.data[j]!);
  return bias;
}

/** How an operand's batch maps onto the output batch. */
export type BatchMap = { kind: 'identity' } | { kind: 'shared' } | { kind: 'gather'; index: Int32Array };

/** Shape analysis of one op (no data copied): what `lowerToBatchedMatmul` will produce. */
export type LoweringPlan =
  | { kind: 'conv'; w: TensorData; bias?: TensorData; biasErrorScale?: Float32Array; g: ConvGeometry; batch: number; m: number; n: number; k: number }
  | { kind: 'gemm'; w: TensorData; bias?: TensorData; batch: 1; m: number; n: number; k: number }
  | {
      kind: 'matmul';
      w: TensorData;
      batch: number;
      batchDims: number[];
      aMap: BatchMap;
      bMap: BatchMap;
      m: number;
      n: number;
      k: number;
    };

/**
 * numpy broadcast of two batch shapes (aligned right, 1 stretches).
 * @returns the broadcast shape, or null when a pair of dims differs and neither is 1
 */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | null {
  const r = Math.max(a.length, b.length);
  const out = new Array<number>(r);
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out[i] = Math.max(x, y);
  }
  return out;
}

/** For every flattened index over `out`, the flattened index over `dims` (aligned right, size-1 dims broadcast). */
function batchMap(dims: readonly number[], out: readonly number[]): BatchMap {
  const count = numel(dims);
  const total = numel(out);
  if (count === 1) return { kind: 'shared' };
  const padded = [...new Array<number>(out.length - dims.length).fill(1), ...dims];
  if (padded.every((d, i) => d === out[i])) return { kind: 'identity' };
  const index = new Int32Array(total);
  const idx = new Array<number>(out.length).fill(0);
  for (let t = 0; t < total; t++) {
    let src = 0;
    for (let r = 0; r < out.length; r++) src = src * padded[r]! + (padded[r] === 1 ? 0 : idx[r]!);
    index[t] = src;
    for (let r = out.length - 1; r >= 0; r--) {
      if (++idx[r]! < out[r]!) break;
      idx[r] = 0;
    }
  }
  return { kind: 'gather', index };
}

/**
 * Shape analysis shared by every lowering and check: operand lookup, ONNX shape rules, the captured output's size.
 *
 * @throws ModelError `NAME: …` when an operand is missing or the shapes do not follow the operator's spec
 */
export function planLowering(op: SparseOp, captured: CapturedOp | ReferenceCapture, model: Constants): LoweringPlan {
  const cap = capturedOf(op, captured);
  const constants = constantsOf(model);
  const w = operand(op.weightName, constants, cap.weight);
  if (!w) throw new ModelError(`${op.name}: B operand ${op.weightName} is neither a constant nor captured`, { node: op.name });
  const bias = op.biasName ? operand(op.biasName, constants, cap.bias) : undefined;
  const aDims = cap.input.dims;
  const fail = (msg: string): never => {
    throw new ModelError(`${op.name}: ${msg}`, { node: op.name });
  };

  if (op.op === 'Conv' || op.op === 'ConvTranspose') {
    const g = convGeometry(aDims, w.dims, op.conv!, op.name, op.op === 'ConvTranspose');
    const expectDims = [g.batch, g.cout, ...g.outSize];
    if (cap.output.dims.join() !== expectDims.join()) {
      fail(`output ${formatDims(cap.output.dims)} differs from the ONNX ${op.op} output size ${formatDims(expectDims)}`);
    }
    if (bias && numel(bias.dims) !== g.cout) fail(`bias ${formatDims(bias.dims)} is not [${g.cout}]`);
    const { m, kGroup, nGroup } = convMatmulSize(g);
    const errorScale = op.biasName ? constants.get(biasErrorScaleName(op.biasName))?.data : undefined;
    return { kind: 'conv', w, bias, ...(bias && errorScale ? { biasErrorScale: Float32Array.from(errorScale) } : {}), g, batch: g.group, m, n: nGroup, k: kGroup };
  }

  if (op.op === 'Gemm') {
    const ga = op.gemm!;
    if (aDims.length !== 2 || w.dims.length !== 2) fail(`Gemm needs 2-D A and B, got ${formatDims(aDims)} and ${formatDims(w.dims)}`);
    const [m, k] = ga.transA ? [aDims[1]!, aDims[0]!] : [aDims[0]!, aDims[1]!];
    const [kb, n] = ga.transB ? [w.dims[1]!, w.dims[0]!] : [w.dims[0]!, w.dims[1]!];
    if (kb !== k) fail(`Gemm inner dims differ: A gives K=${k}, B gives K=${kb}`);
    if (bias) {
      const problem = gemmBiasProblem(bias.dims, n);
      if (problem) fail(problem);
    }
    if (numel(cap.output.dims) !== m * n) fail(`output ${formatDims(cap.output.dims)} is not [${m}, ${n}]`);
    return { kind: 'gemm', w, bias, batch: 1, m, n, k };
  }

  // MatMul, numpy semantics.
  const bDims = w.dims;
  if (aDims.length === 0 || bDims.length === 0) fail(`MatMul of a scalar (A ${formatDims(aDims)}, B ${formatDims(bDims)})`);
  const [mA, k] = aDims.length === 1 ? [1, aDims[0]!] : [aDims[aDims.length - 2]!, aDims[aDims.length - 1]!];
  const [kb, n] = bDims.length === 1 ? [bDims[0]!, 1] : [bDims[bDims.length - 2]!, bDims[bDims.length - 1]!];
  if (kb !== k) fail(`MatMul inner dims differ: A ${formatDims(aDims)}, B ${formatDims(bDims)}`);
  const aBatch = aDims.slice(0, -2);
  const bBatch = bDims.slice(0, -2);
  const outBatch = broadcastShapes(aBatch, bBatch);
  if (!outBatch) fail(`MatMul batch dims do not broadcast: A ${formatDims(aDims)}, B ${formatDims(bDims)}`);
  let plan: LoweringPlan;
  if (numel(bBatch) === 1) {
    // B is one matrix for every row of A: fold A's leading dims into M (no copy: A [..., M, K] is [M', K] row-major).
    plan = { kind: 'matmul', w, batch: 1, batchDims: [], aMap: { kind: 'identity' }, bMap: { kind: 'shared' }, m: numel(aBatch) * mA, n, k };
  } else {
    const batchDims = outBatch!;
    plan = { kind: 'matmul', w, batch: numel(batchDims), batchDims, aMap: batchMap(aBatch, batchDims), bMap: batchMap(bBatch, batchDims), m: mA, n, k };
  }
  if (numel(cap.output.dims) !== plan.batch * plan.m * n) {
    fail(`output ${formatDims(cap.output.dims)} does not hold ${plan.batch}x${plan.m}x${n} values`);
  }
  return plan;
}

/** Operand data per batch: as is (identity), shared (stride 0), or gathered into [batch, rows·cols]. */
function materialise(data: Float32Array, map: BatchMap, batch: number, size: number): { data: Float32Array; stride: number } {
  if (map.kind === 'shared') return { data: batch === 1 ? data : data.subarray(0, size), stride: batch === 1 ? size : 0 };
  if (map.kind === 'identity') return { data, stride: size };
  return operandBatches(data, map, 0, batch, size);
}

/**
 * An operand's matrices for output batches `[b0, b1)` only (a layer measured in slices of its batch;
 * core/model/slices.ts): a view for `identity`, the one matrix for `shared` (stride 0 when the slice has more than
 * one batch), the gathered matrices otherwise. `size` = elements of one matrix.
 */
export function operandBatches(data: Float32Array, map: BatchMap, b0: number, b1: number, size: number): { data: Float32Array; stride: number } {
  const count = b1 - b0;
  if (map.kind === 'shared') return { data: data.subarray(0, size), stride: count === 1 ? size : 0 };
  if (map.kind === 'identity') return { data: data.subarray(b0 * size, b1 * size), stride: size };
  const out = new Float32Array(count * size);
  for (let b = b0; b < b1; b++) out.set(data.subarray(map.index[b]! * size, (map.index[b]! + 1) * size), (b - b0) * size);
  return { data: out, stride: size };
}

/**
 * Lowers one captured op to a batched matmul (see the module comment for the layouts per operator).
 *
 * @param op a supported op from `findSparseOps`
 * @param captured the op's captured tensors, or the whole `ReferenceCapture` (looked up by `op.index`)
 * @param model the imported model (or its constants map), for constant B / bias
 * @returns A, B, bias and the expected output, batched; `activations.b` says whether B is a run-time value
 * @throws ModelError `NAME: …` when the op is unsupported, not captured, or its shapes do not follow the ONNX spec
 *   (inner dims, broadcasting, channels vs group, an output size that disagrees with the operator's formula)
 */
export function lowerToBatchedMatmul(op: SparseOp, captured: CapturedOp | ReferenceCapture, model: Constants): BatchedMatmul {
  const cap = capturedOf(op, captured);
  const plan = planLowering(op, cap, model);
  const x = cap.input.data;
  const activations = { a: true as const, b: !op.weightConstant };
  const { m, n, k, batch } = plan;

  if (plan.kind === 'conv') {
    const g = plan.g;
    return {
      batch,
      batchDims: g.group === 1 ? [] : [g.group],
      batchKind: g.group === 1 ? 'none' : 'groups',
      m,
      n,
      k,
      a: im2colGrouped(x, g),
      aBatchStride: m * k,
      b: convWeightToB(plan.w.data, g),
      bBatchStride: k * n,
      bias: plan.bias ? Float32Array.from(plan.bias.data) : undefined,
      ...(plan.biasErrorScale ? { biasErrorScale: plan.biasErrorScale } : {}),
      expected: convOutputToRows(cap.output.data, g),
      activations,
      lowering: g.transposed ? 'conv-transpose' : isPointwise(g) ? 'conv1x1' : 'im2col',
    };
  }

  if (plan.kind === 'gemm') {
    const ga = op.gemm!;
    const bias = gemmRowBias(plan.bias, ga.beta, n);
    return {
      batch: 1,
      batchDims: [],
      batchKind: 'none',
      m,
      n,
      k,
      a: ga.transA ? transpose(x, k, m) : x,
      aBatchStride: m * k,
      b: ga.transB ? transpose(plan.w.data, n, k) : plan.w.data,
      bBatchStride: k * n,
      bias,
      alpha: ga.alpha !== 1 ? ga.alpha : undefined,
      expected: cap.output.data,
      activations,
      lowering: 'gemm',
    };
  }

  // MatMul: Y [..., M, N] is already [batch, M, N] row-major.
  const a = materialise(x, plan.aMap, batch, m * k);
  const b = materialise(plan.w.data, plan.bMap, batch, k * n);
  return {
    batch,
    batchDims: plan.batchDims,
    batchKind: batch === 1 ? 'none' : 'broadcast',
    m,
    n,
    k,
    a: a.data,
    aBatchStride: a.stride,
    b: b.data,
    bBatchStride: b.stride,
    expected: cap.output.data,
    activations,
    lowering: 'matmul',
  };
}

/** The A_b matrix of batch `b`, [M, K] row-major (a view, no copy). */
export function batchA(mm: BatchedMatmul, b: number): Float32Array {
  const off = b * mm.aBatchStride;
  return mm.a.subarray(off, off + mm.m * mm.k);
}

/** The B_b matrix of batch `b`, [K, N] row-major (a view, no copy). */
export function batchB(mm: BatchedMatmul, b: number): Float32Array {
  const off = b * mm.bBatchStride;
  return mm.b.subarray(off, off + mm.k * mm.n);
}

/** How a captured op lowers: `matmul` (2-D, batch 1, `lowerToMatmul`), `batched` (only `lowerToBatchedMatmul`), or why not at all. */
export type LoweringForm =
  | { form: 'matmul'; m: number; n: number; k: number }
  | { form: 'batched'; batch: number; batchDims: number[]; batchKind: BatchedMatmul['batchKind']; m: number; n: number; k: number }
  | { form: 'none'; reason: string };

/**
 * Which lowering applies to a captured op, from shapes only (nothing copied). ConvTranspose is `batched` even with one
 * group: it lowers through `lowerToBatchedMatmul` (the zero-inserted im2col) only, not through the 2-D `lowerToMatmul`.
 *
 * @returns never throws for a ModelError of the op's shapes: that becomes `{ form: 'none', reason }`
 */
export function loweringOf(op: SparseOp, captured: CapturedOp | ReferenceCapture, model: Constants): LoweringForm {
  if (!op.supported) return { form: 'none', reason: op.reason ?? 'unsupported' };
  let plan: LoweringPlan;
  try {
    plan = planLowering(op, captured, model);
  } catch (err) {
    if (err instanceof ModelError) return { form: 'none', reason: err.message.replace(`${op.name}: `, '') };
    throw err;
  }
  const { m, n, k } = plan;
  if (plan.batch === 1 && op.op !== 'ConvTranspose') return { form: 'matmul', m, n, k };
  const batchDims = plan.kind === 'matmul' ? plan.batchDims : plan.kind === 'conv' && plan.g.group > 1 ? [plan.g.group] : [];
  const batchKind = plan.kind === 'matmul' ? 'broadcast' : plan.batch > 1 ? 'groups' : 'none';
  return { form: 'batched', batch: plan.batch, batchDims, batchKind, m, n, k };
}

/**
 * `C = alpha·A_b·B_b + bias_b` for every batch on the CPU (float64 accumulation per row, `referenceMatmul`):
 * the full output [batch, M, N] of a lowered layer, to check a lowering or a kernel against `expected`.
 */
export function referenceBatchedMatmul(mm: BatchedMatmul): Float32Array {
  const { batch, m, n, k } = mm;
  const out = new Float32Array(batch * m * n);
  const alpha = mm.alpha ?? 1;
  for (let b = 0; b < batch; b++) {
    const c = referenceMatmul(batchA(mm, b), batchB(mm, b), m, n, k);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) c[i * n + j] = alpha * c[i * n + j]! + (mm.bias ? mm.bias[b * n + j]! : 0);
    }
    out.set(c, b * m * n);
  }
  return out;
}
