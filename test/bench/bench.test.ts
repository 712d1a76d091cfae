/**
 * The bench's own code at tiny sizes: operand generation, sampled verification, layer masks, target evaluation and
 * the Markdown report (pure), and one tiny end-to-end suite run on the local adapter (lavapipe in CI). Speed is
 * measured by the bench on a GPU, never here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockSparse, randomDense, rng, verifySampled } from '../../bench/data.ts';
import { decodeMask, encodeMask, synthesiseA, type CapturedLayer } from '../../bench/layers.ts';
import { evaluateTargets, evaluateTargets11, renderMarkdown, variantName, type PeersResult } from '../../bench/report.ts';
import { runSuite, type BenchConfig, type SuiteResult } from '../../bench/suite.ts';
import { quickConfig } from '../../bench/index.ts';
import { suiteFromLog } from '../../bench/report-from-log.ts';
import { floorShapes } from '../../bench/floor.ts';
import { referenceMatmul } from '../../core/kernels/reference.ts';
import { microTileOccupancy } from '../../core/sparsity/micro-tiles.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';

describe('bench data', () => {
  it('blockSparse places exactly round((1-s)·tiles) non-zero micro-tiles, fully non-zero inside', () => {
    const d = blockSparse(70, 100, 32, 1, 0.9, rng(1));
    expect(d.gridRows).toBe(3);
    expect(d.gridCols).toBe(100);
    const kept = d.mask.reduce((s, v) => s + v, 0);
    expect(kept).toBe(Math.round(0.1 * 300));
    expect(d.density).toBeCloseTo(kept / 300, 12);
    const occ = microTileOccupancy(d.a, 70, 100, '32x1');
    expect(Array.from(occ.occupied)).toEqual(Array.from(d.mask));
    expect(occ.coverageWaste).toBe(0);
    expect(blockSparse(8, 8, 1, 4, 0, rng(2)).a.every((v) => v !== 0)).toBe(true);
    expect(blockSparse(8, 8, 1, 4, 1, rng(2)).a.every((v) => v === 0)).toBe(true);
    expect(() => blockSparse(8, 8, 0, 4, 0.5, rng(2))).toThrow(RangeError);
    expect(() => blockSparse(8, 8, 1, 4, 1.5, rng(2))).toThrow(RangeError);
  });

  it('verifySampled accepts the exact product and catches a wrong element, a wrong row block and NaN', () => {
    const [m, n, k] = [40, 24, 33];
    const a = blockSparse(m, k, 1, 1, 0.5, rng(3)).a;
    const b = randomDense(k * n, rng(4));
    const c = referenceMatmul(a, b, m, n, k);
    expect(verifySampled(a, b, c, m, n, k, rng(5)).ok).toBe(true);
    const rowBad = c.slice();
    for (let j = 0; j < n; j++) rowBad[(m - 1) * n + j]! += 0.01; // the last row is always sampled
    expect(verifySampled(a, b, rowBad, m, n, k, rng(5)).ok).toBe(false);
    const colBad = c.slice();
    for (let i = 0; i < m; i++) colBad[i * n]! -= 0.01; // so is the first column
    expect(verifySampled(a, b, colBad, m, n, k, rng(5), { rows: 0, cols: 0, elements: 0 }).ok).toBe(false);
    const nan = c.slice();
    nan[17] = NaN; // anywhere: the full scan finds it
    const r = verifySampled(a, b, nan, m, n, k, rng(5), { rows: 0, cols: 0, elements: 0 });
    expect(r.nonFinite).toBe(1);
    expect(r.ok).toBe(false);
    expect(() => verifySampled(a, b, c.subarray(1), m, n, k, rng(5))).toThrow(RangeError);
  });

  it('layer masks round-trip and synthesiseA reproduces the captured 32x1 and row occupancy', () => {
    const occ = Uint8Array.from({ length: 37 }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0);
    expect(Array.from(decodeMask(encodeMask(occ), 37))).toEqual(Array.from(occ));
    expect(() => decodeMask(encodeMask(occ), 100)).toThrow(RangeError);
    const [m, k] = [70, 9];
    const a0 = blockSparse(m, k, 1, 1, 0.7, rng(6)).a;
    for (let p = 0; p < k; p++) a0[5 * k + p] = 0; // one dead row
    const o32 = microTileOccupancy(a0, m, k, '32x1');
    const orow = microTileOccupancy(a0, m, k, `1x${k}`);
    const layer: CapturedLayer = {
      name: 't', m, n: 4, k, sparsity: 0.7, density32x1: o32.density, densityRows: orow.density,
      mask32x1: encodeMask(o32.occupied), maskRows: encodeMask(orow.occupied),
    };
    const a = synthesiseA(layer, rng(7));
    expect(microTileOccupancy(a, m, k, '32x1').density).toBeCloseTo(o32.density, 12);
    expect(microTileOccupancy(a, m, k, `1x${k}`).density).toBeCloseTo(orow.density, 12);
  });
});

/** A suite result with hand-made figures, for the report functions. */
function fakeSuite(denseMs: number, pit09: number, pit0: number, detectMs: number): SuiteResult {
  const check = { compared: 1, nonFinite: 0, maxAbsErr: 0, tolerance: 1, ok: true };
  const t = (ms: number) => ({ medianMs: ms, minMs: ms, maxMs: ms, repeat: 1, samplesMs: [ms] });
  const fig = (variant: 'dense' | 'pit-k' | 'pit-m', microTile: string | null, ms: number, det: number | null) => ({
    variant, microTile, tile: 't', label: 'l', kernel: t(ms), detect: det === null ? null : t(det), totalMs: ms + (det ?? 0),
    tflops: (2 * 4096 ** 3) / ms / 1e9, gpuDensity: null, check, timing: 'timestamp' as const,
  });
  return {
    sweep: [],
    tuned: null,
    dense: [{ ...fig('dense', null, denseMs, null), m: 4096, n: 4096, k: 4096 }],
    sparse: [
      { ...fig('dense', null, denseMs, null), granularity: 'any', sparsity: 0, density: 1 },
      { ...fig('pit-k', '32x1', pit0, 0.03), granularity: '32x1', sparsity: 0, density: 1 },
      { ...fig('pit-k', '128x1', denseMs * 0.5, 0.03), granularity: '32x1', sparsity: 0, density: 1 },
      { ...fig('pit-k', '32x1', pit09, 0.03), granularity: '32x1', sparsity: 0.9, density: 0.1 },
      { ...fig('pit-m', '1x64', 1, 0.03), granularity: '1x64', sparsity: 0.9, density: 0.1 },
    ],
    detection: [{ microTile: '32x1', program: 'detect-k 32x1', sparsity: 0.9, density: 0.1, rows: 4096, cols: 4096, detect: t(detectMs), indexOk: true }],
    layers: [],
    errors: [],
  };
}

