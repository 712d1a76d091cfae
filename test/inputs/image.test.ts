/** Image decoding and PaddleOCR det preprocessing (DetResizeForTest, NormalizeImage, ToCHWImage). */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { defaultPhotoPaths } from '../../core/inputs/default.ts';
import {
  decodeImageFile,
  detResizeTarget,
  exifOrientation,
  loadImageTensor,
  orientImage,
  preprocessDet,
  PADDLE_DET_DEFAULTS,
  resizeBilinear,
  type Image8,
} from '../../core/inputs/image.ts';
import { InputError } from '../../core/model/errors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'pit-img-'));
const [sample1] = defaultPhotoPaths();

function gray(width: number, height: number, values: number[]): Image8 {
  const data = new Uint8Array(width * height * 3);
  values.forEach((v, i) => data.fill(v, i * 3, i * 3 + 3));
  return { width, height, order: 'BGR', data };
}

describe('detResizeTarget (PaddleOCR resize_image_type0)', () => {
  it('limit_type max shrinks the longest side and rounds each side to a multiple of 32', () => {
    expect(detResizeTarget(1280, 1920, 960, 'max')).toEqual([640, 960]);
    expect(detResizeTarget(1537, 1920, 960, 'max')).toEqual([768, 960]); // int(768.5) = 768
    expect(detResizeTarget(1367, 1920, 960, 'max')).toEqual([672, 960]); // 683 → 21·32
    expect(detResizeTarget(1000, 1000, 960, 'max')).toEqual([960, 960]);
    expect(detResizeTarget(1280, 1920, 128, 'max')).toEqual([96, 128]); // 85 → round(2.66) = 3
  });

  it('uses Python round (half to even) and a 32 minimum', () => {
    expect(detResizeTarget(80, 100, 960, 'max')).toEqual([64, 96]); // 2.5 → 2
    expect(detResizeTarget(112, 100, 960, 'max')).toEqual([128, 96]); // 3.5 → 4
    expect(detResizeTarget(10, 10, 960, 'max')).toEqual([32, 32]);
  });

  it('limit_type min grows the shortest side', () => {
    expect(detResizeTarget(400, 600, 736, 'min')).toEqual([736, 1088]); // 1104/32 = 34.5 → 34
  });
});

describe('resizeBilinear (cv2.resize INTER_LINEAR, 8-bit)', () => {
  it('upscales a 2-pixel row with half-pixel centres and edge clamping', () => {
    const out = resizeBilinear(gray(2, 1, [0, 255]), 4, 1);
    expect(Array.from(out.data.filter((_, i) => i % 3 === 0))).toEqual([0, 64, 191, 255]);
  });

  it('2x downscale averages 2x2 blocks with rounding', () => {
    const out = resizeBilinear(gray(2, 2, [10, 20, 30, 40]), 1, 1);
    expect(Array.from(out.data)).toEqual([25, 25, 25]);
  });

  it('same size is the identity', () => {
    const img = gray(3, 2, [1, 2, 3, 250, 251, 252]);
    expect(Array.from(resizeBilinear(img, 3, 2).data)).toEqual(Array.from(img.data));
  });
});

