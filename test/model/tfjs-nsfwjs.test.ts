/**
 * The real TF.js layers models nsfwjs ships (MobileNetV2 at 224 px, InceptionV3 at 299 px) on real photos from
 * `@vladmandic/face-api`: import (layer counts, shapes, folds), every sparse op's captured tensors against an
 * independent computation, and per-layer activation sparsity against what TF.js' own intermediate activations show —
 * computed here directly with TF.js from the model files, not through the capture code.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPhotoPaths, loadInput } from '../../core/inputs/default.ts';
import { referenceMatmul } from '../../core/kernels/reference.ts';
import { createReferenceSession } from '../../core/model/capture.ts';
import type { TensorData } from '../../core/model/ir.ts';
import { lowerToMatmul } from '../../core/model/lowering.ts';
import { nsfwjsModelPath } from '../../core/model/nsfwjs.ts';
import type { ReferenceCapture } from '../../core/model/reference.ts';
import { findSparseOps, type SparseOp } from '../../core/model/sparse-ops.ts';
import { importTfjs, type TfjsModel } from '../../core/model/tfjs-import.ts';
import { tfjsRuntime, type TfTensor } from '../../core/model/tfjs-runtime.ts';
import { groupedConvNchw, maxRelErr, zeroFraction } from './tfjs-helpers.ts';

const cache = mkdtempSync(join(tmpdir(), 'pit-nsfwjs-'));
afterAll(() => rmSync(cache, { recursive: true, force: true }));
const [photo1, photo6] = defaultPhotoPaths();

/**
 * Zero fraction of every ReLU / ReLU6 layer's output for one NCHW input, by TF.js alone: the model files read
 * directly, loaded by tfjs-layers, one multi-output model over the activation layers.
 */
async function tfjsReluZeros(modelJson: string, x: TensorData): Promise<Map<string, { zeros: number; size: number }>> {
  const { tf, layers } = await tfjsRuntime('wasm');
  const json = JSON.parse(readFileSync(modelJson, 'utf8')) as { modelTopology: unknown; weightsManifest: { paths: string[]; weights: unknown[] }[] };
  const shards = json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dirname(modelJson), p))));
  const data = Buffer.concat(shards);
  const lm = await layers.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer,
    }),
  );
  const relus = lm.layers.filter((l) => l.getClassName() === 'ReLU' || (l.getClassName() === 'Activation' && l.getConfig()['activation'] === 'relu'));
  const probe = layers.model({ inputs: lm.inputs, outputs: relus.map((l) => l.output as never) });
  const input = tf.transpose(tf.tensor(x.data, x.dims), [0, 2, 3, 1]);
  const outs = probe.predict(input) as TfTensor[];
  const res = new Map<string, { zeros: number; size: number }>();
  for (const [i, t] of outs.entries()) {
    const v = t.dataSync();
    res.set(relus[i]!.name, { zeros: zeroFraction(v), size: v.length });
    t.dispose();
  }
  input.dispose();
  lm.dispose();
  return res;
}

/** Captures every sparse op, depthwise ones included (grouped convs are captured even where not yet profiled). */
async function captureAll(model: TfjsModel, x: TensorData): Promise<{ ops: SparseOp[]; cap: ReferenceCapture }> {
  const ops = findSparseOps(model).map((o) => ({ ...o, supported: true }));
  const s = await createReferenceSession(model, ops);
  try {
    return { ops, cap: await s.run(x) };
  } finally {
    await s.release();
  }
}

/** The op's output as the IR computes it (lowered matmul, or a direct grouped conv), and TF.js' output. */
function recompute(model: TfjsModel, op: SparseOp, cap: ReferenceCapture): { ours: Float32Array; ref: Float32Array } {
  const c = cap.ops.get(op.index)!;
  if (op.conv && op.conv.group !== 1) {
    const w = model.constants.get(op.weightName)!;
    const pad = op.conv.autoPad === 'SAME_UPPER' ? 'SAME_UPPER' : (op.conv.pads as [number, number, number, number]);
    return { ours: groupedConvNchw(c.input, w, op.biasName ? model.constants.get(op.biasName)!.data : undefined, op.conv.group, op.conv.strides as [number, number], pad), ref: c.output.data };
  }
  const mm = lowerToMatmul(op, cap, model);
  const y = referenceMatmul(mm.a, mm.b, mm.m, mm.n, mm.k);
  for (let i = 0; i < mm.m; i++) for (let j = 0; j < mm.n; j++) y[i * mm.n + j] += mm.bias ? mm.bias[j]! : 0;
  return { ours: y, ref: mm.expected };
}

/** Summary of ReLU zeros: element-weighted overall fraction, and the per-layer range. */
function summary(z: Map<string, { zeros: number; size: number }>): { overall: number; min: number; max: number } {
  let zeros = 0;
  let size = 0;
  for (const v of z.values()) {
    zeros += v.zeros * v.size;
    size += v.size;
  }
  const f = [...z.values()].map((v) => v.zeros);
  return { overall: zeros / size, min: Math.min(...f), max: Math.max(...f) };
}

