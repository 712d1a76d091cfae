/**
 * Pure helpers of the issue-13 views: spread of a time, family colours by index, run settings and their differences
 * (what Compare refuses to headline), the timeline rows of a trace, the graph layout and colours, the heat map at
 * the operand's aspect ratio with the micro-tile grid and gathered tiles, chart captions and the ETA countdown.
 */
import { describe, expect, it } from 'vitest';
import type { ChromeTrace, ModelGraph, RunSummary } from '../../core/protocol.ts';
import { chartCaption } from '../../renderer/src/lib/chart-export.ts';
import { runSettings, settingsDiff } from '../../renderer/src/lib/compare.ts';
import { FAMILY_PALETTE, familyColour } from '../../renderer/src/lib/families.ts';
import { gainColour, layoutModelGraph, nodeFill, NEUTRAL_FILL, SKIPPED_FILL, textOn } from '../../renderer/src/lib/graph-layout.ts';
import { alignToMicroTile, aspectBox, gatheredTiles, microGridStep, parseComputeTile, parseMicroTile } from '../../renderer/src/lib/heatmap.ts';
import { modelRows } from '../../renderer/src/lib/model.ts';
import { etaText } from '../../renderer/src/lib/progress.ts';
import { fmtSpread, iqrFraction, spreadTitle, withinSpread } from '../../renderer/src/lib/spread.ts';
import { barsIn, timelineOf } from '../../renderer/src/lib/timeline.ts';
import { fmtMs } from '../../renderer/src/lib/format.ts';
import { layer, report, skipped, variant } from './fixtures.ts';

const stats = (median: number, q1: number, q3: number, min: number, max: number, n = 5) =>
  variant('dense', median, 0, { totalMs: median, q1Ms: q1, q3Ms: q3, iqrMs: q3 - q1, minMs: min, maxMs: max, repeats: n, method: 'timestamp', statistic: 'median' });

describe('spread', () => {
  it('states a median with its IQR, min–max, samples and method', () => {
    const v = stats(2, 1.9, 2.1, 1.8, 2.6);
    expect(iqrFraction(v)).toBeCloseTo(0.1, 12);
    expect(fmtSpread(v)).toBe('±10 %');
    expect(fmtSpread(stats(100, 99.7, 100.3, 99, 101))).toBe('±0.6 %');
    expect(spreadTitle(v)).toBe('median 2.00 ms of 5 samples (GPU timestamps); IQR 1.90 ms–2.10 ms; min–max 1.80 ms–2.60 ms');
    expect(fmtSpread(variant('dense', 2))).toBe('');
    expect(spreadTitle(variant('dense', 2))).toBe('2.00 ms (recorded without its spread)');
  });

  it('says whether two times overlap within their IQRs', () => {
    expect(withinSpread(stats(2, 1.9, 2.1, 1, 3), stats(2.05, 2.0, 2.2, 1, 3))).toBe(true);
    expect(withinSpread(stats(2, 1.9, 2.1, 1, 3), stats(2.5, 2.2, 2.8, 1, 3))).toBe(false);
    expect(withinSpread(variant('dense', 2), stats(2, 1.9, 2.1, 1, 3))).toBe(false);
  });

  it('writes whole milliseconds from 1 s on (not 1.50e+3)', () => {
    expect(fmtMs(1502.4)).toBe('1502 ms');
    expect(fmtMs(149.2)).toBe('149 ms');
  });
});

describe('family colours', () => {
  it('are picked by index in the host list, never by name', () => {
    expect(familyColour('dense', ['dense', 'pit-k'])).toBe(FAMILY_PALETTE[0]);
    expect(familyColour('pit-k', ['dense', 'pit-k'])).toBe(FAMILY_PALETTE[1]);
    expect(familyColour('bcsr', ['bcsr', 'dense'])).toBe(FAMILY_PALETTE[0]);
    expect(FAMILY_PALETTE).toContain(familyColour('new-family', ['dense']));
  });
});