const PEERS: PeersResult = {
  meta: { torch: 'x', cuda: 'y', device: 'GPU', nvidiaSmi: 'z', allowTf32: false },
  dense: [{ m: 4096, n: 4096, k: 4096, medianMs: 2.7, minMs: 2.7, maxMs: 2.7, repeat: 10, tflops: 50 }],
  sparse: [
    { granularity: '32x1', sparsity: 0.9, microTileDensity: 0.1, cublas: { medianMs: 2.7, minMs: 2.7, maxMs: 2.7, repeat: 10 }, cusparseCsr: { medianMs: 3, minMs: 3, maxMs: 3, repeat: 10 }, torchBsr: { error: 'no' } },
    { granularity: '1x64', sparsity: 0.9, microTileDensity: 0.1, cublas: { medianMs: 2.7, minMs: 2.7, maxMs: 2.7, repeat: 10 }, cusparseCsr: { medianMs: 3, minMs: 3, maxMs: 3, repeat: 10 }, torchBsr: { medianMs: 1, minMs: 1, maxMs: 1, repeat: 10, blocksize: [32, 32] } },
  ],
  conversion: [],
  layers: [],
};

/** PyTorch's weight-sparse peers as bench/peers.py writes them (hand-made figures). */
const STATIC_PEERS: NonNullable<PeersResult['static']> = {
  size: 64,
  cublasFp32: { medianMs: 3, minMs: 3, maxMs: 3, repeat: 10 },
  cublasFp16: { medianMs: 1, minMs: 1, maxMs: 1, repeat: 10 },
  bsr: [
    { sparsity: 0.5, blocksize: [32, 32], medianMs: 2, minMs: 2, maxMs: 2, repeat: 10, check: { ok: true } },
    { sparsity: 0.75, error: 'RuntimeError: nope' },
  ],
  semiStructured: { sparsity: 0.5, medianMs: 0.8, minMs: 0.8, maxMs: 0.8, repeat: 10, backend: 'SparseSemiStructuredTensorCUTLASS', check: { ok: true } },
};

