/**
 * Pruning real ONNX files end to end through the core API, on tiny synthetic models (labelled synthetic: built with
 * test/model/onnx-builders.ts, seeded random weights): layer discovery (Constant-node and initializer weights,
 * layouts, skipped grouped convs), calibration norms against a hand computation, the written model computing the same
 * function at S = 0 (onnxruntime outputs bit-identical), and the zero pattern of S > 0 matching the pattern exactly.
 */
import { describe, expect, it } from 'vitest';
import type { OnnxModel } from '../../core/model/ir.ts';
import { importOnnxBytes, modelProto } from '../../core/model/onnx-import.ts';
import { captureReference } from '../../core/model/reference.ts';
import { calibrate } from '../../core/prune/calibrate.ts';
import { findPrunableLayers } from '../../core/prune/layers.ts';
import { PRUNE_METADATA_KEY, readPruneMetadata } from '../../core/prune/metadata.ts';
import { buildMetadata, prunedWeights, pruneLayers, selectLayers, type PruneConfig } from '../../core/prune/prune.ts';
import { encodePrunedModel } from '../../core/prune/write.ts';
import { buildModel, randomFloats } from '../model/onnx-builders.ts';

/** Synthetic conv model: x [1, 4, 6, 6] → Conv 3x3 pad 1 (weight in a Constant node) → Relu → Conv 1x1 (+bias, initializer) → Depthwise Conv. */
function convModel(): OnnxModel {
  return importOnnxBytes(
    buildModel({
      inputs: [{ name: 'x', dims: [1, 4, 6, 6] }],
      outputs: [{ name: 'y', dims: [1, 8, 6, 6] }],
      constantNodes: [{ name: 'W1', dims: [8, 4, 3, 3], data: randomFloats(8 * 36, 1), raw: true }],
      initializers: [
        { name: 'W2', dims: [8, 8, 1, 1], data: randomFloats(64, 2) },
        { name: 'B2', dims: [8], data: randomFloats(8, 3) },
        { name: 'W3', dims: [8, 1, 3, 3], data: randomFloats(72, 4) },
      ],
      nodes: [
        { op: 'Conv', name: 'c1', inputs: ['x', 'W1'], outputs: ['h'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
        { op: 'Relu', inputs: ['h'], outputs: ['r'] },
        { op: 'Conv', name: 'c2', inputs: ['r', 'W2', 'B2'], outputs: ['z'], attrs: { kernel_shape: [1, 1] } },
        { op: 'Conv', name: 'dw', inputs: ['z', 'W3'], outputs: ['y'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 8 } },
      ],
    }),
    'synthetic-conv',
  );
}

/** Synthetic matmul model: x [3, 16] → MatMul W [16, 8] → Relu → Gemm transB with W2 [4, 8] → y [3, 4]. */
function matmulModel(): OnnxModel {
  return importOnnxBytes(
    buildModel({
      inputs: [{ name: 'x', dims: [3, 16] }],
      outputs: [{ name: 'y', dims: [3, 4] }],
      initializers: [
        { name: 'W', dims: [16, 8], data: randomFloats(128, 5) },
        { name: 'W2', dims: [4, 8], data: randomFloats(32, 6) },
      ],
      nodes: [
        { op: 'MatMul', name: 'mm', inputs: ['x', 'W'], outputs: ['h'] },
        { op: 'Relu', inputs: ['h'], outputs: ['r'] },
        { op: 'Gemm', name: 'gemm', inputs: ['r', 'W2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
    }),
    'synthetic-matmul',
  );
}

const convFeeds = [randomFloats(144, 10), randomFloats(144, 11)].map((data) => ({ dims: [1, 4, 6, 6], data }));
const mmFeeds = [randomFloats(48, 12), randomFloats(48, 13)].map((data) => ({ dims: [3, 16], data }));

async function pruneBytes(model: OnnxModel, feeds: typeof convFeeds, config: PruneConfig): Promise<{ bytes: Uint8Array; masks: Map<string, Uint8Array> }> {
  const found = findPrunableLayers(model);
  const { layers, skipped } = selectLayers(found.layers, found.skipped, config);
  const stats = await calibrate(model, layers, feeds);
  const pruned = pruneLayers(layers, stats, config);
  const meta = buildMetadata(model, pruned, skipped, config, { inputs: ['synthetic'], imageSize: 0 });
  const bytes = encodePrunedModel(model, prunedWeights(model, pruned), { [PRUNE_METADATA_KEY]: JSON.stringify(meta) });
  return { bytes, masks: new Map(pruned.map((p) => [p.layer.weightName, p.result.mask])) };
}

const config = (over: Partial<PruneConfig>): PruneConfig => ({ pattern: 'nm', sparsity: 0.5, vector: 64, permute: 'none', seed: 1, skipUnfit: false, ...over });

describe('prunable layers', () => {
  it('reads Conv weights as [Cout, Cin·kh·kw] = Wᵀ, Gemm transB as Wᵀ, MatMul as W, and skips grouped convs', () => {
    const conv = findPrunableLayers(convModel());
    expect(conv.layers.map((l) => [l.name, l.k, l.n, l.layout])).toEqual([
      ['c1', 36, 8, 'nk'],
      ['c2', 8, 8, 'nk'],
    ]);
    expect(conv.layers[0].kernel).toEqual([3, 3]);
    // W [K, N][k, n] = ONNX W1[n, k]: k = (ci·3 + i)·3 + j.
    const w1 = convModel().constants.get('W1')!.data;
    expect(conv.layers[0].w[5 * 8 + 3]).toBe(w1[3 * 36 + 5]);
    expect(conv.skipped).toEqual([{ name: 'dw', op: 'Conv', reason: expect.stringMatching(/^grouped conv \(group=8\)/) }]);
    const mm = findPrunableLayers(matmulModel());
    expect(mm.layers.map((l) => [l.name, l.k, l.n, l.layout])).toEqual([
      ['mm', 16, 8, 'kn'],
      ['gemm', 8, 4, 'nk'],
    ]);
  });
});

describe('calibration', () => {
  it('gives ‖x_k‖ over every row of every input, for MatMul and for a padded 3x3 Conv (im2col columns)', async () => {
    const mm = matmulModel();
    const mmStats = await calibrate(mm, findPrunableLayers(mm).layers, mmFeeds);
    const want = Array.from({ length: 16 }, (_, c) => Math.sqrt(mmFeeds.reduce((s, f) => s + [0, 1, 2].reduce((t, r) => t + f.data[r * 16 + c] ** 2, 0), 0)));
    Array.from(mmStats.norms.get('mm')!).forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    expect(mmStats.rows.get('mm')).toBe(6);

    const cm = convModel();
    const stats = await calibrate(cm, findPrunableLayers(cm).layers, convFeeds);
    // Column (ci, i, j) of im2col: x[ci, oh + i − 1, ow + j − 1] over the 6x6 outputs, 0 in the padding.
    const norms = stats.norms.get('c1')!;
    for (const [ci, i, j] of [[0, 0, 0], [2, 1, 1], [3, 2, 0]]) {
      let s = 0;
      for (const f of convFeeds) {
        for (let oh = 0; oh < 6; oh++) {
          for (let ow = 0; ow < 6; ow++) {
            const y = oh + i - 1, x = ow + j - 1;
            if (y >= 0 && y < 6 && x >= 0 && x < 6) s += f.data[ci * 36 + y * 6 + x] ** 2;
          }
        }
      }
      expect(norms[(ci * 3 + i) * 3 + j]).toBeCloseTo(Math.sqrt(s), 5);
    }
    expect(stats.inputs).toBe(2);
  });

  it('refuses an empty calibration set', async () => {
    const mm = matmulModel();
    await expect(calibrate(mm, findPrunableLayers(mm).layers, [])).rejects.toThrow(/no calibration input/);
  });
});

describe('the written model', () => {
  it('computes exactly the same outputs at S = 0 (initializer and Constant-node weights), with readable metadata', async () => {
    for (const [model, feeds] of [[convModel(), convFeeds], [matmulModel(), mmFeeds]] as const) {
      for (const pattern of ['tw', 'nm', 'bw', 'hinm', 'vw'] as const) {
        const { bytes } = await pruneBytes(model, feeds, config({ pattern, sparsity: 0 }));
        const copy = importOnnxBytes(bytes, 'identity');
        for (const f of feeds) {
          const a = await captureReference(model, [], f);
          const b = await captureReference(copy, [], f);
          expect(b.outputs[0].data).toEqual(a.outputs[0].data);
        }
        const meta = readPruneMetadata(modelProto(copy).metadataProps)!;
        expect(meta.format).toBe('pit-prune/1');
        expect(meta.layers.every((l) => l.pattern.pattern === 'identity' && l.sparsity === 0)).toBe(true);
      }
    }
  });

  it('zeroes exactly the 2:4 pattern at S = 0.5 and keeps every other weight bit-identical', async () => {
    const model = convModel();
    const { bytes, masks } = await pruneBytes(model, convFeeds, config({ pattern: 'nm' }));
    const out = importOnnxBytes(bytes, 'pruned');
    for (const [name, k] of [['W1', 36], ['W2', 8]] as const) {
      const before = model.constants.get(name)!.data;
      const after = out.constants.get(name)!.data;
      const mask = masks.get(name)!;
      // ONNX [Cout, K]: every 4 consecutive k of a row is a 2:4 group.
      for (let n = 0; n < 8; n++) {
        for (let g = 0; g < k; g += 4) {
          const zeros = [0, 1, 2, 3].filter((j) => after[n * k + g + j] === 0).length;
          expect(zeros).toBeGreaterThanOrEqual(2);
        }
        for (let kk = 0; kk < k; kk++) expect(after[n * k + kk]).toBe(mask[kk * 8 + n] ? before[n * k + kk] : 0);
      }
    }
    // The bias and the depthwise weight are untouched; the graph still runs and differs from the original.
    expect(out.constants.get('B2')!.data).toEqual(model.constants.get('B2')!.data);
    expect(out.constants.get('W3')!.data).toEqual(model.constants.get('W3')!.data);
    const meta = readPruneMetadata(modelProto(out).metadataProps)!;
    expect(meta.layers.map((l) => [l.name, l.pattern.pattern, l.sparsity])).toEqual([
      ['c1', 'nm', 0.5],
      ['c2', 'nm', 0.5],
    ]);
    expect(meta.skipped.map((s) => s.name)).toEqual(['dw']);
    const a = await captureReference(model, [], convFeeds[0]);
    const b = await captureReference(out, [], convFeeds[0]);
    expect(b.outputs[0].data).not.toEqual(a.outputs[0].data);
  });
});

describe('shape checks', () => {
  it('names the first layer a pattern does not fit, or leaves it dense with --skip-unfit', () => {
    const found = findPrunableLayers(matmulModel());
    expect(() => selectLayers(found.layers, found.skipped, config({ pattern: 'bw' }))).toThrow(
      /^layer mm \(MatMul, W \[K=16, N=8\]\): 32x32 blocks need K and N multiples of 32, got K = 16, N = 8/,
    );
    expect(() => selectLayers(found.layers, found.skipped, config({ pattern: 'bw', skipUnfit: true }))).toThrow(/no layer of the model fits bw/);
    // Synthetic: x [2, 6] → MatMul [6, 8] (K = 6 does not take 2:4) → Relu → MatMul [8, 4] (fits).
    const mixed = importOnnxBytes(
      buildModel({
        inputs: [{ name: 'x', dims: [2, 6] }],
        outputs: [{ name: 'y', dims: [2, 4] }],
        initializers: [
          { name: 'A', dims: [6, 8], data: randomFloats(48, 7) },
          { name: 'B', dims: [8, 4], data: randomFloats(32, 8) },
        ],
        nodes: [
          { op: 'MatMul', name: 'first', inputs: ['x', 'A'], outputs: ['h'] },
          { op: 'Relu', inputs: ['h'], outputs: ['r'] },
          { op: 'MatMul', name: 'second', inputs: ['r', 'B'], outputs: ['y'] },
        ],
      }),
      'synthetic-mixed',
    );
    const m = findPrunableLayers(mixed);
    expect(() => selectLayers(m.layers, m.skipped, config({ pattern: 'nm' }))).toThrow(/^layer first \(MatMul, W \[K=6, N=8\]\): 2:4 needs K a multiple of 4, K = 6 \(--skip-unfit/);
    const sel = selectLayers(m.layers, m.skipped, config({ pattern: 'nm', skipUnfit: true }));
    expect(sel.layers.map((l) => l.name)).toEqual(['second']);
    expect(sel.skipped).toEqual([{ name: 'first', op: 'MatMul', reason: 'nm does not fit: 2:4 needs K a multiple of 4, K = 6' }]);
  });
});