function summary(over: Partial<RunSummary> = {}, options: Record<string, unknown> = {}): RunSummary {
  return { ...report(1, []).run, options: { imageSize: 160, statistic: 'median', warmupMs: 50, maxLayers: null, ...options }, ...over };
}

describe('run settings and Compare', () => {
  it('lists the settings that make a run comparable', () => {
    const s = runSettings(summary({ repeat: 5 }));
    expect(Object.fromEntries(s.map((x) => [x.key, x.value]))).toMatchObject({
      imageSize: '160 px', dtype: 'f32', policy: 'measure', statistic: 'median', repeat: '5', warmup: '50 ms', inputs: 'a.jpg [1,3,32,32]', maxLayers: 'all',
    });
  });

  it('names every difference, critical ones first (image size, policy, repeat…), and none for equal runs', () => {
    expect(settingsDiff(summary(), summary())).toEqual([]);
    const d = settingsDiff(summary({}, { imageSize: 160, maxLayers: 8 }), summary({ repeat: 3, dtype: 'f16', policy: { policy: 'tiledb', audit: true } }, { imageSize: 128 }));
    expect(d.map((x) => [x.label, x.a, x.b, x.critical])).toEqual([
      ['image size', '160 px', '128 px', true],
      ['dtype', 'f32', 'f16', true],
      ['policy', 'measure', 'tiledb + audit', true],
      ['repeat', '1', '3', true],
      ['max layers', '8', 'all', false],
    ]);
  });
});

describe('timelineOf', () => {
  const trace: ChromeTrace = {
    displayTimeUnit: 'ms',
    metadata: {},
    traceEvents: [
      { name: 'process_name', ph: 'M', pid: 2, tid: 0, args: { name: 'Variants' } },
      { name: 'process_sort_index', ph: 'M', pid: 2, tid: 0, args: { sort_index: 1 } },
      { name: 'process_name', ph: 'M', pid: 1, tid: 0, args: { name: 'Model' } },
      { name: 'process_sort_index', ph: 'M', pid: 1, tid: 0, args: { sort_index: 0 } },
      { name: 'thread_name', ph: 'M', pid: 1, tid: 3, args: { name: 'chosen' } },
      { name: 'thread_name', ph: 'M', pid: 2, tid: 1, args: { name: 'dense' } },
      { name: 'conv0', cat: 'layer', ph: 'X', ts: 0, dur: 1000, pid: 1, tid: 3 },
      { name: 'kernel', cat: 'kernel', ph: 'X', ts: 0, dur: 800, pid: 1, tid: 3 },
      { name: 'readback', cat: 'readback', ph: 'X', ts: 800, dur: 200, pid: 1, tid: 3 },
      // Abutting spans whose rounded ends overlap by a nanosecond stay on one row.
      { name: 'dense a', cat: 'variant', ph: 'X', ts: 0, dur: 1500.001, pid: 2, tid: 1 },
      { name: 'dense b', cat: 'variant', ph: 'X', ts: 1500, dur: 500, pid: 2, tid: 1 },
      { name: 'conv1 skipped', cat: 'skipped', ph: 'i', s: 't', ts: 2000, pid: 1, tid: 3, args: { reason: 'grouped conv' } },
    ],
  };
  const t = timelineOf(trace);

  it('orders threads by process sort index and nests spans one row per level', () => {
    expect(t.rows.map((r) => r.label)).toEqual(['Model › chosen', 'Model › chosen · 2', 'Variants › dense']);
    expect(t.bars.map((b) => [b.name, b.row, b.startMs, b.endMs])).toEqual([
      ['conv0', 0, 0, 1],
      ['kernel', 1, 0, 0.8],
      ['readback', 1, 0.8, 1],
      ['dense a', 2, 0, 1.500001],
      ['dense b', 2, 1.5, 2],
    ]);
    expect(t.marks).toEqual([{ row: 0, name: 'conv1 skipped', cat: 'skipped', atMs: 2, args: { reason: 'grouped conv' } }]);
    expect(t.endMs).toBe(2);
    expect(barsIn(t.bars, 1.2, 1.6).map((b) => b.name)).toEqual(['dense a', 'dense b']);
  });
});

