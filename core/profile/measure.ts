/**
 * How the profile job measures one layer's variants (the issue "speed-ups that sparsity explains", item 4):
 * 1. every candidate is built once and run once — its output verified against the reference (batch by batch for a
 *    batched layer) and its GPU detection checked against the CPU coverage of the micro-tile it indexes (on A, or on
 *    B for pit-n); a variant that fails is recorded with its error and never timed;
 * 2. the GPU is warmed up by time (back-to-back runs for `warmupMs`, so its clocks leave their idle state);
 * 3. samples are taken in interleaved rounds: each round takes one sample of every verified variant, in an order
 *    rotated by one each round, so slow drifts of the machine spread over all variants instead of biasing one;
 * 4. every sample is kept (layout + detection + kernel timed together in one submission; see `samplePhases`), and a
 *    variant's time is the median of its sample totals, with its spread.
 * More rounds can be taken for some variants afterwards (re-measuring a layer the timer could not decide).
 */
import type { GpuContext } from '../gpu/device.ts';
import type { PipelineCache } from '../gpu/pipeline-cache.ts';
import type { PhaseSample } from '../gpu/timing.ts';
import type { SparseOperand } from '../kernels/family.ts';
import type { CompareResult } from '../kernels/reference.ts';
import { prepareVariant, spin, type MatmulOperands, type PreparedVariant, type VariantSpec } from '../kernels/variants.ts';
import { oneLine } from '../model/errors.ts';
import type { VariantResult } from '../protocol.ts';
import { tileName } from '../../shaders/common.wgsl.ts';
import { sampleStats, type SampleStats } from './stats.ts';

/** A variant to measure on a layer. */
export interface Candidate {
  /** Variant name (unique per layer). */
  name: string;
  spec: VariantSpec;
  /** The micro-tile whose non-zero tiles the kernel computes (`KernelFamily.microTile`), null for dense. */
  microTile: string | null;
  /** Its effective density on the layer's A — or B when `operand` is `b` — over every batch (null for dense). */
  effectiveDensity: number | null;
  /** `b` when the family detects its micro-tiles on B (pit-n); absent for A. */
  operand?: 'b';
}

/** Checks of a variant's first run. */
export interface Verifier {
  /**
   * Compares C [M, N] ([batch, M, N]; before the layer's epilogue) with the reference: every row, or only `rows`
   * when the plan computes only those (`FamilyPlan.outputRows`, a sequence-length index). A batched comparison names
   * its worst batch (`worstBatch`, with that batch's error `worstBatchErr` against `tolerance`).
   */
  output(c: Float32Array, rows?: readonly number[]): CompareResult & { worstBatch?: number; worstBatchErr?: number };
  /**
   * The CPU density (fraction of non-zero micro-tiles, over every batch) of `microTile` on operand A (default) or B,
   * for the GPU detection check.
   */
  density(microTile: string, operand?: SparseOperand): number;
}

/** One measured variant: its stored result and its raw samples. */
export interface Measured {
  candidate: Candidate;
  result: VariantResult;
  /** Every sample's phases `[layout, detection, kernel]`, ms, in the order taken. */
  samples: PhaseSample[];
  stats: SampleStats;
  /** Copy and map of C after the verification run, ms (CPU clock); NaN when it did not run. */
  readbackMs: number;
}

/** Thrown through when the job is cancelled or the device lost (measurement must stop, not record an error). */
const FATAL = new Set(['DeviceLostError', 'CancelledError']);

/**
 * The variants of one layer on the GPU, prepared and verified, ready for interleaved rounds. Call `release` when done
 * (it destroys every GPU buffer).
 */
export class LayerMeasurement {
  private readonly live: { m: Measured; v: PreparedVariant }[] = [];
  private method: 'timestamp' | 'cpu' = 'timestamp';

  private constructor(
    readonly measured: Measured[],
    private readonly ctx: GpuContext,
  ) {}

