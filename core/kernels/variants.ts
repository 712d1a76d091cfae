/**
 * The high-level API the profile job calls: run one matmul variant (dense, pit-k, pit-m) on the GPU with its
 * detection, read the output back, and time detection and kernel separately (timestamp queries, median).
 *
 * Timed work per variant (what a deployed kernel would really have to do each call):
 * - dense:  [dense matmul]
 * - pit-k:  detection [zero count, detect-k on AT]   kernel [pit-k matmul] (merged tiles: [merge-k, pit-k matmul])
 * - pit-m:  detection [zero count, detect-m on A]    kernel [zero C, pit-m matmul]
 * Not timed: uploading the operands and, for pit-k, transposing A on the CPU (layout preparation: in a deployed
 * model the producer of A would write it transposed).
 */
import type { GpuContext } from '../gpu/device.ts';
import { assertAlive } from '../gpu/device.ts';
import { readF32, readU32, storageFrom, uniformU32 } from '../gpu/buffers.ts';
import type { PipelineCache } from '../gpu/pipeline-cache.ts';
import { encodeDispatches, runDispatches, timeDispatches, type Dispatch } from '../gpu/timing.ts';
import { matmulWorkgroupBytes, type ComputeTile } from '../../shaders/common.wgsl.ts';
import { parseMicroTile } from '../sparsity/micro-tiles.ts';
import { denseProgram, validateShape } from './dense.ts';
import { detectKProgram, detectMProgram, zeroFillProgram } from './detect.ts';
import { mergeKProgram, pitKIndexSize, pitKProgram } from './pit-k.ts';
import { pitMIndexSize, pitMProgram } from './pit-m.ts';
import { prepareDispatch, type BufferSet, type KernelProgram } from './program.ts';
import { transpose } from './reference.ts';

/** The operands of `C[M,N] = A[M,K] · B[K,N]`, fp32. A is the exploited (dynamically sparse) operand. */
export interface MatmulOperands {
  m: number;
  n: number;
  k: number;
  /** A [M, K] row-major. */
  a: Float32Array;
  /** B [K, N] row-major. */
  b: Float32Array;
}

/**
 * One way to compute the matmul.
 * - `dense`: `microTile` is ignored (null).
 * - `pit-k`: micro-tile `Hx1` with H == `tile.bm` (null means `${tile.bm}x1`), or `tile.bm` a multiple of H: a
 *   merge pass (`merge-k`, timed with the kernel) then unites the k-lists of each `tile.bm / H` row blocks and the
 *   `tile.bm`-row kernel runs over the union.
 * - `pit-m`: micro-tile `1xW`, W >= 1 (W >= K means whole rows; null means `1x${K}`).
 */
export interface VariantSpec {
  name: 'dense' | 'pit-k' | 'pit-m';
  microTile: string | null;
  /**
   * Computation tile: BM x BN x BK per workgroup, TM x TN outputs per thread; `doubleBuffer` (optional, vec4-path
   * tiles only, default true) as in `ComputeTile`.
   */
  tile: { bm: number; bn: number; bk: number; tm: number; tn: number; doubleBuffer?: boolean };
}

/** The outcome of one variant. */
export interface VariantRun {
  spec: VariantSpec;
  /** C [M, N] row-major, from the first (untimed) run. */
  output: Float32Array;
  /** Median kernel time, ms (for pit-m includes zeroing C). */
  kernelMs: number;
  /** Median detection time, ms (zeroing the counts + detection); 0 for dense. */
  detectMs: number;
  /** 'timestamp' when every measurement used GPU timestamp queries, else 'cpu'. */
  timing: 'timestamp' | 'cpu';
  /** Every distinct program that ran (detection and zero-fills included), in dispatch order; `hash` is `wgslHash(text)`. */
  wgsl: { label: string; hash: string; text: string }[];
  /** Effective micro-tile density (0–1) from the GPU detection counts: Σcount / number of micro-tiles; null for dense. */
  microTileDensity: number | null;
  /** Every valid kernel sample, ms, in run order (its median is `kernelMs`): the spread of the measurement. */
  kernelSamplesMs?: number[];
  /** Every valid detection sample, ms (empty for dense). */
  detectSamplesMs?: number[];
}

