/**
 * Independent checks for the TF.js tests: a direct grouped 2-D convolution over NCHW (the ONNX Conv definition, written
 * out as loops, no im2col) and error measures.
 */
import type { ConstTensor, TensorData } from '../../core/model/ir.ts';

/**
 * ONNX Conv with `group`: Y[n, o, y, x] = b[o] + Σ_{c in o's group, i, j} X[n, g·cpg + c, y·s − pt + i, x·s − pl + j]·W[o, c, i, j],
 * with pads from SAME_UPPER (odd total at the end) or given explicitly.
 */
export function groupedConvNchw(
  x: TensorData,
  w: Pick<ConstTensor, 'dims' | 'data'>,
  bias: Float32Array | undefined,
  group: number,
  strides: [number, number],
  pad: 'SAME_UPPER' | [number, number, number, number],
): Float32Array {
  const [n, cin, h, wd] = x.dims as [number, number, number, number];
  const [cout, cpg, kh, kw] = w.dims as [number, number, number, number];
  const [sh, sw] = strides;
  let ho: number, wo: number, pt: number, pl: number;
  if (pad === 'SAME_UPPER') {
    ho = Math.ceil(h / sh);
    wo = Math.ceil(wd / sw);
    pt = Math.floor(Math.max(0, (ho - 1) * sh + kh - h) / 2);
    pl = Math.floor(Math.max(0, (wo - 1) * sw + kw - wd) / 2);
  } else {
    [pt, pl] = pad;
    ho = Math.floor((h + pad[0] + pad[2] - kh) / sh) + 1;
    wo = Math.floor((wd + pad[1] + pad[3] - kw) / sw) + 1;
  }
  if (cpg * group !== cin) throw new Error(`weight expects ${cpg * group} input channels, input has ${cin}`);
  const opg = cout / group;
  const y = new Float32Array(n * cout * ho * wo);
  for (let b = 0; b < n; b++)
    for (let o = 0; o < cout; o++) {
      const g = Math.floor(o / opg);
      for (let oy = 0; oy < ho; oy++)
        for (let ox = 0; ox < wo; ox++) {
          let s = bias ? bias[o]! : 0;
          for (let c = 0; c < cpg; c++)
            for (let i = 0; i < kh; i++) {
              const iy = oy * sh - pt + i;
              if (iy < 0 || iy >= h) continue;
              for (let j = 0; j < kw; j++) {
                const ix = ox * sw - pl + j;
                if (ix < 0 || ix >= wd) continue;
                s += x.data[((b * cin + g * cpg + c) * h + iy) * wd + ix]! * w.data[((o * cpg + c) * kh + i) * kw + j]!;
              }
            }
          y[((b * cout + o) * ho + oy) * wo + ox] = s;
        }
    }
  return y;
}

/** max |a − b| / max(max |b|, 1e-12). */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return d / Math.max(m, 1e-12);
}

/** Fraction of exact zeros. */
export function zeroFraction(a: ArrayLike<number>): number {
  let z = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === 0) z++;
  return z / a.length;
}
