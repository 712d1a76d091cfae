/**
 * Image inputs for the PaddleOCR text-detection model: decode JPEG (jpeg-js) or PNG (pngjs) to 8-bit pixels, then
 * preprocess exactly as PaddleOCR's `tools/infer/predict_det.py` pipeline does
 * (`ppocr/data/imaging/operators.py`): DetResizeForTest (resize_image_type0) → NormalizeImage → ToCHWImage, plus
 * the batch dim. The image is used in BGR channel order, as `cv2.imread` returns it, and the mean/std are applied
 * in that channel order (PaddleOCR does not reorder them).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, resolve } from 'node:path';
import { InputError, oneLine } from '../model/errors.ts';
import { imageSize } from './image-header.ts';

const require = createRequire(import.meta.url);

/** An 8-bit image, interleaved channels, row-major: `data[(y·width + x)·3 + c]`. */
export interface Image8 {
  width: number;
  height: number;
  /** Channel order of `data`. */
  order: 'RGB' | 'BGR';
  /** Interleaved 3-channel pixels, length width·height·3. */
  data: Uint8Array;
}

/** PaddleOCR det preprocessing parameters (defaults = `predict_det.py` with `det_limit_type='max'`). */
export interface DetPreprocessSpec {
  /** `limit_side_len`, pixels (PaddleOCR default 960). */
  limitSideLen: number;
  /** `limit_type`: 'max' shrinks the longest side to the limit, 'min' grows the shortest side to it, 'resize_long' scales the longest side to it. */
  limitType: 'max' | 'min' | 'resize_long';
  /** NormalizeImage `scale` (PaddleOCR: 1/255). */
  scale: number;
  /** NormalizeImage `mean`, per channel in the image's (BGR) channel order. */
  mean: [number, number, number];
  /** NormalizeImage `std`, per channel in the image's (BGR) channel order. */
  std: [number, number, number];
}

/** PaddleOCR's det defaults: limit_side_len 960, limit_type 'max', ImageNet mean/std, scale 1/255. */
export const PADDLE_DET_DEFAULTS: Readonly<DetPreprocessSpec> = Object.freeze({
  limitSideLen: 960,
  limitType: 'max',
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406] as [number, number, number],
  std: [0.229, 0.224, 0.225] as [number, number, number],
});

/** A preprocessed image tensor. */
export interface ImageTensor {
  /** [1, 3, H, W]. */
  dims: number[];
  /** float32 NCHW, channels B, G, R. */
  data: Float32Array;
  /** Human-readable account of every step (stored with the run). */
  description: string;
  /** Decoded size before resizing, pixels. */
  source: { width: number; height: number };
}

const IMAGE_EXTS = new Set(['.jpg', '.jpeg', '.png']);

/**
 * Largest image decoded by default, pixels: 8192 × 8192 (67.1 Mpixel; about 450 MB of RGBA and BGR copies while
 * decoding). Larger pictures are refused from their header, before decoding; `PIT_MAX_IMAGE_PIXELS` overrides.
 */
export const DEFAULT_MAX_IMAGE_PIXELS = 8192 * 8192;

/**
 * The pixel limit in force: `PIT_MAX_IMAGE_PIXELS` when set, else DEFAULT_MAX_IMAGE_PIXELS.
 * @throws InputError when the variable is not a positive integer.
 */
export function maxImagePixels(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.PIT_MAX_IMAGE_PIXELS;
  if (raw === undefined || raw === '') return DEFAULT_MAX_IMAGE_PIXELS;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new InputError(`PIT_MAX_IMAGE_PIXELS must be a positive integer (pixels), got '${raw}'`);
  return n;
}

/** Options of decodeImageFile. */
export interface DecodeOptions {
  /** Largest width × height accepted, pixels (default: maxImagePixels()). */
  maxPixels?: number;
}

/**
 * Reads and decodes a JPEG or PNG file to 8-bit BGR (like `cv2.imread(path, IMREAD_COLOR)`: alpha dropped, gray
 * replicated to three channels, JPEG EXIF orientation applied). The size in the file's header is checked against
 * the pixel limit first, so an oversized picture costs milliseconds, not gigabytes.
 *
 * @throws InputError `unsupported image type '.gif' for PATH (expected .jpg, .jpeg or .png)`;
 *   `cannot read image PATH: …` (I/O); `image PATH is W×H (… Mpixel), above the limit …` (too large);
 *   `cannot decode image PATH: …` (corrupt or truncated data)
 */
