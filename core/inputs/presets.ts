/**
 * Named image preprocessing presets, and the small spec they are made of, for models other than PaddleOCR det:
 *
 * - `paddle-det` — PaddleOCR text detection (`image.ts`: DetResizeForTest limit_type max, sides multiples of 32,
 *   ImageNet mean/std, BGR). The default; `--image-size` is its `limit_side_len`.
 * - `paddle-rec` — PaddleOCR text recognition (`tools/infer/predict_rec.py` `resize_norm_img`, rec_image_shape
 *   3,48,320): height 48, width int(48·max(320/48, w/h)); the image resized to height 48 keeping its aspect
 *   (width ceil(48·w/h), at most that), normalised (x/255 − 0.5)/0.5, BGR, zero-padded on the right.
 * - `paddle-cls` — PaddleOCR text-direction classification (`predict_cls.py`, cls_image_shape 3,48,192): as rec but
 *   the width is fixed at 192 (a wider image is squeezed to 192).
 * - `imagenet` — torchvision-style: shorter side resized to 256, centre crop 224x224, RGB, x/255, ImageNet mean/std.
 * - `rgb01` — Keras / TF.js image classifiers as nsfwjs feeds them (`rgb01.ts`): RGB / 255 resized with aligned corners
 *   to the model input's fixed height and width (`resize: 'model-input'`; the sample loader fills them in from the
 *   model, else `--image-size` squared).
 *
 * All produce float32 NCHW [1, 3, H, W]. Resizing is bilinear like `cv2.resize` INTER_LINEAR (`resizeBilinear`),
 * also for `imagenet`, where torchvision's PIL resize with antialiasing differs slightly when shrinking a lot.
 */
import { InputError } from '../model/errors.ts';
import { type DetPreprocessSpec, type Image8, PADDLE_DET_DEFAULTS, preprocessDet, resizeBilinear } from './image.ts';
import { preprocessRgb01 } from './rgb01.ts';

/** Names of the built-in presets. */
export const IMAGE_PRESETS = ['paddle-det', 'paddle-rec', 'paddle-cls', 'imagenet', 'rgb01'] as const;
/** One of `IMAGE_PRESETS`. */
export type ImagePresetName = (typeof IMAGE_PRESETS)[number];

/**
 * Image preprocessing, as data. `resize` picks the geometry:
 * - `limit-side`: PaddleOCR DetResizeForTest (`limitSideLen`, `limitType`; both sides rounded to multiples of 32);
 * - `height`: to `height` keeping the aspect ratio, zero-padded on the right to a width of `width` — or wider when
 *   `growWidth` (PaddleOCR rec's max_wh_ratio: the image's own aspect wins);
 * - `shorter-side-crop`: the shorter side to `shorterSide`, then a centre crop of `width`×`height`;
 * - `fixed`: stretched to `width`×`height`;
 * - `model-input`: bilinear with aligned corners to `width`×`height` (TF.js `resizeBilinear(alignCorners)`), which the
 *   sample loader sets from the model input's fixed dims.
 * Then per channel, in `channels` order: (x·scale − mean) / std, and NCHW with a batch dim of 1.
 */
export interface ImageSpec {
  /** The preset this spec was made from (for the description), if any. */
  preset?: ImagePresetName;
  resize: 'limit-side' | 'height' | 'shorter-side-crop' | 'fixed' | 'model-input';
  /** limit-side: `limit_side_len`, pixels. */
  limitSideLen?: number;
  /** limit-side: `limit_type`. */
  limitType?: DetPreprocessSpec['limitType'];
  /** Target height, pixels (height, shorter-side-crop, fixed). */
  height?: number;
  /** Target width, pixels: the padded width (height), crop width (shorter-side-crop), width (fixed). */
  width?: number;
  /** height: widen beyond `width` when the image's aspect ratio is wider (PaddleOCR rec); otherwise squeeze to it. */
  growWidth?: boolean;
  /** shorter-side-crop: the shorter side after resizing, pixels. */
  shorterSide?: number;
  /** Channel order of the tensor. */
  channels: 'BGR' | 'RGB';
  /** Multiplies the 0–255 pixel values first (1/255 for [0, 1]). */
  scale: number;
  /** Subtracted after scaling, per channel in `channels` order. */
  mean: [number, number, number];
  /** Divides after the mean, per channel in `channels` order. */
  std: [number, number, number];
}

