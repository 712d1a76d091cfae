/** The text report of a run (what `pit profile` and `pit show` print): columns, totals, policy columns, skipped layers. */
import { describe, expect, it } from 'vitest';
import type { LayerResult, RunReport, VariantResult } from '../../core/protocol.ts';
import { bestDensity, formatReport, regretSummary, skippedByReason } from '../../core/report/table.ts';

const v = (name: string, ms: number, detectMs = 0, ok = true): VariantResult => ({
  name, ms, detectMs, ok, microTile: name === 'dense' ? null : '32x1', computeTile: '32x128x8/4x4', maxAbsErr: 2e-6, maxRelErr: 1e-7, wgslHash: 'h',
});

function layer(i: number, extra: Partial<LayerResult> = {}): LayerResult {
  return {
    index: i, name: `conv${i}`, op: 'Conv', m: 64, n: 32, k: 27, input: 0, sparsity: 0.75,
    microTiles: [{ shape: '1x1', density: 0.25 }, { shape: '32x1', density: 0.5 }],
    variants: [v('dense', 4), v('pit-k', 1, 0.25)], chosen: 'pit-k', ...extra,
  };
}

function report(layers: LayerResult[], complete = true): RunReport {
  return {
    run: {
      id: 7, complete, createdAt: '2026-11-21T08:00:00Z', status: complete ? '' : 'cancelled', repeat: 5, families: ['dense', 'pit-k'], options: {},
      model: { path: '/m/det.onnx', sha256: 'a'.repeat(64) },
      adapter: { vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'lavapipe', backend: 'vulkan', timestampQuery: true },
      inputs: [],
    },
    layers,
    totals: { denseMs: 4, defaultDenseMs: 4, chosenMs: 1.25, detectMs: 0.25, layoutMs: 0, idealMs: 2 },
  };
}

