/** Pinia stores over a fake transport: connection, runs selection and refresh, the profile form and its job. */
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { useCompareStore } from '../../renderer/src/stores/compare.ts';
import { useHostStore } from '../../renderer/src/stores/host.ts';
import { formToRequest, useProfileStore, type ProfileForm } from '../../renderer/src/stores/profile.ts';
import { REFRESH_DEBOUNCE_MS, toggleSelection, useRunsStore } from '../../renderer/src/stores/runs.ts';
import { FOLLOW_DEBOUNCE_MS, useRunStore } from '../../renderer/src/stores/run.ts';
import { HostError } from '../../renderer/src/transport/types.ts';
import type { FamilyInfo } from '../../core/protocol.ts';
import { fakeTransport, layer, report, skipped } from './fixtures.ts';


const FAMILIES: FamilyInfo[] = [
  { name: 'dense', axis: 'none', summary: 'dense', defaultOn: true, baseline: true },
  { name: 'pit-k', axis: 'k', summary: 'condense-K', defaultOn: true, baseline: false },
];
const INFO = { version: '0.1.0', adapter: null, dbPath: '/tmp/x.db', gpuError: 'NoAdapterError: none', families: FAMILIES };
const flush = () => new Promise((r) => setTimeout(r, 0));

beforeEach(() => {
  setActivePinia(createPinia());
});

describe('host store', () => {
  it('connects, reads host.info, and follows host status', async () => {
    const f = fakeTransport({ 'host.info': () => INFO });
    const host = useHostStore();
    host.connect(f.t);
    await flush();
    expect(host.info).toEqual(INFO);
    expect(host.status.state).toBe('ready');
    f.emit({ type: 'host.status', status: { state: 'restarting', message: 'the host exited (code 1)', restarts: 1 } });
    expect(host.status.state).toBe('restarting');
    expect(host.notices.at(-1)).toMatchObject({ kind: 'error', text: 'The host stopped: the host exited (code 1)' });
  });

  it('fails calls clearly when not connected', async () => {
    await expect(useHostStore().call('runs.list', {})).rejects.toMatchObject({ code: 'host-unavailable' });
  });
});

