/**
 * The rgb01 image preset (core/inputs/rgb01.ts) against nsfwjs' own pipeline computed by TF.js:
 * `fromPixels → toFloat → div(255) → image.resizeBilinear(…, alignCorners = true)`, on a real photo.
 */
import { describe, expect, it } from 'vitest';
import { defaultPhotoPaths, loadInput } from '../../core/inputs/default.ts';
import { decodeImageFile as decode } from '../../core/inputs/image.ts';
import { preprocessImage, presetSpec } from '../../core/inputs/presets.ts';
import { decodeImageFile } from '../../core/inputs/image.ts';
import { preprocessRgb01 } from '../../core/inputs/rgb01.ts';
import { tfjsRuntime } from '../../core/model/tfjs-runtime.ts';

describe('rgb01 preset', () => {
  const [photo] = defaultPhotoPaths();

  it('equals TF.js resizeBilinear(alignCorners) of RGB / 255 on a real photo, in NCHW', async () => {
    const { tf } = await tfjsRuntime('wasm');
    const img = decodeImageFile(photo!);
    expect(img.order).toBe('BGR');
    const ours = preprocessRgb01(img, 224, 224);
    expect(ours.dims).toEqual([1, 3, 224, 224]);
    // TF.js side: HWC RGB pixels as tf.browser.fromPixels gives them, then nsfwjs' steps.
    const rgb = new Float32Array(img.width * img.height * 3);
    for (let p = 0; p < img.width * img.height; p++) for (let c = 0; c < 3; c++) rgb[p * 3 + c] = img.data[p * 3 + 2 - c]!;
    const x = tf.tensor(rgb, [img.height, img.width, 3]);
    const scaled = tf.tensor(Float32Array.from(rgb, (v) => v / 255), [img.height, img.width, 3]);
    const resized = tf.image.resizeBilinear(scaled, [224, 224], true);
    const ref = tf.transpose(resized, [2, 0, 1]).dataSync();
    let maxErr = 0;
    for (let i = 0; i < ref.length; i++) maxErr = Math.max(maxErr, Math.abs(ref[i]! - ours.data[i]!));
    // TF.js' wasm kernel interpolates in float32 with its own operation order: agreement to ~2^-15 of full scale
    // (a 1/255 pixel step is 128× larger).
    expect(maxErr).toBeLessThan(5e-5);
    expect(ours.data.every((v) => v >= 0 && v <= 1)).toBe(true);
    for (const t of [x, scaled, resized]) t.dispose();
  });

  it("loadInput resizes to the model input's fixed size, and to --image-size when the size is free", () => {
    const fixed = loadInput(defaultPhotoPaths()[1]!, { preset: 'rgb01', imageSize: 640 }, { name: 'input_1', elemType: 1, dims: ['N', 3, 299, 299] });
    expect(fixed.dims).toEqual([1, 3, 299, 299]);
    expect(fixed.ref.preprocess).toMatch(/^RGB \/ 255 .*resizeBilinear alignCorners=true → 299x299/);
    const free = loadInput(defaultPhotoPaths()[1]!, { preset: 'rgb01', imageSize: 96 }, { name: 'x', elemType: 1, dims: ['N', 3, 'H', 'W'] });
    expect(free.dims).toEqual([1, 3, 96, 96]);
    // The job's preset registry runs the same pipeline (the sample loader sizes it to the model input).
    const viaPreset = preprocessImage(decode(defaultPhotoPaths()[1]!), presetSpec('rgb01', 96));
    expect(viaPreset.dims).toEqual([1, 3, 96, 96]);
    expect(Array.from(viaPreset.data)).toEqual(Array.from(free.data));
    expect(() => loadInput(photo!, { preset: 'bgr' as never }, { name: 'x', elemType: 1, dims: null })).toThrow("unknown image preset 'bgr' (known: paddle-det, rgb01)");
  });
});
