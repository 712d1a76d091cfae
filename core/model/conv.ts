/**
 * Conv and ConvTranspose as matmuls, for 1, 2 or 3 spatial dims and any `group` (ONNX Conv opset 1/11/22,
 * ConvTranspose opset 1/11/22, tensors NC[D]H[W] row-major).
 *
 * Every group is one matmul `C_g[M, Ng] = A_g[M, Kg]·B_g[Kg, Ng]` with
 * - M = batch·prod(output spatial) rows, ordered (n, o_1, …, o_d);
 * - Kg = (Cin/G)·prod(kernel) columns, ordered (ci within the group, j_1, …, j_d) (im2col);
 * - Ng = Cout/G output channels of the group.
 * A grouped conv is then a batched matmul with the groups as the batch (`A [G, M, Kg]`, `B [G, Kg, Ng]`); a
 * depthwise conv is the case Kg = prod(kernel), Ng = channel multiplier (usually 1).
 *
 * ConvTranspose is lowered without col2im: it equals a stride-1 Conv over the input with `stride − 1` zeros inserted
 * between neighbours, padded by `dilation·(k − 1) − pad` (plus `output_padding` at the end), with the kernel flipped
 * and its in/out channel axes swapped. The zero insertion is never materialised: the im2col below reads a virtual
 * coordinate and maps it back to the input (or to 0). The zeros it produces are structural sparsity of A (75 % for a
 * 2x2 stride-2 ConvTranspose), which is exactly what PIT's gather kernels skip.
 */
import { ModelError } from './errors.ts';
import { formatDims } from './ir.ts';
import type { ConvAttrs } from './sparse-ops.ts';

/**
 * Geometry of one Conv / ConvTranspose with d = 1, 2 or 3 spatial dims: sizes in elements (channels) and in
 * positions along each spatial axis. Arrays of spatial values have length d, in ONNX axis order (D, H, W).
 */
export interface ConvGeometry {
  /** True for ConvTranspose. */
  transposed: boolean;
  batch: number;
  cin: number;
  cout: number;
  group: number;
  /** Input spatial size, e.g. [H, W]; [L] for Conv1d; [D, H, W] for Conv3d. */
  inSize: number[];
  /** Kernel spatial size. */
  kernel: number[];
  /** Output spatial size (ONNX formulas; see `convGeometry`). */
  outSize: number[];
  /**
   * Effective pads [begin_1…begin_d, end_1…end_d] after `auto_pad` (and ConvTranspose `output_shape`). For
   * ConvTranspose they are the ONNX pads: what is cropped from the full transposed output.
   */
  pads: number[];
  strides: number[];
  dilations: number[];
  /** ConvTranspose `output_padding` (zeros for Conv). */
  outputPadding: number[];
}

/** Rows, per-group reduction length and per-group output channels of a conv's matmul form. */
export function convMatmulSize(g: ConvGeometry): { m: number; kGroup: number; nGroup: number } {
  return { m: g.batch * prod(g.outSize), kGroup: (g.cin / g.group) * prod(g.kernel), nGroup: g.cout / g.group };
}

function prod(xs: readonly number[]): number {
  let p = 1;
  for (const x of xs) p *= x;
  return p;
}

/** A per-axis attribute with its ONNX default: `v` when it has `d` values, else `d` copies of `dflt`. */
function perAxis(v: readonly number[] | undefined, d: number, dflt: number): number[] {
  return v && v.length === d ? v.slice() : new Array<number>(d).fill(dflt);
}

