/**
 * CPU references for verifying GPU matmul variants: the matmul itself (Float64 accumulation), a transpose, a
 * cheap error scale for any matmul, and the output comparison with a stated fp32 tolerance.
 */

/**
 * `C[M,N] = A[M,K] · B[K,N]` on the CPU with Float64 accumulation, rounded once to f32. All arrays row-major.
 * Zero entries of A are skipped (the result is identical; sparse tests run faster).
 * @throws RangeError when an operand's length does not match its shape.
 */
export function referenceMatmul(a: Float32Array, b: Float32Array, m: number, n: number, k: number): Float32Array {
  checkLength('A', a, m * k);
  checkLength('B', b, k * n);
  const c = new Float32Array(m * n);
  const acc = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    acc.fill(0);
    const aRow = i * k;
    for (let p = 0; p < k; p++) {
      const av = a[aRow + p]!;
      if (av === 0) continue;
      const bRow = p * n;
      for (let j = 0; j < n; j++) acc[j] += av * b[bRow + j]!;
    }
    for (let j = 0; j < n; j++) c[i * n + j] = acc[j]!;
  }
  return c;
}

/** The transpose of `x` [rows, cols] row-major: a new [cols, rows] row-major array. @throws RangeError on a length mismatch. */
export function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  checkLength('x', x, rows * cols);
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const src = r * cols;
    for (let c = 0; c < cols; c++) t[c * rows + r] = x[src + c]!;
  }
  return t;
}

/**
 * An upper bound of `max over (m,n) of Σ_k |A[m,k]|·|B[k,n]|`: (largest L1 norm of a row of A) × (largest |B|).
 * O(MK + KN), so it works even where the reference output comes from elsewhere (e.g. onnxruntime). It is the
 * magnitude the rounding error of a dot product scales with (Higham, *Accuracy and Stability*, §3.1), unlike
 * `max|C|`, which cancellation can make arbitrarily small.
 */
export function matmulErrorScale(a: Float32Array, b: Float32Array, m: number, n: number, k: number): number {
  checkLength('A', a, m * k);
  checkLength('B', b, k * n);
  let rowMax = 0;
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += Math.abs(a[i * k + p]!);
    if (s > rowMax) rowMax = s;
  }
  let bMax = 0;
  for (let i = 0; i < b.length; i++) {
    const v = Math.abs(b[i]!);
    if (v > bMax) bMax = v;
  }
  return rowMax * bMax;
}

/** Options of `compareOutputs`. */
export interface CompareOptions {
  /** Reduction length K of the matmul (default 4096: a loose bound when unknown). */
  k?: number;
  /** Error scale, ideally `matmulErrorScale(A, B, …)`; default `max|ref|` (tighter, but cancellation can fool it). */
  scale?: number;
  /** Safety factor c of the bound (default 16). */
  factor?: number;
}

/** Result of `compareOutputs`. */
export interface CompareResult {
  /** max |ours − ref| over all elements (Infinity where exactly one side is NaN/±Infinity differently). */
  maxAbsErr: number;
  /** maxAbsErr / max|ref| (0 when both are 0; Infinity when ref is all zero and ours is not). */
  maxRelErr: number;
  /** The absolute tolerance applied. */
  tolerance: number;
  /** Element with the largest error (-1 when there is none). */
  worstIndex: number;
  /** maxAbsErr <= tolerance. */
  ok: boolean;
}

/** Unit roundoff of fp32 (2^-24). */
export const FP32_UNIT_ROUNDOFF = 2 ** -24;

