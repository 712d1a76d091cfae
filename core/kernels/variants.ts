/**
 * The generic runner of a kernel family's variant on the GPU: builds the programs a configuration plans
 * (`KernelFamily.plan`), uploads the operands in the layout they read, runs the work once (verification run: the
 * output C and the detected micro-tile density are read back) and then takes timed samples, each sample timing its
 * phases together in one submission:
 * - layout: the transpose a family's layout needs when the producer of an operand does not write it (pit-k's `AT` for
 *   a MatMul activation — im2col writes either layout, so Conv layers need none; pit-n's `BT` for an activation B —
 *   a constant weight is laid out once, offline);
 * - detection: the family's index construction (zero-fill of the counts, detection);
 * - kernel: the computation (zero-fill of C where needed, index merges, the matmul).
 * Batched shapes (shape.ts) run the same way: every operand per batch (or shared), C [batch, M, N].
 * Nothing here names a family: every family-specific decision comes from the registry (registry.ts).
 */
import type { GpuContext } from '../gpu/device.ts';
import { assertAlive } from '../gpu/device.ts';
import { withGpuErrors } from '../gpu/error-scope.ts';
import { ResourceLimitError } from '../gpu/errors.ts';
import { bindingLimit, checkBinding, formatBytes } from '../gpu/limits.ts';
import { readF32, readU32, storageFrom, uniformU32 } from '../gpu/buffers.ts';
import type { PipelineCache } from '../gpu/pipeline-cache.ts';
import { encodeDispatches, median, runDispatches, samplePhases, type Dispatch, type PhaseSample } from '../gpu/timing.ts';
import { extents, operandBatch, transposeProgram, type Extent } from './detect.ts';
import type { FamilyConfig, FamilyPlan, OperandLayout, PlanContext } from './family.ts';
import { checkProgramLimits, prepareDispatch, type BufferSet, type KernelProgram } from './program.ts';
import { toF16Bits } from './f16.ts';
import { transpose } from './reference.ts';
import { familyOfConfig } from './registry.ts';
import { batchOf, isBatched, validateShape, type MatmulShape } from './shape.ts';

export { DEFAULT_DENSE_TILE, DEFAULT_PIT_TILE } from './tiles.ts';

/**
 * The operands of `C[M,N] = A[M,K] · B[K,N]`, as f32 values, and the shape (possibly batched: `batch`, `aShared`,
 * `bShared`, see shape.ts). A is the dynamically sparse operand PIT exploits (and B too when `bActivation`). A family
 * of dtype f16 gets them uploaded rounded to f16 (callers verifying against a reference round them first: f16.ts
 * `roundToF16`).
 */
export interface MatmulOperands extends MatmulShape {
  /** A [M, K] row-major; batched: [batch, M, K], or one [M, K] when `aShared`. */
  a: Float32Array;
  /** B [K, N] row-major; batched: [batch, K, N], or one [K, N] when `bShared`. */
  b: Float32Array;
  /**
   * Layouts the producing operators write at no extra cost (default `['a']`: a MatMul/Gemm activation is row-major;
   * B's row-major `b` is always there). im2col writes whichever layout its consumer reads, so lowered Conv layers
   * give `['a', 'at']`; a constant B can be laid out offline (`bt`). A family reading a layout not listed gets a
   * timed layout phase (a GPU transpose).
   */
  freeLayouts?: readonly OperandLayout[];
  /** Facts about the layer a family's plan may use (see `PlanContext`), e.g. the valid rows of a padded batch. */
  context?: Omit<PlanContext, 'a' | 'b'>;
  /**
   * The most bytes this variant's GPU buffers may take together (the job's memory budget, core/gpu/limits.ts);
   * checked before anything is created. Unchecked when absent (the binding limits always apply).
   */
  budgetBytes?: number;
}

/** One way to compute the matmul: a kernel family's configuration with its micro-tile resolved for the layer. */
export type VariantSpec = FamilyConfig;

/** A plan with its layout phase: the programs by phase and every buffer with its role. */
export interface VariantPlan extends FamilyPlan {
  /** Layout preparation programs (empty when the producers write the layouts the family reads). */
  layout: KernelProgram[];
  /** Operand buffers uploaded: the layout(s) of A (inputs) and of B (a weight, or an input when B is an activation). */
  operands: { name: OperandLayout; role: 'input' | 'weight'; shape: number[] }[];
}