/**
 * Output size and effective pads of a Conv or ConvTranspose, per the ONNX specs.
 *
 * Conv: NOTSET uses `pads`; VALID none; SAME_UPPER / SAME_LOWER give out = ceil(in / stride) and pad
 * (out − 1)·stride + (k − 1)·dilation + 1 − in in total, the odd element at the end (UPPER) or the beginning (LOWER);
 * out = floor((in + pads − ((k − 1)·dilation + 1)) / stride) + 1.
 *
 * ConvTranspose: out = stride·(in − 1) + output_padding + (k − 1)·dilation + 1 − pad_begin − pad_end, where the pads
 * come from `pads` (NOTSET), are 0 (VALID), or are derived from a total padding (from `output_shape` when given, else
 * from out = in·stride for SAME_*): SAME_UPPER puts the odd element at the end, anything else at the beginning (the
 * ConvTranspose spec's formulas, which onnxruntime follows).
 *
 * @param x input dims [N, Cin, *spatial]
 * @param wDims weight dims: Conv [Cout, Cin/G, *k]; ConvTranspose [Cin, Cout/G, *k]
 * @param where node name for messages
 * @throws ModelError when ranks disagree or are not 3–5, channels do not match `group`, or the output would be empty
 */
export function convGeometry(x: readonly number[], wDims: readonly number[], attrs: ConvAttrs, where = 'Conv', transposed = false): ConvGeometry {
  const op = transposed ? 'ConvTranspose' : 'Conv';
  const fail = (msg: string): never => {
    throw new ModelError(`${where}: ${msg}`, { node: where });
  };
  if (x.length < 3 || x.length > 5 || wDims.length !== x.length) {
    fail(`${op} needs input and weight of the same rank 3–5 (1–3 spatial dims), got ${formatDims(x)} and ${formatDims(wDims)}`);
  }
  const d = x.length - 2;
  const group = attrs.group;
  const [batch, cin] = x as [number, number];
  const inSize = x.slice(2);
  const kernel = wDims.slice(2);
  if (attrs.kernel && attrs.kernel.length === d && attrs.kernel.join() !== kernel.join()) {
    fail(`kernel_shape ${formatDims(attrs.kernel)} differs from the weight's ${formatDims(kernel)}`);
  }
  let cout: number;
  if (!transposed) {
    cout = wDims[0]!;
    if (wDims[1]! * group !== cin) {
      fail(`weight ${formatDims(wDims)} with group=${group} expects ${wDims[1]! * group} input channels, input ${formatDims(x)} has ${cin}`);
    }
    if (cout % group !== 0) fail(`${cout} output channels are not divisible by group=${group}`);
  } else {
    if (wDims[0] !== cin) fail(`weight ${formatDims(wDims)} expects ${wDims[0]} input channels, input ${formatDims(x)} has ${cin}`);
    if (cin % group !== 0) fail(`${cin} input channels are not divisible by group=${group}`);
    cout = wDims[1]! * group;
  }
  const strides = perAxis(attrs.strides, d, 1);
  const dilations = perAxis(attrs.dilations, d, 1);
  const givenPads = perAxis(attrs.pads, 2 * d, 0);
  const outputPadding = transposed ? perAxis(attrs.outputPadding, d, 0) : new Array<number>(d).fill(0);
  const pads = new Array<number>(2 * d).fill(0);
  const outSize = new Array<number>(d);
  for (let a = 0; a < d; a++) {
    const ext = (kernel[a]! - 1) * dilations[a]! + 1;
    const s = strides[a]!;
    const split = (total: number, endGetsOdd: boolean) => {
      const small = Math.floor(total / 2);
      pads[a] = endGetsOdd ? small : total - small;
      pads[a + d] = total - pads[a]!;
    };
    if (!transposed) {
      if (attrs.autoPad === 'SAME_UPPER' || attrs.autoPad === 'SAME_LOWER') {
        outSize[a] = Math.ceil(inSize[a]! / s);
        split(Math.max(0, (outSize[a]! - 1) * s + ext - inSize[a]!), attrs.autoPad === 'SAME_UPPER');
      } else {
        if (attrs.autoPad === 'NOTSET') [pads[a], pads[a + d]] = [givenPads[a]!, givenPads[a + d]!];
        outSize[a] = Math.floor((inSize[a]! + pads[a]! + pads[a + d]! - ext) / s) + 1;
      }
    } else {
      const full = s * (inSize[a]! - 1) + outputPadding[a]! + ext;
      const shape = attrs.outputShape;
      if (shape && shape.length >= d) {
        split(full - shape[shape.length - d + a]!, attrs.autoPad === 'SAME_UPPER');
      } else if (attrs.autoPad === 'SAME_UPPER' || attrs.autoPad === 'SAME_LOWER') {
        split(Math.max(0, full - inSize[a]! * s), attrs.autoPad === 'SAME_UPPER');
      } else if (attrs.autoPad === 'NOTSET') {
        [pads[a], pads[a + d]] = [givenPads[a]!, givenPads[a + d]!];
      }
      outSize[a] = full - pads[a]! - pads[a + d]!;
    }
  }
  if (outSize.some((o) => o <= 0)) {
    fail(`input ${formatDims(x)} is too small for kernel ${kernel.join('x')} (output ${outSize.join('x')})`);
  }
  return { transposed, batch, cin, cout, group, inSize, kernel, outSize, pads, strides, dilations, outputPadding };
}

