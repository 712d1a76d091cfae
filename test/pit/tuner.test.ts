/**
 * The tuner on the local adapter (lavapipe in CI) with a tiny plan: every point verified and stored as it is
 * measured, a configuration that cannot run stored as failed (and left out of the model), resuming skips what is
 * stored, and a cancel keeps the points measured so far.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RuleConfig } from '../../core/pit/rules.ts';
import { pointKey, TileModel, type TilePoint } from '../../core/pit/tiledb.ts';
import { planPoints, structuredOperand, tune, type TunePlan, type TuneStore } from '../../core/pit/tuner.ts';
import { DEFAULT_DENSE_TILE, DEFAULT_PIT_TILE } from '../../core/kernels/variants.ts';
import { microTileDensity } from '../../core/sparsity/micro-tiles.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';

const IMPOSSIBLE: RuleConfig = { family: 'dense', microTile: null, tile: { bm: 64, bn: 64, bk: 8, tm: 16, tn: 32 } }; // 512 registers per thread

const PLAN: TunePlan = {
  name: 'test',
  sizes: [{ m: 24, n: 32, k: 80 }],
  sparsities: [0, 0.9],
  configs: [
    { family: 'dense', microTile: null, tile: { ...DEFAULT_DENSE_TILE } },
    { family: 'pit-k', microTile: '8x1', tile: { bm: 8, bn: 64, bk: 8, tm: 2, tn: 4 } },
    { family: 'pit-m', microTile: '1x16', tile: { ...DEFAULT_PIT_TILE } },
    { family: 'pit-m', microTile: '1x64', tile: { ...DEFAULT_PIT_TILE } },
    IMPOSSIBLE,
  ],
  timing: { warmup: 0, repeat: 1, rounds: 2 },
};

function memoryStore(): TuneStore & { points: Map<string, TilePoint> } {
  const points = new Map<string, TilePoint>();
  return { points, has: (k) => points.has(k), record: (p) => void points.set(pointKey(p), p) };
}

describe('tune', () => {
  let g: TestGpu;
  beforeAll(async () => {
    g = await testGpu();
  });
  afterAll(() => g.ctx.destroy());

  it('plans only legal points: 1xW needs W < K', () => {
    const keys = planPoints({ ...PLAN, sizes: [{ m: 8, n: 8, k: 64 }] }).map((p) => p.key);
    expect(keys.some((k) => k.startsWith('pit-m 1x64'))).toBe(false);
    expect(keys.some((k) => k.startsWith('pit-m 1x16'))).toBe(true);
  });

  it('measures and verifies every point, stores failures, resumes, and cancels keeping what it measured', async () => {
    const store = memoryStore();
    const events: number[] = [];
    const s1 = await tune(g.ctx, g.cache, PLAN, store, { onEvent: (e) => e.kind === 'point' && events.push(e.done) });
    expect(s1).toMatchObject({ measured: 10, skipped: 0, failed: 2, cancelled: false });
    expect(events).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const p of store.points.values()) {
      if (p.tile.tm === 16) {
        expect(p.ok).toBe(false);
        expect(p.kernelMs).toBeNaN();
        expect(p.error).toMatch(/registers per thread/);
        continue;
      }
      expect(p.ok, `${pointKey(p)}: ${p.error}`).toBe(true);
      expect(p.kernelMs).toBeGreaterThan(0);
      expect(p.maxAbsErr).toBeLessThan(1e-3);
      if (p.family === 'dense') {
        expect(p.detectMs).toBe(0);
        continue;
      }
      expect(p.detectMs).toBeGreaterThan(0);
      // The stored density is the operand's real micro-tile density, and the counts add up to it.
      const shape = p.family === 'pit-k' ? '8x1' : p.microTile!;
      const a = structuredOperand(p.m, p.k, p.microTile, p.sparsity, 0); // same generator, other seed: only the rate matters
      expect(Math.abs(p.density - microTileDensity(a, p.m, p.k, shape))).toBeLessThan(0.2);
      const tiles = p.family === 'pit-k' ? Math.ceil(p.m / 8) * p.k : Math.ceil(p.k / Number(p.microTile!.split('x')[1])) * p.m;
      expect(p.counts.reduce((x, y) => x + y, 0) / tiles).toBeCloseTo(p.density, 12);
      if (p.sparsity === 0) expect(p.density).toBe(1);
    }
    // The failed configuration has no model; the others do.
    const model = new TileModel([...store.points.values()]);
    expect(model.has(IMPOSSIBLE)).toBe(false);
    expect(model.configs()).toHaveLength(4);

    // Resume: nothing left to measure.
    const s2 = await tune(g.ctx, g.cache, PLAN, store);
    expect(s2).toMatchObject({ measured: 0, skipped: 10, cancelled: false });

    // Cancel after the first stored point: what was measured stays, a second tune finishes the rest.
    const partial = memoryStore();
    const abort = new AbortController();
    const s3 = await tune(g.ctx, g.cache, PLAN, partial, { signal: abort.signal, onEvent: (e) => e.kind === 'point' && abort.abort() });
    expect(s3.cancelled).toBe(true);
    expect(partial.points.size).toBeGreaterThanOrEqual(1);
    expect(partial.points.size).toBeLessThan(10);
    const s4 = await tune(g.ctx, g.cache, PLAN, partial);
    expect(s4.skipped).toBe(s3.measured);
    expect(partial.points.size).toBe(10);
  });
});
