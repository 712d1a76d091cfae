/** The embedded default job and `loadInput` dispatch (image / npy / unknown) with shape checks. */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE_SIZE, defaultInputs, loadInput } from '../../core/inputs/default.ts';
import { InputError } from '../../core/model/errors.ts';
import { importOnnx } from '../../core/model/onnx-import.ts';
import { npyBytes } from './npy-fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'pit-input-'));
const d = defaultInputs();
const xInput = importOnnx(d.modelPath).inputs[0];

describe('defaultInputs', () => {
  it('points at the PaddleOCR v4 det model and two real photos, PaddleOCR limits', () => {
    expect(d.modelPath).toMatch(/@gutenye\/ocr-models\/assets\/ch_PP-OCRv4_det_infer\.onnx$/);
    expect(d.inputs.map((p) => p.split('/').slice(-3).join('/'))).toEqual(['face-api/demo/sample1.jpg', 'face-api/demo/sample6.jpg']);
    for (const p of [d.modelPath, ...d.inputs]) expect(existsSync(p)).toBe(true);
    expect(DEFAULT_IMAGE_SIZE).toBe(960);
    expect(d.spec).toEqual({ preset: 'paddle-det', imageSize: 960, limitType: 'max' });
  });
});

describe('loadInput', () => {
  it('an image → PaddleOCR det tensor with its InputRef', () => {
    const r = loadInput(d.inputs[1], { imageSize: 256 }, xInput);
    expect(r.dims).toEqual([1, 3, 192, 256]); // 1920x1537 → 256x204 → 256x192
    expect(r.data).toHaveLength(3 * 192 * 256);
    expect(r.ref).toMatchObject({ path: d.inputs[1], kind: 'image', shape: [1, 3, 192, 256], synthetic: false });
    expect(r.ref.preprocess).toMatch(/^PaddleOCR det .*limit_side_len=256 → 256x192/);
  });

  it('an .npy of the model input shape → tensor as stored', () => {
    const data = Float32Array.from({ length: 3 * 32 * 64 }, (_, i) => (i % 7) - 3);
    const p = join(tmp, 'x.npy');
    writeFileSync(p, npyBytes('<f4', [1, 3, 32, 64], new Uint8Array(data.buffer)));
    const r = loadInput(p, {}, xInput);
    expect(r.dims).toEqual([1, 3, 32, 64]);
    expect(Array.from(r.data.subarray(0, 8))).toEqual([-3, -2, -1, 0, 1, 2, 3, -3]);
    expect(r.ref).toEqual({ path: p, kind: 'npy', shape: [1, 3, 32, 64], preprocess: '', synthetic: false });
  });

  it('an .npy of the wrong shape → InputError naming the model input and both shapes', () => {
    const p = join(tmp, 'wrong.npy');
    writeFileSync(p, npyBytes('<f4', [1, 32, 64], new Uint8Array(32 * 64 * 4)));
    expect(() => loadInput(p, {}, xInput)).toThrow(InputError);
    expect(() => loadInput(p, {}, xInput)).toThrow(
      `input shape [1, 32, 64] (from ${p}) does not match model input "x": expected [p2o.DynamicDimension.0, 3, p2o.DynamicDimension.1, p2o.DynamicDimension.2]`,
    );
  });

  it('an unknown extension → InputError', () => {
    const p = join(tmp, 'notes.txt');
    writeFileSync(p, 'hello');
    expect(() => loadInput(p, {}, xInput)).toThrow(`unsupported input type '.txt' for ${p} (expected .jpg, .jpeg, .png or .npy)`);
  });

  it('a bad image size → InputError', () => {
    expect(() => loadInput(d.inputs[0], { imageSize: 0 }, xInput)).toThrow('image size must be a positive integer, got 0');
  });
});