describe('graph layout and colours', () => {
  const graph: ModelGraph = {
    model: { path: '/m.onnx', sha256: 'x' },
    foldedConstants: 2,
    nodes: [
      { id: 'in:x', name: 'x', op: 'input', kind: 'input', attrs: { type: 'float32 [1, 3]' }, constants: [] },
      { id: 'n0', name: 'conv0', op: 'Conv', kind: 'op', attrs: {}, constants: [], layer: 0 },
      { id: 'n1', name: 'relu', op: 'Relu', kind: 'op', attrs: {}, constants: [] },
      { id: 'n2', name: 'conv1', op: 'Conv', kind: 'op', attrs: {}, constants: [], layer: 1, unsupported: 'grouped conv (group=16)' },
      { id: 'out:y', name: 'y', op: 'output', kind: 'output', attrs: {}, constants: [] },
    ],
    edges: [
      { from: 'in:x', to: 'n0', value: 'x' },
      { from: 'n0', to: 'n1', value: 'a' },
      { from: 'n1', to: 'n2', value: 'b' },
      { from: 'n0', to: 'n2', value: 'a' },
      { from: 'n2', to: 'out:y', value: 'y' },
    ],
  };

  it('lays a chain top to bottom with dagre, every edge a polyline from its source to its target', () => {
    const l = layoutModelGraph(graph);
    const y = new Map(l.nodes.map((n) => [n.node.id, n.y]));
    expect(y.get('in:x')!).toBeLessThan(y.get('n0')!);
    expect(y.get('n0')!).toBeLessThan(y.get('n1')!);
    expect(y.get('n1')!).toBeLessThan(y.get('n2')!);
    expect(y.get('n2')!).toBeLessThan(y.get('out:y')!);
    for (const e of l.edges) {
      expect(e.points.length).toBeGreaterThanOrEqual(2);
      expect(e.points[0]!.y).toBeLessThan(e.points.at(-1)!.y);
    }
    expect(l.width).toBeGreaterThan(0);
    expect(l.nodes.find((n) => n.node.id === 'n2')!.sublabel).toBe('layer 1 · not profiled');
  });

  it('colours layers by sparsity (viridis) or gain (grey at 1×), others neutral, skipped white', () => {
    const rows = new Map(modelRows(report(1, [layer(0, 2, 0.9, 0, { sparsity: 0 }), skipped(1)]), 0).map((r) => [r.index, r]));
    expect(nodeFill(graph.nodes[1]!, rows, 'sparsity')).toBe('rgb(68,1,84)');
    expect(nodeFill(graph.nodes[1]!, rows, 'gain')).toBe(gainColour(2));
    expect(gainColour(2)).toBe('rgb(26,128,72)');
    expect(gainColour(1)).toBe('rgb(214,218,224)');
    expect(gainColour(0.25)).toBe('rgb(196,51,43)');
    expect(nodeFill(graph.nodes[2]!, rows, 'gain')).toBe(NEUTRAL_FILL);
    expect(nodeFill(graph.nodes[3]!, rows, 'sparsity')).toBe(SKIPPED_FILL);
    expect(textOn('rgb(68,1,84)')).toBe('#ffffff');
    expect(textOn('#eef0f3')).toBe('#111111');
  });
});