/**
 * Per spatial axis, the input coordinate each (output position o, kernel tap j) reads along that axis, or -1 where it
 * reads padding (or, for ConvTranspose, an inserted zero): `axes[a][o·k_a + j]`. Small (Σ out_a·k_a entries): the
 * offsets of a whole window are combined from it row by row (`WindowTaps`), never tabulated for every position.
 */
function axisCoords(g: ConvGeometry): Int32Array[] {
  const d = g.inSize.length;
  const out: Int32Array[] = [];
  for (let a = 0; a < d; a++) {
    const inA = g.inSize[a]!;
    const outA = g.outSize[a]!;
    const kA = g.kernel[a]!;
    const s = g.strides[a]!;
    const dil = g.dilations[a]!;
    const pb = g.pads[a]!;
    const axis = new Int32Array(outA * kA);
    for (let o = 0; o < outA; o++) {
      for (let j = 0; j < kA; j++) {
        let c: number;
        if (!g.transposed) {
          c = o * s - pb + j * dil;
        } else {
          // Virtual coordinate in the zero-inserted input (its stride-1 conv pad is dil·(k − 1) − pb); j is the
          // flipped kernel tap, so the weight side reverses the kernel.
          const v = o + pb - (kA - 1) * dil + j * dil;
          c = v >= 0 && v % s === 0 ? v / s : -1;
        }
        axis[o * kA + j] = c >= 0 && c < inA ? c : -1;
      }
    }
    out.push(axis);
  }
  return out;
}

/**
 * The window of one output position at a time: for output position p (row-major over `outSize`), the offset of the
 * input element each kernel tap j (row-major over `kernel`) reads within one input channel plane, or -1 (padding,
 * inserted zero). O(prod(kernel)) per position and memory, however large the output.
 */
class WindowTaps {
  private readonly axes: Int32Array[];
  private readonly taps: Int32Array;
  private readonly o: number[];

  constructor(private readonly g: ConvGeometry) {
    this.axes = axisCoords(g);
    this.taps = new Int32Array(prod(g.kernel));
    this.o = new Array<number>(g.outSize.length).fill(0);
  }

  /** The offsets of position p's taps (a view reused by the next call). */
  at(p: number): Int32Array {
    const { g, axes, taps, o } = this;
    const d = g.outSize.length;
    for (let a = d - 1, rest = p; a >= 0; a--) {
      o[a] = rest % g.outSize[a]!;
      rest = Math.floor(rest / g.outSize[a]!);
    }
    // Combine axis by axis, innermost last: offset = ((c_1)·in_2 + c_2)·in_3 + c_3, -1 as soon as one axis is.
    let count = 1;
    taps[0] = 0;
    for (let a = 0; a < d; a++) {
      const kA = g.kernel[a]!;
      const inA = g.inSize[a]!;
      const row = axes[a]!;
      const base = o[a]! * kA;
      for (let t = count - 1; t >= 0; t--) {
        const prev = taps[t]!;
        for (let j = kA - 1; j >= 0; j--) {
          const c = row[base + j]!;
          taps[t * kA + j] = prev < 0 || c < 0 ? -1 : prev * inA + c;
        }
      }
      count *= kA;
    }
    return taps;
  }
}