export function decodeImageFile(path: string, options: DecodeOptions = {}): Image8 {
  const abs = resolve(path);
  const ext = extname(abs).toLowerCase();
  if (!IMAGE_EXTS.has(ext)) {
    throw new InputError(`unsupported image type '${ext || '(none)'}' for ${abs} (expected .jpg, .jpeg or .png)`, { path: abs });
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? `input file not found: ${abs}` : `cannot read image ${abs}: ${oneLine(err)}`, {
      path: abs,
      cause: err,
    });
  }
  const maxPixels = options.maxPixels ?? maxImagePixels();
  checkPixelLimit(bytes, abs, maxPixels);
  try {
    return ext === '.png' ? decodePng(bytes) : decodeJpeg(bytes, maxPixels);
  } catch (err) {
    throw new InputError(`cannot decode image ${abs}: ${oneLine(err)}`, { path: abs, cause: err });
  }
}

/** @throws InputError when the header declares more than `maxPixels` pixels (or a zero size). */
function checkPixelLimit(bytes: Uint8Array, abs: string, maxPixels: number): void {
  const size = imageSize(bytes);
  if (!size) return; // not a readable header: the decoder says what is wrong with the file
  const pixels = size.width * size.height;
  if (pixels === 0) throw new InputError(`cannot decode image ${abs}: its header says ${size.width}×${size.height} pixels`, { path: abs });
  if (pixels > maxPixels) {
    const mp = (n: number) => (n >= 100_000 ? `${(n / 1e6).toFixed(1)} Mpixel` : `${n} pixels`);
    throw new InputError(
      `image ${abs} is ${size.width}×${size.height} (${mp(pixels)}), above the limit of ${mp(maxPixels)}: refused before decoding (PIT_MAX_IMAGE_PIXELS raises the limit)`,
      { path: abs },
    );
  }
}

/** JPEG → BGR via jpeg-js, strict (a truncated or damaged stream is an error, not a half-gray picture). */
function decodeJpeg(bytes: Buffer, maxPixels: number): Image8 {
  const jpeg = require('jpeg-js') as typeof import('jpeg-js');
  // jpeg-js's own guards (default 100 Mpixel, 512 MB) as a second line behind the header check.
  const img = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: false,
    tolerantDecoding: false,
    maxResolutionInMP: Math.ceil(maxPixels / 1e6),
    maxMemoryUsageInMB: Math.max(512, Math.ceil((maxPixels * 8) / 2 ** 20)),
  }) as {
    width: number;
    height: number;
    data: Uint8Array;
    exifBuffer?: Uint8Array;
  };
  if (!img.width || !img.height) throw new Error('no image frame in the file');
  const bgr = swapRB(img.data, img.width * img.height);
  const orientation = img.exifBuffer ? exifOrientation(img.exifBuffer) : 1;
  return orientImage({ width: img.width, height: img.height, order: 'BGR', data: bgr }, orientation);
}

/** PNG → BGR via pngjs (which expands every colour type and bit depth to 8-bit RGBA). */
function decodePng(bytes: Buffer): Image8 {
  const { PNG } = require('pngjs') as typeof import('pngjs');
  const png = PNG.sync.read(bytes);
  const n = png.width * png.height;
  const out = new Uint8Array(n * 3);
  // cv2 IMREAD_COLOR drops alpha without compositing it.
  for (let i = 0; i < n; i++) {
    out[i * 3] = png.data[i * 4 + 2];
    out[i * 3 + 1] = png.data[i * 4 + 1];
    out[i * 3 + 2] = png.data[i * 4];
  }
  return { width: png.width, height: png.height, order: 'BGR', data: out };
}

function swapRB(rgb: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n * 3; i += 3) {
    out[i] = rgb[i + 2];
    out[i + 1] = rgb[i + 1];
    out[i + 2] = rgb[i];
  }
  return out;
}

/** EXIF Orientation tag (0x0112) of an APP1 payload (`Exif\0\0` + TIFF), 1 when absent or unreadable. */
export function exifOrientation(exif: Uint8Array): number {
  try {
    let off = 0;
    if (exif[0] === 0x45 && exif[1] === 0x78 && exif[2] === 0x69 && exif[3] === 0x66) off = 6; // "Exif\0\0"
    const dv = new DataView(exif.buffer, exif.byteOffset, exif.byteLength);
    const little = dv.getUint16(off) === 0x4949; // "II" little-endian, "MM" big-endian
    const ifd = off + dv.getUint32(off + 4, little);
    const entries = dv.getUint16(ifd, little);
    for (let e = 0; e < entries; e++) {
      const p = ifd + 2 + e * 12;
      if (dv.getUint16(p, little) === 0x0112) {
        const v = dv.getUint16(p + 8, little);
        return v >= 1 && v <= 8 ? v : 1;
      }
    }
  } catch {
    // A broken EXIF block must not make a decodable image unusable; cv2 ignores it too.
  }
  return 1;
}