  /**
   * Builds, runs once and verifies every candidate (sequentially). A candidate that fails to build, run or verify is
   * recorded as not ok with its error; DeviceLostError and CancelledError are rethrown after releasing everything.
   * @param onKernel receives the WGSL of every program that ran (to store it by hash).
   * @param checkCancel throws CancelledError when the job was cancelled.
   */
  static async start(
    ctx: GpuContext,
    cache: PipelineCache,
    ops: MatmulOperands,
    candidates: readonly Candidate[],
    verify: Verifier,
    onKernel: (w: { hash: string; label: string; text: string }) => void,
    checkCancel: () => void,
  ): Promise<LayerMeasurement> {
    const lm = new LayerMeasurement([], ctx);
    try {
      for (const c of candidates) {
        checkCancel();
        const result: VariantResult = {
          name: c.name,
          family: c.spec.family,
          microTile: c.microTile,
          computeTile: tileName(c.spec.tile),
          ms: NaN,
          detectMs: 0,
          maxAbsErr: NaN,
          maxRelErr: NaN,
          ok: false,
          wgslHash: '',
          effectiveDensity: c.effectiveDensity,
          ...(c.operand ? { operand: c.operand } : {}),
        };
        const m: Measured = { candidate: c, result, samples: [], stats: sampleStats([]), readbackMs: NaN };
        lm.measured.push(m);
        let v: PreparedVariant | null = null;
        try {
          v = await prepareVariant(ctx, cache, ops, c.spec);
          if (v.plan.indexMs !== undefined) result.indexMs = v.plan.indexMs;
          for (const w of v.wgsl) onKernel(w);
          result.wgslHash = v.wgsl.at(-1)!.hash;
          result.kernelHashes = v.wgsl.map((w) => w.hash);
          const { output, density, readbackMs } = await v.runOnce();
          m.readbackMs = readbackMs;
          const cmp = verify.output(output, v.plan.outputRows);
          Object.assign(result, { maxAbsErr: cmp.maxAbsErr, maxRelErr: cmp.maxRelErr, ok: cmp.ok });
          if (!cmp.ok) {
            const rows = v.plan.outputRows ? ` (${v.plan.outputRows.length} valid rows of ${ops.m})` : '';
            result.error =
              cmp.worstBatch !== undefined && cmp.worstBatchErr !== undefined && cmp.worstBatch >= 0
                ? `output${rows} differs from the reference: batch ${cmp.worstBatch} max abs err ${cmp.worstBatchErr.toExponential(2)} > tolerance ${cmp.tolerance.toExponential(2)}`
                : `output${rows} differs from the reference: max abs err ${cmp.maxAbsErr.toExponential(2)} > tolerance ${cmp.tolerance.toExponential(2)}`;
          }
          const counted = v.plan.counts;
          if (cmp.ok && counted && density !== null) {
            const cpu = verify.density(counted.microTile, counted.operand ?? 'a');
            if (Math.abs(cpu - density) > 1e-9) {
              result.ok = false;
              result.error = `GPU detection found ${counted.microTile}${counted.operand === 'b' ? ' (of B)' : ''} density ${density.toFixed(6)} where the CPU finds ${cpu.toFixed(6)}`;
            }
          }
          if (result.ok) lm.live.push({ m, v });
          else v.destroy();
        } catch (e) {
          v?.destroy();
          if (FATAL.has((e as Error).name)) throw e;
          result.ok = false;
          result.error = oneLine(e);
          delete result.kernelHashes;
        }
      }
      return lm;
    } catch (e) {
      lm.release();
      throw e;
    }
  }

  /** Runs the verified variants back to back for about `ms` (GPU clocks up before timing). */
  async warmUp(ms: number): Promise<void> {
    if (ms <= 0 || !this.live.length) return;
    await spin(this.ctx, this.live.flatMap((x) => x.v.dispatches()), ms);
  }

  /**
   * Takes `count` interleaved rounds of one sample per variant (all verified variants, or only those named), in an
   * order rotated by one each round.
   */
  async rounds(count: number, names?: readonly string[], checkCancel: () => void = () => {}): Promise<void> {
    const who = this.live.filter((x) => !names || names.includes(x.m.candidate.name));
    if (!who.length) return;
    for (let r = 0; r < count; r++) {
      for (let i = 0; i < who.length; i++) {
        checkCancel();
        const x = who[(r + i) % who.length]!;
        const { samples, method } = await x.v.sample(1);
        if (method === 'cpu') this.method = 'cpu';
        x.m.samples.push(...samples);
      }
    }
    for (const x of who) this.summarise(x.m);
  }

  /** Fills a measured variant's times and statistics from its samples (see `summariseSamples`). */
  private summarise(m: Measured): void {
    m.stats = summariseSamples(m.result, m.samples, this.method);
  }

  /** How the samples were timed so far: `cpu` as soon as one sample fell back to the CPU clock. */
  get timingMethod(): 'timestamp' | 'cpu' {
    return this.method;
  }

  /** Destroys every GPU buffer still held. Idempotent. */
  release(): void {
    for (const x of this.live.splice(0)) x.v.destroy();
  }
}

/**
 * Fills a variant result's times and statistics from its samples: the time is the median of the per-sample totals
 * (layout + detection + kernel), its phases in the proportion of each phase's own median (so they add up to it
 * exactly), with min, max, quartiles, the sample count and every total kept. A variant without a valid sample is
 * marked failed ('no valid timing sample').
 * @returns the statistics of the totals.
 */
export function summariseSamples(r: VariantResult, samples: readonly PhaseSample[], method: 'timestamp' | 'cpu'): SampleStats {
  const totals = samples.map((s) => s[0]! + s[1]! + s[2]!);
  const stats = sampleStats(totals);
  if (!stats.n) {
    r.ok = false;
    r.error = 'no valid timing sample';
    return stats;
  }
  const phase = (i: number) => sampleStats(samples.map((s) => s[i]!)).median;
  const [layout, detect, kernel] = [phase(0), phase(1), phase(2)];
  const scale = layout + detect + kernel > 0 ? stats.median / (layout + detect + kernel) : 0;
  Object.assign(r, {
    ms: kernel * scale,
    detectMs: detect * scale,
    layoutMs: layout * scale,
    totalMs: stats.median,
    statistic: 'median',
    minMs: stats.min,
    maxMs: stats.max,
    q1Ms: stats.q1,
    q3Ms: stats.q3,
    iqrMs: stats.iqr,
    repeats: stats.n,
    method,
    samplesMs: totals,
  });
  return stats;
}