/** Row-major shape of an operand layout at `s`, with the batch in front for a batched, unshared operand. */
function layoutShape(s: MatmulShape, name: OperandLayout): number[] {
  const dims = { a: [s.m, s.k], at: [s.k, s.m], b: [s.k, s.n], bt: [s.n, s.k] }[name];
  const shared = name === 'a' || name === 'at' ? s.aShared : s.bShared;
  return isBatched(s) && !shared ? [batchOf(s), ...dims] : dims;
}

/**
 * The plan of `spec` at shape `s` including the layout phase: when the family reads `at` (resp. `bt`) and the
 * producer does not write it, `a` (`b`) is the input and a transpose writes `at` (`bt`, scratch) inside the timed
 * work — per batch for a batched operand.
 * @throws RangeError when the family cannot run the configuration at this shape, or the family is unknown.
 */
export function planVariant(s: MatmulShape, spec: VariantSpec, freeLayouts: readonly OperandLayout[] = ['a'], ctx?: PlanContext): VariantPlan {
  // The family's plan validates the configuration itself (legality for rule enumeration is a separate question:
  // a `1xW` with W ≥ K runs fine, it is only not a distinct rule).
  const plan = familyOfConfig(spec).plan(s, spec, ctx);
  const e = extents(s);
  const dtype = plan.dtype ?? 'f32';
  const layout: KernelProgram[] = [];
  const scratch: FamilyPlan['buffers'] = [];
  const operands: VariantPlan['operands'] = [];
  /** The operand in layout `needs`: uploaded when free, else transposed on the GPU from `other` (uploaded). */
  const place = (needs: OperandLayout, other: OperandLayout, role: 'input' | 'weight', rows: Extent, cols: Extent, batch: Extent | undefined) => {
    if (freeLayouts.includes(needs) || needs === 'b') {
      operands.push({ name: needs, role, shape: layoutShape(s, needs) });
      return;
    }
    operands.push({ name: other, role, shape: layoutShape(s, other) });
    scratch.push({ name: needs, dtype, shape: layoutShape(s, needs), role: 'scratch' });
    layout.push(transposeProgram(other, needs, rows, cols, e.vars, batch, dtype));
  };
  const aBatch = operandBatch(s, s.aShared);
  if (plan.aLayout === 'at') place('at', 'a', 'input', e.M, e.K, aBatch);
  else place('a', 'at', 'input', e.K, e.M, aBatch);
  const bRole = s.bActivation ? 'input' : 'weight';
  if ((plan.bLayout ?? 'b') === 'bt') place('bt', 'b', bRole, e.K, e.N, operandBatch(s, s.bShared));
  else place('b', 'bt', bRole, e.N, e.K, undefined);
  return { ...plan, buffers: [...scratch, ...plan.buffers], layout, operands };
}

/** Every program of a plan in dispatch order, with its phase. */
export function planPrograms(p: VariantPlan): { phase: 'layout' | 'detect' | 'compute'; program: KernelProgram }[] {
  return [
    ...p.layout.map((program) => ({ phase: 'layout' as const, program })),
    ...p.detect.map((program) => ({ phase: 'detect' as const, program })),
    ...p.compute.map((program) => ({ phase: 'compute' as const, program })),
  ];
}

/** NaN bit pattern used to poison buffers the variant must write itself (see `poisoned`). */
const POISON = 0x7fc00000;

/**
 * A storage buffer of `bytes` bytes filled with `POISON` rather than zeros: outputs, counts and indexes start as
 * garbage, so a correct first-run output proves that the variant's own (timed) work writes every element of C and
 * clears its counts, as it must when buffers are reused between calls.
 */
function poisoned(device: GPUDevice, bytes: number, label: string): GPUBuffer {
  return storageFrom(device, new Uint32Array(Math.ceil(bytes / 4)).fill(POISON), label);
}

/** Bytes of an element of a plan buffer's dtype (f16: 2; f32 and u32: 4). */
function elementBytes(dtype: string | undefined): number {
  return dtype === 'f16' ? 2 : 4;
}

