/** Image preprocessing presets (core/inputs/presets.ts) on real photos: PaddleOCR rec / cls geometry, ImageNet crop and RGB order, spec validation. */
import { describe, expect, it } from 'vitest';
import { defaultPhotoPaths } from '../../core/inputs/default.ts';
import { decodeImageFile, loadImageTensor } from '../../core/inputs/image.ts';
import { parseImageSpec, preprocessImage, presetSpec } from '../../core/inputs/presets.ts';
import { InputError } from '../../core/model/errors.ts';

const photo = decodeImageFile(defaultPhotoPaths()[0]!);

describe('presets on a real photo', () => {
  it('paddle-det is the detection pipeline (same tensor as image.ts)', () => {
    const t = preprocessImage(photo, presetSpec('paddle-det', 128));
    const ref = loadImageTensor(defaultPhotoPaths()[0]!, { limitSideLen: 128 });
    expect(t.dims).toEqual(ref.dims);
    expect(t.data).toEqual(ref.data);
  });

  it('paddle-rec: height 48, width int(48·max(320/48, w/h)), resized part then zero padding, values (x/255 − 0.5)/0.5', () => {
    const t = preprocessImage(photo, presetSpec('paddle-rec'));
    const ratio = photo.width / photo.height;
    const outW = Math.trunc(48 * Math.max(320 / 48, ratio));
    expect(t.dims).toEqual([1, 3, 48, outW]);
    const rw = Math.min(outW, Math.ceil(48 * ratio));
    // Right of the resized image: the padding is 0 in every channel.
    if (rw < outW) expect(t.data[47 * outW + outW - 1]).toBe(0);
    // Inside it, every value is (v/255 − 0.5)/0.5 for an 8-bit v: within [−1, 1] and on that grid.
    const v = t.data[10 * outW + 5]!;
    expect(v).toBeGreaterThanOrEqual(-1);
    expect(v).toBeLessThanOrEqual(1);
    expect(Math.abs(((v * 0.5 + 0.5) * 255) - Math.round((v * 0.5 + 0.5) * 255))).toBeLessThan(1e-3);
    expect(t.description).toMatch(/^paddle-rec preset: decoded \d+x\d+, channels BGR; resized to \d+x48/);
  });

  it('a rec spec with width 80 and no growing squeezes a wide image to exactly 80 (and cls to 192)', () => {
    const wide = { ...photo, width: 300, height: 30, data: new Uint8Array(300 * 30 * 3).fill(255) };
    expect(preprocessImage(wide, parseImageSpec({ preset: 'paddle-rec', width: 80, growWidth: false }, 960, 'test')).dims).toEqual([1, 3, 48, 80]);
    expect(preprocessImage(wide, presetSpec('paddle-rec')).dims).toEqual([1, 3, 48, 480]); // 48·10
    const cls = preprocessImage(wide, presetSpec('paddle-cls'));
    expect(cls.dims).toEqual([1, 3, 48, 192]);
    expect(cls.data[0]).toBe(1); // white: (255/255 − 0.5)/0.5
  });

  it('imagenet: 224x224 centre crop, RGB order, ImageNet mean/std', () => {
    const t = preprocessImage(photo, presetSpec('imagenet'));
    expect(t.dims).toEqual([1, 3, 224, 224]);
    const red = { width: 300, height: 260, order: 'BGR' as const, data: new Uint8Array(300 * 260 * 3) };
    for (let i = 0; i < 300 * 260; i++) red.data[i * 3 + 2] = 255; // pure red, stored BGR
    const r = preprocessImage(red, presetSpec('imagenet'));
    expect(r.data[0]).toBeCloseTo((1 - 0.485) / 0.229, 5); // channel 0 is R
    expect(r.data[224 * 224]).toBeCloseTo((0 - 0.456) / 0.224, 5);
  });
});

describe('parseImageSpec', () => {
  it('accepts preset names and objects over a preset', () => {
    expect(parseImageSpec('paddle-cls', 960, 'x')).toMatchObject({ resize: 'height', height: 48, width: 192 });
    expect(parseImageSpec({ preset: 'paddle-det' }, 320, 'x')).toMatchObject({ limitSideLen: 320 });
    expect(parseImageSpec({ resize: 'fixed', width: 8, height: 4, channels: 'RGB', scale: 1, mean: [0, 0, 0], std: [1, 1, 1] }, 960, 'x')).toMatchObject({ width: 8 });
  });
  it('refuses unknown presets and fields and bad values with one line', () => {
    expect(() => parseImageSpec('paddle', 960, '--image-preset')).toThrow("--image-preset: unknown image preset 'paddle' (known: paddle-det, paddle-rec, paddle-cls, imagenet, rgb01)");
    expect(() => parseImageSpec({ preset: 'imagenet', size: 3 }, 960, 'm')).toThrow(/^m: unknown image spec field 'size'/);
    expect(() => parseImageSpec({ preset: 'imagenet', width: 0 }, 960, 'm')).toThrow("m: 'width' must be a positive integer, got 0");
    expect(() => parseImageSpec({ resize: 'fixed', width: 8, height: 4, channels: 'RGB', scale: 1, mean: [0, 0], std: [1, 1, 1] }, 960, 'm')).toThrow(InputError);
  });
});
