/**
 * Image preprocessing of Keras / TF.js image classifiers such as nsfwjs' MobileNetV2 and InceptionV3: RGB pixels
 * scaled to [0, 1], resized to the model's square input with bilinear interpolation.
 *
 * Follows nsfwjs 4 `NSFWJS.infer` (`dist/esm/core.js`): `tf.browser.fromPixels(img).toFloat().div(255)`, then, when
 * the image is not already `size×size`, `tf.image.resizeBilinear(x, [size, size], alignCorners = true)` (TF.js'
 * `ResizeBilinear` without half-pixel centres: source = dst · (in − 1) / (out − 1)), then a batch dim. The tensor is
 * handed over in the IR's NCHW layout (`[1, 3, H, W]`); the TF.js reference transposes it back to NHWC.
 */
import type { Image8, ImageTensor } from './image.ts';

/**
 * RGB / 255, bilinear resize with aligned corners to `height × width`, NCHW.
 *
 * @param img decoded 8-bit image (either channel order; the output is R, G, B)
 * @param height output rows, pixels (≥ 1)
 * @param width output columns, pixels (≥ 1)
 * @returns float32 `[1, 3, height, width]` in [0, 1], channels R, G, B, and a description of the steps
 */
export function preprocessRgb01(img: Image8, height: number, width: number): ImageTensor {
  const { width: w, height: h, data } = img;
  // Channel c of the output (R, G, B) is at this offset of an interleaved source pixel.
  const src = img.order === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  const plane = height * width;
  const out = new Float32Array(3 * plane);
  const same = h === height && w === width;
  const ys = taps(height, h);
  const xs = taps(width, w);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number) => Math.fround(data[(yy * w + xx) * 3 + src[c]!]! / 255);
        let v: number;
        if (same) v = at(y, x);
        else {
          // TF's ResizeBilinear: top = tl + (tr − tl)·dx, bottom likewise, top + (bottom − top)·dy.
          const tl = at(ys.lo[y]!, xs.lo[x]!);
          const tr = at(ys.lo[y]!, xs.hi[x]!);
          const bl = at(ys.hi[y]!, xs.lo[x]!);
          const br = at(ys.hi[y]!, xs.hi[x]!);
          const top = tl + (tr - tl) * xs.frac[x]!;
          const bottom = bl + (br - bl) * xs.frac[x]!;
          v = top + (bottom - top) * ys.frac[y]!;
        }
        out[c * plane + y * width + x] = v;
      }
    }
  }
  const description =
    `RGB / 255 (nsfwjs / Keras image classifiers): decoded ${w}x${h}; ` +
    (same ? 'no resize (already the input size); ' : `tf.image.resizeBilinear alignCorners=true → ${width}x${height}; `) +
    `NCHW → [1, 3, ${height}, ${width}] float32`;
  return { dims: [1, 3, height, width], data: out, description, source: { width: w, height: h } };
}

/** Per output coordinate: the two source indices and the weight of the second (aligned corners, no half pixel). */
function taps(dst: number, src: number): { lo: Int32Array; hi: Int32Array; frac: Float64Array } {
  const scale = dst > 1 ? (src - 1) / (dst - 1) : 0;
  const lo = new Int32Array(dst);
  const hi = new Int32Array(dst);
  const frac = new Float64Array(dst);
  for (let d = 0; d < dst; d++) {
    const s = d * scale;
    const l = Math.min(Math.floor(s), src - 1);
    lo[d] = l;
    hi[d] = Math.min(l + 1, src - 1);
    frac[d] = s - l;
  }
  return { lo, hi, frac };
}
