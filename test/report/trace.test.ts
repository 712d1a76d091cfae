/**
 * The run as a Chrome trace (core/report/trace.ts), on a hand-built run whose every span is computed here:
 * per input the reference run then one slot per layer as wide as its longest lane; the chosen lane's phases and
 * readback; one lane per family with each variant's phases; skipped layers and failed variants as instants.
 */
import { describe, expect, it } from 'vitest';
import type { LayerResult, RunReport, TraceEvent, VariantResult } from '../../core/protocol.ts';
import { MODEL_TID, runTrace, TRACE_PID } from '../../core/report/trace.ts';

function v(name: string, family: string, layout: number, detect: number, kernel: number, extra: Partial<VariantResult> = {}): VariantResult {
  const total = layout + detect + kernel;
  return {
    name, family, microTile: family === 'dense' ? null : '8x1', computeTile: '32x32x8/4x4', ms: kernel, detectMs: detect, layoutMs: layout, totalMs: total,
    q1Ms: total * 0.9, q3Ms: total * 1.1, minMs: total * 0.8, maxMs: total * 1.3, iqrMs: total * 0.2, repeats: 5, method: 'timestamp', statistic: 'median',
    maxAbsErr: 0, maxRelErr: 0, ok: true, wgslHash: 'h', ...extra,
  };
}

/** Layer 0: dense 32 4 ms and dense 64 3 ms (baseline), pit-k 0.5 layout + 0.25 detect + 1 kernel (chosen), readback 0.2. */
const L0: LayerResult = {
  index: 0, name: 'conv0', op: 'Conv', m: 64, n: 16, k: 32, sparsity: 0.8, microTiles: [], input: 0, chosen: 'pit-k 8x1', baseline: 'dense 64',
  variants: [v('dense 32', 'dense', 0, 0, 4), v('dense 64', 'dense', 0, 0, 3), v('pit-k 8x1', 'pit-k', 0.5, 0.25, 1)], readbackMs: 0.2,
};
/** Layer 1: skipped. */
const L1: LayerResult = { index: 1, name: 'dw1', op: 'Conv', m: 0, n: 0, k: 0, sparsity: 0, microTiles: [], variants: [], chosen: 'dense', input: 0, skipped: 'grouped conv (group=16)' };
/** Layer 2: dense 2 ms chosen (no readback recorded), pit-m failed. */
const L2: LayerResult = {
  index: 2, name: 'conv2', op: 'Conv', m: 8, n: 8, k: 8, sparsity: 0.1, microTiles: [], input: 0, chosen: 'dense 32',
  variants: [v('dense 32', 'dense', 0, 0, 2), { ...v('pit-m 1x32', 'pit-m', 0, 0, 0), ms: NaN, ok: false, error: 'output differs' }],
};
/** Input 1: layer 0 dense only, 1.5 ms. */
const L0b: LayerResult = { ...L0, input: 1, chosen: 'dense 32', baseline: 'dense 32', variants: [v('dense 32', 'dense', 0, 0, 1.5)], readbackMs: 0.1 };

const REPORT: RunReport = {
  run: {
    id: 7, complete: true, createdAt: '2026-01-01T00:00:00Z', model: { path: '/m/det.onnx', sha256: 'ab'.repeat(32) },
    adapter: { vendor: 'mesa', architecture: 'cpu', device: 'llvmpipe', description: 'lavapipe', backend: 'vulkan', timestampQuery: true },
    inputs: [
      { path: '/p/a.jpg', kind: 'image', shape: [1, 3, 32, 32], preprocess: '', synthetic: false, referenceMs: 10 },
      { path: '/p/b.jpg', kind: 'image', shape: [1, 3, 32, 32], preprocess: '', synthetic: false },
    ],
    families: ['dense', 'pit-k', 'pit-m'], repeat: 5, options: {}, status: '',
  },
  layers: [L0, L1, L2, L0b],
  totals: { denseMs: 0, defaultDenseMs: 0, chosenMs: 0, detectMs: 0, layoutMs: 0, idealMs: 0 },
};

const trace = runTrace(REPORT);
const spans = (pid: number, tid: number) => trace.traceEvents.filter((e) => e.ph === 'X' && e.pid === pid && e.tid === tid);
const at = (e: TraceEvent) => [e.name, e.ts, e.dur];

