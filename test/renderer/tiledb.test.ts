/** The Tile-database view's logic: tune progress folded from events, chart series, summaries, the tune request, and the store. */
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import type { AdapterDescriptor, HostEvent, TileDbListItem, TileDbOverview, TileDbPointInfo, TunePlanInfo } from '../../core/protocol.ts';
import {
  applyTuneEvent,
  bestDense,
  defaultDatabase,
  defaultSize,
  plannedPoints,
  pointLine,
  sameAdapter,
  seriesAt,
  sizesOf,
  splitDatabases,
  startingTune,
  summarise,
  tuneFraction,
  tuneFromInfo,
  tuneRequest,
} from '../../renderer/src/lib/tiledb.ts';
import { useHostStore } from '../../renderer/src/stores/host.ts';
import { useTileDbStore } from '../../renderer/src/stores/tiledb.ts';
import { fakeTransport } from './fixtures.ts';
import { HostError } from '../../renderer/src/transport/types.ts';

const ADAPTER: AdapterDescriptor = { vendor: 'mesa', architecture: '', device: 'llvmpipe', description: 'Mesa', backend: 'vulkan', timestampQuery: true };

function pt(config: string, size: [number, number, number], sparsity: number, kernelMs: number | null, detectMs = 0): TileDbPointInfo {
  const family = config.split(' ')[0] as TileDbPointInfo['family'];
  return {
    config,
    family,
    microTile: family === 'dense' ? null : config.split(' ')[1]!,
    computeTile: config.split('@')[1]!,
    m: size[0],
    n: size[1],
    k: size[2],
    sparsity,
    density: 1 - sparsity,
    kernelMs,
    detectMs: kernelMs === null ? null : detectMs,
    ok: kernelMs !== null,
    ...(kernelMs === null ? { error: 'output differs' } : {}),
  };
}

const D1 = 'dense @64x64x16/4x4';
const D2 = 'dense @32x128x8/4x4';
const K8 = 'pit-k 8x1 @8x64x8/2x4';
const MK = 'pit-m 1xK @32x128x8/4x4';
const BIG: [number, number, number] = [32, 128, 256];
const SMALL: [number, number, number] = [2, 24, 8];

/** At BIG: dense 1.0/0.9 ms flat; pit-k beats dense from 0.5 on; pit-m only at 0.9, and fails at 0. */
const POINTS: TileDbPointInfo[] = [
  ...[0, 0.5, 0.9].flatMap((s) => [
    pt(D1, BIG, s, 1.0),
    pt(D2, BIG, s, 0.9),
    pt(K8, BIG, s, 1.2 * (1 - s) + 0.05, 0.05),
    pt(MK, BIG, s, s === 0 ? null : s === 0.5 ? 1.1 : 0.2, 0.02),
  ]),
  pt(D1, SMALL, 0, 0.05),
];

describe('tile-database chart data', () => {
  it('lists sizes by work, and charts the one with the most points', () => {
    expect(sizesOf(POINTS)).toEqual(['2x24x8', '32x128x256']);
    expect(defaultSize(POINTS)).toBe('32x128x256');
    expect(defaultSize([])).toBeNull();
  });

  it('makes one series per configuration at a size, by sparsity, failed points apart', () => {
    const s = seriesAt([...POINTS].reverse(), '32x128x256', 'total');
    expect(s.map((x) => x.config)).toEqual([MK, K8, D2, D1]); // first-measured order (here: reversed input)
    const k = s.find((x) => x.config === K8)!;
    expect(k.data.map(([x]) => x)).toEqual([0, 0.5, 0.9]);
    expect(k.data[2]![1]).toBeCloseTo(1.2 * 0.1 + 0.05 + 0.05);
    expect(seriesAt(POINTS, '32x128x256', 'kernel').find((x) => x.config === K8)!.data[2]![1]).toBeCloseTo(0.17);
    const m = s.find((x) => x.config === MK)!;
    expect(m.failed).toEqual([0]);
    expect(m.data).toHaveLength(2);
    expect(seriesAt(POINTS, '2x24x8', 'total').map((x) => x.config)).toEqual([D1]);
  });

  it('takes the best dense per sparsity as the reference, and says where each configuration starts beating it', () => {
    const s = seriesAt(POINTS, '32x128x256', 'total');
    expect([...bestDense(s)]).toEqual([
      [0, 0.9],
      [0.5, 0.9],
      [0.9, 0.9],
    ]);
    const sum = new Map(summarise(s).map((x) => [x.config, x]));
    expect(sum.get(D1)).toMatchObject({ beatsDenseFrom: null, points: 3, failed: 0, minMs: 1 });
    expect(sum.get(K8)).toMatchObject({ beatsDenseFrom: 0.5, points: 3 });
    expect(sum.get(K8)!.speedupAtMax).toBeCloseTo(0.9 / 0.22);
    expect(sum.get(MK)).toMatchObject({ beatsDenseFrom: 0.9, points: 3, failed: 1 });
  });

  it('describes a point in one line', () => {
    expect(pointLine(pt(K8, BIG, 0.9, 0.17, 0.05))).toBe('pit-k 8x1 @8x64x8/2x4 32x128x256 s=0.9 → 0.170 ms + detection 0.050 ms');
    expect(pointLine(pt(MK, BIG, 0, null))).toBe('pit-m 1xK @32x128x8/4x4 32x128x256 s=0 → FAILED: output differs');
  });
});