/**
 * im2col of every group: `A [G, M, Kg]` row-major, A[g, (n, p), (ci, j)] = X[n, g·Cin/G + ci, window(p, j)] or 0.
 * For group = 1 this is the plain `[M, K]` im2col.
 *
 * @param x input [N, Cin, *spatial] row-major
 */
export function im2colGrouped(x: Float32Array, g: ConvGeometry): Float32Array {
  const { m, kGroup } = convMatmulSize(g);
  const cg = g.cin / g.group;
  const positions = prod(g.outSize);
  const plane = prod(g.inSize);
  const window = new WindowTaps(g);
  const taps = prod(g.kernel);
  const out = new Float32Array(g.group * m * kGroup); // zero-filled: padding and inserted zeros stay 0
  for (let p = 0; p < positions; p++) {
    const offsets = window.at(p);
    for (let gi = 0; gi < g.group; gi++) {
      for (let n = 0; n < g.batch; n++) {
        const row = (gi * m + n * positions + p) * kGroup;
        for (let ci = 0; ci < cg; ci++) {
          const src = (n * g.cin + gi * cg + ci) * plane;
          const col = row + ci * taps;
          for (let j = 0; j < taps; j++) {
            const off = offsets[j]!;
            if (off >= 0) out[col + j] = x[src + off]!;
          }
        }
      }
    }
  }
  return out;
}

/** @throws RangeError unless 0 ≤ r0 ≤ r1 ≤ m and 0 ≤ gi < group. */
function checkRows(what: string, g: ConvGeometry, m: number, r0: number, r1: number, gi: number): void {
  if (!(Number.isInteger(gi) && gi >= 0 && gi < g.group)) throw new RangeError(`${what}: group ${gi} outside [0, ${g.group})`);
  if (!(Number.isInteger(r0) && Number.isInteger(r1) && 0 <= r0 && r0 <= r1 && r1 <= m)) throw new RangeError(`${what}: rows [${r0}, ${r1}) outside [0, ${m}]`);
}

/**
 * Rows `[r0, r1)` of group `gi`'s im2col: `A_gi[r0:r1, Kg]` row-major, identical to the same rows of batch `gi` of
 * `im2colGrouped(x, g)` without materialising the rest (a layer too large for one GPU binding or the memory budget is
 * measured in slices of rows or of groups; core/model/slices.ts). Conv and ConvTranspose alike.
 *
 * @param x input [N, Cin, *spatial] row-major
 * @param gi the group (default 0: the only one of a group-1 conv)
 * @throws RangeError when the rows are outside [0, M] or the group outside [0, G)
 */
export function im2colRows(x: Float32Array, g: ConvGeometry, r0: number, r1: number, gi = 0): Float32Array {
  const { m, kGroup } = convMatmulSize(g);
  checkRows('im2colRows', g, m, r0, r1, gi);
  const cg = g.cin / g.group;
  const positions = prod(g.outSize);
  const taps = prod(g.kernel);
  const plane = prod(g.inSize);
  const window = new WindowTaps(g);
  const out = new Float32Array((r1 - r0) * kGroup); // zero-filled: padding and inserted zeros stay 0
  for (let row = r0; row < r1; row++) {
    const n = Math.floor(row / positions);
    const offsets = window.at(row - n * positions);
    const dst = (row - r0) * kGroup;
    for (let ci = 0; ci < cg; ci++) {
      const src = (n * g.cin + gi * cg + ci) * plane;
      const col = dst + ci * taps;
      for (let j = 0; j < taps; j++) {
        const off = offsets[j]!;
        if (off >= 0) out[col + j] = x[src + off]!;
      }
    }
  }
  return out;
}