describe('decoding', () => {
  it('decodes a JPEG photo to upright BGR', () => {
    const img = decodeImageFile(sample1);
    expect(img).toMatchObject({ width: 1920, height: 1280, order: 'BGR' });
    expect(img.data).toHaveLength(1920 * 1280 * 3);
  });

  it('decodes a PNG, drops alpha, and swaps to BGR', () => {
    const png = new PNG({ width: 64, height: 32 });
    for (let i = 0; i < 64 * 32; i++) png.data.set([200, 100, 50, i % 2 ? 0 : 255], i * 4);
    const p = join(tmp, 'rgb.png');
    writeFileSync(p, PNG.sync.write(png));
    const img = decodeImageFile(p);
    expect(Array.from(img.data.subarray(0, 6))).toEqual([50, 100, 200, 50, 100, 200]);
  });

  it('reads the EXIF orientation tag and rotates accordingly', () => {
    // "Exif\0\0" + big-endian TIFF header + IFD0 with one entry: Orientation (0x0112), SHORT, 1, value 6.
    const exif = new Uint8Array([
      0x45, 0x78, 0x69, 0x66, 0, 0, 0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0,
    ]);
    expect(exifOrientation(exif)).toBe(6);
    expect(exifOrientation(new Uint8Array([1, 2, 3]))).toBe(1);
    const img = gray(2, 1, [10, 20]); // a row: 10 then 20
    const cw = orientImage(img, 6);
    expect([cw.width, cw.height, cw.data[0], cw.data[3]]).toEqual([1, 2, 10, 20]);
    const ccw = orientImage(img, 8);
    expect([ccw.width, ccw.height, ccw.data[0], ccw.data[3]]).toEqual([1, 2, 20, 10]);
  });

  it('a truncated JPEG → InputError: cannot decode image', () => {
    const p = join(tmp, 'truncated.jpg');
    const bytes = readFileSync(sample1);
    writeFileSync(p, bytes.subarray(0, bytes.length >> 1));
    expect(() => decodeImageFile(p)).toThrow(InputError);
    expect(() => decodeImageFile(p)).toThrow(`cannot decode image ${p}: `);
  });

  it('garbage named .png → InputError: cannot decode image', () => {
    const p = join(tmp, 'garbage.png');
    writeFileSync(p, 'not a png');
    expect(() => decodeImageFile(p)).toThrow(/^cannot decode image .*garbage\.png: /);
  });

  it('an unsupported extension → InputError naming the type', () => {
    const p = join(tmp, 'photo.gif');
    copyFileSync(sample1, p);
    expect(() => decodeImageFile(p)).toThrow(`unsupported image type '.gif' for ${p} (expected .jpg, .jpeg or .png)`);
  });

  it('a missing file → InputError: input file not found', () => {
    expect(() => decodeImageFile(join(tmp, 'none.jpg'))).toThrow(/^input file not found: /);
  });
});

describe('preprocessDet', () => {
  it('normalizes with mean/std in BGR channel order, CHW, batch 1', () => {
    // 64x32 uniform colour: no resize needed (both sides are multiples of 32).
    const img: Image8 = { width: 64, height: 32, order: 'BGR', data: new Uint8Array(64 * 32 * 3) };
    for (let i = 0; i < 64 * 32; i++) img.data.set([50, 100, 200], i * 3);
    const t = preprocessDet(img, PADDLE_DET_DEFAULTS);
    expect(t.dims).toEqual([1, 3, 32, 64]);
    const plane = 32 * 64;
    expect(t.data[0]).toBeCloseTo((50 / 255 - 0.485) / 0.229, 5); // B with mean[0], std[0]
    expect(t.data[plane + 17]).toBeCloseTo((100 / 255 - 0.456) / 0.224, 5);
    expect(t.data[2 * plane + plane - 1]).toBeCloseTo((200 / 255 - 0.406) / 0.225, 5);
  });

  it('preprocesses a real photo and describes every step', () => {
    const t = loadImageTensor(sample1, { limitSideLen: 128 });
    expect(t.dims).toEqual([1, 3, 96, 128]);
    expect(t.source).toEqual({ width: 1920, height: 1280 });
    expect(t.data).toHaveLength(3 * 96 * 128);
    // Every value is one of the 256 normalized levels of its channel: within [(0 − mean)/std, (1 − mean)/std].
    expect(Math.min(...t.data)).toBeGreaterThanOrEqual((0 - 0.485) / 0.229 - 1e-6);
    expect(Math.max(...t.data)).toBeLessThanOrEqual((1 - 0.406) / 0.225 + 1e-6);
    expect(t.description).toContain('DetResizeForTest limit_type=max limit_side_len=128 → 128x96');
    expect(t.description).toContain('mean=[0.485, 0.456, 0.406] std=[0.229, 0.224, 0.225] in BGR order');
    expect(t.description).toContain('[1, 3, 96, 128] float32');
  });
});