/**
 * Applies an EXIF orientation (1–8, TIFF 6.0 definitions) so the pixels are upright, as cv2.imread does by
 * default: e.g. 6 rotates 90° clockwise, 8 rotates 90° counter-clockwise, 5–8 swap width and height.
 */
export function orientImage(img: Image8, o: number): Image8 {
  if (o === 1) return img;
  const { width: w, height: h, data } = img;
  const swap = o >= 5; // 5–8 transpose the axes
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      // Source pixel of output (x, y) for each orientation (TIFF 6.0 / EXIF 2.3 definitions).
      let sx: number, sy: number;
      switch (o) {
        case 2: sx = w - 1 - x; sy = y; break;
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;
        case 4: sx = x; sy = h - 1 - y; break;
        case 5: sx = y; sy = x; break;
        case 6: sx = y; sy = h - 1 - x; break;
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;
        default: sx = w - 1 - y; sy = x; break; // 8
      }
      const s = (sy * w + sx) * 3;
      const d = (y * ow + x) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { ...img, width: ow, height: oh, data: out };
}

/** Python 3 `round` (half to even), which PaddleOCR's size rounding uses. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Target size of PaddleOCR `DetResizeForTest.resize_image_type0`: ratio from `limit_type`, `int(side·ratio)`, then
 * each side rounded (half to even) to a multiple of 32, at least 32.
 *
 * @returns [height, width] in pixels
 */
export function detResizeTarget(h: number, w: number, limitSideLen: number, limitType: DetPreprocessSpec['limitType']): [number, number] {
  let ratio = 1;
  if (limitType === 'max') {
    if (Math.max(h, w) > limitSideLen) ratio = h > w ? limitSideLen / h : limitSideLen / w;
  } else if (limitType === 'min') {
    if (Math.min(h, w) < limitSideLen) ratio = h < w ? limitSideLen / h : limitSideLen / w;
  } else {
    ratio = limitSideLen / Math.max(h, w);
  }
  const rh = Math.trunc(h * ratio);
  const rw = Math.trunc(w * ratio);
  return [Math.max(roundHalfEven(rh / 32) * 32, 32), Math.max(roundHalfEven(rw / 32) * 32, 32)];
}

/** Fixed-point weights of cv2's 8-bit linear resize (INTER_RESIZE_COEF_BITS = 11). */
const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;

/** cvRound / saturate_cast<short>(float): round half to even. */
function cvRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Per output coordinate: source index and the two fixed-point weights, as cv2 computes them (float32 maths). */
function linearTaps(dst: number, src: number): { idx: Int32Array; w0: Int32Array; w1: Int32Array } {
  const scale = src / dst;
  const idx = new Int32Array(dst);
  const w0 = new Int32Array(dst);
  const w1 = new Int32Array(dst);
  for (let d = 0; d < dst; d++) {
    // Half-pixel centres; cv2 keeps the coordinate in float32.
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (s < 0) {
      s = 0;
      f = 0;
    }
    if (s >= src - 1) {
      s = src - 1;
      f = 0;
    }
    idx[d] = s;
    w0[d] = cvRound(Math.fround(1 - f) * COEF_SCALE);
    w1[d] = cvRound(f * COEF_SCALE);
  }
  return { idx, w0, w1 };
}

/**
 * Bilinear resize of an 8-bit, 3-channel interleaved image like `cv2.resize(img, (outW, outH))` (INTER_LINEAR):
 * half-pixel centres, edge clamping, 11-bit fixed-point weights, horizontal then vertical pass, rounded back to
 * uint8. Follows OpenCV's generic (scalar) path; its SIMD path rounds the vertical pass slightly differently, so
 * results can differ from a given OpenCV build by ±1 level on some pixels.
 *
 * @returns a new image of outW×outH, same channel order
 */