describe('tune progress', () => {
  const start: HostEvent = { type: 'tune.progress', jobId: 't1', event: { kind: 'start', tileDbId: 3, plan: 'quick', total: 4, skipped: 2 } };
  const point = (done: number, ok = true): HostEvent => ({
    type: 'tune.progress',
    jobId: 't1',
    event: { kind: 'point', tileDbId: 3, done, total: 4, point: pt(K8, BIG, 0.5, ok ? 0.5 : null), etaMs: (4 - done) * 100 },
  });

  it('adopts the job id, counts points with ETA, ignores other tunes, and ends', () => {
    let s = applyTuneEvent(startingTune(), { type: 'tune.progress', jobId: 't1', event: { kind: 'log', message: 'acquiring the WebGPU device' } });
    expect(s).toMatchObject({ jobId: 't1', message: 'acquiring the WebGPU device' });
    s = applyTuneEvent(s, start);
    expect(s).toMatchObject({ tileDbId: 3, plan: 'quick', total: 4, skipped: 2, done: 0, etaMs: null });
    s = applyTuneEvent(s, point(1));
    s = applyTuneEvent(s, point(2, false));
    expect(s).toMatchObject({ done: 2, etaMs: 200, failed: 1 });
    expect(s.lastPoint).toContain('FAILED');
    expect(tuneFraction(s)).toBe(0.5);
    expect(applyTuneEvent(s, { ...point(3), jobId: 'other' } as HostEvent)).toBe(s);
    const end = applyTuneEvent(s, { type: 'tune.end', end: { jobId: 't1', tileDbId: 3, status: 'cancelled', error: '', measured: 2, skipped: 2, failed: 1, elapsedMs: 9 } });
    expect(end).toMatchObject({ end: { status: 'cancelled' }, etaMs: 0, message: 'cancelled: 2 points measured, 2 already stored, 1 failed (tune again to resume)' });
    expect(applyTuneEvent(end, point(3))).toBe(end);
    const failed = applyTuneEvent(s, { type: 'tune.end', end: { jobId: 't1', tileDbId: 3, status: 'failed', error: 'DeviceLostError: lost', measured: 2, skipped: 2, failed: 1, elapsedMs: 9 } });
    expect(failed.message).toBe('DeviceLostError: lost');
  });

  it('resumes a tune already running, and counts a tune with nothing left as done', () => {
    const ev = point(2);
    if (ev.type !== 'tune.progress') throw new Error('a tune event');
    expect(tuneFromInfo({ jobId: 't1', request: { quick: true }, startedAt: '', tileDbId: 3, last: ev.event })).toMatchObject({ jobId: 't1', done: 2, total: 4 });
    const nothing = applyTuneEvent(applyTuneEvent(startingTune(), { ...start, event: { kind: 'start', tileDbId: 3, plan: 'quick', total: 0, skipped: 6 } } as HostEvent), {
      type: 'tune.end',
      end: { jobId: 't1', tileDbId: 3, status: 'complete', error: '', measured: 0, skipped: 6, failed: 0, elapsedMs: 1 },
    });
    expect(tuneFraction(nothing)).toBe(1);
  });
});