/**
 * Default computation tile of the dense kernel: 128x128x16 with 8x8 per thread (256 threads), single-buffered (16.6
 * KiB of workgroup memory, inside WebGPU's 16 KiB-per-array and common 32 KiB limits): 3.63 ms for 4096³ fp32
 * (37.9 TFLOP/s) on an NVIDIA H200 (Vulkan), against 5.95 ms for the former 64x64x16/4x4 default and 2.70 ms for
 * cuBLAS (bench/results/nvidia-h200-2026-11-21-run2.md). Adapters with more workgroup memory may prefer
 * 128x256x16/8x16 (3.58 ms there); the bench's per-adapter tuning picks.
 */
export const DEFAULT_DENSE_TILE: ComputeTile = { bm: 128, bn: 128, bk: 16, tm: 8, tn: 8, doubleBuffer: false };
/**
 * Default computation tile of the PIT kernels: 32x128x8 with 4x4 per thread (256 threads, vec4 path,
 * double-buffered); BM = 32 matches the 32x1 micro-tile. Fastest of a sweep on an NVIDIA H200 (Vulkan, 4096³
 * fp32): pit-k 32x1 took 5.54 ms at density 1 and 0.556 ms at density 0.1 (+0.03 ms detection); 8x8-per-thread
 * tiles with BK = 16 ran 2–4x slower (bench/results/nvidia-h200-2026-11-21-run2.md).
 */
export const DEFAULT_PIT_TILE: ComputeTile = { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4 };

/** Elements a tile grid computes for an [M, N] output, padding included. */
function paddedElements(m: number, n: number, t: ComputeTile): number {
  return Math.ceil(m / t.bm) * t.bm * Math.ceil(n / t.bn) * t.bn;
}

/**
 * The dense computation tile for an [M, N] output: DEFAULT_DENSE_TILE, unless its padding makes it compute over
 * 1.5x the elements that DEFAULT_PIT_TILE would (small M: squeeze-excitation layers, a few tokens); then the PIT
 * tile, so that `dense` vs PIT speedups measure sparsity rather than how well a 128-row tile fits 1 row.
 */
export function denseTileFor(m: number, n: number): ComputeTile {
  const big = paddedElements(m, n, DEFAULT_DENSE_TILE);
  const small = paddedElements(m, n, DEFAULT_PIT_TILE);
  return { ...(big > 1.5 * small ? DEFAULT_PIT_TILE : DEFAULT_DENSE_TILE) };
}

/**
 * The default candidates for a matmul [M,K]·[K,N]: dense (tile from `denseTileFor`), pit-k with micro-tile 32x1
 * (PIT's condense-K rule for ReLU-sparse activations) and pit-m with whole-row micro-tiles `1xK` (condense-M for
 * zero rows: padding tokens, MoE routing; one chunk, so no atomics). Shapes are only validated.
 * @throws RangeError on an invalid shape.
 */
export function defaultVariantSpecs(m: number, n: number, k: number): VariantSpec[] {
  validateShape({ m, n, k });
  return [
    { name: 'dense', microTile: null, tile: denseTileFor(m, n) },
    { name: 'pit-k', microTile: `${DEFAULT_PIT_TILE.bm}x1`, tile: { ...DEFAULT_PIT_TILE } },
    { name: 'pit-m', microTile: `1x${k}`, tile: { ...DEFAULT_PIT_TILE } },
  ];
}

/** What runVariant executes for a spec, before any GPU work. */
interface VariantPlan {
  detect: KernelProgram[];
  kernel: KernelProgram[];
  /** Buffers to create: name → contents, or a byte size for a buffer the variant must fill itself (poisoned). */
  inputs: Record<string, Float32Array | number>;
  /** Number of micro-tiles (the density denominator) and the count buffer's length; 0 for dense. */
  microTiles: number;
  countLength: number;
}

/**
 * Builds the programs and buffer list of a variant (no GPU work).
 * @throws RangeError on an inconsistent spec (unknown name, micro-tile not matching the rule or the tile).
 */
