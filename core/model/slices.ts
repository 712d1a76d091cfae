/**
 * A layer's batched lowering (`batched.ts`) one slice at a time, for a layer whose operands are too large for one
 * GPU binding or for the memory budget (core/profile/fit.ts, core/profile/tiled.ts). The whole lowering is never
 * materialised: each slice is a complete batched matmul problem of its own, verified against the same part of the
 * reference output.
 *
 * - A 2-D layer (batch 1: Conv / ConvTranspose with one group, MatMul with A's leading dims folded into M, Gemm) is
 *   sliced along M, `C[r0:r1, N] = alpha·A[r0:r1, K]·B + bias` — rows of a matmul are independent and share B.
 *   Conv: `im2colRows` / `convOutputRows` build only the slice's rows; B (the reshaped weight) is built once.
 *   MatMul / Gemm: A is the captured activation (or, for Gemm transA, its transpose), already whole in memory; a
 *   slice is a view of its rows.
 * - A batched layer (attention per batch·head, grouped / depthwise conv per group) is sliced along the batch,
 *   `C_b = A_b·B_b + bias_b` for b in [b0, b1) — batches are independent by definition. Grouped conv: the im2col of
 *   the slice's groups only; MatMul: the slice's matrices (views, or gathered where an operand broadcasts).
 * `slice(0, units)` equals `lowerToBatchedMatmul` of the whole layer.
 */
import { transpose } from '../kernels/reference.ts';
import type { MatmulShape } from '../kernels/shape.ts';
import { gemmRowBias, operandBatches, planLowering, type BatchedMatmul, type LoweringKind } from './batched.ts';
import { convMatmulSize, convOutputRows, convWeightToB, im2colRows, isPointwise } from './conv.ts';
import { capturedOf, type Constants } from './operands.ts';
import type { CapturedOp, ReferenceCapture } from './reference.ts';
import type { SparseOp } from './sparse-ops.ts';

/** What a slice cuts: rows of M (a 2-D layer), or batches (a batched layer). */
export type SliceAxis = 'rows' | 'batch';

/** A lowered layer whose slices are produced on demand (see the module comment). */
export class LayerSlicer {
  /** `rows` for a 2-D layer (batch 1), `batch` for a batched one. */
  readonly axis: SliceAxis;
  /** Slice units along the axis: M for `rows`, the batch for `batch`. */
  readonly units: number;
  /** The whole layer's kernel shape, as `layerProblem` gives it (batch, shared operands, B's kind). */
  readonly shape: MatmulShape;
  readonly batch: number;
  readonly batchDims: number[];
  readonly batchKind: BatchedMatmul['batchKind'];
  readonly lowering: LoweringKind;
  readonly activations: BatchedMatmul['activations'];
  /** B [K, N] of a 2-D layer, shared by every row slice (the static weight-pattern families index it); null when batched. */
  readonly weight: Float32Array | null = null;
  private readonly part: (u0: number, u1: number) => BatchedMatmul;