describe('runTrace', () => {
  it('names the processes and one thread per family, in the run order', () => {
    const names = trace.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.pid === TRACE_PID.variants).map((e) => [e.tid, e.args!.name]);
    expect(names).toEqual([[1, 'dense'], [2, 'pit-k'], [3, 'pit-m']]);
    expect(trace.traceEvents.find((e) => e.ph === 'M' && e.name === 'process_name' && e.pid === TRACE_PID.model)!.args!.name).toBe('Model');
  });

  it('starts each input with its reference run (or says it was not recorded), then the layers', () => {
    expect(spans(TRACE_PID.model, MODEL_TID.reference).map(at)).toEqual([['reference run: a.jpg', 0, 10_000]]);
    const missing = trace.traceEvents.find((e) => e.ph === 'i' && e.name === 'reference time not recorded')!;
    // Input 1 starts after input 0: 10 ms reference + slot of layer 0 (dense lane 7 ms) + layer 2 (2 ms) = 19 ms.
    expect(missing.ts).toBe(19_000);
    expect(spans(TRACE_PID.model, MODEL_TID.inputs).map(at)).toEqual([['input 0: a.jpg', 0, 19_000], ['input 1: b.jpg', 19_000, 1_600]]);
  });

  it("lays the chosen lane: the layer span holds layout, detection, kernel and readback", () => {
    const chosen = spans(TRACE_PID.model, MODEL_TID.chosen).map(at);
    expect(chosen.slice(0, 5)).toEqual([
      ['conv0', 10_000, 1_950],
      ['layout', 10_000, 500],
      ['detection', 10_500, 250],
      ['kernel', 10_750, 1_000],
      ['readback', 11_750, 200],
    ]);
    // Layer 2 starts after layer 0's slot (7 ms: the dense lane is the longest); no readback recorded, so none drawn.
    expect(chosen.slice(5, 7)).toEqual([['conv2', 17_000, 2_000], ['kernel', 17_000, 2_000]]);
    const conv0 = spans(TRACE_PID.model, MODEL_TID.chosen)[0]!;
    expect(conv0.args).toMatchObject({ chosen: 'pit-k 8x1', medianMs: 1.75, q1Ms: 1.575, q3Ms: 1.925, repeats: 5, method: 'timestamp', readbackMs: 0.2 });
  });

  it('lays every variant end to end in its family lane, flags the baseline and the chosen one', () => {
    expect(spans(TRACE_PID.variants, 1).filter((e) => e.cat === 'variant').map(at)).toEqual([
      ['dense 32', 10_000, 4_000],
      ['dense 64', 14_000, 3_000],
      ['dense 32', 17_000, 2_000],
      ['dense 32', 19_000, 1_500],
    ]);
    const dense64 = spans(TRACE_PID.variants, 1).find((e) => e.name === 'dense 64')!;
    expect(dense64.args).toMatchObject({ baseline: true, chosen: false, layerName: 'conv0' });
    expect(spans(TRACE_PID.variants, 2).map(at)).toEqual([
      ['pit-k 8x1', 10_000, 1_750],
      ['layout', 10_000, 500],
      ['detection', 10_500, 250],
      ['kernel', 10_750, 1_000],
    ]);
  });

  it('marks skipped layers and failed variants as instants with the reason', () => {
    const inst = trace.traceEvents.filter((e) => e.ph === 'i' && e.cat !== 'reference');
    expect(inst.map((e) => [e.name, e.ts, e.args!.reason ?? e.args!.error])).toEqual([
      ['dw1 skipped', 17_000, 'grouped conv (group=16)'],
      ['pit-m 1x32 failed', 17_000, 'output differs'],
    ]);
  });

  it('says what it is in the metadata: chosen busy time and reference time summed, the synthetic axis', () => {
    expect(trace.metadata).toMatchObject({ run: 7, chosenMs: 1.75 + 2 + 1.5, referenceMs: 10, repeat: 5, timing: 'GPU timestamp queries' });
    expect(String(trace.metadata.layout)).toContain('not wall-clock');
    // Valid JSON: no NaN anywhere.
    expect(JSON.parse(JSON.stringify(trace))).toEqual(trace);
  });
});