function planVariant(ops: MatmulOperands, spec: VariantSpec): VariantPlan {
  const shape = { m: ops.m, n: ops.n, k: ops.k };
  const tile: ComputeTile = { ...spec.tile };
  const cBytes = ops.m * ops.n * 4;
  switch (spec.name) {
    case 'dense':
      return { detect: [], kernel: [denseProgram(shape, tile)], inputs: { a: ops.a, b: ops.b, c: cBytes }, microTiles: 0, countLength: 0 };
    case 'pit-k': {
      const mt = parseMicroTile(spec.microTile ?? `${tile.bm}x1`);
      if (mt.w !== 1) throw new RangeError(`pit-k: micro-tile ${spec.microTile} must be Hx1 (one k per micro-tile)`);
      // The computation tile's BM is the micro-tile height, or a multiple of it: then a merge pass (timed with the
      // kernel) first writes, per BM-row block, the union of its BM/h k-lists, and the BM-row kernel runs over that.
      if (mt.h !== tile.bm && tile.bm % mt.h !== 0) {
        throw new RangeError(`pit-k: micro-tile ${spec.microTile} needs tile.bm == ${mt.h} (the micro-tile height is the computation tile's BM) or a multiple of it, got ${tile.bm}`);
      }
      const { blocks, indexLength } = pitKIndexSize(shape, mt.h);
      const merged = pitKIndexSize(shape, tile.bm);
      const kernel = mt.h === tile.bm ? [pitKProgram(shape, tile)] : [mergeKProgram(shape, mt.h, tile.bm / mt.h), mergedPitK(pitKProgram(shape, tile), mt.h)];
      return {
        detect: [zeroFillProgram('count', blocks), detectKProgram(shape, mt.h)],
        kernel,
        inputs: {
          at: transpose(ops.a, ops.m, ops.k),
          b: ops.b,
          count: blocks * 4,
          index: indexLength * 4,
          c: cBytes,
          ...(mt.h === tile.bm ? {} : { countm: merged.blocks * 4, indexm: merged.indexLength * 4 }),
        },
        microTiles: indexLength,
        countLength: blocks,
      };
    }
    case 'pit-m': {
      const mt = parseMicroTile(spec.microTile ?? `1x${ops.k}`);
      if (mt.h !== 1) throw new RangeError(`pit-m: micro-tile ${spec.microTile} must be 1xW (one row per micro-tile)`);
      const w = Math.min(mt.w, ops.k); // W beyond K is a whole row
      const { chunks, indexLength } = pitMIndexSize(shape, w);
      return {
        detect: [zeroFillProgram('count', chunks), detectMProgram(shape, w)],
        kernel: [zeroFillProgram('c', ops.m * ops.n), pitMProgram(shape, tile, w)],
        inputs: { a: ops.a, b: ops.b, count: chunks * 4, index: indexLength * 4, c: cBytes },
        microTiles: indexLength,
        countLength: chunks,
      };
    }
    default:
      throw new RangeError(`unknown variant '${(spec as { name: string }).name}' (expected dense, pit-k or pit-m)`);
  }
}

/** The pit-k program `p` reading the merged index (`countm`, `indexm`) of `h`-row micro-tiles, so labelled. */
function mergedPitK(p: KernelProgram, h: number): KernelProgram {
  const rename: Record<string, string> = { count: 'countm', index: 'indexm' };
  return {
    ...p,
    label: p.label.replace(/^pit-k \d+x1/, `pit-k ${h}x1 merged`),
    bindings: p.bindings.map((b) => ({ ...b, name: rename[b.name] ?? b.name })),
  };
}

/**
 * Checks a program against the device's limits before dispatching, since an oversized dispatch is only an
 * uncaptured validation error and would leave a silently wrong output.
 * @throws RangeError naming the program and the limit.
 */