/**
 * Compares a GPU output with the reference, element-wise.
 *
 * Tolerance: `c · u · sqrt(K) · scale + 1e-30`, u = 2^-24 (fp32 unit roundoff), c = 16. The rigorous worst case of
 * an fp32 dot product is `K·u·Σ|a||b|` (Higham §3.1), but rounding errors of a summation behave like a random walk,
 * so the realistic error is `O(sqrt(K)·u·Σ|a||b|)`; c = 16 leaves ample room for tiling, fma vs. mul+add and the
 * atomic-append order (DESIGN.md §3), while a wrong gather, a dropped or duplicated micro-tile or a mis-scattered
 * row changes an element by about one product term (~scale/K), far above the bound for the K's we verify (the bound
 * is ~6e-5·scale at K = 4096 versus a term of ~2.4e-4·scale). `1e-30` absorbs denormal flushing. An all-zero
 * reference therefore demands an (almost) exactly zero output. A number as the third argument is K.
 *
 * f16 operands with f32 accumulation (the f16 families, issue 11) use the same bound, with `ref` the float64 product
 * of the f16-rounded operands and `scale` their Σ|ã||b̃|: a product of two f16 values is exact in f32 (11 + 11
 * significand bits ≤ 24), so the kernel makes exactly the summation errors of an fp32 one (tensor cores included:
 * their f16→f32 fragments keep f32 sums). The inputs' own rounding (≤ (2u + u²)·Σ|a||b|, u = 2^-11) separates the
 * f16 result from the fp32 one and is not part of this check (f16.ts `f16InputErrorBound`).
 * Tested at K = 4096 in both dtypes (test/kernels/f16.test.ts): correct outputs pass, a dropped micro-tile fails.
 * @throws RangeError when the lengths differ.
 */
export function compareOutputs(ours: Float32Array, ref: Float32Array, options: CompareOptions | number = {}): CompareResult {
  const opts: CompareOptions = typeof options === 'number' ? { k: options } : options;
  if (ours.length !== ref.length) throw new RangeError(`compareOutputs: output has ${ours.length} elements, reference ${ref.length}`);
  let maxAbsErr = 0;
  let refMax = 0;
  let worstIndex = -1;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i]!;
    const o = ours[i]!;
    const ar = Math.abs(r);
    if (ar > refMax && Number.isFinite(ar)) refMax = ar;
    let d: number;
    if (Number.isNaN(r) || Number.isNaN(o) || !Number.isFinite(r) || !Number.isFinite(o)) {
      d = Object.is(r, o) ? 0 : Infinity;
    } else {
      d = Math.abs(o - r);
    }
    if (d > maxAbsErr || (worstIndex < 0 && d > 0)) {
      maxAbsErr = d;
      worstIndex = i;
    }
  }
  const k = Math.max(1, opts.k ?? 4096);
  const scale = opts.scale ?? refMax;
  const factor = opts.factor ?? 16;
  const tolerance = factor * FP32_UNIT_ROUNDOFF * Math.sqrt(k) * scale + 1e-30;
  const maxRelErr = refMax > 0 ? maxAbsErr / refMax : maxAbsErr > 0 ? Infinity : 0;
  return { maxAbsErr, maxRelErr, tolerance, worstIndex, ok: maxAbsErr <= tolerance };
}

function checkLength(name: string, x: ArrayLike<number>, expected: number): void {
  if (x.length !== expected) throw new RangeError(`${name} has ${x.length} elements, its shape needs ${expected}`);
}

/**
 * The rows `rows` of `x` [M, n] row-major, as a compact [rows.length, n] array (to compare only the rows a
 * sequence-length plan computes).
 * @throws RangeError when a row is outside `x`.
 */
export function selectRows(x: Float32Array, n: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * n);
  const m = Math.floor(x.length / Math.max(1, n));
  rows.forEach((r, i) => {
    if (!Number.isInteger(r) || r < 0 || r >= m) throw new RangeError(`selectRows: row ${r} is outside [0, ${m})`);
    out.set(x.subarray(r * n, (r + 1) * n), i * n);
  });
  return out;
}

/**
 * `C_b = A_b · B_b` for every batch b of a (batched) shape on the CPU (`referenceMatmul` per batch): A [batch, M, K]
 * (or one shared [M, K] when `s.aShared`), B [batch, K, N] (or shared), C [batch, M, N] row-major. A 2-D shape is
 * one batch.
 * @throws RangeError when an operand's length does not match the shape.
 */
