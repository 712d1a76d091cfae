import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunReport } from '../../core/protocol.ts';
import { RunNotFoundError, RunStateError } from '../../db/errors.ts';
import { openDatabase, type PitDatabase } from '../../db/open.ts';
import {
  createRun,
  deleteRun,
  failRun,
  finishRun,
  getKernelWgsl,
  getLayerKernels,
  getRunReport,
  InvalidRecordError,
  listRuns,
  pruneKernels,
  recordLayer,
  runExists,
  STATUS_MESSAGE_MAX,
} from '../../db/runs.ts';
import { ADAPTER, asReported, INPUTS, K_DENSE, K_DETECT, K_PITK, kernel, layer0, layer0input1, layer1, layer2, MODEL, newRun, tempDir } from './fixtures.ts';

const count = (db: PitDatabase, table: string): number => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;

describe('run repository', () => {
  let cleanup: () => void;
  let path: string;
  let db: PitDatabase;
  beforeEach(() => {
    const t = tempDir();
    cleanup = t.cleanup;
    path = join(t.dir, 'pit.db');
    db = openDatabase(path);
  });
  afterEach(() => {
    db.close();
    cleanup();
  });

  /** The fixture run: four layers over two inputs, written layer by layer like the profiler does. */
  function writeFixtureRun(): number {
    const id = createRun(db, newRun());
    recordLayer(db, id, layer0(), [K_DENSE, K_DETECT, K_PITK]);
    recordLayer(db, id, layer1(), [K_DENSE, K_DETECT, K_PITK]); // same texts again: stored once
    recordLayer(db, id, layer2(), []);
    recordLayer(db, id, layer0input1(), []); // kernels already stored may be omitted
    return id;
  }

  it('round-trips a run written layer by layer into exactly the RunReport shape', () => {
    const before = Date.now();
    const id = writeFixtureRun();
    const running = getRunReport(db, id);
    expect(running.run.complete).toBe(false);
    expect(running.run.status).toBe('running');
    finishRun(db, id);

    const report = getRunReport(db, id);
    const createdAt = Date.parse(report.run.createdAt);
    expect(createdAt).toBeGreaterThanOrEqual(before - 1);
    expect(createdAt).toBeLessThanOrEqual(Date.now());
    expect(report.run.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const expected: RunReport = {
      run: {
        id,
        complete: true,
        createdAt: report.run.createdAt,
        model: MODEL,
        adapter: ADAPTER,
        inputs: INPUTS,
        families: ['dense', 'pit-k', 'bcsr'],
        repeat: 5,
        options: { warmup: 2, imageSize: 320 },
        status: '',
      },
      // (input, index) order, whatever order they were written in.
      layers: [asReported(layer0()), asReported(layer1()), asReported(layer2()), asReported(layer0input1())],
      totals: { denseMs: 6.5, defaultDenseMs: 6.5, chosenMs: 3.75, detectMs: 0.25, layoutMs: 0, idealMs: 3, layers: 3, failedLayers: 0 },
    };
    // toStrictEqual: no stray undefined keys, NaN equals NaN, heat-map doubles exact.
    expect(report).toStrictEqual(expected);

    const bcsr = report.layers[0]!.variants[2]!;
    expect(bcsr.ms).toBeNaN();
    expect(bcsr.maxAbsErr).toBeNaN();
    expect(bcsr.error).toBe('ShaderCompileError: bcsr: unresolved identifier');
    expect(report.layers[0]!.heatmap!.values[0]).toBe(1 / 3);
    expect(report.layers[1]).not.toHaveProperty('heatmap');
    expect(report.layers[1]).not.toHaveProperty('skipped');
    expect(report.layers[0]!.variants[0]).not.toHaveProperty('error');
    // JSON (what `pit profile --json` writes) carries the same data.
    expect(JSON.parse(JSON.stringify(report)).layers[2].skipped).toBe('grouped conv (group=32)');
  });

  it('round-trips a batched layer: batch, per-batch statistics, B, near-zero approximation and the variants on B (JSON column)', () => {
    const id = createRun(db, newRun({ options: { warmup: 2, imageSize: 320, zero: { threshold: 0.001 } } }));
    const base = layer0();
    const batched = {
      ...base,
      name: 'attention qk',
      op: 'MatMul',
      m: 40,
      n: 40,
      k: 15,
      batch: 8,
      batchDims: [1, 8],
      batchKind: 'broadcast' as const,
      shared: { a: true },
      lowering: 'matmul' as const,
      operandB: { sparsity: 0.25, microTiles: [{ shape: '15x1', density: 0.75, effectiveDensity: 0.75 }] },
      perBatch: {
        sparsity: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 1 / 3],
        bSparsity: [0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5],
        microTiles: [{ operand: 'b' as const, shape: '15x1', density: [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5], effectiveDensity: [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5] }],
      },
      approximation: { threshold: 0.001, operands: [{ operand: 'a' as const, cut: 0.001, sparsityBefore: 0, sparsityAfter: 0.4 }], maxAbsErr: 1e-4, maxRelErr: 2e-5, relL2Err: 3e-6 },
      variants: [...base.variants, { ...base.variants[1]!, name: 'pit-n', family: 'pit-n', microTile: '15x1', operand: 'b' as const }],
    };
    recordLayer(db, id, batched, [K_DENSE, K_DETECT, K_PITK]);
    const layer = getRunReport(db, id).layers[0]!;
    expect(layer).toStrictEqual(asReported(batched));
    expect(layer.variants.find((v) => v.name === 'pit-n')!.operand).toBe('b');
    expect(layer.variants.find((v) => v.name === 'pit-k')).not.toHaveProperty('operand');
    expect(getRunReport(db, id).run.options).toEqual({ warmup: 2, imageSize: 320, zero: { threshold: 0.001 } });
    // A 2-D layer keeps none of these keys.
    recordLayer(db, id, layer1(), [K_DENSE, K_DETECT, K_PITK]);
    const flat = getRunReport(db, id).layers[1]!;
    for (const key of ['batch', 'batchDims', 'perBatch', 'operandB', 'approximation', 'shared']) expect(flat).not.toHaveProperty(key);
  });

  it('orders layers by (input, index) even when written out of order', () => {
    const id = createRun(db, newRun());
    recordLayer(db, id, layer0input1(), [K_DENSE]);
    recordLayer(db, id, layer1(), [K_DENSE, K_DETECT, K_PITK]);
    recordLayer(db, id, layer0(), []);
    expect(getRunReport(db, id).layers.map((l) => [l.input, l.index])).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
    ]);
  });

  it('stores each kernel text once across layers and runs, and lists every kernel a variant ran', () => {
    const a = writeFixtureRun();
    const b = writeFixtureRun();
    expect(count(db, 'kernels')).toBe(3);
    expect(getKernelWgsl(db, K_PITK.hash)).toBe(K_PITK.wgsl);
    expect(getKernelWgsl(db, '0'.repeat(64))).toBeNull();
    // Two measurements of pit-k per run (layers 0 and 1), each listing detect + main.
    expect(count(db, 'measurement_kernels')).toBe(2 * (1 + 2 + 1 + 2 + 1));
    expect(getLayerKernels(db, a, 0, 0)).toEqual({
      dense: [{ hash: K_DENSE.hash, label: K_DENSE.label }],
      'pit-k': [
        { hash: K_DETECT.hash, label: K_DETECT.label },
        { hash: K_PITK.hash, label: K_PITK.label },
      ],
    });
    expect(getLayerKernels(db, b, 0, 2)).toEqual({});
    expect(() => getLayerKernels(db, 999, 0, 0)).toThrow(RunNotFoundError);
  });

  it('computes totals over profiled layers only', () => {
    const id = createRun(db, newRun());
    expect(getRunReport(db, id).totals).toEqual({ denseMs: 0, defaultDenseMs: 0, chosenMs: 0, detectMs: 0, layoutMs: 0, idealMs: 0, layers: 0, failedLayers: 0 });
    recordLayer(db, id, layer0(), [K_DENSE, K_DETECT, K_PITK]);
    // dense 4; chosen pit-k 1 + its detection 0.25 (what the layer costs with PIT); ideal 4 × min(0.5, 0.25).
    expect(getRunReport(db, id).totals).toEqual({ denseMs: 4, defaultDenseMs: 4, chosenMs: 1.25, detectMs: 0.25, layoutMs: 0, idealMs: 1, layers: 1, failedLayers: 0 });
    recordLayer(db, id, layer2(), []); // skipped: nothing changes
    expect(getRunReport(db, id).totals).toEqual({ denseMs: 4, defaultDenseMs: 4, chosenMs: 1.25, detectMs: 0.25, layoutMs: 0, idealMs: 1, layers: 1, failedLayers: 0 });
    recordLayer(db, id, layer1(), []); // chosen dense 2: detection of the unchosen pit-k does not count
    expect(getRunReport(db, id).totals).toEqual({ denseMs: 6, defaultDenseMs: 6, chosenMs: 3.25, detectMs: 0.25, layoutMs: 0, idealMs: 2.5, layers: 2, failedLayers: 0 });
    // A layer whose dense variant failed has no baseline: excluded from every total, counted as failed, and — written
    // without `failed`, as runs before issue 14 were — its reason is derived from its variants.
    const noBaseline = { ...layer0input1(), variants: [{ ...layer0input1().variants[0]!, ms: Number.NaN, ok: false, error: 'device lost' }] };
    recordLayer(db, id, noBaseline, []);
    expect(getRunReport(db, id).totals).toEqual({ denseMs: 6, defaultDenseMs: 6, chosenMs: 3.25, detectMs: 0.25, layoutMs: 0, idealMs: 2.5, layers: 2, failedLayers: 1 });
    expect(getRunReport(db, id).layers).toHaveLength(4);
    expect(getRunReport(db, id).layers[3]!.failed).toBe('no variant verified: dense: device lost');
    expect(getRunReport(db, id).layers.slice(0, 3).map((l) => l.failed)).toEqual([undefined, undefined, undefined]);
    expect(listRuns(db)[0]!.totals.failedLayers).toBe(1);
  });

  it('lists runs newest first with layer counts, statuses and totals', () => {
    const a = writeFixtureRun();
    finishRun(db, a);
    const b = createRun(db, newRun({ families: ['dense'], repeat: 1 }));
    recordLayer(db, b, layer0input1(), []);
    failRun(db, b, 'cancelled');
    const c = createRun(db, newRun({ inputs: [] }));

    const list = listRuns(db);
    expect(list.map((r) => r.id)).toEqual([c, b, a]);
    expect(list.map((r) => [r.complete, r.status, r.layerCount])).toEqual([
      [false, 'running', 0],
      [false, 'cancelled', 1],
      [true, '', 4],
    ]);
    expect(list[2]!.totals).toEqual({ denseMs: 6.5, defaultDenseMs: 6.5, chosenMs: 3.75, detectMs: 0.25, layoutMs: 0, idealMs: 3, layers: 3, failedLayers: 0 });
    expect(list[1]!.totals).toEqual({ denseMs: 0.5, defaultDenseMs: 0.5, chosenMs: 0.5, detectMs: 0, layoutMs: 0, idealMs: 0.5, layers: 1, failedLayers: 0 });
    expect(list[0]!.totals).toEqual({ denseMs: 0, defaultDenseMs: 0, chosenMs: 0, detectMs: 0, layoutMs: 0, idealMs: 0, layers: 0, failedLayers: 0 });
    expect(list[1]!.families).toEqual(['dense']);
    expect(list[1]!.repeat).toBe(1);
    expect(list[0]!.inputs).toEqual([]);
    expect(list[2]!.inputs).toEqual(INPUTS);
    // A RunListItem is the report's summary plus counts.
    const { layerCount: _, totals: __, ...summary } = list[2]!;
    expect(summary).toStrictEqual(getRunReport(db, a).run);
  });

  it('shares adapter and model rows between runs', () => {
    writeFixtureRun();
    writeFixtureRun();
    createRun(db, newRun({ adapter: { ...ADAPTER, timestampQuery: false } }));
    createRun(db, newRun({ model: { ...MODEL, path: '/elsewhere/det.onnx' } }));
    expect(count(db, 'adapters')).toBe(1);
    expect(count(db, 'models')).toBe(2);
    const runs = listRuns(db);
    expect(runs.map((r) => r.adapter.timestampQuery)).toEqual([true, false, true, true]);
    expect(runs[0]!.model.path).toBe('/elsewhere/det.onnx');
  });

  it('deletes a run with everything under it, keeps kernels until pruned, never reuses its id', () => {
    const a = writeFixtureRun();
    const b = createRun(db, newRun());
    recordLayer(db, b, layer0input1(), []);
    expect(deleteRun(db, a)).toBe(true);
    expect(deleteRun(db, a)).toBe(false);
    expect(runExists(db, a)).toBe(false);
    expect(runExists(db, b)).toBe(true);
    expect(() => getRunReport(db, a)).toThrow(RunNotFoundError);
    expect(count(db, 'layers')).toBe(1);
    expect(count(db, 'inputs')).toBe(INPUTS.length);
    expect(count(db, 'micro_tiles')).toBe(0);
    expect(count(db, 'heatmaps')).toBe(0);
    expect(count(db, 'measurements')).toBe(1);
    expect(count(db, 'measurement_kernels')).toBe(1);
    expect(count(db, 'kernels')).toBe(3);
    expect(db.pragma('foreign_key_check')).toEqual([]);

    expect(pruneKernels(db)).toBe(2); // run b still uses the dense kernel
    expect(getKernelWgsl(db, K_DENSE.hash)).toBe(K_DENSE.wgsl);
    expect(getKernelWgsl(db, K_PITK.hash)).toBeNull();

    const c = createRun(db, newRun());
    expect(c).toBeGreaterThan(b);
    expect(c).not.toBe(a);
  });

  it('reports an unknown run as RunNotFoundError naming the database', () => {
    for (const f of [
      () => getRunReport(db, 42),
      () => recordLayer(db, 42, layer0(), [K_DENSE, K_DETECT, K_PITK]),
      () => finishRun(db, 42),
      () => failRun(db, 42, 'x'),
    ]) {
      expect(f).toThrow(RunNotFoundError);
      expect(f).toThrow(`no run 42 in ${path}`);
    }
    expect(count(db, 'kernels')).toBe(0); // the failed recordLayer stored nothing
  });

  it('lets a run be finished or failed once, and refuses layers after that', () => {
    const a = createRun(db, newRun());
    finishRun(db, a);
    expect(() => finishRun(db, a)).toThrow(new RunStateError(`run ${a} is already complete`, a));
    expect(() => failRun(db, a, 'late')).toThrow(RunStateError);
    expect(() => recordLayer(db, a, layer0(), [K_DENSE, K_DETECT, K_PITK])).toThrow(`run ${a} is complete: no more layers can be recorded`);
    expect(getRunReport(db, a).run).toMatchObject({ complete: true, status: '' });

    const b = createRun(db, newRun());
    failRun(db, b, 'OutOfMemory: buffer of 4 GiB');
    expect(getRunReport(db, b).run).toMatchObject({ complete: false, status: 'OutOfMemory: buffer of 4 GiB' });
    expect(() => finishRun(db, b)).toThrow(`run ${b} is already incomplete`);
  });

  it('refuses inconsistent records with a clear message and writes nothing', () => {
    const id = createRun(db, newRun());
    expect(() => recordLayer(db, id, { ...layer0(), input: 5 }, [K_DENSE, K_DETECT, K_PITK])).toThrow(
      `layer 0 is on input 5, which run ${id} does not have`,
    );
    expect(() => recordLayer(db, id, layer0(), [K_DENSE, K_DETECT])).toThrow(
      new InvalidRecordError(`variant pit-k of layer 0 ran kernel ${K_PITK.hash}, whose WGSL was not given`),
    );
    expect(() => recordLayer(db, id, layer0(), [K_DENSE, K_DETECT, { ...K_PITK, wgsl: K_PITK.wgsl + ' ' }])).toThrow(/is not the sha256 of its WGSL/);
    const twice = layer1();
    twice.variants.push({ ...twice.variants[0]! });
    expect(() => recordLayer(db, id, twice, [K_DENSE, K_DETECT, K_PITK])).toThrow('layer 1 has two variants named dense; names must be unique per layer');
    expect(() => recordLayer(db, id, { ...layer1(), chosen: 'bcsr' }, [K_DENSE, K_DETECT, K_PITK])).toThrow(
      'layer 1: chosen variant bcsr is not among its variants',
    );
    for (const t of ['layers', 'kernels', 'measurements', 'micro_tiles', 'heatmaps', 'measurement_kernels']) expect(count(db, t)).toBe(0);
    // The same layer twice is a constraint violation, not a silent overwrite.
    recordLayer(db, id, layer0(), [K_DENSE, K_DETECT, K_PITK]);
    expect(() => recordLayer(db, id, layer0(), [])).toThrow(/UNIQUE constraint failed: layers/);
    expect(count(db, 'layers')).toBe(1);
  });

  it('rolls a layer back whole when a write fails mid-way (a CHECK on the last variant)', () => {
    const id = createRun(db, newRun());
    recordLayer(db, id, layer1(), [K_DENSE, K_DETECT, K_PITK]);
    const before = { layers: count(db, 'layers'), tiles: count(db, 'micro_tiles'), ms: count(db, 'measurements'), mk: count(db, 'measurement_kernels') };

    const bad = layer0();
    bad.variants[2] = { ...bad.variants[2]!, ms: -1 }; // a negative time violates CHECK (ms >= 0) after layer, tiles, heat map and two variants were written
    const extra = kernel('only in the failed layer', 'let z = 9u;');
    expect(() => recordLayer(db, id, bad, [K_DENSE, K_DETECT, K_PITK, extra])).toThrow(/CHECK constraint failed: ms >= 0/);

    expect({ layers: count(db, 'layers'), tiles: count(db, 'micro_tiles'), ms: count(db, 'measurements'), mk: count(db, 'measurement_kernels') }).toEqual(before);
    expect(count(db, 'heatmaps')).toBe(0);
    expect(getKernelWgsl(db, extra.hash)).toBeNull();
    expect(db.inTransaction).toBe(false);
    // The run is still usable: the corrected layer goes in.
    recordLayer(db, id, layer0(), []);
    expect(getRunReport(db, id).layers.map((l) => l.index)).toEqual([0, 1]);
  });

  it('rejects values outside their domain through the schema (STRICT types, fractions 0–1)', () => {
    const id = createRun(db, newRun());
    expect(() => recordLayer(db, id, { ...layer1(), m: 10.5 }, [K_DENSE, K_DETECT, K_PITK])).toThrow(/cannot store REAL value in INTEGER column layers\.m/);
    expect(() => recordLayer(db, id, { ...layer1(), sparsity: 1.5 }, [K_DENSE, K_DETECT, K_PITK])).toThrow(/CHECK constraint failed/);
    expect(() => recordLayer(db, id, { ...layer1(), microTiles: [{ shape: '32x1', density: -0.1 }] }, [K_DENSE, K_DETECT, K_PITK])).toThrow(/CHECK constraint failed/);
    const h = layer0();
    h.heatmap = { ...h.heatmap!, values: [0.5] };
    expect(() => recordLayer(db, id, h, [K_DENSE, K_DETECT, K_PITK])).toThrow(/CHECK constraint failed/);
    expect(() => createRun(db, newRun({ repeat: 0 }))).toThrow(/CHECK constraint failed: repeat >= 1/);
    expect(count(db, 'layers')).toBe(0);
    expect(listRuns(db)).toHaveLength(1);
  });

  it('reads a database another connection is writing (WAL)', () => {
    const id = createRun(db, newRun());
    recordLayer(db, id, layer0(), [K_DENSE, K_DETECT, K_PITK]);
    const reader = new Database(path, { readonly: true });
    try {
      expect(getRunReport(reader, id).layers).toHaveLength(1);
      recordLayer(db, id, layer1(), []);
      expect(getRunReport(reader, id).layers).toHaveLength(2);
    } finally {
      reader.close();
    }
  });

  it('keeps a static-pattern variant\'s index build time apart from its kernel time (migration v4)', () => {
    const id = createRun(db, newRun());
    const l = layer1();
    const nm = { ...l.variants[0]!, name: 'nm', family: 'nm', microTile: null, ms: 0.7, detectMs: 0, indexMs: 12.5, effectiveDensity: 0.5 };
    recordLayer(db, id, { ...l, variants: [...l.variants, nm] }, [K_DENSE, K_DETECT, K_PITK]);
    const v = getRunReport(db, id).layers[0]!.variants.find((x) => x.name === 'nm')!;
    expect(v).toMatchObject({ indexMs: 12.5, ms: 0.7, effectiveDensity: 0.5, microTile: null });
    expect(getRunReport(db, id).layers[0]!.variants.find((x) => x.name === l.variants[0]!.name)!.indexMs).toBeUndefined();
  });
});

describe('failRun', () => {
  it('stores one line of at most STATUS_MESSAGE_MAX characters, however long the error', () => {
    const db = openDatabase(':memory:');
    try {
      const id = createRun(db, newRun());
      failRun(db, id, `${'word '.repeat(200)}\nsecond line of a native stack`);
      const status = getRunReport(db, id).run.status;
      expect(status).toHaveLength(STATUS_MESSAGE_MAX);
      expect(status.endsWith('…')).toBe(true);
      expect(status).not.toContain('second line');
    } finally {
      db.close();
    }
  });
});
