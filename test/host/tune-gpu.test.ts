/**
 * `tiledb.tune` end to end on the real host (createHost: the real tuner, dawn.node on the local adapter, an
 * in-memory run database), restricted to a corner of the quick plan so it takes seconds on lavapipe: progress
 * with ETA, verified points stored and served by `tiledb.get`, then a cancel after the first progress that keeps
 * what was measured, and `tiledb.list` offering the database to `profile.start`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { HostEvent, TuneEnd, TuneProgressEvent } from '../../core/protocol.ts';
import { createHost, type Host } from '../../main/host/create.ts';

/** The smallest size of the quick plan, two sparsities, two configurations: 4 points. */
const TINY = { quick: true, sizes: ['2x24x8'], sparsities: [0, 0.9], configs: ['dense @32x128x8/4x4', 'pit-k 8x1 @8x64x8/2x4'] };

describe('tiledb.tune on the GPU', () => {
  let host: Host | null = null;
  afterAll(async () => {
    await host?.close();
  });

  function collect(h: Host) {
    const events: HostEvent[] = [];
    h.service.onEvent((e) => events.push(e));
    const end = () =>
      new Promise<TuneEnd>((resolve) => {
        const t = setInterval(() => {
          const e = events.find((x): x is HostEvent & { type: 'tune.end' } => x.type === 'tune.end');
          if (e) {
            clearInterval(t);
            resolve(e.end);
          }
        }, 10);
      });
    const progress = () => events.filter((e): e is HostEvent & { type: 'tune.progress' } => e.type === 'tune.progress').map((e) => e.event);
    return { events, end, progress };
  }

  it('measures a restricted plan with progress, then cancels a longer one and keeps its points', async () => {
    host = createHost(':memory:');
    const h = host;
    let c = collect(h);
    const { jobId } = await h.service.call('tiledb.tune', TINY);
    const end = await c.end();
    expect(end, end.error).toMatchObject({ jobId, status: 'complete', measured: 4, failed: 0, skipped: 0 });
    const points = c.progress().filter((e): e is TuneProgressEvent & { kind: 'point' } => e.kind === 'point');
    expect(points.map((p) => p.done)).toEqual([1, 2, 3, 4]);
    expect(points.every((p) => p.etaMs >= 0 && p.point.ok && p.point.kernelMs! > 0)).toBe(true);
    const detail = await h.service.call('tiledb.get', { id: end.tileDbId! });
    expect(detail.db).toMatchObject({ points: 4, failed: 0, usable: true });
    expect(detail.points.map((p) => `${p.config} s=${p.sparsity}`).sort()).toEqual(
      ['dense @32x128x8/4x4 s=0', 'dense @32x128x8/4x4 s=0.9', 'pit-k 8x1 @8x64x8/2x4 s=0', 'pit-k 8x1 @8x64x8/2x4 s=0.9'],
    );
    expect(detail.points.find((p) => p.family === 'pit-k' && p.sparsity === 0.9)!.detectMs).toBeGreaterThan(0);
    expect(detail.fits.map((f) => f.config)).toEqual(TINY.configs);
    const list = await h.service.call('tiledb.list', {});
    expect(list.current).toBe(end.tileDbId);

    // A longer tune (two sizes, every configuration), cancelled once its first points are in.
    c = collect(h);
    const long = await h.service.call('tiledb.tune', { quick: true, sizes: ['2x24x8', '4x32x96'] });
    while (!c.progress().some((e) => e.kind === 'point')) await new Promise((r) => setTimeout(r, 10));
    expect(await h.service.call('tiledb.cancel', { jobId: long.jobId })).toEqual({ cancelled: true });
    const cancelled = await c.end();
    const start = c.progress().find((e): e is TuneProgressEvent & { kind: 'start' } => e.kind === 'start')!;
    expect(start.skipped).toBe(4);
    expect(cancelled).toMatchObject({ status: 'cancelled', skipped: 4 });
    expect(cancelled.measured).toBeGreaterThan(0);
    expect(cancelled.measured).toBeLessThan(start.total);
    expect((await h.service.call('tiledb.get', { id: end.tileDbId! })).points).toHaveLength(4 + cancelled.measured);
  });
});