export function referenceBatchedMatmul(a: Float32Array, b: Float32Array, s: BatchedShapeLike): Float32Array {
  const batch = s.batch ?? 1;
  const { m, n, k } = s;
  const sa = batch > 1 && s.aShared ? 0 : m * k;
  const sb = batch > 1 && s.bShared ? 0 : k * n;
  checkLength('A', a, (sa ? batch : 1) * m * k);
  checkLength('B', b, (sb ? batch : 1) * k * n);
  const c = new Float32Array(batch * m * n);
  for (let i = 0; i < batch; i++) {
    c.set(referenceMatmul(a.subarray(i * sa, i * sa + m * k), b.subarray(i * sb, i * sb + k * n), m, n, k), i * m * n);
  }
  return c;
}

/** What the batched references read of a shape (core/kernels/shape.ts `MatmulShape`). */
export interface BatchedShapeLike {
  m: number;
  n: number;
  k: number;
  batch?: number;
  aShared?: boolean;
  bShared?: boolean;
}

/**
 * Compares a batched output [batch, M, N] with its reference batch by batch, each with the tolerance of
 * `compareOutputs` at its own error scale (`scales[b]`, e.g. `matmulErrorScale(A_b, B_b, …)`; default max|ref_b|):
 * every batch must pass. `maxAbsErr` / `maxRelErr` are over every batch; `worstBatch` is the batch nearest to (or
 * furthest beyond) its bound, with its own error and `tolerance`.
 * @throws RangeError when the lengths differ or `scales` has the wrong length.
 */
export function compareBatched(
  ours: Float32Array,
  ref: Float32Array,
  batch: number,
  options: { k: number; scales?: ArrayLike<number>; factor?: number },
): CompareResult & { worstBatch: number; worstBatchErr: number } {
  if (ours.length !== ref.length) throw new RangeError(`compareBatched: output has ${ours.length} elements, reference ${ref.length}`);
  if (!Number.isInteger(batch) || batch < 1 || ref.length % batch) throw new RangeError(`compareBatched: ${ref.length} elements do not split into ${batch} batches`);
  if (options.scales && options.scales.length !== batch) throw new RangeError(`compareBatched: ${options.scales.length} scales for ${batch} batches`);
  const size = ref.length / batch;
  let ok = true;
  let maxAbsErr = 0;
  let maxRelErr = 0;
  let worst = { batch: -1, margin: -1, err: 0, tolerance: 0, index: -1 };
  for (let b = 0; b < batch; b++) {
    const r = compareOutputs(ours.subarray(b * size, (b + 1) * size), ref.subarray(b * size, (b + 1) * size), {
      k: options.k,
      ...(options.scales ? { scale: options.scales[b]! } : {}),
      ...(options.factor !== undefined ? { factor: options.factor } : {}),
    });
    ok &&= r.ok;
    maxAbsErr = Math.max(maxAbsErr, r.maxAbsErr);
    maxRelErr = Math.max(maxRelErr, r.maxRelErr);
    const margin = r.maxAbsErr / r.tolerance;
    if (margin > worst.margin) worst = { batch: b, margin, err: r.maxAbsErr, tolerance: r.tolerance, index: r.worstIndex < 0 ? -1 : b * size + r.worstIndex };
  }
  return { maxAbsErr, maxRelErr, tolerance: worst.tolerance, worstIndex: worst.index, ok, worstBatch: worst.batch, worstBatchErr: worst.err };
}

/**
 * `matmulErrorScale` of every batch of a (batched) shape: the error scale each batch's tolerance uses.
 * @throws RangeError on a length mismatch.
 */
export function batchedErrorScales(a: Float32Array, b: Float32Array, s: BatchedShapeLike): Float64Array {
  const batch = s.batch ?? 1;
  const { m, n, k } = s;
  const sa = batch > 1 && s.aShared ? 0 : m * k;
  const sb = batch > 1 && s.bShared ? 0 : k * n;
  const out = new Float64Array(batch);
  for (let i = 0; i < batch; i++) out[i] = matmulErrorScale(a.subarray(i * sa, i * sa + m * k), b.subarray(i * sb, i * sb + k * n), m, n, k);
  return out;
}