const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/**
 * The spec of a named preset.
 * @param limitSideLen `paddle-det` only: `limit_side_len` (default 960)
 */
export function presetSpec(name: ImagePresetName, limitSideLen: number = PADDLE_DET_DEFAULTS.limitSideLen): ImageSpec {
  switch (name) {
    case 'paddle-det':
      return {
        preset: name,
        resize: 'limit-side',
        limitSideLen,
        limitType: PADDLE_DET_DEFAULTS.limitType,
        channels: 'BGR',
        scale: 1 / 255,
        // PaddleOCR applies the ImageNet mean/std (listed R, G, B) to the BGR image as they are, without reordering.
        mean: [...IMAGENET_MEAN],
        std: [...IMAGENET_STD],
      };
    case 'paddle-rec':
      return { preset: name, resize: 'height', height: 48, width: 320, growWidth: true, channels: 'BGR', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
    case 'paddle-cls':
      return { preset: name, resize: 'height', height: 48, width: 192, growWidth: false, channels: 'BGR', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
    case 'imagenet':
      return { preset: name, resize: 'shorter-side-crop', shorterSide: 256, width: 224, height: 224, channels: 'RGB', scale: 1 / 255, mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] };
    case 'rgb01':
      return { preset: name, resize: 'model-input', width: limitSideLen, height: limitSideLen, channels: 'RGB', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] };
  }
}

const SPEC_KEYS = new Set(['preset', 'resize', 'limitSideLen', 'limitType', 'height', 'width', 'growWidth', 'shorterSide', 'channels', 'scale', 'mean', 'std']);

/**
 * An image spec from user input: a preset name, or an object `{ "preset"?: NAME, …fields }` whose fields override
 * the preset's (without a preset every field the resize mode needs must be given).
 *
 * @param limitSideLen `paddle-det`'s `limit_side_len` (the `--image-size` flag)
 * @param where where the spec came from, for messages (`--image-preset`, a manifest path)
 * @throws InputError naming the bad field, e.g. `--image-preset: unknown preset 'paddle' (known: paddle-det, …)`
 */
export function parseImageSpec(value: unknown, limitSideLen: number, where: string): ImageSpec {
  const fail = (msg: string): never => {
    throw new InputError(`${where}: ${msg}`);
  };
  const known = `known: ${IMAGE_PRESETS.join(', ')}`;
  if (typeof value === 'string') {
    if (!(IMAGE_PRESETS as readonly string[]).includes(value)) fail(`unknown image preset '${value}' (${known})`);
    return presetSpec(value as ImagePresetName, limitSideLen);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) fail('an image spec is a preset name or an object');
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!SPEC_KEYS.has(k)) fail(`unknown image spec field '${k}' (fields: ${[...SPEC_KEYS].join(', ')})`);
  let base: Partial<ImageSpec> = {};
  if (o['preset'] !== undefined) {
    if (typeof o['preset'] !== 'string' || !(IMAGE_PRESETS as readonly string[]).includes(o['preset'])) fail(`unknown image preset '${String(o['preset'])}' (${known})`);
    base = presetSpec(o['preset'] as ImagePresetName, limitSideLen);
  }
  const spec = { ...base, ...o } as ImageSpec;
  const posInt = (k: keyof ImageSpec) => {
    const v = spec[k];
    if (!Number.isInteger(v) || (v as number) <= 0) fail(`'${k}' must be a positive integer, got ${JSON.stringify(v)}`);
  };
  const triple = (k: 'mean' | 'std') => {
    const v = spec[k] as unknown;
    if (!Array.isArray(v) || v.length !== 3 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) fail(`'${k}' must be three numbers`);
    if (k === 'std' && (v as number[]).some((x) => x === 0)) fail(`'std' must not contain 0`);
  };
  if (!['limit-side', 'height', 'shorter-side-crop', 'fixed', 'model-input'].includes(spec.resize)) fail(`'resize' must be limit-side, height, shorter-side-crop, fixed or model-input, got ${JSON.stringify(spec.resize)}`);
  if (spec.channels !== 'BGR' && spec.channels !== 'RGB') fail(`'channels' must be BGR or RGB, got ${JSON.stringify(spec.channels)}`);
  if (typeof spec.scale !== 'number' || !Number.isFinite(spec.scale)) fail(`'scale' must be a number`);
  triple('mean');
  triple('std');
  if (spec.resize === 'limit-side') {
    posInt('limitSideLen');
    if (!['max', 'min', 'resize_long'].includes(spec.limitType ?? '')) fail(`'limitType' must be max, min or resize_long`);
  } else {
    posInt('height');
    posInt('width');
    if (spec.resize === 'shorter-side-crop') posInt('shorterSide');
    if (spec.resize === 'height' && spec.growWidth !== undefined && typeof spec.growWidth !== 'boolean') fail(`'growWidth' must be true or false`);
  }
  return spec;
}