  /**
   * Analyses the layer's shapes; nothing of the size of A or C is built here (only B: the conv weight reshaped, a
   * transposed Gemm weight).
   * @throws ModelError as `lowerToBatchedMatmul` when the op's shapes do not follow its spec
   */
  constructor(op: SparseOp, captured: CapturedOp | ReferenceCapture, model: Constants) {
    const cap = capturedOf(op, captured);
    const plan = planLowering(op, cap, model);
    const { m, n, k, batch } = plan;
    const x = cap.input.data;
    const y = cap.output.data;
    this.batch = batch;
    this.axis = batch === 1 ? 'rows' : 'batch';
    this.units = batch === 1 ? m : batch;
    this.activations = { a: true, b: !op.weightConstant };
    let aShared = false;
    let bShared = false;
    const rowsOf = (base: Omit<BatchedMatmul, 'm' | 'a' | 'aBatchStride' | 'expected'>, a: (r0: number, r1: number) => Float32Array, expected: (r0: number, r1: number) => Float32Array) => (r0: number, r1: number): BatchedMatmul => ({
      ...base,
      m: r1 - r0,
      a: a(r0, r1),
      aBatchStride: (r1 - r0) * k,
      expected: expected(r0, r1),
    });
    const one = { batch: 1, batchDims: [] as number[], batchKind: 'none' as const, n, k, activations: this.activations };

    if (plan.kind === 'conv') {
      const g = plan.g;
      const { kGroup, nGroup } = convMatmulSize(g);
      const b = convWeightToB(plan.w.data, g);
      const bias = plan.bias ? Float32Array.from(plan.bias.data) : undefined;
      this.lowering = g.transposed ? 'conv-transpose' : isPointwise(g) ? 'conv1x1' : 'im2col';
      this.batchDims = g.group === 1 ? [] : [g.group];
      this.batchKind = g.group === 1 ? 'none' : 'groups';
      if (batch === 1) {
        this.weight = b;
        const base = { ...one, b, bBatchStride: k * n, ...(bias ? { bias } : {}), ...(plan.biasErrorScale ? { biasErrorScale: plan.biasErrorScale } : {}), lowering: this.lowering };
        this.part = rowsOf(
          base,
          (r0, r1) => im2colRows(x, g, r0, r1),
          (r0, r1) => convOutputRows(y, g, r0, r1),
        );
      } else {
        this.part = (g0, g1) => {
          const count = g1 - g0;
          const a = new Float32Array(count * m * kGroup);
          const expected = new Float32Array(count * m * nGroup);
          for (let gi = g0; gi < g1; gi++) {
            a.set(im2colRows(x, g, 0, m, gi), (gi - g0) * m * kGroup);
            expected.set(convOutputRows(y, g, 0, m, gi), (gi - g0) * m * nGroup);
          }
          return {
            batch: count,
            batchDims: count > 1 ? [count] : [],
            batchKind: count > 1 ? 'groups' : 'none',
            m,
            n,
            k,
            a,
            aBatchStride: m * k,
            b: b.subarray(g0 * k * n, g1 * k * n),
            bBatchStride: k * n,
            ...(bias ? { bias: bias.subarray(g0 * n, g1 * n) } : {}),
            ...(plan.biasErrorScale ? { biasErrorScale: plan.biasErrorScale.subarray(g0 * n, g1 * n) } : {}),
            expected,
            activations: this.activations,
            lowering: this.lowering,
          };
        };
      }
    } else if (plan.kind === 'gemm') {
      const ga = op.gemm!;
      const bias = gemmRowBias(plan.bias, ga.beta, n);
      // transA: A is the transpose of the captured tensor, built on the first slice (the whole layer may never be).
      let a: Float32Array | null = ga.transA ? null : x;
      const b = ga.transB ? transpose(plan.w.data, n, k) : plan.w.data;
      this.lowering = 'gemm';
      this.weight = b;
      this.batchDims = [];
      this.batchKind = 'none';
      const base = { ...one, b, bBatchStride: k * n, ...(bias ? { bias } : {}), ...(ga.alpha !== 1 ? { alpha: ga.alpha } : {}), lowering: this.lowering };
      this.part = rowsOf(
        base,
        (r0, r1) => (a ??= transpose(x, k, m)).subarray(r0 * k, r1 * k),
        (r0, r1) => y.subarray(r0 * n, r1 * n),
      );
    } else {
      this.lowering = 'matmul';
      this.batchDims = plan.batchDims;
      this.batchKind = batch === 1 ? 'none' : 'broadcast';
      const w = plan.w.data;
      if (batch === 1) {
        // B is one matrix for every row of A (A's leading dims folded into M).
        this.weight = w;
        const base = { ...one, b: w, bBatchStride: k * n, lowering: this.lowering };
        this.part = rowsOf(
          base,
          (r0, r1) => x.subarray(r0 * k, r1 * k),
          (r0, r1) => y.subarray(r0 * n, r1 * n),
        );
      } else {
        aShared = plan.aMap.kind === 'shared';
        bShared = plan.bMap.kind === 'shared';
        this.part = (b0, b1) => {
          const count = b1 - b0;
          const a = operandBatches(x, plan.aMap, b0, b1, m * k);
          const b = operandBatches(w, plan.bMap, b0, b1, k * n);
          return {
            batch: count,
            batchDims: count > 1 ? [count] : [],
            batchKind: count > 1 ? 'broadcast' : 'none',
            m,
            n,
            k,
            a: a.data,
            aBatchStride: a.stride,
            b: b.data,
            bBatchStride: b.stride,
            expected: y.subarray(b0 * m * n, b1 * m * n),
            activations: this.activations,
            lowering: this.lowering,
          };
        };
      }
    }
    this.shape = {
      m,
      n,
      k,
      ...(batch > 1 ? { batch, ...(aShared ? { aShared: true } : {}), ...(bShared ? { bShared: true } : {}) } : {}),
      ...(this.activations.b ? { bActivation: true } : {}),
    };
  }

  /**
   * Units `[u0, u1)` — rows of M (`axis` rows) or batches (`axis` batch) — as a batched matmul problem of their own
   * (arrays may be views of the captured tensors: treat them as read-only). A batch slice of one batch is batch 1.
   * @throws RangeError when the range is empty or outside [0, units]
   */
  slice(u0: number, u1: number): BatchedMatmul {
    if (!(Number.isInteger(u0) && Number.isInteger(u1) && 0 <= u0 && u0 < u1 && u1 <= this.units)) {
      throw new RangeError(`${this.axis === 'rows' ? 'rows' : 'batches'} [${u0}, ${u1}) outside [0, ${this.units}]`);
    }
    return this.part(u0, u1);
  }
}