/** Bytes of a plan buffer or operand: its elements at their dtype, at least its `minBytes`. */
function bufferBytes(b: { shape: number[]; dtype?: string; minBytes?: number }): number {
  return Math.max(elementBytes(b.dtype) * b.shape.reduce((x, y) => x * y, 1), b.minBytes ?? 0);
}

/** Every buffer a plan creates: its operands (at the plan's dtype) and its own buffers. */
function planAllocations(plan: VariantPlan): { name: string; shape: number[]; dtype?: string; minBytes?: number }[] {
  const dtype = plan.dtype ?? 'f32';
  return [...plan.operands.map((o) => ({ ...o, dtype })), ...plan.buffers];
}

/**
 * Bytes a variant's plan holds on the GPU at once: every operand (at the plan's dtype) and buffer, plus the staging
 * copy C is read back through. The profile job sizes layers with it (core/profile/fit.ts) before lowering anything.
 */
export function planBytes(plan: VariantPlan): { total: number; largest: { name: string; shape: number[]; bytes: number } } {
  const all = planAllocations(plan);
  let largest = { name: '', shape: [] as number[], bytes: 0 };
  let total = 0;
  for (const b of all) {
    const bytes = bufferBytes(b);
    total += bytes;
    if (bytes > largest.bytes) largest = { name: b.name, shape: b.shape, bytes };
  }
  const c = plan.buffers.find((b) => b.role === 'output');
  return { total: total + (c ? bufferBytes(c) : 0), largest };
}

/**
 * Checks every buffer of a plan against the device's binding and buffer size limits, and their sum against the
 * budget, before anything is created.
 * @throws ResourceLimitError naming the buffer (or the sum) and the limit.
 */
function checkBufferLimits(limits: GPUSupportedLimits, label: string, plan: VariantPlan, budgetBytes?: number): void {
  const cap = bindingLimit(limits);
  for (const b of planAllocations(plan)) checkBinding(label, b.name, b.shape, bufferBytes(b), cap);
  const { total } = planBytes(plan);
  if (budgetBytes !== undefined && total > budgetBytes) {
    throw new ResourceLimitError(`${label}: its GPU buffers need ${formatBytes(total)} together, over the memory budget of ${formatBytes(budgetBytes)}`);
  }
}

/** A variant with its programs built and buffers filled, ready to run and be sampled many times. */
export interface PreparedVariant {
  spec: VariantSpec;
  plan: VariantPlan;
  /** Every distinct program that runs (layout, detection, zero-fills, kernel), in dispatch order; `hash` = sha256 of `text`. */
  wgsl: { label: string; hash: string; text: string }[];
  /**
   * Runs all phases once and reads back C [M, N] ([batch, M, N]) and the detected micro-tile density (null without
   * detection); `readbackMs`: the copy and map of C, CPU clock (the readback of the timeline).
   */
  runOnce(): Promise<{ output: Float32Array; density: number | null; readbackMs: number }>;
  /** `count` timed samples; each sample's phases are `[layout, detection, kernel]` ms. */
  sample(count: number): Promise<{ samples: PhaseSample[]; method: 'timestamp' | 'cpu' }>;
  /** The dispatches of every phase in order (for warming the GPU up). */
  dispatches(): Dispatch[];
  /** Destroys every buffer it created. Idempotent. */
  destroy(): void;
}

/**
 * Builds a variant on the GPU: validates operands and limits, plans, uploads the operands in the layouts the plan
 * reads, poisons output and scratch buffers, and builds every pipeline (sequentially: lavapipe compiles on the CPU,
 * and a compile error should name the first program that failed). Destroys what it created when it throws.
 * Buffer and bind-group creation run inside error scopes (core/gpu/error-scope.ts), so a GPU error names its own
 * cause rather than surfacing later as an invalid bind group.
 * @throws RangeError on inconsistent operands or spec, or a program over the device's limits; ResourceLimitError
 *   when a buffer is over the binding limit or all of them over `ops.budgetBytes` (nothing created);
 *   GpuValidationError when creating a buffer or bind group fails; ShaderCompileError when a generated WGSL fails to
 *   compile; DeviceLostError when the device is lost.
 */
