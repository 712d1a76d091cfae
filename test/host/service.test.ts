/**
 * The host's RPC surface: strict validation of methods and parameters, and the HostService over a real (in-memory)
 * run database with a fake GPU and a fake profiling job — job lifecycle, events, one job at a time, cancel,
 * readable errors.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../core/gpu/device.ts';
import type { PipelineCache } from '../../core/gpu/pipeline-cache.ts';
import { wgslHash } from '../../core/gpu/pipeline-cache.ts';
import { defaultModelPath } from '../../core/inputs/default.ts';
import type { ProfileEnv, ProfileOptions } from '../../core/profile/profile.ts';
import type { AdapterDescriptor, FamilyInfo, HostEvent, LayerResult } from '../../core/protocol.ts';
import { openDatabase, type PitDatabase } from '../../db/open.ts';
import { dbSink } from '../../main/host/db-sink.ts';
import { handleMessage } from '../../main/host/dispatch.ts';
import { HOST_METHODS, parseRequest, RpcError, validateRequest } from '../../main/host/rpc.ts';
import { forTheWire, HostService, type HostDeps } from '../../main/host/service.ts';

/** Families as the host lists them (pit-m off by default, to see that defaults follow `defaultOn`). */
const FAMILY_INFOS: FamilyInfo[] = [
  { name: 'dense', axis: 'none', summary: 'dense', defaultOn: true, baseline: true },
  { name: 'pit-k', axis: 'k', summary: 'condense-K', defaultOn: true, baseline: false },
  { name: 'pit-m', axis: 'm', summary: 'condense-M', defaultOn: false, baseline: false },
];

