/**
 * The generic runner of a kernel family's variant on the GPU: builds the programs a configuration plans
 * (`KernelFamily.plan`), uploads the operands in the layout they read, runs the work once (verification run: the
 * output C and the detected micro-tile density are read back) and then takes timed samples, each sample timing its
 * phases together in one submission:
 * - layout: the transpose a family's layout needs when the producer of A does not write it (pit-k's `AT` for a
 *   MatMul activation; im2col writes either layout, so Conv layers need none);
 * - detection: the family's index construction (zero-fill of the counts, detection);
 * - kernel: the computation (zero-fill of C where needed, index merges, the matmul).
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
import { extents, transposeProgram } from './detect.ts';
import type { ALayout, FamilyConfig, FamilyPlan, PlanContext } from './family.ts';
import { checkProgramLimits, prepareDispatch, type BufferSet, type KernelProgram } from './program.ts';
import { transpose } from './reference.ts';
import { familyOfConfig } from './registry.ts';
import { validateShape, type MatmulShape } from './shape.ts';

export { DEFAULT_DENSE_TILE, DEFAULT_PIT_TILE } from './tiles.ts';

/** The operands of `C[M,N] = A[M,K] · B[K,N]`, fp32. A is the exploited (dynamically sparse) operand. */
export interface MatmulOperands {
  m: number;
  n: number;
  k: number;
  /** A [M, K] row-major. */
  a: Float32Array;
  /** B [K, N] row-major. */
  b: Float32Array;
  /**
   * Layouts of A the producing operator writes at no extra cost (default `['a']`: a MatMul/Gemm activation is
   * row-major). im2col writes whichever layout its consumer reads, so lowered Conv layers give `['a', 'at']`.
   * A family reading a layout not listed gets a timed layout phase (a GPU transpose).
   */
  freeLayouts?: readonly ALayout[];
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
  /** Layout preparation programs (empty when the producer writes the layout the family reads). */
  layout: KernelProgram[];
  /** Operand buffers: `b` (weight) and the layout(s) of A uploaded as inputs. */
  operands: { name: 'a' | 'at' | 'b'; role: 'input' | 'weight'; shape: number[] }[];
}

/**
 * The plan of `spec` at shape `s` including the layout phase: when the family reads `at` and the producer does not
 * write it, `a` is the input and a transpose writes `at` (scratch) inside the timed work.
 * @throws RangeError when the family cannot run the configuration at this shape, or the family is unknown.
 */
export function planVariant(s: MatmulShape, spec: VariantSpec, freeLayouts: readonly ALayout[] = ['a'], ctx?: PlanContext): VariantPlan {
  // The family's plan validates the configuration itself (legality for rule enumeration is a separate question:
  // a `1xW` with W ≥ K runs fine, it is only not a distinct rule).
  const plan = familyOfConfig(spec).plan(s, spec, ctx);
  const weight = { name: 'b' as const, role: 'weight' as const, shape: [s.k, s.n] };
  const needs = plan.aLayout;
  if (freeLayouts.includes(needs)) {
    return { ...plan, layout: [], operands: [{ name: needs, role: 'input', shape: needs === 'a' ? [s.m, s.k] : [s.k, s.m] }, weight] };
  }
  const e = extents(s);
  const [rows, cols] = needs === 'at' ? [e.M, e.K] : [e.K, e.M];
  const from = needs === 'at' ? 'a' : 'at';
  return {
    ...plan,
    buffers: [{ name: needs, dtype: 'f32', shape: needs === 'at' ? [s.k, s.m] : [s.m, s.k], role: 'scratch' }, ...plan.buffers],
    layout: [transposeProgram(from, needs, rows, cols, e.vars)],
    operands: [{ name: from, role: 'input', shape: from === 'a' ? [s.m, s.k] : [s.k, s.m] }, weight],
  };
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

/** Bytes of a plan buffer or operand (f32 and u32 elements are 4 bytes). */
function bufferBytes(b: { shape: number[] }): number {
  return 4 * b.shape.reduce((x, y) => x * y, 1);
}

/**
 * Bytes a variant's plan holds on the GPU at once: every operand and buffer, plus the staging copy C is read back
 * through. The profile job sizes layers with it (core/profile/fit.ts) before lowering anything.
 */
export function planBytes(plan: VariantPlan): { total: number; largest: { name: string; shape: number[]; bytes: number } } {
  const all = [...plan.operands, ...plan.buffers];
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
  for (const b of [...plan.operands, ...plan.buffers]) checkBinding(label, b.name, b.shape, bufferBytes(b), cap);
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
  /** Runs all phases once and reads back C [M, N] and the detected micro-tile density (null without detection). */
  runOnce(): Promise<{ output: Float32Array; density: number | null }>;
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
  if (ops.a.length !== ops.m * ops.k) throw new RangeError(`A has ${ops.a.length} elements, [${ops.m}, ${ops.k}] needs ${ops.m * ops.k}`);
  if (ops.b.length !== ops.k * ops.n) throw new RangeError(`B has ${ops.b.length} elements, [${ops.k}, ${ops.n}] needs ${ops.k * ops.n}`);
  assertAlive(ctx);
  const plan = planVariant(ops, spec, ops.freeLayouts ?? ['a'], { a: ops.a, b: ops.b, ...ops.context });
  const { device } = ctx;
  const programs = planPrograms(plan);
  const name = familyOfConfig(spec).variantName(spec);
  for (const { program } of programs) checkProgramLimits(device.limits, program);
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
    const prepared: { phase: string; d: Dispatch & { hash: string }; p: KernelProgram }[] = [];
    await withGpuErrors(device, `variant ${name}: creating buffers`, () => {
      for (const o of plan.operands) {
        const data = o.name === 'b' ? ops.b : o.name === 'a' ? ops.a : transpose(ops.a, ops.m, ops.k);
        shared[o.name] = track(storageFrom(device, data, o.name));
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
        const output = await readF32(device, shared.c!, ops.m * ops.n);
        let density: number | null = null;
        if (plan.counts) {
          const counts = await readU32(device, shared[plan.counts.buffer]!, plan.counts.length);
          let sum = 0;
          for (const c of counts) sum += c;
          density = sum / plan.counts.microTiles;
        }
        return { output, density };
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

/** The outcome of `runVariant`. */
export interface VariantRun {
  spec: VariantSpec;
  /** C [M, N] row-major, from the first (untimed) run. */
  output: Float32Array;
  /** Median kernel time, ms (zero-fills of C and index merges included). */
  kernelMs: number;
  /** Median detection time, ms (zeroing the counts + detection); 0 for dense. */
  detectMs: number;
  /** Median layout preparation time, ms; 0 when the producer writes the layout. */
  layoutMs: number;
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
