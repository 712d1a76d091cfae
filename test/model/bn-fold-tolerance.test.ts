/**
 * A BatchNormalization folded into the TF.js conv before it (core/model/tfjs-import.ts) gives a bias
 * beta − mean·s that can be tiny while TF.js, which computes the BN unfused in float32, rounds at |mean·s| and
 * |beta|. Found on nsfwjs MobileNetV2 (`block_16_depthwise`, a group whose input is all zero: the output is the bias,
 * 0.00175071 ours vs 0.00175072 TF.js) where every variant, `direct` included, failed verification. The verification
 * tolerance scales with the runtime's bias terms (`biasErrorScaleName`), shown here on a conv whose BN cancels.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareBatched } from '../../core/kernels/reference.ts';
import { lowerToBatchedMatmul, referenceBatchedMatmul } from '../../core/model/batched.ts';
import { createReferenceSession } from '../../core/model/capture.ts';
import { biasErrorScaleName } from '../../core/model/operands.ts';
import { findSparseOps } from '../../core/model/sparse-ops.ts';
import { importTfjs } from '../../core/model/tfjs-import.ts';
import { layerProblem } from '../../core/profile/layer-problem.ts';
import { uniform, writeTfjsModel } from './tfjs-builders.ts';

const dir = mkdtempSync(join(tmpdir(), 'pit-bn-fold-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MEAN = 50;
const EPS = 0.001;

describe('verification tolerance of a conv with a folded BatchNormalization', () => {
  // Conv 3x3, 3 filters, no bias → BN with mean 50 and beta 50·s: the folded bias is ~0, TF.js rounds at ~50.
  const s = 1 / Math.sqrt(1 + EPS);
  const path = writeTfjsModel(join(dir, 'm'), {
    input: { name: 'x', shape: [null, 5, 5, 2] },
    layers: [
      { name: 'c', cls: 'Conv2D', config: { filters: 3, kernel_size: [3, 3], strides: [1, 1], padding: 'same', activation: 'linear', use_bias: false }, inbound: ['x'] },
      { name: 'bn', cls: 'BatchNormalization', config: { axis: -1, epsilon: EPS, center: true, scale: true }, inbound: ['c'] },
    ],
    output: 'bn',
    weights: [
      { name: 'c/kernel', shape: [3, 3, 2, 3], values: uniform(54, 1, -1, 1) },
      { name: 'bn/gamma', shape: [3], values: [1, 1, 1] },
      { name: 'bn/beta', shape: [3], values: [MEAN * s, MEAN * s, MEAN * s] },
      { name: 'bn/moving_mean', shape: [3], values: [MEAN, MEAN, MEAN] },
      { name: 'bn/moving_variance', shape: [3], values: [1, 1, 1] },
    ],
  });
  const model = importTfjs(path);

  it('stores the runtime bias terms |b·s| + |mean·s| + |beta| beside the folded bias', () => {
    const conv = model.nodes.find((n) => n.name === 'c')!;
    const bias = model.constants.get(conv.inputs[2]!)!.data;
    const scale = model.constants.get(biasErrorScaleName(conv.inputs[2]!))!.data;
    for (let o = 0; o < 3; o++) {
      expect(Math.abs(bias[o]!)).toBeLessThan(1e-5); // beta − mean·s cancels
      expect(scale[o]).toBeCloseTo(2 * MEAN * s, 3);
    }
  });

  it('the CPU product verifies against TF.js with the tolerance scaled by them, and would not without', async () => {
    const [op] = findSparseOps(model);
    const session = await createReferenceSession(model, [op!]);
    // Small activations: Σ|a||w| ≈ 1e-3, far below the BN terms TF.js rounds at.
    const cap = await session.run({ dims: [1, 2, 5, 5], data: uniform(50, 7, 0, 1e-4) });
    await session.release();
    const lowered = lowerToBatchedMatmul(op!, cap, model);
    expect(lowered.biasErrorScale).toBeDefined();
    const problem = layerProblem(lowered);
    const ours = referenceBatchedMatmul(lowered);
    const k = lowered.k;
    const withScale = compareBatched(ours, problem.reference, 1, { k, scales: problem.scales });
    expect(withScale.ok, `max abs err ${withScale.maxAbsErr} > ${withScale.tolerance}`).toBe(true);
    expect(withScale.maxAbsErr).toBeGreaterThan(0); // TF.js did round at the BN terms' size
    const { biasErrorScale: _dropped, ...plain } = lowered;
    const without = compareBatched(ours, plain.expected, 1, { k, scales: layerProblem(plain).scales });
    expect(without.ok).toBe(false);
  });
});
