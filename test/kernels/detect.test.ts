import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readU32, storageFrom, storageZeros, uniformU32 } from '../../core/gpu/buffers.ts';
import { runDispatches } from '../../core/gpu/timing.ts';
import { zeroFillProgram } from '../../core/kernels/detect.ts';
import { detectKProgram } from '../../core/kernels/pit-k.ts';
import { detectMProgram } from '../../core/kernels/pit-m.ts';
import { prepareDispatch, type KernelProgram } from '../../core/kernels/program.ts';
import { transpose } from '../../core/kernels/reference.ts';
import { indexBlock, pitKIndexCpu, pitMIndexCpu, type MicroTileIndex } from '../../core/sparsity/micro-tiles.ts';
import { testGpu, type TestGpu } from '../gpu-helpers.ts';
import { randomSparse, zeroColumnBlocks, zeroRows } from './fixtures.ts';

/** Runs [zero count, detect] on `x` and returns the GPU index (count + index, in GPU order). */
async function detectOnGpu(
  g: TestGpu,
  program: KernelProgram,
  input: string,
  x: Float32Array,
  blocks: number,
  stride: number,
  dirtyCount = false,
): Promise<MicroTileIndex> {
  const { device } = g.ctx;
  // A dirty count buffer proves the zero-fill is part of the detection work.
  const count = dirtyCount ? storageFrom(device, new Uint32Array(blocks).fill(7), 'count') : storageZeros(device, blocks * 4, 'count');
  const buffers = {
    [input]: storageFrom(device, x, input),
    count,
    index: storageZeros(device, blocks * stride * 4, 'index'),
    params: uniformU32(device, program.params!, 'params'),
  };
  try {
    const zero = await prepareDispatch(g.ctx, g.cache, zeroFillProgram('count', blocks), buffers);
    const det = await prepareDispatch(g.ctx, g.cache, program, buffers);
    await runDispatches(g.ctx, [zero, det]);
    return {
      count: await readU32(device, buffers.count!, blocks),
      index: await readU32(device, buffers.index!, blocks * stride),
      stride,
    };
  } finally {
    for (const b of Object.values(buffers)) b.destroy();
  }
}

function expectSameIndex(gpu: MicroTileIndex, cpu: MicroTileIndex): void {
  expect(Array.from(gpu.count)).toEqual(Array.from(cpu.count));
  for (let j = 0; j < cpu.count.length; j++) expect(indexBlock(gpu, j), `block ${j}`).toEqual(indexBlock(cpu, j));
}

describe('GPU detection (online index construction)', () => {
  let g: TestGpu;
  beforeAll(async () => {
    g = await testGpu();
  });
  afterAll(() => g.ctx.destroy());

  it('detect-k finds the non-zero 32x1 micro-tiles of each row block (ragged M)', async () => {
    const m = 75; // 3 row blocks, the last one 11 rows
    const k = 90;
    const a = zeroColumnBlocks(m, k, 32, 0.6, 11);
    const shape = { m, n: 8, k };
    const cpu = pitKIndexCpu(a, m, k, 32);
    expect(cpu.count[0]).toBeGreaterThan(10); // the fixture is neither empty nor full
    expect(cpu.count[0]).toBeLessThan(k - 10);
    const gpu = await detectOnGpu(g, detectKProgram(shape, 32), 'at', transpose(a, m, k), cpu.count.length, k, true);
    expectSameIndex(gpu, cpu);
  });

  it('detect-k on element-sparse data and on an all-zero operand', async () => {
    const m = 64;
    const k = 50;
    const a = randomSparse(m, k, 0.97, 5);
    const shape = { m, n: 8, k };
    expectSameIndex(await detectOnGpu(g, detectKProgram(shape, 32), 'at', transpose(a, m, k), 2, k), pitKIndexCpu(a, m, k, 32));
    const zero = await detectOnGpu(g, detectKProgram(shape, 32), 'at', new Float32Array(m * k), 2, k, true);
    expect(Array.from(zero.count)).toEqual([0, 0]);
  });

  it('detect-m finds rows with a non-zero per k-chunk (1x16, ragged K)', async () => {
    const m = 41;
    const k = 70; // chunks of 16: 5, the last one 6 wide
    const a = randomSparse(m, k, 0.95, 21);
    const shape = { m, n: 8, k };
    const cpu = pitMIndexCpu(a, m, k, 16);
    expect(cpu.count.length).toBe(5);
    expectSameIndex(await detectOnGpu(g, detectMProgram(shape, 16), 'a', a, 5, m, true), cpu);
  });

  it('detect-m with whole rows wider than a workgroup (1x300: each thread loops)', async () => {
    const m = 30;
    const k = 300;
    const a = zeroRows(m, k, 0.5, 3);
    a[7 * k + 299] = 0.25; // a row whose only non-zero is its last element
    a.fill(0, 7 * k, 7 * k + 299);
    const cpu = pitMIndexCpu(a, m, k, k);
    expect(indexBlock(cpu, 0)).toContain(7);
    expectSameIndex(await detectOnGpu(g, detectMProgram({ m, n: 4, k }, k), 'a', a, 1, m), cpu);
  });

  it('counts NaN and ±Inf as non-zero and -0 as zero, on both the vec4 and the scalar path (CPU reference agrees)', async () => {
    for (const k of [48, 47]) {
      // k = 48: rows of X start on 16 bytes (vec4 loads); k = 47: scalar loads.
      const m = 40;
      const a = new Float32Array(m * k); // all +0
      a.fill(Number.NaN, 0, k); // row 0: NaN
      a[2 * k + 5] = Number.POSITIVE_INFINITY;
      a[3 * k + 9] = Number.NEGATIVE_INFINITY;
      a.fill(-0, 4 * k, 5 * k); // row 4: -0 only
      const cpu = pitMIndexCpu(a, m, k, 16);
      expect(indexBlock(cpu, 0)).toEqual([0, 2, 3]);
      expectSameIndex(await detectOnGpu(g, detectMProgram({ m, n: 4, k }, 16), 'a', a, cpu.count.length, m, true), cpu);
      const allNaN = new Float32Array(m * k).fill(Number.NaN);
      const gpu = await detectOnGpu(g, detectMProgram({ m, n: 4, k }, k), 'a', allNaN, 1, m, true);
      expect(gpu.count[0]).toBe(m);
    }
  });
});