/**
 * Rows `[r0, r1)` of group `gi`'s output in matmul form: `C_gi[r0:r1, Cout/G]`, the same rows as batch `gi` of
 * `convOutputToRows(y, g)` without the rest.
 * @param gi the group (default 0)
 * @throws RangeError when the rows are outside [0, M] or the group outside [0, G)
 */
export function convOutputRows(y: Float32Array, g: ConvGeometry, r0: number, r1: number, gi = 0): Float32Array {
  const { m, nGroup } = convMatmulSize(g);
  checkRows('convOutputRows', g, m, r0, r1, gi);
  const positions = prod(g.outSize);
  const out = new Float32Array((r1 - r0) * nGroup);
  for (let row = r0; row < r1; row++) {
    const n = Math.floor(row / positions);
    const p = row - n * positions;
    const dst = (row - r0) * nGroup;
    for (let c = 0; c < nGroup; c++) out[dst + c] = y[(n * g.cout + gi * nGroup + c) * positions + p]!;
  }
  return out;
}

/**
 * The weight as `B [G, Kg, Ng]` row-major.
 * Conv W [Cout, Cin/G, *k]: B[g, (ci, j), co] = W[g·Ng + co, ci, j].
 * ConvTranspose W [Cin, Cout/G, *k]: B[g, (ci, j), co] = W[g·Cin/G + ci, co, flip(j)] (flip of every kernel axis,
 * which reverses the flattened tap index).
 */
export function convWeightToB(w: Float32Array, g: ConvGeometry): Float32Array {
  const { kGroup, nGroup } = convMatmulSize(g);
  const taps = prod(g.kernel);
  const cg = g.cin / g.group;
  const out = new Float32Array(g.group * kGroup * nGroup);
  for (let gi = 0; gi < g.group; gi++) {
    const base = gi * kGroup * nGroup;
    for (let ci = 0; ci < cg; ci++) {
      for (let j = 0; j < taps; j++) {
        const row = base + (ci * taps + j) * nGroup;
        for (let co = 0; co < nGroup; co++) {
          out[row + co] = g.transposed
            ? w[((gi * cg + ci) * nGroup + co) * taps + (taps - 1 - j)]!
            : w[((gi * nGroup + co) * cg + ci) * taps + j]!;
        }
      }
    }
  }
  return out;
}

/**
 * A conv output `Y [N, Cout, *out]` rearranged to `[G, M, Ng]`: row (n, p) of group g holds Y[n, g·Ng + co, p].
 * With one group it is NC… → channels-last `[N·prod(out), Cout]`.
 */
export function convOutputToRows(y: Float32Array, g: ConvGeometry): Float32Array {
  const { m, nGroup } = convMatmulSize(g);
  const positions = prod(g.outSize);
  const out = new Float32Array(g.group * m * nGroup);
  for (let n = 0; n < g.batch; n++) {
    for (let c = 0; c < g.cout; c++) {
      const gi = Math.floor(c / nGroup);
      const co = c - gi * nGroup;
      const src = (n * g.cout + c) * positions;
      const dst = gi * m * nGroup + n * positions * nGroup + co;
      for (let p = 0; p < positions; p++) out[dst + p * nGroup] = y[src + p]!;
    }
  }
  return out;
}

/** Whether the conv's im2col is a plain channels-last copy (1x1 kernel, stride 1, no pads, not transposed). */
export function isPointwise(g: ConvGeometry): boolean {
  return !g.transposed && g.kernel.every((k) => k === 1) && g.strides.every((s) => s === 1) && g.pads.every((p) => p === 0);
}