describe('bench report from a log (runs cut before their JSON)', () => {
  it('rebuilds dense, sparse, detection, ragged, tuning and layer figures with their verdicts', () => {
    const log = [
      '[0.0s] adapter: nvidia / x; shader-f16 yes',
      '[1.0s] tune f16 dense-f16 128x128x32/32x64/mma16x16x16s32 dense: 1.576 ms + 0.000 (87.2 TFLOP/s) ok',
      '[2.0s] tune f16: dense-f16 A, pit-k-f16 B (>= 0.7) / C (< 0.7), pit-m-f16 1x64 D',
      '[3.0s] ragged f16 dense-f16 T16 1000x1000x1000: ok',
      '[3.1s] ragged f16 pit-k-f16 32x128 1000x1000x1000: WRONG (max err 3.16e+1, tolerance 5.25e-3, 0 non-finite)',
      '[4.0s] dense f16 4096^3: 1.298 ms 105.9 TFLOP/s ok',
      '[5.0s] sparse f16: dense 3.187 ms',
      '[6.0s] sparse f16 32x1 s=0.9 pit-k-f16 32x1 32x128: 1.261 ms + detect 0.046 ms (gpu density 0.100) WRONG',
      '[7.0s] detect f16 1x1 (detect-m 1x1 f16) s=0.99: 0.0638 ms WRONG INDEX',
      '[8.0s] layer f32 p2o.Conv.0 153600x16x27: dense 0.0323 ms (128x16x16/8x4), chosen dense 0.0323 ms',
      '[9.0s] ERROR layer f16 L: boom',
    ].join('\n');
    const { suite, adapterLine, wallS } = suiteFromLog(log, null);
    expect(adapterLine).toBe('nvidia / x; shader-f16 yes');
    expect(wallS).toBe(9);
    expect(suite.tunedF16!.dense).toBe('A');
    expect(suite.tunedF16!.candidates).toHaveLength(1);
    expect(suite.ragged!.map((r) => [r.variant, r.check.ok, r.check.maxAbsErr])).toEqual([['dense-f16', true, NaN], ['pit-k-f16', false, 31.6]]);
    expect(suite.dense[0]).toMatchObject({ dtype: 'f16', variant: 'dense-f16', tile: 'T16', m: 4096 });
    expect(suite.dense[0]!.tflops).toBeCloseTo(105.9, 0);
    expect(suite.sparse.map((f) => [f.variant, f.granularity, f.sparsity, f.check.ok])).toEqual([['dense-f16', 'any', 0, true], ['pit-k-f16', '32x1', 0.9, false]]);
    expect(suite.sparse[1]!.totalMs).toBeCloseTo(1.307, 9);
    expect(suite.detection[0]).toMatchObject({ dtype: 'f16', microTile: '1x1', indexOk: false });
    expect(suite.layers[0]).toMatchObject({ dtype: 'f32', name: 'p2o.Conv.0', denseTile: '128x16x16/8x4', chosen: 'dense', chosenMs: 0.0323 });
    expect(suite.errors).toEqual(['layer f16 L: boom']);
  });
});

