/**
 * The host's tile-database methods over a real (in-memory) run database with a fake GPU and a fake tuner that walks
 * the real plan (core/pit/tuner.ts `planPoints`): listing, the plan restriction, tune progress, resume, cancel,
 * failure, one GPU job at a time, and `profile.start` choosing the tile database by default as `pit profile` does.
 * The real tuner on the real GPU is test/host/tune-gpu.test.ts.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../core/gpu/device.ts';
import type { PipelineCache } from '../../core/gpu/pipeline-cache.ts';
import { configId } from '../../core/pit/rules.ts';
import { kernelSourcesHash, pointKey, TUNER_VERSION, type TilePoint } from '../../core/pit/tiledb.ts';
import { planPoints, quickPlan, type tune, type TuneEvent } from '../../core/pit/tuner.ts';
import type { ProfileEnv, ProfileOptions } from '../../core/profile/profile.ts';
import { familyInfos } from '../../core/kernels/registry.ts';
import type { AdapterDescriptor, HostEvent, TuneEnd, TuneProgressEvent } from '../../core/protocol.ts';
import { openDatabase, type PitDatabase } from '../../db/open.ts';
import { openTileDb, recordTilePoint } from '../../db/tiledb.ts';
import { dbSink } from '../../main/host/db-sink.ts';
import { HostService, type HostDeps } from '../../main/host/service.ts';
import { planFor, pointInfo } from '../../main/host/tiledb.ts';

const ADAPTER: AdapterDescriptor = { vendor: 'fake', architecture: 'test', device: 'cpu', description: 'fake adapter', backend: 'none', timestampQuery: false };
const OTHER: AdapterDescriptor = { ...ADAPTER, device: 'another gpu' };

function fakeGpu(): { gpu: GpuContext; cache: PipelineCache } {
  const gpu = { adapter: ADAPTER, lost: new Promise(() => {}), lostError: null, destroy: () => {} } as unknown as GpuContext;
  return { gpu, cache: {} as PipelineCache };
}

/** A plausible measured point: dense flat in sparsity, sparse kernels cheaper as the operand empties. */
function fakePoint(p: ReturnType<typeof planPoints>[number], ok = true): TilePoint {
  const work = (p.shape.m * p.shape.n * p.shape.k) / 1e6;
  const dense = p.config.family === 'dense';
  return {
    family: p.config.family,
    microTile: p.config.microTile,
    tile: { ...p.config.tile },
    ...p.shape,
    sparsity: p.sparsity,
    density: 1 - p.sparsity,
    counts: [],
    kernelMs: ok ? 0.05 + work * (dense ? 1 : 1.3 * (1 - p.sparsity)) : Number.NaN,
    detectMs: ok ? (dense ? 0 : 0.01) : Number.NaN,
    ok,
    maxAbsErr: ok ? 1e-6 : Number.NaN,
    wgslHash: 'f'.repeat(64),
    ...(ok ? {} : { error: 'output differs from the CPU reference' }),
  };
}

/**
 * A tuner with the real one's contract: skips stored points, one event per point in plan order, checks the signal
 * before each point (waiting for `gate` first, when given), returns `cancelled` on abort.
 */
function fakeTuner(opts: { gate?: () => Promise<void>; failing?: (key: string) => boolean; throwAfter?: number } = {}) {
  const plans: Parameters<typeof tune>[2][] = [];
  const fn: typeof tune = async (_ctx, _cache, plan, store, o = {}) => {
    plans.push(plan);
    const emit = o.onEvent ?? (() => {});
    const todo = planPoints(plan).filter((p) => !store.has(p.key));
    const skipped = planPoints(plan).length - todo.length;
    emit({ kind: 'start', total: todo.length, skipped } satisfies TuneEvent);
    let done = 0;
    let failed = 0;
    for (const p of todo) {
      await opts.gate?.();
      if (o.signal?.aborted) return { measured: done, skipped, failed, cancelled: true, elapsedMs: 1 };
      if (opts.throwAfter !== undefined && done === opts.throwAfter) {
        const e = new Error('the GPU device was lost (reason: unknown)');
        e.name = 'DeviceLostError';
        throw e;
      }
      const point = fakePoint(p, !opts.failing?.(p.key));
      store.record(point);
      done++;
      if (!point.ok) failed++;
      emit({ kind: 'point', done, total: todo.length, point, etaMs: (todo.length - done) * 10 });
    }
    return { measured: done, skipped, failed, cancelled: false, elapsedMs: 1 };
  };
  return { fn, plans };
}

/** Two sizes and two sparsities of the quick plan, three configurations: 12 points. */
const SMALL = { quick: true, sizes: ['2x24x8', '32x128x256'], sparsities: [0, 0.9], configs: ['dense @32x128x8/4x4', 'pit-k 8x1 @8x64x8/2x4', 'pit-m 1xK @32x128x8/4x4'] };