/** An image preprocessed to a tensor. */
export interface PreprocessedImage {
  /** [1, 3, H, W]. */
  dims: number[];
  /** float32 NCHW. */
  data: Float32Array;
  /** Every step, human-readable (stored with the run). */
  description: string;
}

/** Centre crop of `w`×`h` (the image must be at least that large). */
function centreCrop(img: Image8, w: number, h: number): Image8 {
  const x0 = Math.floor((img.width - w) / 2);
  const y0 = Math.floor((img.height - h) / 2);
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) out.set(img.data.subarray(((y0 + y) * img.width + x0) * 3, ((y0 + y) * img.width + x0 + w) * 3), y * w * 3);
  return { ...img, width: w, height: h, data: out };
}

/** BGR ↔ RGB when `img.order` is not `want`. */
function inOrder(img: Image8, want: 'BGR' | 'RGB'): Image8 {
  if (img.order === want) return img;
  const d = img.data;
  const out = new Uint8Array(d.length);
  for (let i = 0; i < d.length; i += 3) {
    out[i] = d[i + 2]!;
    out[i + 1] = d[i + 1]!;
    out[i + 2] = d[i]!;
  }
  return { ...img, order: want, data: out };
}

/**
 * Preprocesses a decoded image by `spec` (see `ImageSpec`).
 *
 * @returns float32 [1, 3, H, W] in `spec.channels` order and a description of every step
 */