describe('nsfwjs MobileNetV2 (TF.js layers, 224 px)', () => {
  let path: string;
  let model: TfjsModel;
  beforeAll(() => {
    path = nsfwjsModelPath('mobilenet_v2', cache);
    model = importTfjs(path);
  });

  it('imports 52 convs (17 depthwise as grouped convs with one group per channel) and 3 dense layers, every BatchNorm folded', () => {
    expect(path).toBe(join(cache, 'nsfwjs-4.4.0', 'mobilenet_v2', 'model.json'));
    expect(model.tfjs.layers.length).toBe(162);
    expect(model.inputs[0]!.dims).toEqual(['N', 3, 224, 224]);
    const ops = findSparseOps(model);
    const dw = ops.filter((o) => o.op === 'Conv' && o.conv!.group !== 1);
    expect(ops.filter((o) => o.op === 'Conv' && o.conv!.group === 1).length).toBe(35);
    expect(dw.length).toBe(17);
    for (const o of dw) {
      // group = channels: W [C, 1, 3, 3] and the input has C channels.
      expect(o.weightDims).toEqual([o.conv!.group, 1, 3, 3]);
      expect(model.valueInfo.get(o.inputName)!.dims![1]).toBe(o.conv!.group);
      expect(o.supported).toBe(true); // lowered as a batched matmul with the groups as the batch
    }
    expect(ops.filter((o) => o.op === 'Gemm').map((o) => `${o.name}:${o.weightDims!.join('x')}`)).toEqual(['dense_1:1280x256', 'dense_2:256x128', 'dense_3:128x5']);
    expect(model.tfjs.foldedBatchNorms.size).toBe(52);
    expect(model.tfjs.foldedPaddings.size).toBe(5);
    expect(model.nodes.filter((n) => n.opType === 'Clip').length).toBe(35); // ReLU6
    expect(model.valueInfo.get('out_relu')!.dims).toEqual(['N', 1280, 7, 7]);
    expect(ops[0]!.conv).toMatchObject({ autoPad: 'NOTSET', pads: [0, 0, 1, 1], strides: [2, 2] }); // Conv1_pad folded
  });

  it('on a real photo: every conv, depthwise conv and dense layer matches TF.js, and per-layer sparsity is what TF.js shows', async () => {
    const x = loadInput(photo1!, { preset: 'rgb01' }, model.inputs[0]!);
    expect(x.dims).toEqual([1, 3, 224, 224]);
    const { ops, cap } = await captureAll(model, x);
    expect(cap.ops.size).toBe(55);
    for (const op of ops) {
      const { ours, ref } = recompute(model, op, cap);
      expect(maxRelErr(ours, ref), op.name).toBeLessThan(1e-5);
    }
    const z = await tfjsReluZeros(path, x);
    expect(z.size).toBe(35);
    let compared = 0;
    for (const op of ops) {
      const t = z.get(op.inputName);
      if (!t) continue;
      expect(zeroFraction(cap.ops.get(op.index)!.input.data), op.name).toBe(t.zeros);
      compared++;
    }
    expect(compared).toBe(34); // every depthwise conv and every projection conv reads a ReLU6
    const s = summary(z);
    console.log(`MobileNetV2 ${photo1}: ReLU6 zeros overall ${(s.overall * 100).toFixed(1)} %, per layer ${(s.min * 100).toFixed(1)}–${(s.max * 100).toFixed(1)} %`);
    expect(s.overall).toBeGreaterThan(0.2);
    expect(s.max).toBeGreaterThan(0.7);
  });
});

describe('nsfwjs InceptionV3 (TF.js layers, 299 px)', () => {
  let path: string;
  let model: TfjsModel;
  beforeAll(() => {
    path = nsfwjsModelPath('inception_v3', cache);
    model = importTfjs(path);
  });

  it('imports 94 convs and 3 dense layers with every BatchNorm (scale=false) folded', () => {
    expect(model.tfjs.layers.length).toBe(318);
    expect(model.inputs[0]!.dims).toEqual(['N', 3, 299, 299]);
    const ops = findSparseOps(model);
    expect(ops.filter((o) => o.op === 'Conv' && o.supported).length).toBe(94);
    expect(ops.filter((o) => o.op === 'Gemm').length).toBe(3);
    expect(model.tfjs.foldedBatchNorms.size).toBe(94);
    expect(model.nodes.filter((n) => n.opType === 'Concat').length).toBe(15);
    expect(model.valueInfo.get('mixed10')!.dims).toEqual(['N', 2048, 8, 8]);
    // The factorised 1x7 / 7x1 convolutions keep their kernel shapes.
    expect(ops.some((o) => o.conv?.kernel?.join() === '1,7') && ops.some((o) => o.conv?.kernel?.join() === '7,1')).toBe(true);
  });

  it('on a real photo: per-layer sparsity matches TF.js; a sample of convs of every kernel shape and the dense layers match', async () => {
    const x = loadInput(photo6!, { preset: 'rgb01' }, model.inputs[0]!);
    expect(x.dims).toEqual([1, 3, 299, 299]);
    const { ops, cap } = await captureAll(model, x);
    expect(cap.ops.size).toBe(97);
    const z = await tfjsReluZeros(path, x);
    expect(z.size).toBe(94);
    let compared = 0;
    for (const op of ops) {
      const t = z.get(op.inputName);
      if (!t) continue;
      expect(zeroFraction(cap.ops.get(op.index)!.input.data), op.name).toBe(t.zeros);
      compared++;
    }
    expect(compared).toBeGreaterThan(40);
    // Full recomputation of every conv costs ~6 GFLOP in JS; one conv per kernel shape and stride, and the dense layers.
    const seen = new Set<string>();
    for (const op of ops) {
      const key = op.op === 'Gemm' ? op.name : `${op.conv!.kernel!.join('x')}/${op.conv!.strides.join('x')}/${op.conv!.autoPad}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const { ours, ref } = recompute(model, op, cap);
      expect(maxRelErr(ours, ref), op.name).toBeLessThan(1e-5);
    }
    expect(seen.size).toBeGreaterThan(8);
    const s = summary(z);
    console.log(`InceptionV3 ${photo6}: ReLU zeros overall ${(s.overall * 100).toFixed(1)} %, per layer ${(s.min * 100).toFixed(1)}–${(s.max * 100).toFixed(1)} %`);
    expect(s.overall).toBeGreaterThan(0.3);
  });
});
