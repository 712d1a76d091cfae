/** What the Layers view derives: times, coverage waste per micro-tile shape, and why the chosen variant won. */
import { describe, expect, it } from 'vitest';
import { bestMicroTile, coverageWaste, explainChoice, layerTimes, microTileRows, policyText, regretLevel, variantTime } from '../../renderer/src/lib/layer.ts';
import { layer, skipped, variant } from './fixtures.ts';

describe('layer metrics', () => {
  it('counts detection in a variant time', () => {
    expect(variantTime(variant('pit-k', 1, 0.25))).toBe(1.25);
    expect(variantTime(variant('x', Number.NaN))).toBeNaN();
  });

  it('gives dense and chosen times and the speed-up', () => {
    const t = layerTimes(layer(0, 2, 0.9));
    expect(t.denseMs).toBe(2);
    expect(t.chosenMs).toBeCloseTo(1);
    expect(t.speedup).toBeCloseTo(2);
  });

  it('computes coverage waste = 1 − element density / tile density', () => {
    expect(coverageWaste(0.5, 0.8)).toBeCloseTo(0.375);
    expect(coverageWaste(0.5, 0.5)).toBe(0);
    expect(coverageWaste(0.5, 0)).toBe(0);
    const rows = microTileRows(layer(0, 2, 1));
    expect(rows[1]).toMatchObject({ shape: '32x1', density: 0.8 });
    expect(rows[1]!.sparsity).toBeCloseTo(0.2);
    expect(rows[1]!.coverageWaste).toBeCloseTo(0.375);
  });

  it('finds the micro-tile shape with the lowest density (not element density)', () => {
    expect(bestMicroTile(layer(0, 1, 1))).toEqual({ shape: '32x1', density: 0.8 });
  });
});

describe('explainChoice', () => {
  it('explains a PIT win with kernel, detection and speed-up', () => {
    const { summary, candidates } = explainChoice(layer(0, 2, 0.9));
    expect(summary).toBe('pit-k (micro-tile 32x1, computation tile 64x64x16) wins: 1.000 ms (0.900 kernel + 0.100 detection) against dense 2.000 ms, 2.00× faster.');
    expect(candidates.map((c) => [c.name, c.verdict])).toEqual([
      ['pit-k', 'chosen'],
      ['dense', 'slower'],
    ]);
    expect(candidates[1]!.note).toBe('1.000 ms slower than pit-k');
  });

  it('says why dense stays, and lists failed and broken variants last', () => {
    const l = layer(0, 1, 1.5);
    l.variants.push(variant('pit-m', 0.1, 0, { ok: false, maxRelErr: 0.03 }), variant('bcsr', Number.NaN, 0, { ok: false, error: 'ShaderCompileError: x' }));
    const { summary, candidates } = explainChoice(l);
    expect(summary).toContain('Dense (1.000 ms) stays');
    expect(candidates.map((c) => c.verdict)).toEqual(['chosen', 'slower', 'failed', 'error']);
    expect(candidates[2]!.note).toContain('max rel. error 3.0e-2');
    expect(candidates[3]!.note).toBe('ShaderCompileError: x');
  });

  it('says when the tile database predicted the choice, or when its prediction failed', () => {
    const predicted = explainChoice(layer(0, 2, 0.9, 0, { predicted: { variant: 'pit-k', ms: 0.95 }, regret: 0 }));
    expect(predicted.candidates[0]).toMatchObject({ name: 'pit-k', verdict: 'chosen', note: 'predicted fastest by the tile database (0.950 ms predicted), verified' });
    // A prediction that was not measured, failed, or verified and was only slower says which (never "failed" for slower).
    const overridden = explainChoice(layer(0, 2, 0.9, 0, { predicted: { variant: 'pit-m', ms: 0.5 } }));
    expect(overridden.candidates[0]!.note).toBe('fastest verified variant (the predicted pit-m was not measured)');
    const l = layer(0, 2, 0.9, 0, { predicted: { variant: 'pit-m 1x32', ms: 0.5 } });
    l.variants.push(variant('pit-m 1x32', 1.4, 0.1));
    expect(explainChoice(l).candidates[0]!.note).toBe('fastest verified variant: the predicted pit-m 1x32 verified but measured slower (1.500 ms against 1.000 ms)');
    l.variants[2] = variant('pit-m 1x32', Number.NaN, 0, { ok: false, error: 'ShaderCompileError: x' });
    expect(explainChoice(l).candidates[0]!.note).toBe('fastest verified variant (the predicted pit-m 1x32 failed: ShaderCompileError: x)');
    // A prediction that missed: a variant measured faster than the chosen one says so (that is the regret).
    const missed = explainChoice(layer(0, 2, 0.9, 0, { chosen: 'dense', predicted: { variant: 'dense', ms: 1.5 }, regret: 1 }));
    expect(missed.candidates.map((c) => [c.name, c.verdict])).toEqual([
      ['dense', 'chosen'],
      ['pit-k', 'faster'],
    ]);
    expect(missed.summary).toBe('Dense (2.000 ms) was predicted fastest and kept; pit-k measured 1.000 ms (the policy\'s regret).');
    expect(missed.candidates[1]!.note).toBe('1.000 ms faster than dense as measured (the prediction ranked it lower)');
  });

  it('grades regret against the issue-3 bar (10 %, 50 %)', () => {
    expect([0, 0.1, 0.2, 0.5, 0.51].map(regretLevel)).toEqual(['good', 'good', 'warn', 'warn', 'bad']);
  });

  it('explains against the baseline tile, and says when the timer could not decide', () => {
    const l = layer(0, 2, 1.5, 0, {
      baseline: 'dense 64x32x16/4x2',
      chosen: 'dense 64x32x16/4x2',
      undecided: 'pit-k and baseline dense 64x32x16/4x2 overlap after re-measuring',
    });
    l.variants.push(variant('dense 64x32x16/4x2', 1.55, 0, { microTile: null }), variant('pit-m', 0.01, 0, { suspect: 'speed-up 155x exceeds 1.25/effective density' }));
    const { summary, candidates } = explainChoice(l);
    expect(summary).toBe('Undecided: pit-k and baseline dense 64x32x16/4x2 overlap after re-measuring. The baseline dense 64x32x16/4x2 (1.550 ms) is kept.');
    expect(candidates.find((c) => c.name === 'pit-m')).toMatchObject({ verdict: 'suspect', note: 'speed-up 155x exceeds 1.25/effective density' });
    expect(candidates.find((c) => c.name === 'pit-k')).toMatchObject({ verdict: 'slower' });
    expect(layerTimes(l).denseMs).toBe(1.55);
  });

  it('says why a layer was not profiled', () => {
    expect(explainChoice(skipped(1)).summary).toBe('Not profiled: grouped conv (group=16). Dense is used.');
  });
});

describe('policyText', () => {
  it('says how a run chose: measured everything, or predicted from the tile database', () => {
    expect(policyText(undefined)).toMatch(/^Measured: every layer runs the dense tiles for its shape/);
    expect(policyText({ policy: 'measure', audit: false, note: 'no tile database for this adapter' })).toContain('(no tile database for this adapter)');
    const t = policyText({ policy: 'tiledb', audit: true, tileDb: { id: 2, kernelHash: 'k', points: 120, updatedAt: '2025-01-01' } });
    expect(t).toContain('tile database 2, 120 points');
    expect(t).toContain('regret');
  });
});
