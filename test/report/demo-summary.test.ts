/**
 * The demo's closing summary: layer-runs where PIT pays (chosen ≠ baseline) and the time they save; layer-runs with
 * nothing to skip (lowest effective density ≥ 0.95) and their baseline time; skipped and unverified layers left out.
 */
import { describe, expect, it } from 'vitest';
import type { LayerResult, VariantResult } from '../../core/protocol.ts';
import { demoSummary } from '../../core/report/demo-summary.ts';
import { formatDemoSummary } from '../../main/commands/demo.ts';

function v(name: string, totalMs: number, ok = true): VariantResult {
  return { name, family: name.split(' ')[0]!, microTile: null, computeTile: '128x128x16/8x8/sb', ms: totalMs, detectMs: 0, totalMs, maxAbsErr: 0, maxRelErr: 0, ok, wgslHash: 'h', effectiveDensity: null };
}

function layer(name: string, chosen: string, idealDensity: number, variants: VariantResult[], extra: Partial<LayerResult> = {}): LayerResult {
  return { index: 0, name, op: 'Conv', input: 0, m: 64, n: 64, k: 64, sparsity: 0, microTiles: [], variants, chosen, baseline: 'dense', idealDensity, effectiveDensity: chosen === 'dense' ? 1 : idealDensity, ...extra };
}

describe('demo summary', () => {
  const layers: LayerResult[] = [
    layer('relu6-proj', 'pit-k', 0.4, [v('dense', 10), v('pit-k', 6)]), // PIT pays: saves 4
    layer('hswish-conv', 'dense', 0.99, [v('dense', 20), v('pit-k', 24)]), // nothing to skip
    layer('se-gate', 'dense', 0.7, [v('dense', 2), v('pit-k', 2.2)]), // something to skip, PIT did not pay
    layer('tile-fit', 'pit-m', 0.97, [v('dense', 5), v('pit-m', 4.5)]), // noise band: pays and nothing to skip
    layer('dw', 'dense', 1, [], { skipped: 'grouped conv', baseline: undefined }),
    layer('broken', 'dense', 1, [v('dense', 3, false)]),
  ];

  it('adds up wins, savings and the time with nothing to skip', () => {
    const s = demoSummary(layers);
    expect(s.layers).toBe(4);
    expect(s.pitPays).toBe(2);
    expect(s.savedMs).toBeCloseTo(4.5, 12);
    expect(s.baselineMs).toBeCloseTo(37, 12);
    expect(s.chosenMs).toBeCloseTo(32.5, 12);
    expect(s.nothingToSkip).toBe(2);
    expect(s.nothingToSkipMs).toBeCloseTo(25, 12);
    expect(s.skippableNotPaid).toBe(1);
    expect(s.wins.map((w) => w.name)).toEqual(['relu6-proj', 'tile-fit']);
  });

  it('prints one block per model', () => {
    const text = formatDemoSummary([{ title: 'M', runId: 7, s: demoSummary(layers) }]);
    expect(text).toMatch(/M \(run 7\): 4 layer-runs profiled, baseline dense 37\.00 ms → chosen 32\.50 ms/);
    expect(text).toMatch(/PIT pays on 2 layer-run\(s\), saving 4\.50 ms \(12\.2 % of the baseline\)/);
    expect(text).toMatch(/on 2 layer-run\(s\): 25\.00 ms \(67\.6 % of the baseline\); something to skip but PIT did not pay on 1/);
  });
});