const PLAN: TunePlanInfo = {
  name: 'quick',
  sizes: ['2x24x8', '4x32x96', '32x128x256'],
  sparsities: [0, 0.5, 0.9],
  configs: [
    { id: D1, family: 'dense', microTile: null, computeTile: '64x64x16/4x4' },
    { id: K8, family: 'pit-k', microTile: '8x1', computeTile: '8x64x8/2x4' },
    { id: 'pit-m 1x16 @32x128x8/4x4', family: 'pit-m', microTile: '1x16', computeTile: '32x128x8/4x4' },
    { id: MK, family: 'pit-m', microTile: '1xK', computeTile: '32x128x8/4x4' },
  ],
  points: 33,
};

describe('tune form', () => {
  it('counts the legal points of a restriction (a 1xW rule only where W < K)', () => {
    expect(plannedPoints(PLAN, PLAN.sizes, PLAN.sparsities)).toBe(33);
    expect(plannedPoints(PLAN, ['2x24x8'], [0, 0.9])).toBe(6);
    expect(plannedPoints(PLAN, ['4x32x96'], [0.5])).toBe(4);
  });

  it('asks for the whole plan when everything is ticked, else for the ticked part, in plan order', () => {
    expect(tuneRequest(PLAN, PLAN.sizes, PLAN.sparsities)).toEqual({ quick: true });
    expect(tuneRequest(PLAN, ['32x128x256', '2x24x8'], [0.9, 0])).toEqual({ quick: true, sizes: ['2x24x8', '32x128x256'], sparsities: [0, 0.9] });
    expect(tuneRequest({ ...PLAN, name: 'full' }, PLAN.sizes, [0.5])).toEqual({ quick: false, sparsities: [0.5] });
    expect(() => tuneRequest(PLAN, [], PLAN.sparsities)).toThrow('Tick at least one problem size.');
    expect(() => tuneRequest(PLAN, PLAN.sizes, [])).toThrow('Tick at least one sparsity.');
  });
});

function item(id: number, adapter: AdapterDescriptor, usable: boolean): TileDbListItem {
  return {
    id,
    adapter,
    kernelHash: 'a'.repeat(64),
    tunerVersion: 1,
    timestampQuery: true,
    createdAt: '2025-01-01T00:00:00Z',
    updatedAt: '2025-01-02T00:00:00Z',
    points: 10,
    failed: 0,
    usable,
    ...(usable ? {} : { mismatch: 'it was tuned with other kernel sources' }),
  };
}

function overview(over: Partial<TileDbOverview> = {}): TileDbOverview {
  return { adapter: ADAPTER, kernelHash: 'a'.repeat(64), tunerVersion: 1, databases: [], current: null, plans: [PLAN, { ...PLAN, name: 'full', points: 40 }], ...over };
}

describe('databases', () => {
  it("splits this adapter's databases from the others and shows the one profiles use first", () => {
    const other = { ...ADAPTER, device: 'H200' };
    const o = overview({ databases: [item(3, other, false), item(2, ADAPTER, false), item(1, ADAPTER, true)], current: 1 });
    expect(sameAdapter(ADAPTER, { ...ADAPTER, timestampQuery: false })).toBe(true);
    expect(sameAdapter(ADAPTER, other)).toBe(false);
    expect(sameAdapter(null, ADAPTER)).toBe(false);
    const { mine, others } = splitDatabases(o);
    expect(mine.map((d) => d.id)).toEqual([2, 1]);
    expect(others.map((d) => d.id)).toEqual([3]);
    expect(defaultDatabase(o)).toBe(1);
    expect(defaultDatabase({ ...o, current: null })).toBe(2);
    expect(defaultDatabase(overview({ databases: [item(3, other, false)] }))).toBeNull();
  });
});


const INFO = { version: '0.1.0', adapter: ADAPTER, dbPath: '/tmp/x.db', families: [] };
const flush = () => new Promise((r) => setTimeout(r, 0));

