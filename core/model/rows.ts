/**
 * A layer's 2-D lowering (`lowering.ts`) one row slice at a time: `C[r0:r1, N] = alpha·A[r0:r1, K]·B + bias`. A
 * layer whose operands are too large for one GPU binding or for the memory budget is measured in row slices along M
 * (core/profile/tiled.ts); its full im2col is never materialised. Rows of a matmul are independent, so each slice
 * is a complete matmul problem with the same B, verified against the same rows of the reference output.
 *
 * - Conv (group 1): `im2colRows` / `convOutputRows` build only the slice's rows; B (the reshaped weight) is built
 *   once and shared by every slice.
 * - MatMul / Gemm: A is the captured activation (or its transpose for Gemm transA), already in memory whole; a slice
 *   is a view of its rows.
 */
import { convOutputRows, convWeightToB, im2colRows, isPointwise } from './conv.ts';
import { lowerToMatmul, type LoweredMatmul } from './lowering.ts';
import { planLowering } from './batched.ts';
import { ModelError } from './errors.ts';
import { capturedOf, type Constants } from './operands.ts';
import type { CapturedOp, ReferenceCapture } from './reference.ts';
import type { SparseOp } from './sparse-ops.ts';

/** A lowered layer whose rows are produced on demand. */
export class RowLowering {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly lowering: LoweredMatmul['lowering'];
  /** B [K, N] row-major, shared by every slice. */
  readonly b: Float32Array;
  readonly bias?: Float32Array;
  readonly alpha?: number;
  private readonly rowsOf: (r0: number, r1: number) => { a: Float32Array; expected: Float32Array };

  /**
   * @throws ModelError as `lowerToMatmul` when the op does not lower to a 2-D matmul (see `checkLowerable`)
   */
  constructor(op: SparseOp, captured: CapturedOp | ReferenceCapture, model: Constants) {
    const cap = capturedOf(op, captured);
    const plan = planLowering(op, cap, model);
    if (plan.kind === 'conv') {
      const g = plan.g;
      if (g.group !== 1 || g.transposed) throw new ModelError(`${op.name}: row slices need a group-1 Conv`, { node: op.name });
      this.m = plan.m;
      this.n = plan.n;
      this.k = plan.k;
      this.lowering = isPointwise(g) ? 'conv1x1' : 'im2col';
      this.b = convWeightToB(plan.w.data, g);
      if (plan.bias) this.bias = Float32Array.from(plan.bias.data);
      const x = cap.input.data;
      const y = cap.output.data;
      this.rowsOf = (r0, r1) => ({ a: im2colRows(x, g, r0, r1), expected: convOutputRows(y, g, r0, r1) });
    } else {
      // MatMul / Gemm: A is already in memory whole (the captured tensor, or a transposed copy for transA).
      const mm = lowerToMatmul(op, cap, model);
      this.m = mm.m;
      this.n = mm.n;
      this.k = mm.k;
      this.lowering = mm.lowering;
      this.b = mm.b;
      if (mm.bias) this.bias = mm.bias;
      if (mm.alpha !== undefined) this.alpha = mm.alpha;
      this.rowsOf = (r0, r1) => ({ a: mm.a.subarray(r0 * mm.k, r1 * mm.k), expected: mm.expected.subarray(r0 * mm.n, r1 * mm.n) });
    }
  }

  /**
   * Rows `[r0, r1)` as a matmul problem of `r1 − r0` rows (arrays may be views: treat them as read-only).
   * @throws RangeError when the rows are outside [0, M] or empty
   */
  rows(r0: number, r1: number): LoweredMatmul {
    if (!(Number.isInteger(r0) && Number.isInteger(r1) && 0 <= r0 && r0 < r1 && r1 <= this.m)) throw new RangeError(`rows [${r0}, ${r1}) outside [0, ${this.m}]`);
    const { a, expected } = this.rowsOf(r0, r1);
    return {
      m: r1 - r0,
      n: this.n,
      k: this.k,
      a,
      b: this.b,
      ...(this.bias ? { bias: this.bias } : {}),
      ...(this.alpha !== undefined ? { alpha: this.alpha } : {}),
      expected,
      lowering: this.lowering,
    };
  }
}
