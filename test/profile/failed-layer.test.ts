/**
 * A layer where no variant verified is never part of a complete run's verified figures (issue 14 item 2). The job
 * runs on a synthetic two-MatMul model (labelled synthetic) with a fault injected into the GPU device: every bind
 * group of the second layer gets a buffer without STORAGE usage, so each of its variants fails. The run completes,
 * stored in a real database; the failed layer says why with the bind group's own error (not "[Invalid BindGroup] is
 * invalid"), the totals leave it out and say so, and the table shows no made-up "max err 0.0e+0".
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../core/gpu/device.ts';
import { profileModel } from '../../core/profile/profile.ts';
import { formatReport } from '../../core/report/table.ts';
import { openDatabase } from '../../db/open.ts';
import { getRunReport, listRuns } from '../../db/runs.ts';
import { dbSink } from '../../main/host/db-sink.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';
import { npyBytes } from '../inputs/npy-fixtures.ts';
import { buildModel, randomFloats } from '../model/onnx-builders.ts';

const dir = mkdtempSync(join(tmpdir(), 'pit-failed-'));
const modelPath = join(dir, 'synthetic-two-matmuls.onnx');
const inputPath = join(dir, 'x.npy');

describe('a layer with no verified variant', () => {
  let g: TestGpu;
  beforeAll(async () => {
    g = await testGpu();
    writeFileSync(
      modelPath,
      buildModel({
        inputs: [{ name: 'x', dims: [40, 48] }],
        outputs: [{ name: 'y', dims: [40, 16] }],
        initializers: [
          { name: 'W1', dims: [48, 32], data: randomFloats(48 * 32, 1) },
          { name: 'W2', dims: [32, 16], data: randomFloats(32 * 16, 2) },
        ],
        nodes: [
          { op: 'Relu', inputs: ['x'], outputs: ['r1'] },
          { op: 'MatMul', inputs: ['r1', 'W1'], outputs: ['h'], name: 'mm1' },
          { op: 'Relu', inputs: ['h'], outputs: ['r2'] },
          { op: 'MatMul', inputs: ['r2', 'W2'], outputs: ['y'], name: 'mm2' },
        ],
      }),
    );
    writeFileSync(inputPath, npyBytes('<f4', [40, 48], new Uint8Array(randomFloats(40 * 48, 9).buffer)));
  });
  afterAll(() => g.ctx.destroy());

  it('is marked failed with the first real error, left out of the totals, and the run says how many failed', async () => {
    const { device } = g.ctx;
    const bad = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM });
    let sabotage = false;
    const proxied = new Proxy(device, {
      get(t, p) {
        const v = Reflect.get(t, p) as unknown;
        if (p === 'createBindGroup') {
          return (d: GPUBindGroupDescriptor) => t.createBindGroup(sabotage ? { ...d, entries: [...d.entries].map((e) => ({ ...e, resource: { buffer: bad } })) } : d);
        }
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
    const ctx: GpuContext = { ...g.ctx, device: proxied };
    const db = openDatabase(join(dir, 'runs.db'));
    try {
      const { runId, layers } = await profileModel(
        { modelPath, inputs: [inputPath], imageSize: 64, families: ['dense', 'pit-k', 'pit-m'], repeat: 2, warmup: 0, warmupMs: 0 },
        // The second layer's variants are built after the first layer's event.
        { gpu: ctx, cache: g.cache, sink: dbSink(db), onProgress: (e) => e.kind === 'layer' && (sabotage = true) },
      );
      expect(layers[0]!.failed).toBeUndefined();
      expect(layers[1]!.variants.every((v) => !v.ok)).toBe(true);
      expect(layers[1]!.failed).toMatch(/^no variant verified: variant dense \S+: binding .*: GPU validation error: Binding usage .*Storage/);
      expect(layers[1]!.failed).not.toMatch(/Invalid BindGroup/);

      const report = getRunReport(db, runId);
      expect(report.run.complete).toBe(true);
      expect(report.layers[1]!.failed).toBe(layers[1]!.failed);
      expect(report.totals.layers).toBe(1);
      expect(report.totals.failedLayers).toBe(1);
      const l0 = layers[0]!;
      const baseline = l0.variants.find((v) => v.name === l0.baseline)!;
      expect(report.totals.denseMs).toBeCloseTo(baseline.totalMs!, 9); // the first layer alone
      expect(listRuns(db).find((r) => r.id === runId)!.totals.failedLayers).toBe(1);

      const text = formatReport(report);
      const row = text.split('\n').find((l) => /^\s*0\s+mm2\s/.test(l))!;
      expect(row).not.toMatch(/0\.0e\+0/);
      expect(row).toMatch(/\bn\/a\s+LAYER FAILED \(not in the totals\)/);
      expect(text).toMatch(/^totals over 1 layer-run \(1 failed, left out\): /m);
      expect(text).toContain('failed: 1 layer-run with no verified figures (no dense variant verified), left out of the totals:\n  no variant verified: variant dense');
      expect(text).toMatch(/^run \d+ complete, 1 of 2 layer-runs FAILED \(no verified figures\) — /m);
    } finally {
      db.close();
      bad.destroy();
    }
  });
});