describe('tile-database plans', () => {
  it('restricts a plan to the sizes, sparsities and configurations named, and refuses others', () => {
    const plan = planFor(SMALL);
    expect(plan.name).toBe('quick');
    expect(plan.sizes).toEqual([
      { m: 2, n: 24, k: 8 },
      { m: 32, n: 128, k: 256 },
    ]);
    expect(plan.sparsities).toEqual([0, 0.9]);
    expect(plan.configs.map(configId)).toEqual(SMALL.configs);
    expect(plan.timing).toEqual(quickPlan().timing);
    expect(planPoints(plan)).toHaveLength(12);
    expect(planFor({}).name).toBe('full');
    expect(() => planFor({ quick: true, sizes: ['1x1x1'] })).toThrow(/tiledb.tune: sizes "1x1x1" is not in the quick plan \(known: 2x24x8, /);
    expect(() => planFor({ quick: true, sparsities: [0.1] })).toThrow('sparsities 0.1 is not in the quick plan');
    expect(() => planFor({ quick: true, sparsities: [] })).toThrow("'sparsities' is empty");
    expect(() => planFor({ configs: ['dense @1x1x1/1x1'] })).toThrow('configs "dense @1x1x1/1x1" is not in the full plan');
  });

  it('sends points without per-block counts, failed times as null', () => {
    const [p] = planPoints(planFor(SMALL));
    expect(pointInfo(fakePoint(p!))).toEqual({
      config: 'dense @32x128x8/4x4',
      family: 'dense',
      microTile: null,
      computeTile: '32x128x8/4x4',
      m: 2,
      n: 24,
      k: 8,
      sparsity: 0,
      density: 1,
      kernelMs: expect.any(Number),
      detectMs: 0,
      ok: true,
    });
    expect(pointInfo(fakePoint(p!, false))).toMatchObject({ kernelMs: null, detectMs: null, ok: false, error: 'output differs from the CPU reference' });
  });
});

describe('HostService tile database', { timeout: 10_000 }, () => {
  let db: PitDatabase;
  let events: HostEvent[];
  let dir: string;

  function service(over: Partial<HostDeps> = {}): HostService {
    dir = mkdtempSync(join(tmpdir(), 'pit-host-tiledb-'));
    const model = join(dir, 'model.onnx');
    const photo = join(dir, 'photo.jpg');
    writeFileSync(model, 'not really onnx');
    writeFileSync(photo, 'not really a jpeg');
    const s = new HostService({
      db,
      dbPath: ':memory:',
      version: '9.9.9',
      sink: dbSink(db),
      acquireGpu: async () => fakeGpu(),
      profile: async () => ({ runId: 0, layers: [] }),
      defaults: () => ({ modelPath: model, inputs: [photo], imageSize: 960, families: familyInfos(), repeat: 5, warmup: 1, warmupMs: 0 }),
      families: familyInfos(),
      tune: fakeTuner().fn,
      ...over,
    });
    s.onEvent((e) => events.push(e));
    return s;
  }

  const tuneEnd = () =>
    new Promise<TuneEnd>((resolve) => {
      const t = setInterval(() => {
        const e = events.find((x): x is HostEvent & { type: 'tune.end' } => x.type === 'tune.end');
        if (e) {
          clearInterval(t);
          resolve(e.end);
        }
      }, 5);
    });
  const tuneEvents = () => events.filter((e): e is HostEvent & { type: 'tune.progress' } => e.type === 'tune.progress').map((e) => e.event);

  beforeEach(() => {
    db = openDatabase(':memory:');
    events = [];
  });
  afterEach(() => db.close());

  it('lists nothing yet, says so, and offers the quick and full plans', async () => {
    const o = await service().call('tiledb.list', {});
    expect(o).toMatchObject({ adapter: ADAPTER, kernelHash: kernelSourcesHash(), tunerVersion: TUNER_VERSION, databases: [], current: null });
    expect(o.note).toBeUndefined(); // nothing exists, so nothing to explain
    expect(o.plans.map((p) => p.name)).toEqual(['quick', 'full']);
    expect(o.plans[0]).toMatchObject({ sizes: ['2x24x8', '4x32x96', '32x128x256', '1024x32x96', '128x64x768', '2048x16x27'], sparsities: [0, 0.5, 0.8, 0.9, 0.95, 0.99] });
    expect(o.plans[0]!.points).toBe(planPoints(quickPlan()).length);
    expect(o.plans[0]!.configs[0]).toEqual({ id: 'dense @128x128x16/8x8/sb', family: 'dense', microTile: null, computeTile: '128x128x16/8x8/sb' });
  });

  it('tunes with progress into the database of this adapter and kernels, then resumes instead of re-measuring', async () => {
    const tuner = fakeTuner();
    const s = service({ tune: tuner.fn });
    const { jobId } = await s.call('tiledb.tune', SMALL);
    expect(events).toEqual([]); // the job starts after the response has gone
    const end = await tuneEnd();
    expect(end).toMatchObject({ jobId, tileDbId: 1, status: 'complete', error: '', measured: 12, skipped: 0, failed: 0 });
    const ev = tuneEvents();
    expect(ev.map((e) => e.kind)).toEqual(['log', 'log', 'start', ...Array(12).fill('point')]);
    expect(ev[1]).toMatchObject({ kind: 'log', message: expect.stringContaining('tuning (quick) on fake') });
    expect(ev[2]).toEqual({ kind: 'start', tileDbId: 1, plan: 'quick', total: 12, skipped: 0 });
    const last = ev.at(-1) as TuneProgressEvent & { kind: 'point' };
    expect(last).toMatchObject({ done: 12, total: 12, etaMs: 0, tileDbId: 1, point: { config: 'pit-m 1xK @32x128x8/4x4', m: 32, sparsity: 0.9 } });
    expect(tuner.plans[0]!.configs.map(configId)).toEqual(SMALL.configs);

    const o = await s.call('tiledb.list', {});
    expect(o.current).toBe(1);
    expect(o.note).toBeUndefined();
    expect(o.databases).toEqual([expect.objectContaining({ id: 1, adapter: ADAPTER, kernelHash: kernelSourcesHash(), points: 12, failed: 0, usable: true })]);
    const d = await s.call('tiledb.get', { id: 1 });
    expect(d.db).toMatchObject({ id: 1, points: 12, usable: true });
    expect(d.points).toHaveLength(12);
    expect(new Set(d.points.map((p) => p.config))).toEqual(new Set(SMALL.configs));
    // The cost model fitted to it, as `pit tune` summarises it.
    expect(d.fits.map((f) => f.config)).toEqual(SMALL.configs);
    expect(d.fits[0]).toMatchObject({ points: 4, detectMedianRelErr: null });
    expect(d.fits[1]!.detectMedianRelErr).toEqual(expect.any(Number));
    expect(d.parallelism).toEqual(expect.any(Number));
    expect(await s.call('tiledb.status', {})).toEqual({ job: null });

    // Again, one more sparsity: only the new points are measured.
    events = [];
    await s.call('tiledb.tune', { ...SMALL, sparsities: [0, 0.5, 0.9] });
    expect(await tuneEnd()).toMatchObject({ status: 'complete', measured: 6, skipped: 12 });
    expect((await s.call('tiledb.get', { id: 1 })).points).toHaveLength(18);
  });

  it('refuses what is not in the plan before starting anything', async () => {
    const s = service();
    await expect(s.call('tiledb.tune', { quick: true, sizes: ['9x9x9'] })).rejects.toMatchObject({ code: 'invalid-params' });
    await expect(s.call('tiledb.get', { id: 7 })).rejects.toMatchObject({ code: 'not-found', message: 'no tile database 7 in :memory:' });
    expect(events).toEqual([]);
    expect(await s.call('tiledb.status', {})).toEqual({ job: null });
  });

  it('runs one GPU job at a time, cancels a tune and keeps the points it measured', async () => {
    let release!: () => void;
    let open = false;
    const gate = () => (open ? Promise.resolve() : new Promise<void>((r) => (release = r)));
    const s = service({ tune: fakeTuner({ gate }).fn });
    const { jobId } = await s.call('tiledb.tune', SMALL);
    await new Promise((r) => setTimeout(r, 20));
    await expect(s.call('tiledb.tune', SMALL)).rejects.toMatchObject({ code: 'busy', message: expect.stringContaining('a tune of the tile database is running') });
    await expect(s.call('profile.start', { useDefault: true, inputs: [] })).rejects.toMatchObject({ code: 'busy' });
    expect((await s.call('tiledb.status', {})).job).toMatchObject({ jobId, tileDbId: 1, last: { kind: 'start', total: 12 } });
    for (let i = 0; i < 3; i++) {
      release();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await s.call('tiledb.cancel', { jobId: 'someone-else' })).toEqual({ cancelled: false });
    expect(await s.call('tiledb.cancel', { jobId })).toEqual({ cancelled: true });
    release();
    expect(await tuneEnd()).toMatchObject({ jobId, status: 'cancelled', measured: 3, error: '' });
    expect((await s.call('tiledb.get', { id: 1 })).points).toHaveLength(3);
    // The GPU is free again.
    open = true;
    events = [];
    await s.call('tiledb.tune', SMALL);
    expect(await tuneEnd()).toMatchObject({ status: 'complete', measured: 9, skipped: 3 });
  });

  it('a profile in flight makes a tune wait its turn', async () => {
    let release!: () => void;
    const s = service({
      profile: async () => {
        await new Promise<void>((r) => (release = r));
        return { runId: 0, layers: [] };
      },
    });
    await s.call('profile.start', { useDefault: true, inputs: [] });
    await new Promise((r) => setTimeout(r, 20));
    await expect(s.call('tiledb.tune', SMALL)).rejects.toMatchObject({ code: 'busy', message: expect.stringContaining('a profiling job is running') });
    release();
  });

  it('reports a failing tune on one line, with what it stored', async () => {
    const s = service({ tune: fakeTuner({ throwAfter: 2, failing: (k) => k.startsWith('pit-k') }).fn });
    const { jobId } = await s.call('tiledb.tune', SMALL);
    expect(await tuneEnd()).toMatchObject({
      jobId,
      tileDbId: 1,
      status: 'failed',
      error: 'DeviceLostError: the GPU device was lost (reason: unknown)',
      measured: 2,
      failed: 1,
    });
  });

  it('never offers a database of another adapter or of other kernel sources', async () => {
    const other = openTileDb(db, { adapter: OTHER, kernelHash: kernelSourcesHash(), tunerVersion: TUNER_VERSION });
    const stale = openTileDb(db, { adapter: ADAPTER, kernelHash: '0'.repeat(64), tunerVersion: TUNER_VERSION });
    for (const id of [other, stale]) {
      for (const p of planPoints(planFor(SMALL)).slice(0, 2)) recordTilePoint(db, id, p.key, fakePoint(p));
    }
    const o = await service().call('tiledb.list', {});
    expect(o.current).toBeNull();
    expect(o.note).toMatch(/^tile database 2 of this adapter does not fit: it was tuned with other kernel sources/);
    const byId = new Map(o.databases.map((d) => [d.id, d]));
    expect(byId.get(other)).toMatchObject({ usable: false, mismatch: expect.stringContaining('tuned on another adapter') });
    expect(byId.get(stale)).toMatchObject({ usable: false, mismatch: expect.stringContaining('other kernel sources') });
  });

  it('profile.start uses the tile database by default when one fits, with the same measurement method', async () => {
    const calls: { opts: ProfileOptions; env: ProfileEnv }[] = [];
    const profile = async (opts: ProfileOptions, env: ProfileEnv) => {
      calls.push({ opts, env });
      return { runId: 0, layers: [] };
    };
    const s = service({ profile });
    // The job looks the database up for its dtype (the model's weights' unless asked): f32 here.
    const looked = (env: ProfileEnv) => (typeof env.tileDb === 'function' ? env.tileDb('f32') : env.tileDb);
    const jobEnds = () => events.filter((e) => e.type === 'job.end').length;
    const waitJob = async (n: number) => {
      while (jobEnds() < n) await new Promise((r) => setTimeout(r, 5));
    };

    // No tile database: measure, with the default repeat.
    await s.call('profile.start', { useDefault: true, inputs: [] });
    await waitJob(1);
    expect(calls[0]!.opts.repeat).toBe(5);
    expect(looked(calls[0]!.env)).toEqual({ snapshot: null });

    const id = openTileDb(db, { adapter: ADAPTER, kernelHash: kernelSourcesHash(), tunerVersion: TUNER_VERSION });
    for (const p of planPoints(planFor(SMALL))) recordTilePoint(db, id, pointKey(fakePoint(p)), fakePoint(p));

    await s.call('profile.start', { useDefault: true, inputs: [] });
    await waitJob(2);
    expect(calls[1]!.opts.repeat).toBe(5); // one measurement method under every policy
    expect(calls[1]!.opts.policy).toBeUndefined(); // the job applies its default: tiledb, since a snapshot is given
    expect(looked(calls[1]!.env)?.snapshot).toMatchObject({ id, adapter: ADAPTER });
    expect(looked(calls[1]!.env)?.snapshot?.points).toHaveLength(12);

    // Asked for measure: no lookup, the default repeat; an explicit repeat is kept.
    await s.call('profile.start', { useDefault: true, inputs: [], policy: 'measure' });
    await waitJob(3);
    expect(calls[2]!.env.tileDb).toBeUndefined();
    expect(calls[2]!.opts).toMatchObject({ policy: 'measure', repeat: 5 });
    await s.call('profile.start', { useDefault: true, inputs: [], policy: 'tiledb', audit: true, repeat: 3 });
    await waitJob(4);
    expect(calls[3]!.opts).toMatchObject({ policy: 'tiledb', audit: true, repeat: 3 });
    expect(looked(calls[3]!.env)?.snapshot?.id).toBe(id);
  });
});
