/**
 * The f16 kernel families (issue 11) on the adapter's SIMT path (lavapipe has `shader-f16` and `subgroups` but no
 * subgroup matrices): dense-f16, pit-k-f16 (plain and merged), pit-m-f16 (whole rows and CAS-accumulated chunks),
 * each against the float64 reference of the f16-rounded operands with the tolerance of f16 inputs and f32
 * accumulation, on aligned and ragged shapes; detection on f16 data (NaN, -0, values f16 rounds to zero); the
 * split-K and narrow-N dense tiles (fp32 and f16); and the tolerance at K = 4096 in both dtypes: a correct result
 * passes, a dropped micro-tile fails. The subgroup-matrix (tensor-core) WGSL is generated and checked here for
 * structure only: it compiles on adapters with `chromium-experimental-subgroup-matrix` (bench/ on the GPU machine).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denseCandidates } from '../../core/kernels/dense.ts';
import { denseF16Candidates, denseF16Family, denseF16MmaTiles, denseF16Program, mmaFragmentOf } from '../../core/kernels/dense-f16.ts';
import { splitKParts, splitKReduceProgram } from '../../core/kernels/dense-splitk.ts';
import { f16InputErrorBound, F16_MAX, f16Overflow, fromF16Bits, isF16Exact, roundF16, roundToF16, toF16Bits } from '../../core/kernels/f16.ts';
import { pitKF16MmaTiles, pitKF16Program } from '../../core/kernels/pit-k-f16.ts';
import { pitMF16MmaTiles, pitMF16Program } from '../../core/kernels/pit-m-f16.ts';
import { compareOutputs, matmulErrorScale, referenceMatmul } from '../../core/kernels/reference.ts';
import { baselineFamily, familyForDtype, familyOf, isBaselineFamily, tuningConfigs } from '../../core/kernels/registry.ts';
import { runVariant, type VariantSpec } from '../../core/kernels/variants.ts';
import { denseF16Wgsl } from '../../shaders/dense-f16.wgsl.ts';
import { tileName } from '../../shaders/common.wgsl.ts';
import { parseTileName } from '../../core/kernels/tiles.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';
import { dtypeUnsupported, familiesForDtype, modelWeightDtype, roundOperandsToF16 } from '../../core/profile/dtype.ts';
import { randomDense, zeroColumnBlocks, zeroRows } from './fixtures.ts';

const FAST = { warmup: 0, repeat: 1 };
const NVIDIA_CAPS = {
  shaderF16: true,
  subgroups: true,
  subgroupSizes: [32, 32] as [number, number],
  subgroupMatrixConfigs: [
    { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 },
    { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 8, K: 16 },
  ],
};

describe('f16 on the CPU', () => {
  it('rounds to nearest even like the reference converter, with overflow, subnormals and NaN', () => {
    expect(roundF16(1)).toBe(1);
    expect(roundF16(1 + 2 ** -11)).toBe(1); // a tie rounds to even
    expect(roundF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9); // a tie rounds to even (up)
    expect(roundF16(1 + 2 ** -11 + 2 ** -20)).toBe(1 + 2 ** -10);
    expect(roundF16(65504)).toBe(65504);
    expect(roundF16(65519)).toBe(65504);
    expect(roundF16(65520)).toBe(Infinity);
    expect(roundF16(-1e9)).toBe(-Infinity);
    expect(roundF16(2 ** -24)).toBe(2 ** -24); // smallest subnormal
    expect(roundF16(2 ** -25)).toBe(0); // a tie: to even (zero)
    expect(roundF16(3 * 2 ** -26)).toBe(2 ** -24);
    expect(Object.is(roundF16(-1e-30), -0)).toBe(true);
    expect(Number.isNaN(roundF16(NaN))).toBe(true);
    const x = randomDense(2000, 5).map((v) => v * 1000);
    const bits = toF16Bits(x);
    const back = fromF16Bits(bits);
    for (let i = 0; i < x.length; i++) expect(Math.abs(back[i]! - x[i]!)).toBeLessThanOrEqual(Math.abs(x[i]!) * 2 ** -11);
    expect(isF16Exact(back)).toBe(true);
    expect(isF16Exact(x)).toBe(false);
    expect(roundToF16(back)).toEqual(back);
    expect(f16Overflow(Float32Array.of(1, -70000, 65504, Infinity))).toEqual({ maxAbs: 70000, overflow: 1 });
    expect(F16_MAX).toBe(65504);
    expect(f16InputErrorBound(1)).toBe(2 ** -10 + 2 ** -22);
  });
});

describe('profile dtype', () => {
  it('defaults to the model weight dtype: f16 when most initializer elements are float16', () => {
    const t = (elemType: number, n: number, source: 'initializer' | 'constant-node' = 'initializer') => ({ name: 'w', dims: [n], elemType, data: new Float32Array(n), source });
    expect(modelWeightDtype({ constants: new Map([['a', t(10, 100)], ['b', t(1, 10)]]) })).toBe('f16');
    expect(modelWeightDtype({ constants: new Map([['a', t(10, 10)], ['b', t(1, 100)]]) })).toBe('f32');
    expect(modelWeightDtype({ constants: new Map([['a', t(10, 100, 'constant-node')]]) })).toBe('f32');
    expect(familiesForDtype(['pit-k', 'pit-m'], 'f16')).toMatchObject({ families: ['dense-f16', 'pit-k-f16', 'pit-m-f16'], without: [] });
    // Families without an f16 counterpart are listed, not measured; an unknown name is still an error.
    expect(familiesForDtype(['dense', 'pit-n', 'pit-k', 'tile-wise'], 'f16')).toMatchObject({ families: ['dense-f16', 'pit-k-f16'], without: ['pit-n', 'tile-wise'] });
    expect(() => familiesForDtype(['pit-q'], 'f16')).toThrow(/unknown kernel family 'pit-q'/);
    expect(dtypeUnsupported('f16', { vendor: 'v', architecture: '', device: 'd', description: '', backend: '', timestampQuery: true, shaderF16: false })).toMatch(/shader-f16/);
    expect(dtypeUnsupported('f32', { vendor: 'v', architecture: '', device: 'd', description: '', backend: '', timestampQuery: true, shaderF16: false })).toBeNull();
    const ops = roundOperandsToF16(Float32Array.of(1 + 2 ** -12, 70000), Float32Array.of(1, 1));
    expect(Array.from(ops.a)).toEqual([1, Infinity]);
    expect(ops.overflow).toBe(1);
  });
});

describe('f16 families: registry and programs (no GPU)', () => {
  it('registers the f16 counterparts off by default, with their baseline, dtype and required feature', () => {
    expect(baselineFamily('f32').name).toBe('dense');
    expect(baselineFamily('f16').name).toBe('dense-f16');
    expect(familyForDtype('pit-k', 'f16').name).toBe('pit-k-f16');
    expect(familyForDtype('pit-m-f16', 'f32').name).toBe('pit-m');
    expect(familyForDtype('dense', 'f32').name).toBe('dense');
    for (const n of ['dense-f16', 'pit-k-f16', 'pit-m-f16']) {
      const f = familyOf(n);
      expect(f.defaultOn).toBe(false);
      expect(f.dtype).toBe('f16');
      expect(f.requiredFeatures).toContain('shader-f16');
    }
    expect(isBaselineFamily('dense-f16')).toBe(true);
    expect(isBaselineFamily('pit-k-f16')).toBe(false);
    // The f32 tile database space has no f16 configuration, and the f16 one no f32 configuration.
    expect(tuningConfigs().every((c) => !c.family.endsWith('-f16'))).toBe(true);
    expect(tuningConfigs('f16').every((c) => c.family.endsWith('-f16'))).toBe(true);
  });

  it('offers tensor-core tiles only with f16→f32 subgroup matrices and a fixed subgroup size', () => {
    expect(mmaFragmentOf(undefined)).toBeNull();
    expect(mmaFragmentOf({ shaderF16: true, subgroups: true, subgroupSizes: [8, 8], subgroupMatrixConfigs: [] })).toBeNull();
    expect(mmaFragmentOf({ ...NVIDIA_CAPS, subgroupSizes: [16, 32] })).toBeNull();
    expect(mmaFragmentOf({ ...NVIDIA_CAPS, shaderF16: false })).toBeNull();
    expect(mmaFragmentOf(NVIDIA_CAPS)).toEqual({ m: 16, n: 16, k: 16, sg: 32 });
    const simt = denseF16Family.layerConfigs({ m: 256, n: 256, k: 256 });
    expect(simt.every((c) => !c.tile.mma)).toBe(true);
    const mma = denseF16Family.layerConfigs({ m: 256, n: 256, k: 256 }, NVIDIA_CAPS);
    expect(mma.every((c) => c.tile.mma?.sg === 32)).toBe(true);
    expect(tileName(mma[0]!.tile)).toBe('128x128x32/32x64/mma16x16x16s32');
    expect(parseTileName(tileName(mma[0]!.tile), [], { bm: 1, bn: 1, bk: 1, tm: 1, tn: 1 })).toEqual(mma[0]!.tile);
    expect(parseTileName('128x32x16/8x4/k4', [], { bm: 1, bn: 1, bk: 1, tm: 1, tn: 1 })).toEqual({ bm: 128, bn: 32, bk: 16, tm: 8, tn: 4, splitK: 4 });
  });

  it('generates subgroup-matrix WGSL: uniformity diagnostic off, subgroup_id offsets, staged f16 tiles, direct and scratch stores', () => {
    const f = { m: 16, n: 16, k: 16, sg: 32 };
    const t = denseF16MmaTiles(f)[0]!;
    const p = denseF16Program({ m: 4096, n: 4096, k: 4096 }, t);
    expect(p.workgroupSize).toEqual([256, 1, 1]);
    expect(p.workgroups).toEqual([32, 32, 1]);
    expect(p.label).toBe('dense-f16 tile 128x128x32/32x64/mma16x16x16s32 v4');
    expect(p.wgsl).toContain('diagnostic(off, chromium.subgroup_matrix_uniformity);');
    expect(p.wgsl).toContain('enable chromium_experimental_subgroup_matrix;');
    expect(p.wgsl).toContain('@builtin(subgroup_id) sgId: u32');
    expect(p.wgsl).toContain('subgroupMatrixMultiplyAccumulate');
    expect(p.wgsl).toContain('subgroupMatrixStore(&C, cOff');
    expect(p.wgsl).toContain('subgroupMatrixStore(&Cs, sbase');
    // 2 copies of A (128 x 40 halves) and B (32 x 136 halves), plus 8 subgroups x 16x16 f32 of scratch.
    expect(p.workgroupBytes).toBe(2 * 2 * (128 * 40 + 32 * 136) + 4 * 8 * 256);
    // One subgroup: constant offsets (workgroup-uniform without the diagnostic), no subgroup_id.
    const one = denseF16Wgsl({ tile: { bm: 32, bn: 64, bk: 32, tm: 32, tn: 64, mma: f }, vecGlobal: true });
    expect(one).toContain('let sg = 0u;');
    expect(one).not.toContain('@builtin(subgroup_id)');
    // pit-k stages gathered AT rows m-major and loads its left fragments row-major, as dense does.
    const pk = pitKF16Program({ m: 4096, n: 4096, k: 4096 }, pitKF16MmaTiles(f)[0]!).wgsl;
    expect(pk).toContain('subgroupMatrixLoad<subgroup_matrix_left<f16, MK, MM>>(&As, aOff + (wm0 + 0u) * AST + 0u, false, AST)');
    expect(pk).not.toContain(', true, AST)');
    // Fragments are zeroed explicitly (a loop-local `var x: T;` is not re-zeroed by Dawn's compiler).
    expect(pk).toContain('var acc_0_0 = subgroup_matrix_result<f32, MN, MM>();');
    expect(denseF16Family.plan({ m: 1, n: 48, k: 192 }, { family: 'dense-f16', microTile: null, tile: denseF16MmaTiles(f)[0]! }).buffers[0]!.minBytes).toBe(1024);
    const pm = pitMF16Program({ m: 4096, n: 4096, k: 4096 }, pitMF16MmaTiles(f)[0]!, 64);
    expect(pm.label).toContain('cas');
    expect(pm.wgsl).toContain('atomicCompareExchangeWeak');
    expect(() => denseF16Wgsl({ tile: { bm: 128, bn: 128, bk: 24, tm: 32, tn: 64, mma: f } })).toThrow(RangeError);
    expect(() => denseF16Wgsl({ tile: { bm: 128, bn: 128, bk: 32, tm: 64, tn: 128, mma: f } })).toThrow(/fragments/);
    expect(() => denseF16Wgsl({ tile: { bm: 32, bn: 32, bk: 8, tm: 2, tn: 2 } })).toThrow(/vec4/);
  });

  it('picks narrow-N and split-K tiles per shape (issue 11 item 5)', () => {
    // 38400x24x864: a narrow tile; enough row tiles, no split.
    const tall = denseCandidates({ m: 38400, n: 24, k: 864 }).map(tileName);
    expect(tall).toContain('128x32x16/8x4');
    expect(tall.some((n) => n.includes('/k'))).toBe(false);
    // 600x24x864: 5 row tiles of 128: split K.
    const small = denseCandidates({ m: 600, n: 24, k: 864 });
    const split = small.find((t) => (t.splitK ?? 1) > 1)!;
    expect(split).toBeDefined();
    expect(splitKParts({ m: 600, n: 24, k: 864 }, split).parts).toBeGreaterThan(1);
    expect(denseF16Candidates({ m: 600, n: 24, k: 864 }, NVIDIA_CAPS).some((t) => (t.splitK ?? 1) > 1)).toBe(true);
    // A full grid is never split.
    expect(denseCandidates({ m: 4096, n: 4096, k: 4096 }).some((t) => t.splitK)).toBe(false);
    const r = splitKReduceProgram({ m: 600, n: 24, k: 864 }, 7);
    expect(r.params).toEqual([3600, 7, 3600, 0]);
  });
});

describe('f16 families on the GPU (SIMT path) vs the float64 reference of the f16-rounded operands', () => {
  let g: TestGpu;
  beforeAll(async () => {
    g = await testGpu();
  });
  afterAll(() => g.ctx.destroy());

  /** Runs `specs` on A (f32 values) and a random B; every output within the f16-input tolerance of the rounded reference. */
  async function check(m: number, n: number, k: number, a32: Float32Array, specs: VariantSpec[], expectDensity?: number): Promise<void> {
    const a = roundToF16(a32);
    const b = roundToF16(randomDense(k * n, m * 7 + n + k));
    const ref = referenceMatmul(a, b, m, n, k);
    const scale = matmulErrorScale(a, b, m, n, k);
    for (const spec of specs) {
      const run = await runVariant(g.ctx, g.cache, { m, n, k, a, b, freeLayouts: ['a', 'at'] }, spec, FAST);
      const cmp = compareOutputs(run.output, ref, { k, scale });
      const what = `${run.wgsl.at(-1)!.label} on ${m}x${n}x${k}`;
      expect(cmp.ok, `${what}: maxAbsErr ${cmp.maxAbsErr} > ${cmp.tolerance} at ${cmp.worstIndex}`).toBe(true);
      if (expectDensity !== undefined && run.microTileDensity !== null) expect(run.microTileDensity, what).toBeCloseTo(expectDensity, 9);
    }
  }

  it('has shader-f16 on this adapter (lavapipe)', () => {
    expect(g.ctx.shaderF16).toBe(true);
    expect(g.ctx.adapter.shaderF16).toBe(true);
    expect(g.ctx.adapter.dawnToggles?.join(' ')).toContain('vulkan_enable_f16_on_nvidia');
  });

  it('dense-f16 (vec4 and scalar global access, split-K, narrow N) and the fp32 split-K / narrow-N tiles', async () => {
    const tiles = [
      { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4 },
      { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 },
      { bm: 128, bn: 32, bk: 16, tm: 8, tn: 4 },
      { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4, splitK: 3 },
    ];
    for (const [m, n, k] of [
      [64, 64, 64],
      [37, 29, 53],
      [70, 24, 200],
    ] as const) {
      await check(m, n, k, randomDense(m * k, m + k), tiles.map((tile) => ({ family: 'dense-f16', microTile: null, tile })));
      await check(m, n, k, randomDense(m * k, m + k + 1), [
        { family: 'dense', microTile: null, tile: { bm: 128, bn: 32, bk: 16, tm: 8, tn: 4 } },
        { family: 'dense', microTile: null, tile: { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4, splitK: 4 } },
      ]);
    }
  });

  it('pit-k-f16 on k-sparse data (plain, merged 8x1 into 32 rows) with the GPU density equal to the CPU one', async () => {
    for (const [m, n, k] of [
      [64, 64, 96],
      [45, 37, 70],
    ] as const) {
      const a = zeroColumnBlocks(m, k, 32, 0.6, m + k);
      const a8 = zeroColumnBlocks(m, k, 8, 0.6, m + k + 3);
      await check(m, n, k, a, [{ family: 'pit-k-f16', microTile: '32x1', tile: { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4 } }]);
      await check(m, n, k, a8, [
        { family: 'pit-k-f16', microTile: '8x1', tile: { bm: 8, bn: 64, bk: 8, tm: 4, tn: 4 } },
        { family: 'pit-k-f16', microTile: '8x1', tile: { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4 } },
      ]);
    }
  });

  it('pit-m-f16 whole rows and CAS-accumulated 1x16 chunks on row-sparse data', async () => {
    for (const [m, n, k] of [
      [64, 64, 64],
      [51, 30, 45],
    ] as const) {
      const a = zeroRows(m, k, 0.5, m + k);
      await check(m, n, k, a, [
        { family: 'pit-m-f16', microTile: '1xK', tile: { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4 } },
        { family: 'pit-m-f16', microTile: '1x16', tile: { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 } },
      ]);
    }
  });

  it('detection reads f16: NaN and ±Inf are non-zero, -0 and values f16 rounds to zero are zero', async () => {
    const m = 32;
    const k = 40;
    const n = 16;
    const a = new Float32Array(m * k);
    a[3 * k + 5] = NaN;
    a[7 * k + 9] = -0;
    a[9 * k + 11] = 1e-9; // below half the smallest f16 subnormal: rounds to 0 in f16
    a[10 * k + 12] = Infinity;
    a[20 * k + 30] = 0.25;
    const b = roundToF16(randomDense(k * n, 3));
    const run = await runVariant(g.ctx, g.cache, { m, n, k, a: roundToF16(a), b, freeLayouts: ['a', 'at'] }, { family: 'pit-m-f16', microTile: '1xK', tile: { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4 } }, FAST);
    // Rows 3, 10 and 20 are non-zero in f16: 3 of 32 rows.
    expect(run.microTileDensity).toBeCloseTo(3 / 32, 12);
    const runK = await runVariant(g.ctx, g.cache, { m, n, k, a: roundToF16(a), b, freeLayouts: ['a', 'at'] }, { family: 'pit-k-f16', microTile: '32x1', tile: { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4 } }, FAST);
    // One 32-row block; its non-zero k's are 5 (NaN), 12 (Inf) and 30: 3 of 40 micro-tiles.
    expect(runK.microTileDensity).toBeCloseTo(3 / 40, 12);
  });
});