describe('bench report', () => {
  it('evaluates every target as met / not met with the figure, pit-k targets on 32x1 micro-tiles only', () => {
    const ok = evaluateTargets(fakeSuite(3.0, 0.39, 3.5, 0.1), PEERS);
    expect(ok.map((t) => t.id)).toEqual(['dense-vs-cublas', 'pitk-0.9', 'pitk-0', 'detect-5pct', 'vs-cusparse-32x1', 'vs-cusparse-1x64']);
    // 137.4 GFLOP / 3 ms = 45.8 TFLOP/s vs 50: 0.92x.
    expect(ok.map((t) => t.met)).toEqual([true, true, true, true, true, true]);
    const bad = evaluateTargets(fakeSuite(6.0, 1.0, 8.0, 0.4), PEERS);
    expect(bad.find((t) => t.id === 'dense-vs-cublas')!.met).toBe(false);
    expect(bad.find((t) => t.id === 'pitk-0.9')!.met).toBe(false);
    // pit-k 128x1 would be fast enough at 0 sparsity, but the target is about 32x1.
    expect(bad.find((t) => t.id === 'pitk-0')!.met).toBe(false);
    expect(bad.find((t) => t.id === 'detect-5pct')!.met).toBe(false);
    expect(bad.find((t) => t.id === 'pitk-0.9')!.measured).toMatch(/kernel only/);
    const none = evaluateTargets(fakeSuite(3.0, 0.39, 3.5, 0.1), null);
    expect(none.find((t) => t.id === 'dense-vs-cublas')!.met).toBeNull();
    expect(none.find((t) => t.id === 'vs-cusparse-32x1')!.met).toBeNull();
  });

  it('evaluates the issue-11 targets per dtype: f16 vs HGEMM, f16 pit-k vs HGEMM on the same matrix, pit-m 1x64, the layers', () => {
    const suite = fakeSuite(3.0, 0.39, 3.5, 0.1);
    const check = { compared: 1, nonFinite: 0, maxAbsErr: 0, tolerance: 1, ok: true };
    const t = (ms: number) => ({ medianMs: ms, minMs: ms, maxMs: ms, repeat: 1, samplesMs: [ms] });
    const f16 = (variant: string, microTile: string | null, ms: number, det: number | null) => ({
      dtype: 'f16' as const, variant, microTile, tile: 't', label: 'l', kernel: t(ms), detect: det === null ? null : t(det), totalMs: ms + (det ?? 0),
      tflops: (2 * 4096 ** 3) / ms / 1e9, gpuDensity: null, check, timing: 'timestamp' as const,
    });
    suite.dense.push({ ...f16('dense-f16', null, 0.3, null), m: 4096, n: 4096, k: 4096 });
    suite.sparse.push({ ...f16('dense-f16', null, 0.3, null), granularity: 'any', sparsity: 0, density: 1 });
    suite.sparse.push({ ...f16('pit-k-f16', '32x1', 0.07, 0.02), granularity: '32x1', sparsity: 0.9, density: 0.1 });
    const L = { name: 'L', m: 10, n: 10, k: 10, sparsity: 0, density32x1: 1, densityRows: 1, variants: [], chosen: 'dense', denseMs: 0.1, chosenMs: 0.1 };
    suite.layers.push({ ...L, dtype: 'f32' }, { ...L, dtype: 'f16', chosenMs: 0.3 });
    const peers: PeersResult = {
      ...PEERS,
      dense: [...PEERS.dense, { dtype: 'f16', m: 4096, n: 4096, k: 4096, medianMs: 0.2, minMs: 0.2, maxMs: 0.2, repeat: 10, tflops: 687 }],
      sparse: [...PEERS.sparse, { dtype: 'f16', granularity: '32x1', sparsity: 0.9, microTileDensity: 0.1, cublas: { medianMs: 0.2, minMs: 0.2, maxMs: 0.2, repeat: 10 }, cusparseCsr: { error: 'x' }, torchBsr: { error: 'y' } }],
      layers: [{ m: 10, n: 10, k: 10, medianMs: 0.2, tflops: 1 }, { dtype: 'f16', m: 10, n: 10, k: 10, medianMs: 0.2, tflops: 1 }],
    };
    const r = evaluateTargets11(suite, peers);
    const by = Object.fromEntries(r.map((x) => [x.id, x]));
    expect(r.map((x) => x.id)).toEqual(['f16-dense-vs-hgemm', 'f16-pitk-0.9-vs-hgemm', 'f32-dense-vs-sgemm', 'f32-pitk-0.9', 'pitm-1x64-0.9', 'layers-f32', 'layers-f16']);
    // 458 TFLOP/s vs 687: 0.67x >= 0.5.
    expect(by['f16-dense-vs-hgemm']!.met).toBe(true);
    // HGEMM 0.2 ms / (0.07 + 0.02) ms = 2.22x.
    expect(by['f16-pitk-0.9-vs-hgemm']!.met).toBe(true);
    expect(by['f16-pitk-0.9-vs-hgemm']!.measured).toMatch(/^2\.22x/);
    // pit-m 1x64 at 0.9: dense 3.0 / (1 + 0.03) = 2.9x < 5.
    expect(by['pitm-1x64-0.9']!.met).toBe(false);
    expect(by['layers-f32']!.met).toBe(true);
    expect(by['layers-f16']!.met).toBe(false);
    expect(evaluateTargets11(suite, null).find((x) => x.id === 'layers-f32')!.met).toBeNull();
  });

  it('renders the targets table and every section', () => {
    const suite = fakeSuite(3.0, 0.39, 3.5, 0.1);
    const md = renderMarkdown({ meta: { adapter: 'gpu', date: 'd', commit: 'c', node: 'v' }, config: {}, suite, peers: PEERS, targets: evaluateTargets(suite, PEERS) });
    expect(md).toContain('## Targets (issue 5)');
    expect(md).toMatch(/\| dense >= 0.8 x cuBLAS SGEMM TFLOP\/s at 4096\^3 \| .* \| \*\*met\*\* \|/);
    expect(md).toContain('## (b) Sparse matmul');
    expect(md).toContain('1.000 (32x32)'); // BSR figure with its block size
    expect(md).toContain('## (c) Detection');
  });
});