describe('validateRequest', () => {
  it('knows every method of the contract', () => {
    expect(HOST_METHODS).toEqual(
      expect.arrayContaining([
        'host.info',
        'runs.list',
        'runs.get',
        'runs.delete',
        'wgsl.get',
        'profile.start',
        'profile.cancel',
        'models.default',
        'tiledb.list',
        'tiledb.get',
        'tiledb.tune',
        'tiledb.cancel',
        'tiledb.status',
      ]),
    );
  });

  it('rejects unknown methods, naming the known ones', () => {
    expect(() => validateRequest('runs.drop', {})).toThrow(/unknown method 'runs.drop' \(known: host.info, /);
    try {
      validateRequest('__proto__', {});
    } catch (e) {
      expect(e).toBeInstanceOf(RpcError);
      expect((e as RpcError).code).toBe('unknown-method');
    }
  });

  it.each([
    ['runs.get', {}, "runs.get: missing parameter 'id'"],
    ['runs.get', { id: '3' }, "runs.get: 'id' must be an integer, got '3'"],
    ['runs.get', { id: 0 }, "runs.get: 'id' must be ≥ 1, got 0"],
    ['runs.get', { id: 1.5 }, "runs.get: 'id' must be an integer, got 1.5"],
    ['runs.get', { id: 1, extra: true }, "runs.get: unknown parameter 'extra' (known: id, heatmaps)"],
    ['runs.get', [1], 'runs.get: params must be an object, got an array'],
    ['runs.list', { id: 1 }, "runs.list: unknown parameter 'id' (it takes none)"],
    ['wgsl.get', { hash: 'abc' }, "wgsl.get: 'hash' must be a sha256 in lowercase hex (64 characters), got 'abc'"],
    ['profile.start', { useDefault: true }, "profile.start: missing parameter 'inputs'"],
    ['profile.start', { inputs: ['a'], useDefault: 'yes' }, "profile.start: 'useDefault' must be true or false, got 'yes'"],
    ['profile.start', { inputs: [''], useDefault: true }, "profile.start: 'inputs' [0] must be a non-empty string, got ''"],
    ['profile.start', { inputs: [], useDefault: true, repeat: 0 }, "profile.start: 'repeat' must be ≥ 1, got 0"],
    ['profile.start', { inputs: [], useDefault: true, imageSize: 10_000 }, "profile.start: 'imageSize' must be ≤ 4096, got 10000"],
    ['profile.start', { inputs: [], useDefault: true, policy: 'fast' }, "profile.start: 'policy' must be one of measure, tiledb, got 'fast'"],
    ['profile.start', { inputs: [], useDefault: true, zeroThreshold: -0.1 }, "profile.start: 'zeroThreshold' must be ≥ 0, got -0.1"],
    ['profile.start', { inputs: [], useDefault: true, zeroThreshold: '1e-3' }, "profile.start: 'zeroThreshold' must be a finite number, got '1e-3'"],
    ['profile.start', { inputs: [], useDefault: true, zeroKeep: 0 }, "profile.start: 'zeroKeep' must be > 0, got 0"],
    ['profile.start', { inputs: [], useDefault: true, zeroKeep: 1.5 }, "profile.start: 'zeroKeep' must be ≤ 1, got 1.5"],
    ['profile.start', { inputs: [], useDefault: true, memoryBudget: 0 }, "profile.start: 'memoryBudget' must be ≥ 1, got 0"],
    ['profile.start', { inputs: [], useDefault: true, memoryBudget: '2GiB' }, "profile.start: 'memoryBudget' must be an integer, got '2GiB'"],
    ['profile.cancel', { jobId: 'a b' }, "profile.cancel: 'jobId' must be a job id, got 'a b'"],
    ['tiledb.get', {}, "tiledb.get: missing parameter 'id'"],
    ['tiledb.get', { id: -2 }, "tiledb.get: 'id' must be ≥ 1, got -2"],
    ['tiledb.list', { adapter: 'x' }, "tiledb.list: unknown parameter 'adapter' (it takes none)"],
    ['tiledb.tune', { quick: 'yes' }, "tiledb.tune: 'quick' must be true or false, got 'yes'"],
    ['tiledb.tune', { plan: 'quick' }, "tiledb.tune: unknown parameter 'plan' (known: quick, sizes, sparsities, configs)"],
    ['tiledb.tune', { sizes: '2x24x8' }, "tiledb.tune: 'sizes' must be an array of strings, got '2x24x8'"],
    ['tiledb.tune', { sparsities: [0.5, 2] }, "tiledb.tune: 'sparsities' [1] must be between 0 and 1, got 2"],
    ['tiledb.tune', { sparsities: ['0.5'] }, "tiledb.tune: 'sparsities' [0] must be a number, got '0.5'"],
    ['tiledb.tune', { sparsities: 0.5 }, "tiledb.tune: 'sparsities' must be an array of numbers, got 0.5"],
    ['tiledb.cancel', {}, "tiledb.cancel: missing parameter 'jobId'"],
    ['tiledb.cancel', { jobId: '../x' }, "tiledb.cancel: 'jobId' must be a job id, got '../x'"],
    ['runs.layers', { id: 1 }, "runs.layers: missing parameter 'since'"],
    ['runs.layers', { id: 1, since: -1 }, "runs.layers: 'since' must be ≥ 0, got -1"],
    ['runs.heatmap', { id: 1, input: 0 }, "runs.heatmap: missing parameter 'layer'"],
    ['runs.get', { id: 1, heatmaps: 'no' }, "runs.get: 'heatmaps' must be true or false, got 'no'"],
    ['runs.trace', { id: 'x' }, "runs.trace: 'id' must be an integer, got 'x'"],
    ['models.graph', { runId: 0 }, "models.graph: 'runId' must be ≥ 1, got 0"],
    ['models.graph', { path: '/x' }, "models.graph: unknown parameter 'path' (known: runId, modelPath)"],
  ])('%s %j → %s', (method, params, message) => {
    expect(() => validateRequest(method, params)).toThrow(new RpcError('invalid-params', message));
  });

  it('accepts well-formed params, and no params for methods without any', () => {
    expect(validateRequest('runs.get', { id: 3 })).toEqual({ id: 3 });
    expect(validateRequest('runs.list', undefined)).toEqual({});
    expect(validateRequest('profile.start', { useDefault: true, inputs: [], imageSize: 64, maxLayers: 2, warmup: 0 })).toBeTruthy();
    expect(validateRequest('profile.start', { useDefault: true, inputs: [], zeroThreshold: 0.001 })).toBeTruthy();
    expect(validateRequest('profile.start', { useDefault: true, inputs: [], zeroKeep: 1 })).toBeTruthy();
    expect(validateRequest('profile.start', { useDefault: true, inputs: [], memoryBudget: 8 * 2 ** 30 })).toBeTruthy();
    expect(validateRequest('tiledb.tune', { quick: true, sizes: ['2x24x8'], sparsities: [0, 0.99], configs: ['dense @32x128x8/4x4'] })).toBeTruthy();
    expect(validateRequest('tiledb.tune', undefined)).toEqual({});
  });

  it('parses envelopes', () => {
    expect(parseRequest({ id: 1, method: 'x', params: 2 })).toEqual({ ok: true, id: 1, method: 'x', params: 2 });
    expect(parseRequest('hi')).toMatchObject({ ok: false, id: null });
    expect(parseRequest({ id: 'a', method: 'x' })).toMatchObject({ ok: false, error: { message: "a request needs an integer 'id', got 'a'" } });
    expect(parseRequest({ id: 4 })).toMatchObject({ ok: false, id: 4, error: { code: 'unknown-method' } });
  });
});

const ADAPTER: AdapterDescriptor = { vendor: 'fake', architecture: 'test', device: 'cpu', description: 'fake adapter', backend: 'none', timestampQuery: false };
const WGSL = '@compute @workgroup_size(1) fn main() {}';

function fakeGpu(): { gpu: GpuContext; cache: PipelineCache } {
  const gpu = { adapter: ADAPTER, lost: new Promise(() => {}), lostError: null, destroy: () => {} } as unknown as GpuContext;
  return { gpu, cache: {} as PipelineCache };
}

function layer(index: number, input = 0): LayerResult {
  const hash = wgslHash(WGSL);
  return {
    index,
    name: `conv${index}`,
    op: 'Conv',
    m: 64,
    n: 16,
    k: 27,
    sparsity: 0.5,
    microTiles: [{ shape: '32x1', density: 0.6 }],
    variants: [
      { name: 'dense', microTile: null, computeTile: '64x64x16', ms: 2, detectMs: 0, maxAbsErr: 0, maxRelErr: 0, ok: true, wgslHash: hash },
      { name: 'pit-k', microTile: '32x1', computeTile: '32x128x8', ms: 1, detectMs: 0.1, maxAbsErr: 1e-6, maxRelErr: 1e-7, ok: true, wgslHash: hash },
    ],
    chosen: 'pit-k',
    input,
    heatmap: { rows: 2, cols: 2, cellM: 32, cellK: 14, values: [0, 0.5, 1, 0.25] },
  };
}

/** A job like profileModel: creates the run, records `layers` layers (waiting for `gate` before each), finishes. */
function fakeProfile(layers: number, gate?: () => Promise<void>) {
  const calls: ProfileOptions[] = [];
  const profile = async (opts: ProfileOptions, env: ProfileEnv) => {
    calls.push(opts);
    env.onProgress?.({ kind: 'stage', stage: 'import', message: `importing ${opts.modelPath}` });
    const runId = env.sink.createRun({
      model: { path: opts.modelPath, sha256: 'f'.repeat(64) },
      adapter: env.gpu.adapter,
      inputs: opts.inputs.map((p) => ({ path: p, kind: 'image', shape: [1, 3, 32, 32], preprocess: '', synthetic: false })),
      families: opts.families,
      repeat: opts.repeat,
      options: {},
    });
    const done: LayerResult[] = [];
    try {
      for (let i = 0; i < layers; i++) {
        await gate?.();
        if (env.signal?.aborted) throw new Error('cancelled');
        const l = layer(i);
        env.sink.recordLayer(runId, l, [{ hash: wgslHash(WGSL), label: 'fake kernel', wgsl: WGSL }]);
        done.push(l);
        env.onProgress?.({ kind: 'layer', runId, done: i + 1, total: layers, layer: l, etaMs: (layers - i - 1) * 10 });
      }
    } catch (e) {
      env.sink.failRun(runId, env.signal?.aborted ? 'cancelled' : String(e));
      throw e;
    }
    env.sink.finishRun(runId);
    return { runId, layers: done };
  };
  return { profile, calls };
}

describe('HostService', () => {
  let db: PitDatabase;
  let dir: string;
  let model: string;
  let photo: string;
  let events: HostEvent[];

  function service(over: Partial<HostDeps> = {}): HostService {
    const s = new HostService({
      db,
      dbPath: ':memory:',
      version: '9.9.9',
      sink: dbSink(db),
      acquireGpu: async () => fakeGpu(),
      profile: fakeProfile(2).profile,
      defaults: () => ({ modelPath: model, inputs: [photo], imageSize: 960, families: FAMILY_INFOS, repeat: 5, warmup: 1, warmupMs: 10 }),
      families: FAMILY_INFOS,
      tune: async () => {
        throw new Error('no tuner in these tests (test/host/tiledb.test.ts has one)');
      },
      ...over,
    });
    s.onEvent((e) => events.push(e));
    return s;
  }

  const jobEnd = () =>
    new Promise<HostEvent & { type: 'job.end' }>((resolve) => {
      const t = setInterval(() => {
        const e = events.find((x): x is HostEvent & { type: 'job.end' } => x.type === 'job.end');
        if (e) {
          clearInterval(t);
          resolve(e);
        }
      }, 5);
    });

  beforeEach(() => {
    db = openDatabase(':memory:');
    dir = mkdtempSync(join(tmpdir(), 'pit-host-'));
    model = join(dir, 'model.onnx');
    photo = join(dir, 'photo.jpg');
    writeFileSync(model, 'not really onnx');
    writeFileSync(photo, 'not really a jpeg');
    events = [];
  });
  afterEach(() => db.close());

  it('answers host.info with the adapter, or says why there is no GPU', async () => {
    expect(await service().call('host.info', {})).toEqual({ version: '9.9.9', dbPath: ':memory:', adapter: ADAPTER, families: FAMILY_INFOS });
    const noGpu = service({
      acquireGpu: async () => {
        const e = new Error('no WebGPU adapter: install a Vulkan driver');
        e.name = 'NoAdapterError';
        throw e;
      },
    });
    expect(await noGpu.call('host.info', {})).toMatchObject({ adapter: null, gpuError: 'NoAdapterError: no WebGPU adapter: install a Vulkan driver' });
  });

  it('runs a job: response first, then progress, the run as it is written, and the end', async () => {
    const s = service();
    const { jobId } = await s.call('profile.start', { useDefault: true, inputs: [], imageSize: 64, maxLayers: 2, repeat: 1 });
    expect(events).toEqual([]); // the job starts after the response has gone
    const end = await jobEnd();
    expect(end.end).toEqual({ jobId, runId: 1, status: 'complete', error: '' });
    const kinds = events.map((e) => (e.type === 'progress' ? `progress:${e.event.kind}` : e.type === 'runs.changed' ? `runs.changed:${e.change}` : e.type));
    expect(kinds).toEqual([
      'progress:stage',
      'progress:stage',
      'runs.changed:created',
      'runs.changed:layer',
      'progress:layer',
      'runs.changed:layer',
      'progress:layer',
      'runs.changed:finished',
      'job.end',
    ]);
    const list = await s.call('runs.list', {});
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: 1, complete: true, layerCount: 2 });
    const report = await s.call('runs.get', { id: 1 });
    expect(report.layers.map((l) => l.name)).toEqual(['conv0', 'conv1']);
    expect(report.layers[0]!.heatmap).toEqual(layer(0).heatmap);
    const kernels = await s.call('runs.kernels', { id: 1, input: 0, layer: 0 });
    expect(kernels['pit-k']).toEqual([{ hash: wgslHash(WGSL), label: 'fake kernel' }]);
    expect(await s.call('wgsl.get', { hash: wgslHash(WGSL) })).toEqual({ hash: wgslHash(WGSL), wgsl: WGSL });
    expect(await s.call('profile.status', {})).toEqual({ job: null });
  });

  it('follows a run incrementally (runs.layers with a cursor), serves heat maps on demand and the trace', async () => {
    const s = service({ profile: fakeProfile(3).profile });
    await s.call('profile.start', { useDefault: true, inputs: [] });
    await jobEnd();
    const a = await s.call('runs.layers', { id: 1, since: 0 });
    expect(a.layers.map((l) => l.name)).toEqual(['conv0', 'conv1', 'conv2']);
    expect(a.layers[0]!.heatmap).toBeUndefined();
    expect(a.run.complete).toBe(true);
    expect(await s.call('runs.layers', { id: 1, since: a.cursor })).toMatchObject({ layers: [], cursor: a.cursor });
    expect(await s.call('runs.heatmap', { id: 1, input: 0, layer: 1 })).toEqual(layer(1).heatmap);
    expect(await s.call('runs.heatmap', { id: 1, input: 0, layer: 7 })).toBeNull();
    const lean = await s.call('runs.get', { id: 1, heatmaps: false });
    expect(lean.layers.every((l) => l.heatmap === undefined)).toBe(true);
    const trace = await s.call('runs.trace', { id: 1 });
    // Three layers, each with the chosen pit-k (1 ms + 0.1 ms detection) on the chosen lane.
    expect(trace.metadata.chosenMs).toBeCloseTo(3 * 1.1, 9);
    expect(trace.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'layer').map((e) => e.name)).toEqual(['conv0', 'conv1', 'conv2']);
    await expect(s.call('runs.layers', { id: 9, since: 0 })).rejects.toThrow(/run 9/);
  });

  it('answers models.graph for a model file and for a run, and says when the file is not what ran', async () => {
    const s = service({ profile: fakeProfile(1).profile });
    const DET = defaultModelPath();
    const g = await s.call('models.graph', { modelPath: DET });
    expect(g.nodes.filter((n) => n.kind === 'op')).toHaveLength(330);
    expect(g.model.path).toBe(DET);
    expect(g.warning).toBeUndefined();
    // The fake job records the model with a made-up sha256: the graph comes with a warning.
    await s.call('profile.start', { modelPath: DET, inputs: [photo] });
    await jobEnd();
    const fromRun = await s.call('models.graph', { runId: 1 });
    expect(fromRun.nodes).toHaveLength(g.nodes.length);
    expect(fromRun.warning).toMatch(/is not the model run 1 profiled/);
    await expect(s.call('models.graph', {})).rejects.toMatchObject({ code: 'invalid-params' });
    await expect(s.call('models.graph', { runId: 5 })).rejects.toMatchObject({ code: 'not-found' });
    await expect(s.call('models.graph', { modelPath: join(dir, 'gone.onnx') })).rejects.toMatchObject({ code: 'not-found' });
    await expect(s.call('models.graph', { modelPath: photo })).rejects.toMatchObject({ code: 'invalid-params', message: expect.stringContaining('not a valid ONNX model') });
  });

  it('fills the job from the defaults and resolves paths', async () => {
    const fake = fakeProfile(1);
    const s = service({ profile: fake.profile });
    await s.call('profile.start', { useDefault: true, inputs: [] });
    await jobEnd();
    expect(fake.calls[0]).toEqual({ modelPath: model, inputs: [photo], imageSize: 960, families: ['dense', 'pit-k'], repeat: 5, warmup: 1, warmupMs: 10, maxLayers: undefined });
  });

  it('refuses what cannot work before starting anything', async () => {
    const s = service();
    const start = (p: object) => s.call('profile.start', { inputs: [], ...p });
    await expect(start({ modelPath: join(dir, 'missing.onnx'), inputs: [photo] })).rejects.toThrow(`model file not found: ${join(dir, 'missing.onnx')}`);
    await expect(start({ modelPath: dir, inputs: [photo] })).rejects.toThrow(`model file is not a regular file: ${dir}`);
    await expect(start({ modelPath: model, inputs: [join(dir, 'nope.jpg')] })).rejects.toThrow('input file not found');
    await expect(start({ modelPath: model })).rejects.toThrow('a model needs at least one input file');
    await expect(start({})).rejects.toThrow('give a modelPath (an .onnx file) or useDefault: true');
    await expect(start({ useDefault: true, modelPath: model })).rejects.toThrow('not both');
    await expect(start({ useDefault: true, families: ['dense', 'magic'] })).rejects.toThrow("unknown kernel family 'magic' (known: dense, pit-k, pit-m)");
    await expect(start({ useDefault: true, policy: 'measure', audit: true })).rejects.toThrow("audit applies to policy 'tiledb'");
    expect(events).toEqual([]);
  });

  it('runs one job at a time, cancels it, and keeps the finished layers', async () => {
    let release!: () => void;
    const gates: Promise<void>[] = [];
    const gate = () => {
      const p = new Promise<void>((r) => (release = r));
      gates.push(p);
      return p;
    };
    const s = service({ profile: fakeProfile(5, gate).profile });
    const { jobId } = await s.call('profile.start', { useDefault: true, inputs: [] });
    await new Promise((r) => setTimeout(r, 20));
    await expect(s.call('profile.start', { useDefault: true, inputs: [] })).rejects.toMatchObject({ code: 'busy' });
    const status = await s.call('profile.status', {});
    expect(status.job).toMatchObject({ jobId, runId: 1 });
    await expect(s.call('runs.delete', { id: 1 })).rejects.toThrow('run 1 is being written by the job in flight');
    release(); // first layer
    await new Promise((r) => setTimeout(r, 20));
    expect(await s.call('profile.cancel', { jobId: 'someone-else' })).toEqual({ cancelled: false });
    expect(await s.call('profile.cancel', { jobId })).toEqual({ cancelled: true });
    release();
    const end = await jobEnd();
    expect(end.end).toEqual({ jobId, runId: 1, status: 'cancelled', error: '' });
    const [run] = await s.call('runs.list', {});
    expect(run).toMatchObject({ complete: false, status: 'cancelled', layerCount: 1 });
    // And a new job may start.
    await expect(s.call('runs.delete', { id: 1 })).resolves.toEqual({ deleted: true });
  });

  it('reports a failing job on one line with the error name', async () => {
    const s = service({
      profile: async () => {
        const e = new Error('x.onnx is not a valid ONNX model\n(protobuf decode failed)');
        e.name = 'ModelError';
        throw e;
      },
    });
    const { jobId } = await s.call('profile.start', { useDefault: true, inputs: [] });
    const end = await jobEnd();
    expect(end.end).toEqual({ jobId, runId: null, status: 'failed', error: 'ModelError: x.onnx is not a valid ONNX model | (protobuf decode failed)' });
  });

  it('answers over the wire format: results, not-found, malformed envelopes', async () => {
    const s = service();
    expect(await handleMessage(s, { id: 1, method: 'runs.list' })).toEqual({ id: 1, result: [] });
    expect(await handleMessage(s, { id: 2, method: 'runs.get', params: { id: 5 } })).toEqual({
      id: 2,
      error: { code: 'not-found', message: 'no run 5 in :memory:' },
    });
    expect(await handleMessage(s, { id: 3, method: 'wgsl.get', params: { hash: 'a'.repeat(64) } })).toMatchObject({ id: 3, error: { code: 'not-found' } });
    expect(await handleMessage(s, { id: 4, method: 'runs.nuke' })).toMatchObject({ id: 4, error: { code: 'unknown-method' } });
    expect(await handleMessage(s, 42)).toMatchObject({ id: -1, error: { code: 'invalid-params' } });
    expect(await handleMessage(s, { id: 5, method: 'runs.delete', params: { id: 'all' } })).toMatchObject({
      id: 5,
      error: { code: 'invalid-params', message: "runs.delete: 'id' must be an integer, got 'all'" },
    });
  });

  it('rounds heat maps to 4 decimals for the wire, printing short', () => {
    const r = { run: {}, layers: [{ ...layer(0), heatmap: { rows: 1, cols: 3, cellM: 1, cellK: 1, values: [1 / 3, 0.1 + 0.2, 0.43750000001] } }], totals: {} };
    const out = forTheWire(r as unknown as { layers: LayerResult[] });
    expect(JSON.stringify(out.layers[0]!.heatmap!.values)).toBe('[0.3333,0.3,0.4375]');
  });

  it('cancels the job in flight on close', async () => {
    let hold!: () => void;
    const s = service({ profile: fakeProfile(3, () => new Promise<void>((r) => (hold = r))).profile });
    await s.call('profile.start', { useDefault: true, inputs: [] });
    await new Promise((r) => setTimeout(r, 20));
    const closing = s.close(2000);
    hold();
    await closing;
    expect((await jobEnd()).end.status).toBe('cancelled');
    await expect(s.call('runs.list', {})).rejects.toMatchObject({ code: 'host-unavailable' });
  });
});