describe('formatReport', () => {
  it('prints one row per layer with speedup over dense counting detection, then totals', () => {
    const text = formatReport(report([layer(0), layer(1, { skipped: 'grouped conv (group=16)', variants: [], microTiles: [] })]));
    const row = text.split('\n').find((l) => l.includes('conv0'))!;
    expect(row).toMatch(/64×32×27/);
    expect(row).toMatch(/0\.750/);
    expect(row).toMatch(/32x1 0\.500/); // best micro-tile: 1x1 (element density) is not a micro-tile a kernel computes
    expect(row).toMatch(/pit-k\s+1\.25\s+3\.20x/); // 4 ms dense / (1 + 0.25) ms
    expect(text).toMatch(
      /totals: default dense 4\.00 ms → baseline dense 4\.00 ms \(dense tile choice 1\.00x\) → chosen 1\.25 ms \(PIT gain 3\.20x; detection 0\.250 ms and layout 0\.000 ms included\); ideal 2\.00 ms/,
    );
    expect(text).toContain('not profiled: 1 layer, by reason:\n  grouped conv (group=16) — 1: conv1 (Conv)\n');
    expect(text).not.toMatch(/predicted ms|regret/);
    expect(text).toMatch(/run 7 complete/);
  });

  it('lists every skipped layer (not only the first 6), grouped by reason, each layer once across inputs', () => {
    const skip = (i: number, reason: string, input = 0) => layer(i, { skipped: reason, variants: [], microTiles: [], input, op: i >= 20 ? 'MatMul' : 'Conv' });
    const grouped = 'grouped conv (group > 1): batched';
    const layers = [layer(0), ...[1, 2, 3, 4, 5, 6, 7, 8].map((i) => skip(i, grouped)), skip(20, 'batched MatMul'), skip(21, 'batched MatMul')];
    // A second input: the same layers skipped again, plus one skipped only there.
    layers.push(layer(0, { input: 1 }), ...[1, 2, 3, 4, 5, 6, 7, 8].map((i) => skip(i, grouped, 1)), skip(20, 'batched MatMul', 1), skip(21, 'batched MatMul', 1), skip(9, 'shape', 1));
    const r = report(layers);
    r.run.inputs = [0, 1].map((i) => ({ path: `/x${i}.npy`, kind: 'npy', shape: [1], preprocess: '', synthetic: false }));
    const groups = skippedByReason(layers);
    expect(groups.map((g) => [g.reason, g.layers.length])).toEqual([[grouped, 8], ['batched MatMul', 2], ['shape', 1]]);
    expect(groups[0]!.layers[0]).toEqual({ name: 'conv1', op: 'Conv', inputs: [0, 1] });
    const text = formatReport(r);
    expect(text).toContain('not profiled: 11 layers, by reason:');
    expect(text).toContain(`  ${grouped} — 8: ${[1, 2, 3, 4, 5, 6, 7, 8].map((i) => `conv${i} (Conv)`).join(', ')}\n`);
    expect(text).toContain('  batched MatMul — 2: conv20 (MatMul), conv21 (MatMul)\n');
    expect(text).toContain('  shape — 1: conv9 (Conv) [input 1]\n');
    expect(text).not.toContain('; …');
  });

  it('says when a run is incomplete and marks failed variants', () => {
    const text = formatReport(report([layer(0, { variants: [v('dense', 4), v('pit-k', Number.NaN, 0, false)], chosen: 'dense' })], false));
    expect(text).toMatch(/run 7 INCOMPLETE \(cancelled\)/);
    expect(text.split('\n').find((l) => l.includes('conv0'))).toMatch(/\bdense\s+4\.00\s+1\.00x\s+\S+\s+failed: pit-k/);
  });

  it('shows the baseline tile and its gain, spreads, and the attribution flags', () => {
    const stats = (median: number, iqr: number, over: Partial<VariantResult> = {}): Partial<VariantResult> => ({
      totalMs: median, q1Ms: median - iqr / 2, q3Ms: median + iqr / 2, iqrMs: iqr, minMs: median - iqr, maxMs: median + iqr, repeats: 5, method: 'timestamp', statistic: 'median', ...over,
    });
    const l = layer(0, {
      variants: [
        { ...v('dense', 4), ...stats(4, 0.4) },
        { ...v('dense 64x32x16/4x2', 2), computeTile: '64x32x16/4x2', ...stats(2, 0.1) },
        { ...v('pit-k', 1.7, 0.3), ...stats(2, 1.2) },
        { ...v('pit-m', 0.05, 0), ...stats(0.05, 0.001, { suspect: 'speed-up 40x over dense 64x32x16/4x2 exceeds 1.25/effective density' }) },
      ],
      chosen: 'dense 64x32x16/4x2',
      baseline: 'dense 64x32x16/4x2',
      defaultDense: 'dense',
      denseTileGain: 2,
      pitGain: 1,
      undecided: 'pit-k and the baseline overlap after re-measuring',
    });
    const row = formatReport(report([l])).split('\n').find((x) => x.includes('conv0'))!;
    expect(row).toMatch(/dense 64x32x16\/4x2\s+2\.00±5%\s+2\.00x\s+dense 64x32x16\/4x2\s+2\.00±5%\s+1\.00x/);
    expect(row).toMatch(/undecided; suspect: pit-m$/);
    const text = formatReport(report([l]));
    expect(text).toMatch(/times: median of 5\+ samples per variant \(GPU timestamp queries; layout \+ detection \+ kernel\), ±% = interquartile range/);
    expect(text).toMatch(/attribution: 0 of 1 layer-runs chose a PIT variant .*; 1 undecided \(baseline kept\); 1 suspect measurement/);
  });

  it('adds predicted ms and regret columns and a regret summary for audited policy runs', () => {
    const layers = [
      layer(0, { predicted: { variant: 'pit-k', ms: 1.1 }, regret: 0 }),
      layer(1, { predicted: { variant: 'pit-k', ms: 1.3 }, regret: 0.2 }),
      // Predicted dense (4 ms), but the shortlist measured pit-k (1.25 ms) and kept it: the prediction alone had
      // regret 4 / 1.25 − 1 = 2.2, the policy 0.05 (the fixture's regret, as stored).
      layer(2, { predicted: { variant: 'dense', ms: 3.9 }, regret: 0.05 }),
    ];
    const text = formatReport(report(layers));
    expect(text).toMatch(/predicted ms\s+regret/);
    expect(text.split('\n').find((l) => l.includes('conv1'))).toMatch(/1\.30\s+20\.0 %$/);
    expect(text).toMatch(/policy regret over 3 layers: median 5\.0 %, max 20\.0 % .*; prediction alone: median 0\.0 %, max 220\.0 %/);
    expect(regretSummary(layers)).toEqual({ layers: 3, median: 0.05, max: 0.2, prediction: { layers: 3, median: 0, max: expect.closeTo(2.2, 9) } });
    expect(regretSummary([layer(0)])).toBeNull();
  });

  it('shows a batched layer with its batch, per-batch sparsity range, B-side micro-tile and per-head lines; the approximation column', () => {
    const pitN: VariantResult = { ...v('pit-n', 1, 0.25), microTile: '15x1', operand: 'b' };
    const attention = layer(0, {
      name: 'qk',
      op: 'MatMul',
      m: 10,
      n: 10,
      k: 15,
      batch: 8,
      batchDims: [1, 8],
      batchKind: 'broadcast',
      sparsity: 0.25,
      variants: [v('dense', 4), pitN],
      chosen: 'pit-n',
      operandB: { sparsity: 0.5, microTiles: [{ shape: '15x1', density: 0.5, effectiveDensity: 0.5 }] },
      perBatch: {
        sparsity: [0, 0.1, 0.2, 0.3, 0.3, 0.3, 0.4, 0.4],
        microTiles: [{ operand: 'b', shape: '15x1', density: [1, 1, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25], effectiveDensity: [1, 1, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25] }],
      },
      approximation: { threshold: 0.001, operands: [{ operand: 'a', cut: 0.001, sparsityBefore: 0, sparsityAfter: 0.25 }], maxAbsErr: 1e-3, maxRelErr: 1e-4, relL2Err: 2.5e-4 },
    });
    const groups = Array.from({ length: 40 }, (_, i) => i / 40);
    const dw = layer(1, { batch: 40, batchDims: [40], batchKind: 'groups', n: 1, k: 9, perBatch: { sparsity: groups, microTiles: [] } });
    const r = report([attention, dw]);
    r.run.options = { zero: { threshold: 0.001 } };
    const text = formatReport(r);
    const row = text.split('\n').find((l) => l.includes(' qk '))!;
    expect(row).toMatch(/\[1×8\]·10×10×15/);
    expect(row).toMatch(/0\.250 \[0\.000–0\.400\]/);
    expect(row).toMatch(/B 15x1 0\.500/);
    expect(row).toMatch(/2\.50e-4$/);
    expect(text).toContain('  [0] qk [1×8]·10×10×15 (batch·heads): A sparsity 0.00 0.10 0.20 0.30 0.30 0.30 0.40 0.40; B 15x1 density 1.00 1.00 0.50 0.50 0.25 0.25 0.25 0.25');
    // Many groups: summarised.
    expect(text).toContain('  [0] conv1 [40]·64×1×9 (groups): A sparsity min 0.00 / median 0.49 / max 0.97 over 40');
    expect(text).toMatch(/near-zero as zero: \|x\| ≤ 0\.001 is zero/);
    expect(formatReport(report([layer(0)]))).not.toMatch(/approx\. err|per batch|near-zero/);
  });

  it('best density ignores the element density', () => {
    expect(bestDensity(layer(0))).toEqual({ shape: '32x1', density: 0.5 });
    expect(bestDensity(layer(0, { microTiles: [{ shape: '1x1', density: 0.1 }] }))).toEqual({ shape: '-', density: 1 });
  });
});
