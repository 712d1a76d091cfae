/**
 * The bench's per-layer decision (bench/layer-attribution.ts) on hand-made figures: the same rules as `pit profile`
 * — the fastest verified dense tile is the baseline; a PIT variant is chosen only beyond the noise and when its
 * effective density explains the gain; a gain beyond 1.25 / effective density is suspect, never chosen.
 */
import { describe, expect, it } from 'vitest';
import { decideBenchLayer, type LayerVariant } from '../../bench/layer-attribution.ts';
import { DEFAULT_DENSE_TILE, DEFAULT_PIT_TILE } from '../../core/kernels/tiles.ts';
import { tileName } from '../../shaders/common.wgsl.ts';
import type { VariantFigure } from '../../bench/suite.ts';

const M = 64;
const K = 64;
/** A with the first 16 of 64 rows non-zero: pit-m 1x64 (whole rows, K = 64) has effective density 0.25. */
const A = new Float32Array(M * K).fill(0).map((_, i) => (i < 16 * K ? 1 : 0));

function fig(variant: string, microTile: string | null, samples: number[], ok = true, tile = variant === 'dense' ? DEFAULT_DENSE_TILE : DEFAULT_PIT_TILE): VariantFigure {
  const sorted = [...samples].sort((a, b) => a - b);
  const med = sorted[Math.floor(sorted.length / 2)]!;
  return {
    variant,
    microTile,
    tile: tileName(tile),
    label: variant,
    kernel: { medianMs: med, minMs: sorted[0]!, maxMs: sorted.at(-1)!, repeat: samples.length, samplesMs: samples },
    detect: null,
    totalMs: med,
    tflops: 0,
    gpuDensity: null,
    check: { ok, compared: 1, nonFinite: 0, maxAbsErr: 0, tolerance: 1 },
    timing: 'timestamp',
  };
}
const dense = (samples: number[], ok = true, tile = DEFAULT_DENSE_TILE): LayerVariant => ({ spec: { family: 'dense', microTile: null, tile: { ...tile } }, figure: fig('dense', null, samples, ok, tile) });
const pitM = (samples: number[]): LayerVariant => ({ spec: { family: 'pit-m', microTile: '1x64', tile: { ...DEFAULT_PIT_TILE } }, figure: fig('pit-m', '1x64', samples) });
const around = (x: number) => [x * 0.99, x, x * 1.01, x * 0.995, x * 1.005];

describe('bench layer attribution', () => {
  it('chooses a PIT variant that wins beyond the noise with a gain its density explains (ideal = dense × 0.25)', () => {
    const d = decideBenchLayer([dense(around(1)), dense(around(1.2), true, DEFAULT_PIT_TILE), pitM(around(0.3))], A, M, K, 'dense');
    expect(d.baseline).toBe(0);
    expect(d.chosen).toBe(2);
    expect(d.attribution.layer.effectiveDensity).toBe(0.25);
    expect(d.attribution.layer.idealMs).toBeCloseTo(0.25, 12);
  });

  it('keeps the baseline when the PIT figure is within the noise, and marks it undecided', () => {
    const d = decideBenchLayer([dense([0.9, 1, 1.1, 0.95, 1.05]), pitM([0.85, 0.97, 1.08, 0.9, 1.02])], A, M, K, 'dense');
    expect(d.chosen).toBe(d.baseline);
    expect(d.attribution.layer.undecided).toMatch(/cannot tell them apart/);
  });

  it('never chooses a gain beyond 1.25 / effective density: it is suspect', () => {
    // 10x at effective density 0.25 (at most 5x explained).
    const d = decideBenchLayer([dense(around(1)), pitM(around(0.1))], A, M, K, 'dense');
    expect(d.chosen).toBe(0);
    expect(d.attribution.suspects.get(d.names[1]!)).toMatch(/exceeds 1.25\/effective density 0.250/);
  });

  it('ignores unverified figures: the baseline is the fastest verified dense tile', () => {
    const d = decideBenchLayer([dense(around(0.5), false, DEFAULT_PIT_TILE), dense(around(1)), pitM(around(0.6))], A, M, K, 'dense');
    expect(d.baseline).toBe(1);
    expect(d.chosen).toBe(2);
  });
});