function checkLimits(device: GPUDevice, p: KernelProgram, tile: ComputeTile | null): void {
  const lim = device.limits;
  const invocations = p.workgroupSize[0] * p.workgroupSize[1] * p.workgroupSize[2];
  if (invocations > lim.maxComputeInvocationsPerWorkgroup) {
    throw new RangeError(`${p.label}: ${invocations} invocations per workgroup exceed this device's ${lim.maxComputeInvocationsPerWorkgroup}`);
  }
  if (p.workgroupSize[0] > lim.maxComputeWorkgroupSizeX || p.workgroupSize[1] > lim.maxComputeWorkgroupSizeY) {
    throw new RangeError(`${p.label}: workgroup size ${p.workgroupSize.join('x')} exceeds this device's limits`);
  }
  for (const g of p.workgroups) {
    if (g > lim.maxComputeWorkgroupsPerDimension) {
      throw new RangeError(`${p.label}: grid ${p.workgroups.join('x')} exceeds ${lim.maxComputeWorkgroupsPerDimension} workgroups per dimension`);
    }
  }
  if (tile) {
    const padded = p.family !== 'pit-k';
    // Bookkeeping variables: pit-m's row list and count, pit-k's count (each rounded up to 16 bytes as WebGPU does).
    const extraWords = p.family === 'pit-m' ? Math.ceil(tile.bm / 4) * 4 + 4 : p.family === 'pit-k' ? 4 : 0;
    const bytes = matmulWorkgroupBytes(tile, padded, extraWords);
    if (bytes > lim.maxComputeWorkgroupStorageSize) {
      throw new RangeError(`${p.label}: ${bytes} bytes of workgroup memory exceed this device's ${lim.maxComputeWorkgroupStorageSize}`);
    }
  }
}

/**
 * Keeps the GPU busy with `dispatches` for about `ms` of wall time (batches of up to 64 copies per submission), so
 * that its clocks have left their idle state before timing: an H200 idles at 345 MHz and takes far longer than a
 * few short warm-up runs to reach its 1980 MHz boost, which made the first measurements of a figure up to 4x slow.
 * @throws DeviceLostError when the device is lost meanwhile.
 */
export async function spin(ctx: GpuContext, dispatches: Dispatch[], ms: number): Promise<void> {
  const t0 = performance.now();
  let batch = 1;
  while (performance.now() - t0 < ms) {
    assertAlive(ctx);
    const t1 = performance.now();
    const enc = ctx.device.createCommandEncoder();
    for (let i = 0; i < batch; i++) encodeDispatches(enc, dispatches);
    ctx.device.queue.submit([enc.finish()]);
    await ctx.device.queue.onSubmittedWorkDone();
    // Grow the batch until one submission takes ~20 ms, so short kernels keep the GPU busy too.
    if (performance.now() - t1 < 20 && batch < 64) batch *= 2;
  }
  assertAlive(ctx);
}

/** Bit pattern of a quiet NaN (f32), which is also a huge u32 count. */
const POISON = 0x7fc00000;

/**
 * A storage buffer of `bytes` bytes filled with `POISON` rather than zeros: outputs, counts and indexes start as
 * garbage, so a correct first-run output proves that the variant's own (timed) work writes every element of C and
 * clears its counts, as it must when buffers are reused between calls.
 */
function poisoned(device: GPUDevice, bytes: number, label: string): GPUBuffer {
  return storageFrom(device, new Uint32Array(Math.ceil(bytes / 4)).fill(POISON), label);
}

/**
 * Runs one variant: uploads the operands in the layout it needs (A transposed on the CPU for pit-k, untimed), runs
 * detection then the kernel once and reads C back, then times detection and kernel separately with
 * `timeDispatches` (`timing.warmup` unmeasured runs, then, when `timing.warmupMs` is given, about that many ms of
 * back-to-back runs to bring the GPU's clocks up, then `timing.repeat` measured runs, median). Every GPU buffer it creates
 * is destroyed before it returns or throws. Detection's density comes from the GPU counts of the first run. The
 * output, count and index buffers start filled with a NaN pattern (see `poisoned`), so nothing relies on WebGPU's
 * zero-initialisation that a deployed kernel reusing its buffers would not get.
 * @throws RangeError on inconsistent operands or spec, or a tile exceeding the device's limits; ShaderCompileError
 * when a generated WGSL fails to compile; DeviceLostError when the device is lost; Error on a validation error of
 * the submitted work.
 */
