/**
 * Reference capture with onnxruntime-node on the real det model and a real photo (sample1.jpg, limit_side_len 128
 * → 1x3x96x128), plus input-shape and runtime errors.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as OrtNs from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultInputs, loadInput, type LoadedInput } from '../../core/inputs/default.ts';
import { InputError, ModelError } from '../../core/model/errors.ts';
import { importOnnx } from '../../core/model/onnx-import.ts';
import { captureReference, checkInputShape, ReferenceSession, type ReferenceCapture } from '../../core/model/reference.ts';
import { findSparseOps } from '../../core/model/sparse-ops.ts';
import { zeroFraction } from './onnx-builders.ts';

const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof OrtNs;
const d = defaultInputs();
const model = importOnnx(d.modelPath);
const ops = findSparseOps(model);
const opByName = (n: string) => ops.find((o) => o.name === n)!;

describe('captureReference on sample1.jpg (1x3x96x128)', () => {
  let input: LoadedInput;
  let cap: ReferenceCapture;
  beforeAll(async () => {
    input = loadInput(d.inputs[0], { imageSize: 128 }, model.inputs[0]);
    cap = await captureReference(model, ops, input);
  });

  it('captures every supported op: 62 Conv (depthwise included) and 2 ConvTranspose', () => {
    expect(input.dims).toEqual([1, 3, 96, 128]);
    expect(cap.ops.size).toBe(64);
    expect([...cap.ops.values()].every((c) => c.op.supported)).toBe(true);
    expect(cap.ops.get(opByName('p2o.Conv.1').index)!.output.dims).toEqual([1, 16, 48, 64]);
    expect(cap.ops.get(opByName('p2o.ConvTranspose.2').index)!.output.dims).toEqual([1, 1, 96, 128]);
  });

  it('returns real tensors with the right shapes', () => {
    const c0 = cap.ops.get(0)!;
    expect(c0.input.name).toBe('x');
    expect(c0.input.dims).toEqual([1, 3, 96, 128]);
    expect(c0.input.data).toBe(input.data); // the graph input comes straight from the feed
    expect(c0.output.dims).toEqual([1, 16, 48, 64]);
    expect(cap.ops.get(opByName('p2o.Conv.61').index)!.output.dims).toEqual([1, 24, 24, 32]);
    const out = cap.outputs[0];
    expect(out.name).toBe('sigmoid_0.tmp_0');
    expect(out.dims).toEqual([1, 1, 96, 128]);
    expect(Math.min(...out.data)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...out.data)).toBeLessThanOrEqual(1);
  });

  it('adding capture outputs does not change the model output', async () => {
    const plain = await ort.InferenceSession.create(readFileSync(d.modelPath));
    try {
      const r = await plain.run({ x: new ort.Tensor('float32', input.data, input.dims) });
      const ref = r['sigmoid_0.tmp_0'].data as Float32Array;
      let maxDiff = 0;
      for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref[i] - cap.outputs[0].data[i]));
      expect(maxDiff).toBeLessThan(1e-5);
    } finally {
      await plain.release();
    }
  });

  it('measures the ReLU sparsity the det model really has', () => {
    const sparsity = (name: string) => zeroFraction(cap.ops.get(opByName(name).index)!.input.data);
    // SE blocks: ReLU outputs (1x1 spatial) feeding the expand convs are mostly zero.
    expect(sparsity('p2o.Conv.23')).toBeGreaterThanOrEqual(0.7); // measured 0.771
    expect(sparsity('p2o.Conv.27')).toBeGreaterThanOrEqual(0.7); // measured 0.792
    // The neck conv after the last backbone stage: ReLU zeros over a 3x4 map.
    expect(sparsity('p2o.Conv.28')).toBeGreaterThanOrEqual(0.3); // measured 0.357
    // Main-path convs read hard-swish outputs shifted by a learnable affine: no exact zeros.
    expect(sparsity('p2o.Conv.2')).toBeLessThan(0.01);
    expect(sparsity('p2o.Conv.61')).toBeLessThan(0.01);
  });
});

describe('ReferenceSession', () => {
  let session: ReferenceSession;
  beforeAll(async () => {
    session = await ReferenceSession.create(model, ops.filter((o) => o.name === 'p2o.Conv.0' || o.name === 'p2o.Conv.28'));
  });
  afterAll(async () => {
    await session.release();
  });

  it('runs repeatedly on different inputs, capturing only the ops asked for', async () => {
    const a = await session.run(loadInput(d.inputs[0], { imageSize: 64 }, model.inputs[0]));
    const b = await session.run(loadInput(d.inputs[1], { imageSize: 64 }, model.inputs[0]));
    expect([...a.ops.keys()]).toEqual([0, opByName('p2o.Conv.28').index]);
    expect(a.ops.get(0)!.output.dims).toEqual([1, 16, 16, 32]); // sample1 1920x1280 → 64x42 → 64x32
    expect(b.ops.get(0)!.output.dims).toEqual([1, 16, 32, 32]); // sample6 1920x1537 → 64x51 → 64x64
    expect(a.outputs[0].data).not.toEqual(b.outputs[0].data);
  });

  it('wrong input shape → InputError naming the input, expected and given shapes', async () => {
    const err = await session.run({ dims: [1, 3, 64], data: new Float32Array(192) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(String(err)).toBe(
      'InputError: input shape [1, 3, 64] does not match model input "x": expected [p2o.DynamicDimension.0, 3, p2o.DynamicDimension.1, p2o.DynamicDimension.2]',
    );
    await expect(session.run({ dims: [1, 4, 32, 32], data: new Float32Array(4096) })).rejects.toThrow(/model input "x"/);
  });

  it('data length that does not match the dims → InputError', async () => {
    await expect(session.run({ dims: [1, 3, 32, 32], data: new Float32Array(10) })).rejects.toThrow(
      'input "x" has 10 values but shape [1, 3, 32, 32] needs 3072',
    );
  });

  it('a missing named input → InputError', async () => {
    await expect(session.run({ y: { dims: [1], data: new Float32Array(1) } })).rejects.toThrow('no tensor given for model input "x"');
  });

  it('an ORT failure inside the graph → ModelError naming the node', async () => {
    // 40x40 is not a multiple of 32: the FPN's upsample + Add cannot broadcast.
    const err = await session.run({ dims: [1, 3, 40, 40], data: new Float32Array(4800) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).message).toMatch(/^reference run of .*ch_PP-OCRv4_det_infer\.onnx failed at node p2o\.\w+\.\d+ \(\w+\): /);
    expect((err as ModelError).node).toMatch(/^p2o\./);
  });
});

describe('checkInputShape', () => {
  it('accepts any size for symbolic dims and rejects a feed of another element type', () => {
    expect(() => checkInputShape(model.inputs[0], [2, 3, 32, 64])).not.toThrow();
    expect(() => checkInputShape({ name: 'ids', elemType: 7, dims: ['n'] }, [4], 'ids.npy')).toThrow(
      'model input "ids" expects int64, but is fed float32 (from ids.npy)',
    );
    expect(() => checkInputShape({ name: 'ids', elemType: 7, dims: ['n'] }, [4], 'ids.npy', 'int64')).not.toThrow();
  });
});