export function resizeBilinear(img: Image8, outW: number, outH: number): Image8 {
  const { width: w, height: h, data } = img;
  const xs = linearTaps(outW, w);
  const ys = linearTaps(outH, h);
  // Horizontal pass: every source row once, values scaled by 2^11.
  const rows = new Int32Array(h * outW * 3);
  for (let y = 0; y < h; y++) {
    const src = y * w * 3;
    const dstRow = y * outW * 3;
    for (let x = 0; x < outW; x++) {
      const s0 = src + xs.idx[x] * 3;
      const s1 = xs.idx[x] + 1 < w ? s0 + 3 : s0; // the right edge has weight 0 on the missing tap
      const a0 = xs.w0[x];
      const a1 = xs.w1[x];
      for (let c = 0; c < 3; c++) rows[dstRow + x * 3 + c] = data[s0 + c] * a0 + data[s1 + c] * a1;
    }
  }
  // Vertical pass: (S0·b0 + S1·b1 + 2^21) >> 22, saturated to uint8.
  const out = new Uint8Array(outW * outH * 3);
  const half = 2 ** (2 * COEF_BITS - 1);
  const div = 2 ** (2 * COEF_BITS);
  for (let y = 0; y < outH; y++) {
    const r0 = ys.idx[y] * outW * 3;
    const r1 = ys.idx[y] + 1 < h ? r0 + outW * 3 : r0;
    const b0 = ys.w0[y];
    const b1 = ys.w1[y];
    const dst = y * outW * 3;
    for (let i = 0; i < outW * 3; i++) {
      const v = Math.floor((rows[r0 + i] * b0 + rows[r1 + i] * b1 + half) / div);
      out[dst + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { width: outW, height: outH, order: img.order, data: out };
}

/**
 * PaddleOCR det preprocessing of a decoded BGR image: DetResizeForTest (resize_image_type0) → NormalizeImage
 * ((x·scale − mean) / std per channel, hwc) → ToCHWImage → batch dim.
 *
 * @returns float32 [1, 3, H, W] (channels B, G, R) with H and W multiples of 32, and a description of the steps
 */
export function preprocessDet(img: Image8, spec: DetPreprocessSpec = PADDLE_DET_DEFAULTS): ImageTensor {
  const [oh, ow] = detResizeTarget(img.height, img.width, spec.limitSideLen, spec.limitType);
  const resized = oh === img.height && ow === img.width ? img : resizeBilinear(img, ow, oh);
  const plane = oh * ow;
  const out = new Float32Array(3 * plane);
  // Per-channel lookup tables: 256 values each, computed in float32 as numpy does with float32 arrays.
  const lut: Float32Array[] = [0, 1, 2].map((c) => {
    const t = new Float32Array(256);
    const scale = Math.fround(spec.scale);
    const mean = Math.fround(spec.mean[c]);
    const std = Math.fround(spec.std[c]);
    for (let v = 0; v < 256; v++) t[v] = Math.fround(Math.fround(Math.fround(v * scale) - mean) / std);
    return t;
  });
  const d = resized.data;
  for (let p = 0; p < plane; p++) {
    out[p] = lut[0][d[p * 3]];
    out[plane + p] = lut[1][d[p * 3 + 1]];
    out[2 * plane + p] = lut[2][d[p * 3 + 2]];
  }
  const f = (x: number[]) => `[${x.map((v) => +v.toFixed(4)).join(', ')}]`;
  const scaleText = Math.abs(spec.scale - 1 / 255) < 1e-12 ? '1/255' : String(spec.scale);
  const description =
    `PaddleOCR det (ppocr/data/imaging/operators.py): decoded ${img.width}x${img.height}, channels BGR as cv2.imread; ` +
    `DetResizeForTest limit_type=${spec.limitType} limit_side_len=${spec.limitSideLen} → ${ow}x${oh} ` +
    `(sides int(side·ratio) rounded to a multiple of 32, min 32; bilinear like cv2.resize INTER_LINEAR); ` +
    `NormalizeImage scale=${scaleText} mean=${f(spec.mean)} std=${f(spec.std)} in BGR order; ToCHWImage; ` +
    `batch → [1, 3, ${oh}, ${ow}] float32`;
  return { dims: [1, 3, oh, ow], data: out, description, source: { width: img.width, height: img.height } };
}

/**
 * Decode + PaddleOCR det preprocessing of an image file.
 *
 * @param spec overrides of `PADDLE_DET_DEFAULTS` (e.g. `{ limitSideLen: 128 }`)
 * @throws InputError as `decodeImageFile`
 */
export function loadImageTensor(path: string, spec: Partial<DetPreprocessSpec> = {}): ImageTensor {
  return preprocessDet(decodeImageFile(path), { ...PADDLE_DET_DEFAULTS, ...spec });
}