describe('bench suite end to end on the local adapter (tiny sizes)', () => {
  let g: TestGpu;
  beforeAll(async () => {
    g = await testGpu();
  });
  afterAll(() => g.ctx.destroy());

  it('runs every section, verifies every figure and evaluates the targets', async () => {
    const layer: CapturedLayer = {
      name: 'L', m: 40, n: 8, k: 12, sparsity: 0.5, density32x1: 1, densityRows: 1,
      mask32x1: encodeMask(new Uint8Array(2 * 12).fill(1)), maskRows: encodeMask(new Uint8Array(40).fill(1)),
    };
    const cfg: BenchConfig = {
      ...quickConfig({ model: 'm', input: 'i', captured: 'c', layers: [layer] }),
      denseSizes: [32],
      sparseSize: 64,
      sparsities: [0, 0.9],
      granularities: ['32x1', '1x64'],
      detectSize: 64,
      detectSparsities: [0.9],
      detectTiles: ['1x1', '32x32'],
      staticSize: 64,
      staticSparsities: [0.5, 0.75],
      floorReps: 4,
      repeat: 1,
      dtypes: ['f32'],
      raggedShapes: [],
    };
    const lines: string[] = [];
    const res = await runSuite(g.ctx, g.cache, cfg, (l) => lines.push(l));
    expect(res.errors).toEqual([]);
    expect(res.dense).toHaveLength(1);
    // dense baseline + 32x1: (pit-k 32x1, 64x1, 128x1) x 2 + pit-k 32x1 merged (128-row tile) at s=0 + 1x64: (pit-k, pit-m) x 2
    expect(res.sparse).toHaveLength(1 + 6 + 1 + 4);
    const merged = res.sparse.filter((f) => f.microTile === '32x1' && f.tile.startsWith('128x'));
    expect(merged.map((f) => [f.granularity, f.sparsity, variantName(f)])).toEqual([['32x1', 0, 'pit-k 32x1 merged (tile 128x128x16/8x8/sb)']]);
    for (const f of [...res.dense, ...res.sparse]) expect(f.check.ok, `${f.label}`).toBe(true);
    const pit09 = res.sparse.find((f) => f.granularity === '32x1' && f.sparsity === 0.9 && f.microTile === '32x1')!;
    expect(pit09.gpuDensity).toBeCloseTo(pit09.density, 12);
    expect(res.detection.map((d) => [d.microTile, d.indexOk])).toEqual([['1x1', true], ['32x32', true]]);
    expect(res.layers).toHaveLength(1);
    // Every family's per-layer configurations: the dense candidates (the baseline is the fastest), pit-k, pit-m.
    expect([...new Set(res.layers[0]!.variants.map((v) => v.variant))]).toEqual(['dense', 'pit-k', 'pit-m']);
    // The layer is attributed as pit profile does: the baseline is the fastest dense tile, the ideal never above it,
    // and the chosen variant is the baseline or a PIT variant whose figure is below it.
    const L0 = res.layers[0]!;
    const denseFigs = L0.variants.filter((v) => v.variant === 'dense' && v.check.ok);
    expect(L0.denseMs).toBe(Math.min(...denseFigs.map((v) => v.totalMs)));
    expect(L0.idealMs!).toBeLessThanOrEqual(L0.denseMs);
    expect(L0.decision).toMatch(/baseline dense/);
    if (L0.chosen.startsWith('dense')) expect(L0.chosenMs).toBe(L0.denseMs);
    else expect(L0.chosenMs).toBeLessThan(L0.denseMs);
    expect(evaluateTargets(res, null, 64)).toHaveLength(6);
    // (e) static weight patterns: dense, then at 0.5 tw, nm, hinm, bw and at 0.75 tw, hinm, bw (2:4 is 50 % only).
    expect(res.static!.map((f) => [f.pattern, f.target, f.variant])).toEqual([
      ['dense', 0, 'dense'],
      ['tw', 0.5, 'tile-wise'], ['nm', 0.5, 'nm'], ['hinm', 0.5, 'hinm'], ['bw', 0.5, 'bcsr-w'],
      ['tw', 0.75, 'tile-wise'], ['hinm', 0.75, 'hinm'], ['bw', 0.75, 'bcsr-w'],
    ]);
    for (const f of res.static!) {
      expect(f.check.ok, `${f.pattern} ${f.target}`).toBe(true);
      expect(f.detect).toBeNull();
      if (f.pattern === 'dense') continue;
      expect(f.indexMs!).toBeGreaterThanOrEqual(0);
      // The kernel's share of the weight's work is what the pattern left: 1 − W's sparsity.
      expect(f.effectiveDensity).toBeCloseTo(1 - f.sparsity, 6);
      expect(f.sparsity).toBeCloseTo(f.target, 1);
    }
    // (f) timing floor: the one-thread kernel, then every dense configuration at the layer's shape, both ways.
    expect(res.floor![0]).toMatchObject({ what: 'one-thread kernel', dispatches: 1, reps: 4, samples: 3, verified: null });
    const floorDense = res.floor!.slice(1);
    expect(floorDense.length).toBeGreaterThan(1);
    for (const f of res.floor!) {
      for (const t of [f.onePass, f.backToBack]) {
        expect(t.minMs).toBeGreaterThan(0);
        expect(t.minMs).toBeLessThanOrEqual(t.medianMs);
        expect(t.medianMs).toBeLessThanOrEqual(t.maxMs);
      }
    }
    for (const f of floorDense) {
      expect([f.what.split(' ')[0], f.m, f.n, f.k, f.verified]).toEqual(['dense', 40, 8, 12, true]);
      expect(f.dispatches).toBeGreaterThanOrEqual(1);
    }
    const md = renderMarkdown({ meta: {}, config: {}, suite: res, peers: { ...PEERS, static: STATIC_PEERS, layers: [{ m: 40, n: 8, k: 12, medianMs: 0.0021, tflops: 0 }] }, targets: [] });
    expect(md).toContain('## (f) Timing floor');
    expect(md).toMatch(/\| one-thread kernel \| – \| 1 \| [\d.]+ \[/);
    expect(md).toMatch(/\| dense [^|]+ \| 40×8×12 \| \d+ \| .* \| 0\.0021 \| yes \|/);
    expect(md).toContain('## (e) Static weight patterns (synthetic pruned W 64³, dense A)');
    expect(md).toMatch(/\| bw \| 0\.5 \| 0\.5000 \| bcsr-w \| 0\.5000 \| .* \| 2\.00 \| 2\.000 \| 1\.50 \| yes \|/);
    expect(md).toMatch(/Semi-structured 2:4 \(fp16, to_sparse_semi_structured, SparseSemiStructuredTensorCUTLASS\): 0\.800 ms = 1\.25x cuBLAS fp16/);
    expect(md).toContain('torch BSR did not run at: 0.75: RuntimeError: nope.');
    expect(lines.length).toBeGreaterThan(10);
  });

  it('runs the f16 sections (SIMT path here): ragged shapes, dense, sparse and detection, every figure verified and tagged f16', async () => {
    const cfg: BenchConfig = {
      ...quickConfig(null),
      denseSizes: [32],
      sparseSize: 64,
      sparsities: [0.9],
      granularities: ['32x1'],
      detectSize: 64,
      detectSparsities: [0.9],
      detectTiles: ['32x1', '1x64', '32x32'],
      repeat: 1,
      dtypes: ['f16'],
      raggedShapes: [[37, 29, 53]],
    };
    const res = await runSuite(g.ctx, g.cache, cfg, () => {});
    expect(res.errors).toEqual([]);
    expect(res.ragged!.map((f) => [f.variant, f.check.ok])).toEqual([
      ['dense-f16', true],
      ['pit-k-f16', true],
      ['pit-m-f16', true],
    ]);
    expect(res.dense.map((f) => [f.dtype, f.variant, f.check.ok])).toEqual([['f16', 'dense-f16', true]]);
    expect(res.sparse.map((f) => f.variant)).toEqual(['dense-f16', 'pit-k-f16']);
    expect(res.sparse.every((f) => f.dtype === 'f16' && f.check.ok)).toBe(true);
    // f16 detection exists for the families' micro-tiles (Hx1, 1xW); 32x32 is fp32-only.
    expect(res.detection.map((d) => [d.dtype, d.microTile, d.indexOk])).toEqual([
      ['f16', '32x1', true],
      ['f16', '1x64', true],
    ]);
    const md = renderMarkdown({ meta: {}, config: {}, suite: res, peers: null, targets: evaluateTargets(res, null, 64), targets11: evaluateTargets11(res, null, 64) });
    expect(md).toContain('## (a) Dense f16 matmul vs cuBLAS HGEMM (fp16)');
    expect(md).toContain('## Targets (issue 11)');
  });
});

describe('floorShapes', () => {
  it('picks the smallest, the median and the largest layer by M·N·K, once each', () => {
    expect(floorShapes([[600, 384, 192], [1, 48, 192], [38400, 24, 864], [1, 48, 192], [9600, 96, 96]])).toEqual([[1, 48, 192], [600, 384, 192], [38400, 24, 864]]);
    expect(floorShapes([[2, 2, 2]])).toEqual([[2, 2, 2]]);
    expect(floorShapes([])).toEqual([]);
  });
});
