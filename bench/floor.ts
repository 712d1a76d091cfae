/**
 * Section (f) of the bench: the timing floor. Our figures are WebGPU timestamp queries written at the beginning and
 * the end of one compute pass per phase and sample (core/gpu/timing.ts); the peers' layer figures are CUDA graph
 * replays of back-to-back calls divided by their count (bench/peers.py). On a layer of a few microseconds the two
 * differ by what a pass costs beyond its work, so this section measures, on the same GPU in the same run:
 * - a one-thread kernel (writes one word): one pass per call, and `reps` calls back to back in one pass / `reps`;
 * - every legal configuration of the dense family at each given layer shape, the same two ways (its kernel phase:
 *   zero-fill, matmul, split-K reduction — whatever its plan dispatches), each verified against the CPU product.
 * "one pass" is how every layer figure of section (d) and of `pit profile` is timed; "back to back" is the measure a
 * graph replay gives. The gap is overhead of the method, not of the kernel.
 */
import type { GpuContext } from '../core/gpu/device.ts';
import { storageFrom } from '../core/gpu/buffers.ts';
import type { PipelineCache } from '../core/gpu/pipeline-cache.ts';
import { median, samplePhases, type Dispatch } from '../core/gpu/timing.ts';
import { compareOutputs, matmulErrorScale, referenceMatmul } from '../core/kernels/reference.ts';
import { BASELINE_FAMILY } from '../core/kernels/registry.ts';
import { prepareVariant } from '../core/kernels/variants.ts';
import { randomDense, rng } from './data.ts';

/** Median and range of a set of samples, ms. */
export interface FloorTiming {
  medianMs: number;
  minMs: number;
  maxMs: number;
}

/** One kernel timed both ways. */
export interface FloorFigure {
  /** `one-thread kernel`, or the dense variant's name (`dense 32x128x8/4x4/k6`). */
  what: string;
  /** The layer shape (0×0×0 for the one-thread kernel). */
  m: number;
  n: number;
  k: number;
  /** Dispatches of one call (the plan's kernel phase). */
  dispatches: number;
  /** One compute pass per call, timestamps at its beginning and end (as section d and `pit profile` time). */
  onePass: FloorTiming;
  /** `reps` calls back to back in one pass, per call. */
  backToBack: FloorTiming;
  /** Calls per back-to-back pass. */
  reps: number;
  /** Samples of each way. */
  samples: number;
  /** Output checked against the CPU product (null for the one-thread kernel). */
  verified: boolean | null;
  error?: string;
}

function timingOf(ms: number[]): FloorTiming {
  return { medianMs: median(ms), minMs: Math.min(...ms), maxMs: Math.max(...ms) };
}

/** Times `call` (the dispatches of one call) as one pass each, and `reps` times back to back in one pass / reps. */
async function bothWays(ctx: GpuContext, call: Dispatch[], reps: number, samples: number): Promise<{ onePass: FloorTiming; backToBack: FloorTiming }> {
  const repeated = Array.from({ length: reps }, () => call).flat();
  // Warm-up: pipelines resident, clocks up.
  await samplePhases(ctx, [repeated], 2);
  const one = await samplePhases(ctx, [call], samples);
  const many = await samplePhases(ctx, [repeated], samples);
  return { onePass: timingOf(one.samples.map((s) => s[0]!)), backToBack: timingOf(many.samples.map((s) => s[0]! / reps)) };
}

/**
 * Measures the timing floor (see the module comment) at each shape `[M, N, K]`.
 * @param reps calls per back-to-back pass (≥ 1); @param samples samples of each way (≥ 1)
 * @throws DeviceLostError when the device is lost; a configuration that fails to build or verify is reported in its
 *   figure (`verified: false`, `error`), not thrown.
 */
export async function measureFloor(ctx: GpuContext, cache: PipelineCache, shapes: readonly [number, number, number][], reps: number, samples: number, log: (line: string) => void): Promise<FloorFigure[]> {
  const out: FloorFigure[] = [];
  const { device } = ctx;
  const sink = storageFrom(device, new Uint32Array(1), 'floor:sink');
  try {
    const module = device.createShaderModule({ code: '@group(0) @binding(0) var<storage, read_write> o: array<u32>;\n@compute @workgroup_size(1) fn main() { o[0] = 1u; }' });
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: sink } }] });
    const t = await bothWays(ctx, [{ pipeline, bindGroup, workgroups: [1, 1, 1] }], reps, samples);
    out.push({ what: 'one-thread kernel', m: 0, n: 0, k: 0, dispatches: 1, ...t, reps, samples, verified: null });
    log(`floor one-thread kernel: one pass ${t.onePass.medianMs.toFixed(4)} ms, back to back ${t.backToBack.medianMs.toFixed(4)} ms`);
  } finally {
    sink.destroy();
  }
  for (const [i, [m, n, k]] of shapes.entries()) {
    const r = rng(7000 + i);
    const a = randomDense(m * k, r);
    const b = randomDense(k * n, r);
    const ref = referenceMatmul(a, b, m, n, k);
    const shape = { m, n, k };
    for (const config of BASELINE_FAMILY.layerConfigs(shape).filter((c) => !BASELINE_FAMILY.illegalReason(c, shape))) {
      const what = BASELINE_FAMILY.variantName(config);
      const base = { what, m, n, k, reps, samples };
      let prepared: Awaited<ReturnType<typeof prepareVariant>> | null = null;
      try {
        prepared = await prepareVariant(ctx, cache, { m, n, k, a, b }, config);
        const run = await prepared.runOnce();
        const cmp = compareOutputs(run.output, ref, { k, scale: matmulErrorScale(a, b, m, n, k) });
        const call = prepared.dispatches();
        const t = await bothWays(ctx, call, reps, samples);
        out.push({ ...base, dispatches: call.length, ...t, verified: cmp.ok, ...(cmp.ok ? {} : { error: `max abs err ${cmp.maxAbsErr.toExponential(2)} > ${cmp.tolerance.toExponential(2)}` }) });
        log(`floor ${m}x${n}x${k} ${what}: one pass ${t.onePass.medianMs.toFixed(4)} ms, back to back ${t.backToBack.medianMs.toFixed(4)} ms (${call.length} dispatches) ${cmp.ok ? 'ok' : 'WRONG'}`);
      } catch (e) {
        if ((e as Error).name === 'DeviceLostError') throw e;
        const nan = { medianMs: NaN, minMs: NaN, maxMs: NaN };
        out.push({ ...base, dispatches: 0, onePass: nan, backToBack: nan, verified: false, error: (e as Error).message.split('\n')[0]!.slice(0, 300) });
      } finally {
        prepared?.destroy();
      }
    }
  }
  return out;
}

/**
 * The shapes section (f) measures from a layer list: the smallest, the median and the largest by M·N·K (distinct).
 * @param shapes layer shapes `[M, N, K]`
 */
export function floorShapes(shapes: readonly [number, number, number][]): [number, number, number][] {
  const sorted = [...shapes].sort((x, y) => x[0] * x[1] * x[2] - y[0] * y[1] * y[2]);
  if (!sorted.length) return [];
  const picks = [sorted[0]!, sorted[Math.floor((sorted.length - 1) / 2)]!, sorted[sorted.length - 1]!];
  return picks.filter((s, i) => picks.findIndex((t) => t.join() === s.join()) === i);
}
