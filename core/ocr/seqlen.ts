/**
 * From the valid lengths of a padded batch to the valid rows of each lowered layer (the index PIT's `seqlens` path
 * builds, PIT §5): which rows of a layer's A (and C) belong to real tokens, given the lowering's row order
 * (core/model/batched.ts):
 * - Conv over X [N, C, H, W] (im2col or 1x1): the rows are the output pixels (n, oh, ow), row-major; the token axis
 *   is the last spatial axis (the text line's width), so row (n, oh, ow) is valid when ow < valid[n].
 * - MatMul over [N, T, C]: the rows are (n, t); row (n, t) is valid when t < valid[n]. A 2-D [T, C] is one sample.
 * In both, the rows are the output's dims without its channel axis (Conv: axis 1; MatMul: the last), the sample is
 * the first of them and the token axis the last. Gemm rows and batched layers are not mapped (null).
 *
 * `valid[n]` at a layer is that layer's extent on the token axis when sample n runs alone at its own width (the
 * model's own downsampling: for PP-OCRv4 rec, width/2 in the stem, /4, then /8 tokens after pooling).
 */

/** The operators whose rows can map to tokens. */
export type TokenOp = 'Conv' | 'MatMul';

/**
 * The row dims of a lowered layer's A: Conv output [N, Cout, ...spatial] → [N, ...spatial]; MatMul output
 * [..., M', N] → [..., M'] (a 2-D output [M', N] → [1, M']). Null for other ops.
 */
export function rowDims(op: string, outDims: readonly number[]): number[] | null {
  if (op === 'Conv' && outDims.length >= 3) return [outDims[0]!, ...outDims.slice(2)];
  if (op === 'MatMul' && outDims.length >= 2) return outDims.length === 2 ? [1, outDims[0]!] : outDims.slice(0, -1);
  return null;
}

/**
 * The valid extent of every sample on a layer's token axis, from the layer's output dims in the padded batch and in
 * each sample's own run, or null when the rows do not map to tokens: another op, a rank or a non-token extent that
 * differs between the runs (then the padding is not only on the token axis), or no row dims.
 * @param batchOut output dims of the layer in the padded batch (N samples)
 * @param aloneOut output dims of the layer when sample n runs alone (batch 1), one per sample
 * @returns valid[n] ≤ the batch's token extent
 */
export function validExtents(op: string, batchOut: readonly number[], aloneOut: readonly (readonly number[])[]): number[] | null {
  const b = rowDims(op, batchOut);
  if (!b || b.length < 2) return null;
  const n = b[0]!;
  if (aloneOut.length !== n) return null;
  const out: number[] = [];
  for (const dims of aloneOut) {
    const a = rowDims(op, dims);
    if (!a || a.length !== b.length || a[0] !== 1) return null;
    // Axes between the sample and the token axis (e.g. the height of a feature map) must agree.
    for (let i = 1; i < b.length - 1; i++) if (a[i] !== b[i]) return null;
    out.push(Math.min(a[a.length - 1]!, b[b.length - 1]!));
  }
  return out;
}

/**
 * The valid rows (ascending) of A for row dims `dims` = [N, ...middle, T] (from `rowDims`) and valid extents
 * `valid` [N] on the last axis: every row (n, …, t) with t < valid[n].
 * @throws RangeError when `valid` does not have one entry per sample or an entry is outside [0, T].
 */
export function validRows(dims: readonly number[], valid: readonly number[]): number[] {
  const [n, ...rest] = dims;
  if (n === undefined || !rest.length) throw new RangeError(`validRows: row dims [${dims.join(', ')}] need a sample and a token axis`);
  if (valid.length !== n) throw new RangeError(`validRows: ${valid.length} lengths for ${n} samples`);
  const t = rest[rest.length - 1]!;
  const middle = rest.slice(0, -1).reduce((x, y) => x * y, 1);
  const rows: number[] = [];
  for (let s = 0; s < n; s++) {
    const v = valid[s]!;
    if (!Number.isInteger(v) || v < 0 || v > t) throw new RangeError(`validRows: length ${v} of sample ${s} is outside [0, ${t}]`);
    for (let p = 0; p < middle; p++) {
      const base = (s * middle + p) * t;
      for (let j = 0; j < v; j++) rows.push(base + j);
    }
  }
  return rows;
}
