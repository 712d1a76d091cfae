/**
 * Timing of GPU work with timestamp queries (begin/end of one compute pass per sample), warm-up, repeats and the
 * median; a CPU-clock fallback (submit → onSubmittedWorkDone) when `timestamp-query` is missing. Invalid
 * (non-positive) intervals are discarded, as webgpu-samples' TimestampQueryManager does.
 */
import type { GpuContext } from './device.ts';
import { assertAlive } from './device.ts';
import { readBuffer } from './buffers.ts';

/** One dispatch of a compiled pipeline with its bind group and grid (in workgroups). */
export interface Dispatch {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
}

export interface TimingOptions {
  /** Unmeasured runs first (pipeline warm-up, caches). Default 1. */
  warmup?: number;
  /** Measured runs. Default 5. */
  repeat?: number;
  /** Force the CPU clock even when timestamp queries exist. */
  cpuClock?: boolean;
}

export interface Timing {
  /** Median over valid samples, ms. */
  medianMs: number;
  /** Every valid sample, ms, in run order. */
  samplesMs: number[];
  method: 'timestamp' | 'cpu';
}

/** Records `dispatches` into one compute pass of `enc`. */
export function encodeDispatches(enc: GPUCommandEncoder, dispatches: Dispatch[], timestampWrites?: GPUComputePassTimestampWrites): void {
  const pass = enc.beginComputePass(timestampWrites ? { timestampWrites } : {});
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    const [x, y, z] = d.workgroups;
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
  }
  pass.end();
}

/** Runs `dispatches` once and waits for the GPU. @throws DeviceLostError if the device is lost. */
export async function runDispatches(ctx: GpuContext, dispatches: Dispatch[]): Promise<void> {
  assertAlive(ctx);
  const enc = ctx.device.createCommandEncoder();
  encodeDispatches(enc, dispatches);
  ctx.device.queue.submit([enc.finish()]);
  await ctx.device.queue.onSubmittedWorkDone();
  assertAlive(ctx);
}

/** The median of the finite values of `xs` (mean of the middle two for even counts); NaN when there are none. */
export function median(xs: readonly number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Times `dispatches` (one compute pass per sample).
 * @throws DeviceLostError if the device is lost meanwhile.
 */
export async function timeDispatches(ctx: GpuContext, dispatches: Dispatch[], opts: TimingOptions = {}): Promise<Timing> {
  const warmup = opts.warmup ?? 1;
  const repeat = Math.max(1, opts.repeat ?? 5);
  for (let i = 0; i < warmup; i++) await runDispatches(ctx, dispatches);
  if (ctx.timestampQuery && !opts.cpuClock) {
    const samples = await timeWithTimestamps(ctx, dispatches, repeat);
    if (samples.length) return { medianMs: median(samples), samplesMs: samples, method: 'timestamp' };
  }
  const samples: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    await runDispatches(ctx, dispatches);
    samples.push(performance.now() - t0);
  }
  return { medianMs: median(samples), samplesMs: samples, method: 'cpu' };
}

/** One timed sample of work made of phases (e.g. layout, detection, kernel): ms per phase, in phase order. */
export type PhaseSample = number[];

/**
 * Times `count` samples of `phases` (each a list of dispatches; an empty phase takes 0 ms). With timestamp queries,
 * one submission per sample with one compute pass per non-empty phase, each pass timed on the GPU, so a sample's
 * phases are measured together and add up to its total; a sample with an invalid (non-positive) interval is
 * discarded. Without them (or with `cpuClock`), each phase is submitted and awaited on its own and timed by the CPU
 * clock. No warm-up: the caller runs the work first.
 * @throws DeviceLostError if the device is lost meanwhile.
 */
export async function samplePhases(
  ctx: GpuContext,
  phases: readonly Dispatch[][],
  count: number,
  opts: { cpuClock?: boolean } = {},
): Promise<{ samples: PhaseSample[]; method: 'timestamp' | 'cpu' }> {
  const n = Math.max(1, count);
  if (ctx.timestampQuery && !opts.cpuClock) {
    const samples = await phasesWithTimestamps(ctx, phases, n);
    if (samples.length) return { samples, method: 'timestamp' };
  }
  const samples: PhaseSample[] = [];
  for (let i = 0; i < n; i++) {
    const s: number[] = [];
    for (const p of phases) {
      if (!p.length) {
        s.push(0);
        continue;
      }
      const t0 = performance.now();
      await runDispatches(ctx, p);
      s.push(performance.now() - t0);
    }
    samples.push(s);
  }
  return { samples, method: 'cpu' };
}

async function phasesWithTimestamps(ctx: GpuContext, phases: readonly Dispatch[][], count: number): Promise<PhaseSample[]> {
  const { device } = ctx;
  assertAlive(ctx);
  const live = phases.map((p, i) => ({ p, i })).filter((x) => x.p.length > 0);
  if (!live.length) return Array.from({ length: count }, () => phases.map(() => 0));
  const perSample = 2 * live.length;
  const querySet = device.createQuerySet({ type: 'timestamp', count: perSample * count });
  const resolve = device.createBuffer({ size: 8 * perSample * count, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  try {
    for (let s = 0; s < count; s++) {
      const enc = device.createCommandEncoder();
      live.forEach(({ p }, j) => {
        const q = s * perSample + 2 * j;
        encodeDispatches(enc, p, { querySet, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 });
      });
      device.queue.submit([enc.finish()]);
    }
    const enc = device.createCommandEncoder();
    enc.resolveQuerySet(querySet, 0, perSample * count, resolve, 0);
    device.queue.submit([enc.finish()]);
    const ticks = new BigUint64Array(await readBuffer(device, resolve, 8 * perSample * count));
    assertAlive(ctx);
    const out: PhaseSample[] = [];
    for (let s = 0; s < count; s++) {
      const sample = phases.map(() => 0);
      let valid = true;
      live.forEach(({ i }, j) => {
        const q = s * perSample + 2 * j;
        const [t0, t1] = [ticks[q]!, ticks[q + 1]!];
        if (!(t1 > t0)) valid = false;
        else sample[i] = Number(t1 - t0) / 1e6;
      });
      if (valid) out.push(sample);
    }
    return out;
  } finally {
    querySet.destroy();
    resolve.destroy();
  }
}

async function timeWithTimestamps(ctx: GpuContext, dispatches: Dispatch[], repeat: number): Promise<number[]> {
  const { device } = ctx;
  assertAlive(ctx);
  const querySet = device.createQuerySet({ type: 'timestamp', count: 2 * repeat });
  const resolve = device.createBuffer({ size: 16 * repeat, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  try {
    // One submission per sample, so samples do not overlap on GPUs that run submissions concurrently.
    for (let i = 0; i < repeat; i++) {
      const enc = device.createCommandEncoder();
      encodeDispatches(enc, dispatches, { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 });
      device.queue.submit([enc.finish()]);
    }
    const enc = device.createCommandEncoder();
    enc.resolveQuerySet(querySet, 0, 2 * repeat, resolve, 0);
    device.queue.submit([enc.finish()]);
    const ticks = new BigUint64Array(await readBuffer(device, resolve, 16 * repeat));
    assertAlive(ctx);
    const out: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const dt = Number(ticks[2 * i + 1]! - ticks[2 * i]!) / 1e6;
      if (dt > 0 && ticks[2 * i + 1]! > ticks[2 * i]!) out.push(dt);
    }
    return out;
  } finally {
    querySet.destroy();
    resolve.destroy();
  }
}