describe('tile-database store', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('loads the overview and the database profiles use, charts its biggest size, and tunes a restriction with live points', async () => {
    let o = overview({ databases: [item(1, ADAPTER, true)], current: 1 });
    const f = fakeTransport({
      'host.info': () => INFO,
      'tiledb.list': () => o,
      'tiledb.get': ({ id }) => ({
        db: item(id, ADAPTER, true),
        points: id === 1 ? POINTS : [],
        fits: id === 1 ? [{ config: K8, points: 3, medianRelErr: 0.05, detectMedianRelErr: 0.1 }] : [],
        parallelism: id === 1 ? 4 : null,
      }),
      'tiledb.tune': () => ({ jobId: 't1' }),
      'tiledb.cancel': () => ({ cancelled: true }),
    });
    useHostStore().connect(f.t);
    const s = useTileDbStore();
    await s.refresh();
    expect(s.selectedId).toBe(1);
    expect(s.size).toBe('32x128x256');
    expect(s.series.map((x) => x.config)).toEqual([D1, D2, K8, MK]);
    expect(s.form).toEqual({ quick: true, sizes: PLAN.sizes, sparsities: PLAN.sparsities });
    expect(s.fits.get(K8)?.medianRelErr).toBe(0.05);

    s.form.sizes = ['2x24x8'];
    s.form.sparsities = [0, 0.9];
    await s.startTune();
    expect(f.calls.find((c) => c.method === 'tiledb.tune')!.params).toEqual({ quick: true, sizes: ['2x24x8'], sparsities: [0, 0.9] });
    expect(s.tuning).toBe(true);
    expect(s.tune?.jobId).toBe('t1');

    // The tune fills a new database (2): the view follows it and adds its points as they come.
    o = overview({ databases: [item(2, ADAPTER, true), item(1, ADAPTER, true)], current: 1 });
    f.emit({ type: 'tune.progress', jobId: 't1', event: { kind: 'start', tileDbId: 2, plan: 'quick', total: 2, skipped: 0 } });
    await flush();
    await flush();
    expect(s.selectedId).toBe(2);
    expect(s.detail?.points).toEqual([]);
    f.emit({ type: 'tune.progress', jobId: 't1', event: { kind: 'point', tileDbId: 2, done: 1, total: 2, point: pt(D1, SMALL, 0, 0.05), etaMs: 100 } });
    expect(s.detail?.points).toHaveLength(1);
    expect(s.detail?.db.points).toBe(11);
    expect(s.size).toBe('2x24x8'); // the new database's only size, charted from its first point
    expect(s.tune).toMatchObject({ done: 1, total: 2, etaMs: 100 });

    await s.cancelTune();
    expect(f.calls.at(-1)).toEqual({ method: 'tiledb.cancel', params: { jobId: 't1' } });
    f.emit({ type: 'tune.end', end: { jobId: 't1', tileDbId: 2, status: 'cancelled', error: '', measured: 1, skipped: 0, failed: 0, elapsedMs: 5 } });
    expect(s.tuning).toBe(false);
    await flush();
    await flush();
    expect(f.calls.filter((c) => c.method === 'tiledb.list').length).toBeGreaterThanOrEqual(3);
  });

  it('says why a tune cannot start: nothing ticked, or the host refusing', async () => {
    const f = fakeTransport({
      'host.info': () => INFO,
      'tiledb.list': () => overview(),
      'tiledb.tune': () => {
        throw new HostError('busy', 'a profiling job is running (j1): wait for it or cancel it (one GPU, one job)');
      },
    });
    useHostStore().connect(f.t);
    const s = useTileDbStore();
    await s.refresh();
    expect(s.selectedId).toBeNull();
    expect(s.detail).toBeNull();
    s.form.sizes = [];
    await s.startTune();
    expect(s.tuneError).toBe('Tick at least one problem size.');
    s.setQuick(false);
    expect(s.form.sizes).toEqual(PLAN.sizes);
    await s.startTune();
    expect(s.tuneError).toMatch(/^a profiling job is running/);
    expect(s.tune).toBeNull();
    expect(s.tuning).toBe(false);
  });
});