describe('tolerance at K = 4096 (issue 8 review): a correct result passes, a dropped micro-tile fails', () => {
  let g: TestGpu;
  beforeAll(async () => {
    g = await testGpu();
  });
  afterAll(() => g.ctx.destroy());

  for (const dtype of ['f32', 'f16'] as const) {
    it(`${dtype}: dense at 8x16x4096 within the bound; the reference without one 8x1 micro-tile outside it`, async () => {
      const m = 8;
      const n = 16;
      const k = 4096;
      const round = dtype === 'f16' ? roundToF16 : (x: Float32Array) => x;
      const a = round(randomDense(m * k, 41));
      const b = round(randomDense(k * n, 43));
      const family = dtype === 'f16' ? 'dense-f16' : 'dense';
      const run = await runVariant(g.ctx, g.cache, { m, n, k, a, b }, { family, microTile: null, tile: { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4 } }, FAST);
      const scale = matmulErrorScale(a, b, m, n, k);
      const ok = compareOutputs(run.output, referenceMatmul(a, b, m, n, k), { k, scale });
      expect(ok.ok, `maxAbsErr ${ok.maxAbsErr} vs tolerance ${ok.tolerance}`).toBe(true);
      // The bound is 16·2^-24·64·scale ≈ 6.1e-5·scale; one product term here is about scale/K ≈ 2.4e-4·scale.
      expect(ok.tolerance / scale).toBeCloseTo(16 * 2 ** -24 * 64, 12);
      const dropped = a.slice();
      for (let i = 0; i < m; i++) dropped[i * k + 1234] = 0;
      const bad = compareOutputs(run.output, referenceMatmul(dropped, b, m, n, k), { k, scale });
      expect(bad.ok, `a dropped micro-tile changed C by ${bad.maxAbsErr}, tolerance ${bad.tolerance}`).toBe(false);
      expect(bad.maxAbsErr).toBeGreaterThan(2 * bad.tolerance);
    });
  }
});