export async function runVariant(
  ctx: GpuContext,
  cache: PipelineCache,
  ops: MatmulOperands,
  spec: VariantSpec,
  timing: { warmup: number; repeat: number; warmupMs?: number },
): Promise<VariantRun> {
  validateShape(ops);
  if (ops.a.length !== ops.m * ops.k) throw new RangeError(`A has ${ops.a.length} elements, [${ops.m}, ${ops.k}] needs ${ops.m * ops.k}`);
  if (ops.b.length !== ops.k * ops.n) throw new RangeError(`B has ${ops.b.length} elements, [${ops.k}, ${ops.n}] needs ${ops.k * ops.n}`);
  assertAlive(ctx);
  const plan = planVariant(ops, spec);
  const { device } = ctx;
  const all = [...plan.detect, ...plan.kernel];
  for (const p of all) checkLimits(device, p, p.family === 'dense' || p.family === 'pit-k' || p.family === 'pit-m' ? spec.tile : null);

  const created: GPUBuffer[] = [];
  const track = (b: GPUBuffer): GPUBuffer => {
    created.push(b);
    return b;
  };
  try {
    const shared: BufferSet = {};
    for (const [name, v] of Object.entries(plan.inputs)) {
      shared[name] = track(typeof v === 'number' ? poisoned(device, v, name) : storageFrom(device, v, name));
    }
    const prepare = async (p: KernelProgram): Promise<Dispatch & { hash: string }> => {
      const set: BufferSet = { ...shared };
      if (p.params) set.params = track(uniformU32(device, p.params, `${p.label}:params`));
      return prepareDispatch(ctx, cache, p, set);
    };
    // Sequential: lavapipe compiles on the CPU, and a compile error should name the first program that failed.
    const detect: (Dispatch & { hash: string })[] = [];
    for (const p of plan.detect) detect.push(await prepare(p));
    const kernel: (Dispatch & { hash: string })[] = [];
    for (const p of plan.kernel) kernel.push(await prepare(p));

    // First run, checked for validation errors (an invalid dispatch would otherwise only be logged).
    device.pushErrorScope('validation');
    await runDispatches(ctx, [...detect, ...kernel]);
    const verr = await device.popErrorScope();
    if (verr) throw new Error(`variant ${spec.name}${spec.microTile ? ' ' + spec.microTile : ''}: GPU validation error: ${verr.message.split('\n')[0]}`);
    const output = await readF32(device, shared.c!, ops.m * ops.n);
    let microTileDensity: number | null = null;
    if (plan.countLength) {
      const counts = await readU32(device, shared.count!, plan.countLength);
      let sum = 0;
      for (const c of counts) sum += c;
      microTileDensity = sum / plan.microTiles;
    }

    const opts = { warmup: Math.max(0, timing.warmup), repeat: Math.max(1, timing.repeat) };
    const spinMs = timing.warmupMs ?? 0;
    let detectMs = 0;
    let detectSamplesMs: number[] = [];
    let allTimestamp = true;
    if (detect.length) {
      if (spinMs > 0) await spin(ctx, detect, spinMs);
      const t = await timeDispatches(ctx, detect, opts);
      detectMs = t.medianMs;
      detectSamplesMs = t.samplesMs;
      allTimestamp &&= t.method === 'timestamp';
    }
    if (spinMs > 0) await spin(ctx, kernel, spinMs);
    const tk = await timeDispatches(ctx, kernel, opts);
    allTimestamp &&= tk.method === 'timestamp';

    const wgsl: VariantRun['wgsl'] = [];
    const seen = new Set<string>();
    all.forEach((p, i) => {
      const hash = [...detect, ...kernel][i]!.hash;
      if (seen.has(hash)) return;
      seen.add(hash);
      wgsl.push({ label: p.label, hash, text: p.wgsl });
    });
    return {
      spec,
      output,
      kernelMs: tk.medianMs,
      detectMs,
      timing: allTimestamp ? 'timestamp' : 'cpu',
      wgsl,
      microTileDensity,
      kernelSamplesMs: tk.samplesMs,
      detectSamplesMs,
    };
  } finally {
    for (const b of created) b.destroy();
  }
}