export function preprocessImage(decoded: Image8, spec: ImageSpec): PreprocessedImage {
  if (spec.resize === 'model-input') {
    // nsfwjs' own pipeline (rgb01.ts): x/255 in RGB, resized with aligned corners; scale/mean/std beyond it apply.
    const t = preprocessRgb01(decoded, spec.height!, spec.width!);
    const data = t.data;
    const plane = spec.height! * spec.width!;
    const affine = spec.scale !== 1 / 255 || spec.mean.some((m) => m !== 0) || spec.std.some((s) => s !== 1);
    if (affine) for (let c = 0; c < 3; c++) for (let i = c * plane; i < (c + 1) * plane; i++) data[i] = ((data[i]! * 255 * spec.scale) - spec.mean[c]!) / spec.std[c]!;
    const name = spec.preset ? `${spec.preset} preset: ` : '';
    return { dims: t.dims, data, description: `${name}${t.description}` };
  }
  if (spec.resize === 'limit-side' && spec.channels === 'BGR') {
    const t = preprocessDet(inOrder(decoded, 'BGR'), {
      limitSideLen: spec.limitSideLen!,
      limitType: spec.limitType!,
      scale: spec.scale,
      mean: spec.mean,
      std: spec.std,
    });
    return { dims: t.dims, data: t.data, description: t.description };
  }
  const img = inOrder(decoded, spec.channels);
  const src = `decoded ${decoded.width}x${decoded.height}, channels ${spec.channels}`;
  let resized: Image8;
  let outW: number;
  let outH: number;
  let geometry: string;
  if (spec.resize === 'height') {
    const h = spec.height!;
    const ratio = img.width / img.height;
    // PaddleOCR resize_norm_img: imgW = int(imgH·max_wh_ratio); resized_w = min(imgW, ceil(imgH·ratio)).
    outW = Math.trunc(h * (spec.growWidth ? Math.max(spec.width! / h, ratio) : spec.width! / h));
    const rw = Math.min(outW, Math.ceil(h * ratio));
    outH = h;
    resized = resizeBilinear(img, rw, h);
    geometry = `resized to ${rw}x${h} (height ${h}, aspect kept, width ceil(${h}·w/h)${spec.growWidth ? '' : ` at most ${spec.width}`}), zero-padded on the right to width ${outW}${spec.growWidth ? ` (int(${h}·max(${spec.width}/${h}, w/h)))` : ''}`;
  } else if (spec.resize === 'shorter-side-crop') {
    const s = spec.shorterSide!;
    const scale = s / Math.min(img.width, img.height);
    const rw = Math.max(spec.width!, Math.round(img.width * scale));
    const rh = Math.max(spec.height!, Math.round(img.height * scale));
    resized = centreCrop(resizeBilinear(img, rw, rh), spec.width!, spec.height!);
    outW = spec.width!;
    outH = spec.height!;
    geometry = `shorter side resized to ${s} (${rw}x${rh}), centre crop ${outW}x${outH}`;
  } else if (spec.resize === 'fixed') {
    outW = spec.width!;
    outH = spec.height!;
    resized = resizeBilinear(img, outW, outH);
    geometry = `resized to ${outW}x${outH}`;
  } else {
    // limit-side in RGB: PaddleOCR's geometry, then the generic normalisation below.
    const t = preprocessDet(inOrder(decoded, 'BGR'), { limitSideLen: spec.limitSideLen!, limitType: spec.limitType!, scale: 1, mean: [0, 0, 0], std: [1, 1, 1] });
    outH = t.dims[2]!;
    outW = t.dims[3]!;
    const plane = outW * outH;
    const bytes = new Uint8Array(plane * 3);
    for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) bytes[p * 3 + (2 - c)] = t.data[c * plane + p]!; // BGR planes → RGB pixels
    resized = { width: outW, height: outH, order: 'RGB', data: bytes };
    geometry = `DetResizeForTest limit_type=${spec.limitType} limit_side_len=${spec.limitSideLen} → ${outW}x${outH}`;
  }
  const plane = outW * outH;
  const out = new Float32Array(3 * plane); // zero-filled: the right padding of `height` stays 0
  const lut = [0, 1, 2].map((c) => {
    const t = new Float32Array(256);
    for (let v = 0; v < 256; v++) t[v] = Math.fround(Math.fround(Math.fround(v * Math.fround(spec.scale)) - Math.fround(spec.mean[c]!)) / Math.fround(spec.std[c]!));
    return t;
  });
  const d = resized.data;
  for (let y = 0; y < resized.height; y++) {
    for (let x = 0; x < resized.width; x++) {
      const s = (y * resized.width + x) * 3;
      const p = y * outW + x;
      out[p] = lut[0]![d[s]!]!;
      out[plane + p] = lut[1]![d[s + 1]!]!;
      out[2 * plane + p] = lut[2]![d[s + 2]!]!;
    }
  }
  const f = (x: number[]) => `[${x.map((v) => +v.toFixed(4)).join(', ')}]`;
  const scaleText = Math.abs(spec.scale - 1 / 255) < 1e-12 ? '1/255' : String(spec.scale);
  const name = spec.preset ? `${spec.preset} preset` : 'custom image spec';
  const description =
    `${name}: ${src}; ${geometry}; bilinear like cv2.resize INTER_LINEAR; (x·${scaleText} − mean ${f(spec.mean)}) / std ${f(spec.std)} ` +
    `per channel; NCHW → [1, 3, ${outH}, ${outW}] float32`;
  return { dims: [1, 3, outH, outW], data: out, description };
}
