/**
 * The vec4 register-tiled path (TM, TN, BK multiples of 4): dense, pit-k and pit-m with double and single buffering,
 * 16-byte and scalar global access (shapes with M, N or K not multiples of 4), the subgroup-shaped thread mapping,
 * pit-m's grid-stride row tiles and batched CAS SWrite; and detection with tall micro-tiles (h > 1) and narrow
 * windows (w = 1). Small shapes: lavapipe is slow. Speed is measured in bench/, not here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readU32, storageFrom, uniformU32 } from '../../core/gpu/buffers.ts';
import { runDispatches } from '../../core/gpu/timing.ts';
import { denseProgram } from '../../core/kernels/dense.ts';
import { zeroFillProgram } from '../../core/kernels/detect.ts';
import { detectKProgram } from '../../core/kernels/pit-k.ts';
import { detectMProgram } from '../../core/kernels/pit-m.ts';
import { pitKProgram } from '../../core/kernels/pit-k.ts';
import { pitMProgram } from '../../core/kernels/pit-m.ts';
import { prepareDispatch } from '../../core/kernels/program.ts';
import { compareOutputs, matmulErrorScale, referenceMatmul, transpose } from '../../core/kernels/reference.ts';
import { runVariant, type VariantSpec } from '../../core/kernels/variants.ts';
import { detectWindow } from '../../shaders/detect.wgsl.ts';
import { isVec4Tile, matmulWorkgroupBytes, tileName } from '../../shaders/common.wgsl.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';
import { randomDense, randomSparse, zeroColumnBlocks, zeroRows } from './fixtures.ts';

const FAST = { warmup: 0, repeat: 1 };

describe('vec4 path: program descriptors (no GPU)', () => {
  it('takes the vec4 path only for TM, TN, BK multiples of 4, with 16-byte global access only on aligned shapes', () => {
    expect(isVec4Tile({ bm: 128, bn: 128, bk: 16, tm: 8, tn: 8 })).toBe(true);
    expect(isVec4Tile({ bm: 32, bn: 32, bk: 8, tm: 2, tn: 2 })).toBe(false);
    expect(isVec4Tile({ bm: 32, bn: 32, bk: 6, tm: 4, tn: 4 })).toBe(false);
    const tile = { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 };
    expect(denseProgram({ m: 64, n: 64, k: 64 }, tile).label).toBe('dense tile 64x64x16/4x4 v4');
    expect(denseProgram({ m: 64, n: 64, k: 62 }, tile).label).toBe('dense tile 64x64x16/4x4');
    expect(denseProgram({ m: 64, n: 64, k: 64 }, tile).wgsl).toContain('array<vec4<f32>>');
    expect(pitKProgram({ m: 62, n: 64, k: 64 }, { ...tile, bm: 32 }).label).toBe('pit-k 32x1 tile 32x64x16/4x4');
    expect(pitMProgram({ m: 64, n: 64, k: 64 }, tile, 6).label).toBe('pit-m 1x6 tile 64x64x16/4x4 cas');
  });

  it('names single buffering, counts both copies of the tiles, and walks pit-k row blocks along x', () => {
    const db = { bm: 128, bn: 128, bk: 16, tm: 8, tn: 8 };
    const sb = { ...db, doubleBuffer: false };
    expect(tileName(db)).toBe('128x128x16/8x8');
    expect(tileName(sb)).toBe('128x128x16/8x8/sb');
    expect(tileName({ bm: 32, bn: 32, bk: 8, tm: 2, tn: 2, doubleBuffer: false })).toBe('32x32x8/2x2'); // scalar path: no flag
    expect(matmulWorkgroupBytes(db, false)).toBe(2 * matmulWorkgroupBytes(sb, false));
    expect(matmulWorkgroupBytes(sb, false)).toBe(4 * 16 * (128 + 128));
    expect(pitKProgram({ m: 256, n: 512, k: 64 }, { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4 }).workgroups).toEqual([8, 4, 1]);
    expect(pitKProgram({ m: 256, n: 512, k: 64 }, { bm: 32, bn: 128, bk: 8, tm: 2, tn: 4 }).workgroups).toEqual([4, 8, 1]);
    // Accumulating pit-m: 8 row tiles per workgroup along y.
    expect(pitMProgram({ m: 1000, n: 64, k: 64 }, { bm: 32, bn: 64, bk: 16, tm: 4, tn: 4 }, 16).workgroups).toEqual([1, 4, 4]);
  });

  it('detection windows: narrow micro-tiles get tall windows, tall micro-tiles whole multiples of h', () => {
    expect(detectWindow(1)).toEqual({ rows: 64, span: 32 });
    expect(detectWindow(32)).toEqual({ rows: 16, span: 256 });
    expect(detectWindow(32, 32)).toEqual({ rows: 32, span: 256 });
    expect(detectWindow(300)).toEqual({ rows: 13, span: 300 });
    expect(() => detectWindow(0)).toThrow(RangeError);
    expect(() => detectWindow(4, 0)).toThrow(RangeError);
  });
});

describe('vec4 path on the GPU vs the CPU reference', () => {
  let g: TestGpu;
  beforeAll(async () => {
    g = await testGpu();
  });
  afterAll(() => g.ctx.destroy());

  async function check(m: number, n: number, k: number, a: Float32Array, specs: VariantSpec[]): Promise<void> {
    const b = randomDense(k * n, m + n + k);
    const ref = referenceMatmul(a, b, m, n, k);
    const scale = matmulErrorScale(a, b, m, n, k);
    for (const spec of specs) {
      const run = await runVariant(g.ctx, g.cache, { m, n, k, a, b, freeLayouts: ['a', 'at'] }, spec, FAST);
      const cmp = compareOutputs(run.output, ref, { k, scale });
      const what = `${run.wgsl[run.wgsl.length - 1]!.label} on ${m}x${n}x${k}`;
      expect(cmp.ok, `${what}: maxAbsErr ${cmp.maxAbsErr} > ${cmp.tolerance} at ${cmp.worstIndex}`).toBe(true);
      expect(run.kernelSamplesMs!.length).toBeGreaterThan(0);
    }
  }

  it('dense: 8x8 per thread, double and single buffered, aligned (vec4 global) and ragged (scalar global)', async () => {
    const specs: VariantSpec[] = [
      { family: 'dense', microTile: null, tile: { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 } },
      { family: 'dense', microTile: null, tile: { bm: 64, bn: 64, bk: 16, tm: 8, tn: 8, doubleBuffer: false } },
      { family: 'dense', microTile: null, tile: { bm: 64, bn: 32, bk: 4, tm: 4, tn: 4 } },
    ];
    await check(96, 80, 112, randomDense(96 * 112, 1), specs); // several k-slices, partial tiles
    await check(37, 53, 71, randomDense(37 * 71, 2), specs); // nothing a multiple of 4
    await check(1, 8, 4, randomDense(4, 3), specs); // one slice, one row
  });

  it('pit-k: zeroed 32x1 micro-tiles, ragged M and N, counts not a multiple of BK', async () => {
    const specs: VariantSpec[] = [
      { family: 'pit-k', microTile: '32x1', tile: { bm: 32, bn: 64, bk: 8, tm: 4, tn: 4 } },
      { family: 'pit-k', microTile: '32x1', tile: { bm: 32, bn: 128, bk: 16, tm: 4, tn: 8, doubleBuffer: false } },
      { family: 'pit-k', microTile: '16x1', tile: { bm: 16, bn: 32, bk: 8, tm: 4, tn: 4 } },
    ];
    await check(96, 80, 112, zeroColumnBlocks(96, 112, 32, 0.7, 4), specs);
    await check(70, 53, 45, zeroColumnBlocks(70, 45, 32, 0.5, 5), specs);
  });

  it('pit-k over merged k-lists (merge-k): 32x1 micro-tiles under 64- and 128-row tiles, ragged, empty blocks', async () => {
    const specs: VariantSpec[] = [
      { family: 'pit-k', microTile: '32x1', tile: { bm: 64, bn: 64, bk: 8, tm: 4, tn: 4 } },
      { family: 'pit-k', microTile: '32x1', tile: { bm: 128, bn: 32, bk: 8, tm: 8, tn: 4, doubleBuffer: false } },
      { family: 'pit-k', microTile: '16x1', tile: { bm: 64, bn: 32, bk: 4, tm: 4, tn: 4 } },
      { family: 'pit-k', microTile: '16x1', tile: { bm: 32, bn: 32, bk: 8, tm: 2, tn: 4 } }, // scalar path
    ];
    await check(96, 80, 112, zeroColumnBlocks(96, 112, 32, 0.7, 8), specs);
    await check(70, 53, 45, zeroColumnBlocks(70, 45, 32, 0.5, 9), specs);
    await check(160, 8, 40, zeroColumnBlocks(160, 40, 32, 1, 10), specs); // every block empty
  });

  it('merge-k over more than one k-window (K > 4096), and its labels', async () => {
    const [m, n, k] = [96, 8, 4200];
    await check(m, n, k, zeroColumnBlocks(m, k, 32, 0.6, 11), [
      { family: 'pit-k', microTile: '32x1', tile: { bm: 64, bn: 32, bk: 8, tm: 4, tn: 4, doubleBuffer: false } },
    ]);
    const run = await runVariant(g.ctx, g.cache, { m: 64, n: 8, k: 8, a: randomDense(64 * 8, 12), b: randomDense(64, 13), freeLayouts: ['a', 'at'] }, { family: 'pit-k', microTile: '32x1', tile: { bm: 64, bn: 32, bk: 8, tm: 4, tn: 4 } }, FAST);
    expect(run.wgsl.map((w) => w.label)).toEqual(['zero count', 'detect-k 32x1', 'merge-k 32x1 x2', 'pit-k 32x1 merged tile 64x32x8/4x4 v4']);
    expect(run.microTileDensity).toBe(1);
  });

  it('pit-m: CAS SWrite with grid-stride row tiles (more than 8 row tiles per chunk) and whole rows', async () => {
    const [m, n, k] = [293, 40, 48];
    const a = randomSparse(m, k, 0.3, 6); // nearly every row listed in every chunk: 10 row tiles of 32
    await check(m, n, k, a, [
      { family: 'pit-m', microTile: '1x16', tile: { bm: 32, bn: 32, bk: 8, tm: 4, tn: 4 } },
      { family: 'pit-m', microTile: '1x12', tile: { bm: 32, bn: 64, bk: 4, tm: 4, tn: 8, doubleBuffer: false } },
    ]);
    await check(90, 44, 36, zeroRows(90, 36, 0.5, 7), [{ family: 'pit-m', microTile: '1x36', tile: { bm: 32, bn: 32, bk: 8, tm: 4, tn: 4 } }]);
  });

  it('detection with tall micro-tiles (32x32 via detect-k, 2x8 via detect-m) and 1x1', async () => {
    const { device } = g.ctx;
    const [m, k] = [70, 96];
    const a = randomSparse(m, k, 0.995, 8);
    const run = async (program: ReturnType<typeof detectKProgram>, input: string, x: Float32Array, blocks: number, stride: number) => {
      const bufs = {
        [input]: storageFrom(device, x, input),
        count: storageFrom(device, new Uint32Array(blocks).fill(9), 'count'),
        index: storageFrom(device, new Uint32Array(blocks * stride), 'index'),
        params: uniformU32(device, program.params!, 'params'),
      };
      try {
        await runDispatches(g.ctx, [await prepareDispatch(g.ctx, g.cache, zeroFillProgram('count', blocks), bufs), await prepareDispatch(g.ctx, g.cache, program, bufs)]);
        const count = await readU32(device, bufs.count!, blocks);
        const index = await readU32(device, bufs.index!, blocks * stride);
        return Array.from({ length: blocks }, (_, j) => Array.from(index.subarray(j * stride, j * stride + count[j]!)).sort((p, q) => p - q));
      } finally {
        for (const b of Object.values(bufs)) b.destroy();
      }
    };
    // Expected: for micro-tile h x w of A, which (row block, column block) hold a non-zero.
    const occupied = (h: number, w: number): Set<string> => {
      const s = new Set<string>();
      for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) if (a[i * k + p] !== 0) s.add(`${Math.floor(i / h)},${Math.floor(p / w)}`);
      return s;
    };
    const occ3232 = occupied(32, 32);
    const gotK = await run(detectKProgram({ m, n: 4, k }, 32, 32), 'at', transpose(a, m, k), 3, 3);
    gotK.forEach((list, mb) => expect(list, `block ${mb}`).toEqual([0, 1, 2].filter((kb) => occ3232.has(`${mb},${kb}`))));
    const occ28 = occupied(2, 8);
    const gotM = await run(detectMProgram({ m, n: 4, k }, 8, 2), 'a', a, 12, 35);
    gotM.forEach((list, c) => expect(list, `chunk ${c}`).toEqual(Array.from({ length: 35 }, (_, rb) => rb).filter((rb) => occ28.has(`${rb},${c}`))));
    const occ11 = occupied(1, 1);
    const got11 = await run(detectMProgram({ m, n: 4, k }, 1), 'a', a, k, m);
    got11.forEach((list, c) => expect(list).toEqual(Array.from({ length: m }, (_, r) => r).filter((r) => occ11.has(`${r},${c}`))));
  });
});
