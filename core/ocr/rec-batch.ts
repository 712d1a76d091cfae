/**
 * Batching text-line crops for recognition as PaddleOCR does (`tools/infer/predict_rec.py`, `TextRecognizer.__call__`
 * and `resize_norm_img`, rec_image_shape 3,48,320): the crops are sorted by aspect ratio (w/h); a batch's width is
 * imgW = int(48 · max(320/48, widest w/h in the batch)); each crop is resized to height 48 and width
 * min(imgW, ceil(48 · w/h)) (cv2.resize, bilinear), normalised (x/255 − 0.5)/0.5 in BGR order, and zero-padded on
 * the right to imgW. The un-padded width of each sample is known, so its valid tokens are too (core/ocr/seqlen.ts).
 */
import { resizeBilinear, type Image8 } from '../inputs/image.ts';

/** PaddleOCR rec's input height, pixels. */
export const REC_HEIGHT = 48;
/** PaddleOCR rec's default (minimum) batch width, pixels (rec_image_shape 3,48,320). */
export const REC_MIN_WIDTH = 320;

/** One sample of a batch. */
export interface RecSampleGeometry {
  /** The crop's size, pixels. */
  width: number;
  height: number;
  /** w / h of the crop. */
  ratio: number;
  /** Width after resizing to the batch height: min(batch width, ceil(height · ratio)), pixels: the valid width. */
  resizedWidth: number;
}

/** The geometry of one batch. */
export interface RecBatchGeometry {
  /** Batch height (48), pixels. */
  height: number;
  /** Batch width imgW, pixels: every sample is padded on the right to it. */
  width: number;
  samples: RecSampleGeometry[];
  /** Fraction (0–1) of the batch's pixels that are padding: 1 − Σ resizedWidth / (N · width). */
  paddingShare: number;
}

/**
 * The geometry of a batch of crops, in the order given (sort them with `sortByAspect` first, as PaddleOCR does).
 * @param opts `height` (48) and `minWidth` (320: PaddleOCR's rec_image_shape width, the smallest batch width)
 * @throws RangeError on an empty batch, a crop without pixels, or a non-positive height / width.
 */
export function recBatchGeometry(crops: readonly { width: number; height: number }[], opts: { height?: number; minWidth?: number } = {}): RecBatchGeometry {
  const height = opts.height ?? REC_HEIGHT;
  const minWidth = opts.minWidth ?? REC_MIN_WIDTH;
  if (!Number.isInteger(height) || height < 1) throw new RangeError(`batch height must be a positive integer, got ${height}`);
  if (!Number.isInteger(minWidth) || minWidth < 1) throw new RangeError(`minimum batch width must be a positive integer, got ${minWidth}`);
  if (!crops.length) throw new RangeError('a batch needs at least one crop');
  for (const c of crops) if (!(c.width >= 1 && c.height >= 1)) throw new RangeError(`crop of ${c.width}x${c.height} pixels has no area`);
  let maxRatio = minWidth / height;
  for (const c of crops) maxRatio = Math.max(maxRatio, c.width / c.height);
  const width = Math.trunc(height * maxRatio);
  const samples = crops.map((c) => {
    const ratio = c.width / c.height;
    return { width: c.width, height: c.height, ratio, resizedWidth: Math.min(width, Math.ceil(height * ratio)) };
  });
  const valid = samples.reduce((s, x) => s + x.resizedWidth, 0);
  return { height, width, samples, paddingShare: 1 - valid / (samples.length * width) };
}

/** Indices of `crops` in PaddleOCR's order: ascending aspect ratio w/h (a stable sort). */
export function sortByAspect(crops: readonly { width: number; height: number }[]): number[] {
  return crops.map((c, i) => ({ i, r: c.width / c.height })).sort((a, b) => a.r - b.r || a.i - b.i).map((x) => x.i);
}

/**
 * One crop resized and normalised as PaddleOCR rec does, un-padded: float32 [3, height, resizedWidth], BGR planes,
 * (x/255 − 0.5)/0.5.
 */
export function recSampleTensor(crop: Image8, height: number, resizedWidth: number): Float32Array {
  const img = resizeBilinear(crop, resizedWidth, height);
  const plane = height * resizedWidth;
  const out = new Float32Array(3 * plane);
  // Channel c of the tensor is B, G, R: index 2 − c of an RGB image, c of a BGR one.
  for (let c = 0; c < 3; c++) {
    const src = img.order === 'BGR' ? c : 2 - c;
    for (let p = 0; p < plane; p++) out[c * plane + p] = (img.data[p * 3 + src]! / 255 - 0.5) / 0.5;
  }
  return out;
}

/** The batch tensor and each sample alone. */
export interface RecBatchTensors {
  /** float32 [N, 3, height, width], zero right padding. */
  batch: { dims: number[]; data: Float32Array };
  /** Sample n alone, un-padded: float32 [1, 3, height, resizedWidth]. */
  alone: { dims: number[]; data: Float32Array }[];
}

/**
 * The padded batch and every sample alone, from the crops (in the geometry's order).
 * @throws RangeError when the crops do not match the geometry.
 */
export function recBatchTensors(crops: readonly Image8[], g: RecBatchGeometry): RecBatchTensors {
  if (crops.length !== g.samples.length) throw new RangeError(`${crops.length} crops for a batch of ${g.samples.length}`);
  const { height: h, width: w } = g;
  const n = crops.length;
  const data = new Float32Array(n * 3 * h * w);
  const alone = crops.map((crop, i) => {
    const s = g.samples[i]!;
    if (crop.width !== s.width || crop.height !== s.height) throw new RangeError(`crop ${i} is ${crop.width}x${crop.height}, the geometry says ${s.width}x${s.height}`);
    const t = recSampleTensor(crop, h, s.resizedWidth);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < h; y++) {
        const from = (c * h + y) * s.resizedWidth;
        data.set(t.subarray(from, from + s.resizedWidth), ((i * 3 + c) * h + y) * w);
      }
    }
    return { dims: [1, 3, h, s.resizedWidth], data: t };
  });
  return { batch: { dims: [n, 3, h, w], data }, alone };
}

/**
 * Token-level padding: the share (0–1) of the batch's output tokens that are padding, 1 − Σ valid / (N · T).
 */
export function tokenPaddingShare(valid: readonly number[], tokens: number): number {
  if (!valid.length || tokens < 1) return 0;
  return 1 - valid.reduce((s, v) => s + v, 0) / (valid.length * tokens);
}