export async function prepareVariant(ctx: GpuContext, cache: PipelineCache, ops: MatmulOperands, spec: VariantSpec): Promise<PreparedVariant> {
  validateShape(ops);
  const batch = batchOf(ops);
  const aMats = batch > 1 && !ops.aShared ? batch : 1;
  const bMats = batch > 1 && !ops.bShared ? batch : 1;
  const dims = (mats: number, r: number, c: number) => (mats > 1 ? `[${mats}, ${r}, ${c}]` : `[${r}, ${c}]`);
  if (ops.a.length !== aMats * ops.m * ops.k) throw new RangeError(`A has ${ops.a.length} elements, ${dims(aMats, ops.m, ops.k)} needs ${aMats * ops.m * ops.k}`);
  if (ops.b.length !== bMats * ops.k * ops.n) throw new RangeError(`B has ${ops.b.length} elements, ${dims(bMats, ops.k, ops.n)} needs ${bMats * ops.k * ops.n}`);
  assertAlive(ctx);
  const plan = planVariant(ops, spec, ops.freeLayouts ?? ['a'], { a: ops.a, b: ops.b, ...ops.context });
  const { device } = ctx;
  const programs = planPrograms(plan);
  const name = familyOfConfig(spec).variantName(spec);
  for (const { program } of programs) checkProgramLimits(device.limits, program);
  const dtype = plan.dtype ?? 'f32';
  if (dtype === 'f16' && !ctx.shaderF16) throw new RangeError(`${name}: f16 kernels need the WebGPU feature 'shader-f16', which this device lacks`);
  checkBufferLimits(device.limits, `variant ${name}`, plan, ops.budgetBytes);

  const created: GPUBuffer[] = [];
  const track = (b: GPUBuffer): GPUBuffer => {
    created.push(b);
    return b;
  };
  const destroy = () => {
    for (const b of created.splice(0)) b.destroy();
  };
  try {
    const shared: BufferSet = {};
    const layouts: Record<OperandLayout, () => Float32Array> = {
      a: () => ops.a,
      at: () => transposeBatched(ops.a, aMats, ops.m, ops.k),
      b: () => ops.b,
      bt: () => transposeBatched(ops.b, bMats, ops.k, ops.n),
    };
    const prepared: { phase: string; d: Dispatch & { hash: string }; p: KernelProgram }[] = [];
    await withGpuErrors(device, `variant ${name}: creating buffers`, () => {
      for (const o of plan.operands) {
        const data = layouts[o.name]();
        // f16 plans read the operands as f16 (rounded to nearest even; exact when the caller rounded them already).
        shared[o.name] = track(storageFrom(device, dtype === 'f16' ? toF16Bits(data) : data, o.name));
      }
      for (const b of plan.buffers) {
        const given = plan.uploads?.[b.name];
        shared[b.name] = track(given ? storageFrom(device, given, b.name) : poisoned(device, bufferBytes(b), b.name));
      }
    });
    for (const { phase, program } of programs) {
      const set: BufferSet = { ...shared };
      const d = await withGpuErrors(device, `variant ${name}: binding ${program.label}`, () => {
        if (program.params) set.params = track(uniformU32(device, program.params, `${program.label}:params`));
        return prepareDispatch(ctx, cache, program, set);
      });
      prepared.push({ phase, p: program, d });
    }
    const phase = (name: string) => prepared.filter((x) => x.phase === name).map((x) => x.d);
    const phases = [phase('layout'), phase('detect'), phase('compute')];
    const wgsl: PreparedVariant['wgsl'] = [];
    for (const { p, d } of prepared) if (!wgsl.some((w) => w.hash === d.hash)) wgsl.push({ label: p.label, hash: d.hash, text: p.wgsl });
    return {
      spec,
      plan,
      wgsl,
      async runOnce() {
        // Checked for validation errors: an invalid dispatch would otherwise only be logged, leaving a wrong output.
        await withGpuErrors(device, `variant ${name}: running`, () => runDispatches(ctx, phases.flat()));
        const t0 = performance.now();
        const output = await readF32(device, shared.c!, batch * ops.m * ops.n);
        const readbackMs = performance.now() - t0;
        let density: number | null = null;
        if (plan.counts) {
          const counts = await readU32(device, shared[plan.counts.buffer]!, plan.counts.length);
          let sum = 0;
          for (const c of counts) sum += c;
          density = sum / plan.counts.microTiles;
        }
        return { output, density, readbackMs };
      },
      sample: (count) => samplePhases(ctx, phases, count),
      dispatches: () => phases.flat(),
      destroy,
    };
  } catch (e) {
    destroy();
    throw e;
  }
}

