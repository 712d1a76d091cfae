/** The text report of a run (what `pit profile` and `pit show` print): columns, totals, policy columns, skipped layers. */
import { describe, expect, it } from 'vitest';
import type { LayerResult, RunReport, VariantResult } from '../../core/protocol.ts';
import { bestDensity, formatReport, regretSummary } from '../../core/report/table.ts';

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
      id: 7, complete, createdAt: '2026-11-21T08:00:00Z', status: complete ? '' : 'cancelled', repeat: 5, variants: ['dense', 'pit-k'],
      model: { path: '/m/det.onnx', sha256: 'a'.repeat(64) },
      adapter: { vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'lavapipe', backend: 'vulkan', timestampQuery: true },
      inputs: [],
    },
    layers,
    totals: { denseMs: 4, chosenMs: 1.25, detectMs: 0.25, idealMs: 2 },
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
    expect(text).toMatch(/totals: dense 4\.00 ms, chosen 1\.25 ms \(3\.20x, detection 0\.250 ms included\), ideal 2\.00 ms/);
    expect(text).toMatch(/not profiled \(1\): conv1 \(Conv\): grouped conv \(group=16\)/);
    expect(text).not.toMatch(/predicted ms|regret/);
    expect(text).toMatch(/run 7 complete/);
  });

  it('says when a run is incomplete and marks failed variants', () => {
    const text = formatReport(report([layer(0, { variants: [v('dense', 4), v('pit-k', Number.NaN, 0, false)], chosen: 'dense' })], false));
    expect(text).toMatch(/run 7 INCOMPLETE \(cancelled\)/);
    expect(text).toMatch(/dense \(pit-k failed\)/);
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

  it('best density ignores the element density', () => {
    expect(bestDensity(layer(0))).toEqual({ shape: '32x1', density: 0.5 });
    expect(bestDensity(layer(0, { microTiles: [{ shape: '1x1', density: 0.1 }] }))).toEqual({ shape: '-', density: 1 });
  });
});