describe('runs store', () => {
  it('keeps at most two runs selected, dropping the oldest pick', () => {
    expect(toggleSelection([], 1)).toEqual([1]);
    expect(toggleSelection([1, 2], 3)).toEqual([2, 3]);
    expect(toggleSelection([1, 2], 1)).toEqual([2]);
  });

  it('refreshes once for a burst of runs.changed events', async () => {
    vi.useFakeTimers();
    try {
      const f = fakeTransport({ 'host.info': () => INFO, 'runs.list': () => [] });
      const host = useHostStore();
      host.connect(f.t);
      useRunsStore();
      for (let i = 0; i < 10; i++) f.emit({ type: 'runs.changed', runId: 1, change: 'layer' });
      await vi.advanceTimersByTimeAsync(REFRESH_DEBOUNCE_MS + 10);
      expect(f.calls.filter((c) => c.method === 'runs.list')).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('profile store', () => {
  const form: ProfileForm = {
    useDefault: true,
    modelPath: '',
    bundledInputs: ['/b/sample1.jpg'],
    inputsText: ' /x/a.npy \n\n/b/sample1.jpg\n',
    imageSize: 64,
    families: ['dense', 'pit-k'],
    repeat: 1,
    warmup: 0,
    maxLayers: 0,
    policy: '',
    audit: false,
  };

  it('turns the form into a request (inputs deduplicated, 0 layers = all)', () => {
    expect(formToRequest(form)).toEqual({
      useDefault: true,
      inputs: ['/b/sample1.jpg', '/x/a.npy'],
      imageSize: 64,
      families: ['dense', 'pit-k'],
      repeat: 1,
      warmup: 0,
    });
    expect(formToRequest({ ...form, useDefault: false, modelPath: ' /m.onnx ', maxLayers: 3 })).toMatchObject({ modelPath: '/m.onnx', maxLayers: 3 });
    expect(formToRequest({ ...form, policy: 'tiledb', audit: true })).toMatchObject({ policy: 'tiledb', audit: true });
    expect(formToRequest({ ...form, policy: 'measure', audit: true }).audit).toBeUndefined();
    // Repeat left empty (null, or '' from an emptied number field) is the host's choice.
    expect(formToRequest({ ...form, repeat: null })).not.toHaveProperty('repeat');
    expect(formToRequest({ ...form, repeat: '' as unknown as number })).not.toHaveProperty('repeat');
    expect(() => formToRequest({ ...form, useDefault: false })).toThrow('Choose a model file');
    expect(() => formToRequest({ ...form, useDefault: false, modelPath: '/m.onnx', bundledInputs: [], inputsText: '' })).toThrow('at least one input');
  });

  it('starts a job, follows its progress, and shows a failure as the host said it', async () => {
    const f = fakeTransport({
      'host.info': () => INFO,
      'profile.start': () => ({ jobId: 'j1' }),
      'models.default': () => ({ modelPath: '/m/det.onnx', inputs: ['/b/sample1.jpg'], imageSize: 960, families: FAMILIES, repeat: 5, warmup: 1, warmupMs: 50 }),
      'profile.status': () => ({ job: null }),
    });
    useHostStore().connect(f.t);
    const p = useProfileStore();
    await p.loadDefaults();
    // Repeat stays auto (the host picks 5 to measure, 1 per round with the tile database).
    expect(p.form).toMatchObject({ imageSize: 960, repeat: null, bundledInputs: ['/b/sample1.jpg'] });
    await p.start();
    expect(p.running).toBe(true);
    expect(p.job?.jobId).toBe('j1');
    f.emit({ type: 'progress', jobId: 'j1', event: { kind: 'layer', runId: 4, done: 1, total: 2, layer: layer(0, 2, 1), etaMs: 500 } });
    expect(p.job).toMatchObject({ runId: 4, done: 1, total: 2, etaMs: 500 });
    f.emit({ type: 'job.end', end: { jobId: 'j1', runId: 4, status: 'failed', error: 'DeviceLostError: lost' } });
    expect(p.running).toBe(false);
    expect(p.error).toBe('DeviceLostError: lost');
  });

  it('shows why a job could not start', async () => {
    const f = fakeTransport({
      'host.info': () => INFO,
      'profile.start': () => {
        throw new HostError('invalid-params', 'model file not found: /nope.onnx');
      },
    });
    useHostStore().connect(f.t);
    const p = useProfileStore();
    Object.assign(p.form, { ...form, useDefault: false, modelPath: '/nope.onnx' });
    await p.start();
    expect(p.error).toBe('model file not found: /nope.onnx');
    expect(p.job).toBeNull();
    expect(p.running).toBe(false);
  });
});

describe('run and compare stores', () => {
  it('opens a run, steps through the current input and follows a layer across inputs', async () => {
    const r = report(3, [layer(0, 2, 1), skipped(1), layer(0, 2, 1, 1, { sparsity: 0.9 }), skipped(1, 1)]);
    r.run.inputs.push({ ...r.run.inputs[0]!, path: '/i/b.jpg' });
    const hm = { rows: 1, cols: 2, cellM: 64, cellK: 16, values: [0.5, 1] };
    const f = fakeTransport({
      'host.info': () => INFO,
      'runs.layers': () => ({ run: r.run, totals: r.totals, layers: r.layers, cursor: 4 }),
      'runs.kernels': () => ({}),
      'runs.heatmap': () => hm,
    });
    useHostStore().connect(f.t);
    const run = useRunStore();
    await run.open(3);
    expect(f.calls.find((c) => c.method === 'runs.layers')!.params).toEqual({ id: 3, since: 0 });
    expect(run.layers.map((l) => l.name)).toEqual(['conv0', 'conv1']);
    expect(run.heatmap).toEqual(hm);
    expect(run.acrossInputs.map((l) => l.sparsity)).toEqual([0.5, 0.9]);
    await run.select(5);
    expect(run.position).toBe(1);
    expect(run.current?.skipped).toBeTruthy();
    expect(run.heatmap).toBeNull();
    await run.select(0);
    await run.selectInput(1);
    expect(run.current).toMatchObject({ input: 1, index: 0 });
    // Kernels are fetched for each profiled layer shown; a skipped layer has none to fetch.
    expect(f.calls.filter((c) => c.method === 'runs.kernels').map((c) => c.params)).toEqual([
      { id: 3, input: 0, layer: 0 },
      { id: 3, input: 0, layer: 0 },
      { id: 3, input: 1, layer: 0 },
    ]);
    // Heat maps are fetched once per layer however often it is shown (never for skipped layers).
    expect(f.calls.filter((c) => c.method === 'runs.heatmap').map((c) => c.params)).toEqual([
      { id: 3, input: 0, layer: 0 },
      { id: 3, input: 1, layer: 0 },
    ]);
  });

  it('sorts and filters the layer list, keeping the current layer', async () => {
    const r = report(3, [layer(0, 2, 1), skipped(1), layer(2, 8, 9), layer(3, 4, 1, 0, { name: 'attn_qk', op: 'MatMul' })]);
    const f = fakeTransport({ 'host.info': () => INFO, 'runs.layers': () => ({ run: r.run, totals: r.totals, layers: r.layers, cursor: 4 }), 'runs.kernels': () => ({}), 'runs.heatmap': () => null });
    useHostStore().connect(f.t);
    const run = useRunStore();
    await run.open(3);
    await run.select(2); // conv2
    run.sortBy('chosenMs');
    expect(run.layers.map((l) => l.index)).toEqual([2, 0, 3, 1]); // 8 ms, then 1.1 ms twice (model order on ties), skipped last
    expect(run.current?.index).toBe(2);
    run.setFilter({ status: 'pit' });
    expect(run.layers.map((l) => l.index)).toEqual([0, 3]);
    expect(run.position).toBe(0); // conv2 is filtered out: back to the first
    run.setFilter({ status: 'all', text: 'matmul' });
    expect(run.layers.map((l) => l.name)).toEqual(['attn_qk']);
    await run.selectLayer(1);
    expect(run.filter.text).toBe(''); // a filter hiding the layer asked for is cleared
    expect(run.current?.index).toBe(1);
  });

  it('follows a run being written: after each burst of runs.changed, only the layers since its cursor', async () => {
    vi.useFakeTimers();
    try {
      const r = report(3, [layer(0, 2, 1)]);
      r.run.complete = false;
      r.run.status = 'running';
      const answers = [
        { run: r.run, totals: r.totals, layers: [layer(0, 2, 1)], cursor: 10 },
        { run: r.run, totals: { ...r.totals, chosenMs: 5 }, layers: [skipped(1), layer(2, 3, 1)], cursor: 12 },
      ];
      const f = fakeTransport({ 'host.info': () => INFO, 'runs.layers': () => answers.shift()!, 'runs.kernels': () => ({}), 'runs.heatmap': () => null });
      useHostStore().connect(f.t);
      const run = useRunStore();
      await run.open(3);
      for (let i = 0; i < 5; i++) f.emit({ type: 'runs.changed', runId: 3, change: 'layer' });
      f.emit({ type: 'runs.changed', runId: 99, change: 'layer' }); // another run: ignored
      await vi.advanceTimersByTimeAsync(FOLLOW_DEBOUNCE_MS + 10);
      expect(f.calls.filter((c) => c.method === 'runs.layers').map((c) => c.params)).toEqual([
        { id: 3, since: 0 },
        { id: 3, since: 10 },
      ]);
      expect(run.layers.map((l) => l.index)).toEqual([0, 1, 2]);
      expect(run.report?.totals.chosenMs).toBe(5);
      expect(run.current?.index).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('fetches a WGSL text once, even when asked twice at the same time', async () => {
    const f = fakeTransport({ 'host.info': () => INFO, 'wgsl.get': (p) => ({ hash: p.hash, wgsl: `// ${p.hash}` }) });
    useHostStore().connect(f.t);
    const run = useRunStore();
    const h = 'a'.repeat(64);
    const [x, y] = await Promise.all([run.loadWgsl(h), run.loadWgsl(h)]);
    expect(x).toBe(`// ${h}`);
    expect(y).toBe(x);
    expect(await run.loadWgsl(h)).toBe(x);
    expect(f.calls.filter((c) => c.method === 'wgsl.get')).toHaveLength(1);
  });

  it('loads two runs, compares and sorts them', async () => {
    const a = report(1, [layer(0, 2, 3), layer(1, 1, 0.4)]);
    const b = report(2, [layer(0, 2, 0.9), layer(1, 1.5, 0.9)]);
    const f = fakeTransport({ 'host.info': () => INFO, 'runs.get': (p) => (p.id === 1 ? a : b) });
    useHostStore().connect(f.t);
    const c = useCompareStore();
    await c.load(1, 2);
    expect(c.rows.map((r) => r.index)).toEqual([0, 1]);
    c.sortBy('deltaRel');
    expect(c.rows.map((r) => r.index)).toEqual([0, 1]);
    c.sortBy('deltaRel');
    expect(c.sortDir).toBe('desc');
    expect(c.rows.map((r) => r.index)).toEqual([1, 0]);
    c.swap();
    expect(c.a?.run.id).toBe(2);
  });
});