describe('heat map at the aspect ratio, aligned with the micro-tile', () => {
  it('keeps A[M, K] at its aspect ratio, widening a side too thin to see and saying so', () => {
    expect(aspectBox(256, 512, 400, 300)).toEqual({ width: 400, height: 200, toScale: true });
    expect(aspectBox(1, 96, 480, 300)).toEqual({ width: 480, height: 24, toScale: false });
    expect(aspectBox(17920, 27, 440, 300)).toEqual({ width: 24, height: 300, toScale: false });
  });

  it('parses micro-tiles and computation tiles', () => {
    expect(parseMicroTile('8x1', 100)).toEqual([8, 1]);
    expect(parseMicroTile('1xK', 100)).toEqual([1, 100]);
    expect(parseMicroTile(null, 100)).toBeNull();
    expect(parseComputeTile('32x128x8/4x4')).toEqual({ bm: 32, bn: 128, bk: 8 });
  });

  it('merges cells to exactly one micro-tile each where it spans whole cells', () => {
    const h = { rows: 8, cols: 2, cellM: 4, cellK: 1, values: [1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0] };
    const a = alignToMicroTile(h, [16, 1]);
    expect(a).toEqual({ rows: 2, cols: 2, cellM: 16, cellK: 1, values: [0.25, 0, 0, 0.25] });
    expect(alignToMicroTile(h, [2, 1])).toBe(h); // smaller than a cell: unchanged
  });

  it('draws the grid at every micro-tile, or every 2ⁿth when they would be closer than 5 px', () => {
    expect(microGridStep(1, 6)).toBe(1);
    expect(microGridStep(1, 1.5)).toBe(4);
  });

  it('shows what condense-K gathers: per block of BM rows, non-zero columns BK at a time', () => {
    // 2 blocks of 4 rows (cells of 1 row) × 6 columns; block 0 has non-zeros in columns 0, 2, 3, 5; block 1 in 1.
    const v = [1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const h = { rows: 8, cols: 6, cellM: 1, cellK: 1, values: v };
    const g = gatheredTiles(h, 'k', [4, 1], { bm: 4, bk: 2 });
    expect(g.exact).toBe(true);
    expect(g.rects.map((r) => [r.r0, r.r1, r.c0, r.c1, r.tile])).toEqual([
      [0, 4, 0, 1, 0],
      [0, 4, 2, 3, 0],
      [0, 4, 3, 4, 1],
      [0, 4, 5, 6, 1],
      [4, 8, 1, 2, 0],
    ]);
  });

  it('shows what condense-M gathers (rows per column chunk) and the dense tiling', () => {
    const h = { rows: 4, cols: 4, cellM: 1, cellK: 1, values: [1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0] };
    // Columns 0–1: rows 0, 2, 3 hold non-zeros → rows 0 and 2 fill tile 0, row 3 starts tile 1. Columns 2–3: row 2.
    expect(gatheredTiles(h, 'm', [1, 2], { bm: 2, bk: 2 }).rects.map((r) => [r.r0, r.r1, r.c0, r.c1, r.tile])).toEqual([
      [0, 1, 0, 2, 0],
      [2, 3, 0, 2, 0],
      [3, 4, 0, 2, 1],
      [2, 3, 2, 4, 0],
    ]);
    const d = gatheredTiles(h, 'none', null, { bm: 2, bk: 2 });
    expect(d.rects.map((r) => r.tile)).toEqual([0, 1, 1, 0]);
    // A block finer than a cell: only approximate.
    expect(gatheredTiles({ ...h, cellM: 8 }, 'k', [4, 1], { bm: 4, bk: 2 }).exact).toBe(false);
  });
});

describe('captions and the ETA', () => {
  it('captions an exported chart with its title, run, layer, input and adapter', () => {
    const r = report(7, []).run;
    expect(chartCaption('Variants of conv3', r, { name: 'conv3', index: 3, input: 0 })).toEqual({
      title: 'Variants of conv3',
      context: 'run 7 · model.onnx · layer 3 conv3 · input 0 (a.jpg) · v / a / d / desc (vulkan)',
    });
  });

  it('counts the ETA down between events, then says the job is taking longer than estimated', () => {
    const s = { etaMs: 5000, etaAt: 1_000, end: null };
    expect(etaText(s, 1_000)).toEqual({ text: 'ETA 5 s', overdue: false });
    expect(etaText(s, 4_500)).toEqual({ text: 'ETA 2 s', overdue: false });
    expect(etaText(s, 41_000)).toEqual({ text: 'longer than estimated (+35 s)', overdue: true });
    expect(etaText({ ...s, etaMs: null }, 0)).toBeNull();
  });
});