/** The transpose of each of `mats` row-major [rows, cols] matrices stored one after the other. */
export function transposeBatched(x: Float32Array, mats: number, rows: number, cols: number): Float32Array {
  if (mats === 1) return transpose(x, rows, cols);
  const out = new Float32Array(x.length);
  const size = rows * cols;
  for (let b = 0; b < mats; b++) out.set(transpose(x.subarray(b * size, (b + 1) * size), rows, cols), b * size);
  return out;
}

/** The outcome of `runVariant`. */
export interface VariantRun {
  spec: VariantSpec;
  /** C [M, N] row-major ([batch, M, N] when batched), from the first (untimed) run. */
  output: Float32Array;
  /** Median kernel time, ms (zero-fills of C and index merges included). */
  kernelMs: number;
  /** Median detection time, ms (zeroing the counts + detection); 0 for dense. */
  detectMs: number;
  /** Median layout preparation time, ms; 0 when the producer writes the layout. */
  layoutMs: number;
  /**
   * CPU time, ms, of building the plan's uploads (a static weight pattern's index, once per model: not in
   * `kernelMs`); null when the plan uploads nothing.
   */
  indexMs: number | null;
  /** 'timestamp' when the samples used GPU timestamp queries, else 'cpu'. */
  timing: 'timestamp' | 'cpu';
  /** Every distinct program that ran, in dispatch order; `hash` is `wgslHash(text)`. */
  wgsl: { label: string; hash: string; text: string }[];
  /** Micro-tile density (0–1) from the GPU detection counts: Σcount / number of micro-tiles; null for dense. */
  microTileDensity: number | null;
  /** Every valid sample's phases `[layout, detection, kernel]`, ms, in run order. */
  samples: PhaseSample[];
  /** Kernel phase of every sample, ms. */
  kernelSamplesMs: number[];
  /** Detection phase of every sample, ms (zeros for dense). */
  detectSamplesMs: number[];
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
    // Grow the batch while one submission is short, so the submission overhead does not dominate.
    if (performance.now() - t1 < 5 && batch < 64) batch *= 2;
  }
}

/**
 * Runs one variant start to end (prepare, verification run, `timing.warmup` unmeasured runs, optionally about
 * `timing.warmupMs` of back-to-back runs to bring the GPU's clocks up, then `timing.repeat` samples). Every GPU buffer
 * it creates is destroyed before it returns or throws. For the tuner and the benchmarks; the profile job interleaves
 * several prepared variants itself (core/profile/measure.ts).
 * @throws as `prepareVariant`, and Error on a validation error of the submitted work.
 */
export async function runVariant(
  ctx: GpuContext,
  cache: PipelineCache,
  ops: MatmulOperands,
  spec: VariantSpec,
  timing: { warmup: number; repeat: number; warmupMs?: number },
): Promise<VariantRun> {
  const v = await prepareVariant(ctx, cache, ops, spec);
  try {
    const { output, density } = await v.runOnce();
    for (let i = 0; i < Math.max(0, timing.warmup); i++) await runDispatches(ctx, v.dispatches());
    if (timing.warmupMs) await spin(ctx, v.dispatches(), timing.warmupMs);
    const { samples, method } = await v.sample(Math.max(1, timing.repeat));
    const col = (i: number) => samples.map((s) => s[i]!);
    return {
      spec,
      output,
      kernelMs: median(col(2)),
      detectMs: v.plan.detect.length ? median(col(1)) : 0,
      layoutMs: median(col(0)),
      indexMs: v.plan.indexMs ?? null,
      timing: method,
      wgsl: v.wgsl,
      microTileDensity: density,
      samples,
      kernelSamplesMs: col(2),
      detectSamplesMs: col(1),
    };
  } finally {
    v.destroy();
  }
}
