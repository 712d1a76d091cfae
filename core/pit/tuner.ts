/**
 * The tuner behind `pit tune`: measures every configuration of a rule space over a sparsity grid and a few problem
 * sizes on this adapter, verifies every output against the CPU reference, and hands each point to a store as soon as
 * it is measured (resumable: points the store already has are skipped; a cancel keeps what was measured).
 *
 * Method per point (as SparTA's `stile_db.csv` is built: one latency per micro-tile and sparsity, dense alongside):
 * - Operand A [M, K] with *micro-tile-structured* sparsity for the configuration's micro-tile: aligned `Hx1` tiles
 *   (pit-k), aligned `1xW` segments (pit-m) or whole rows (`1xK`) zeroed with probability = the grid sparsity, the
 *   rest uniform in [-1, 1) \ {0}; dense gets element-wise zeros (its cost does not depend on values). Seeded from
 *   the point's key, so a resumed or repeated tune measures the same data.
 * - `runVariant` (detection and kernel timed separately, median of `repeat`), `rounds` times with the group's
 *   configurations interleaved, keeping the lowest: on a shared machine other load only ever adds time. On lavapipe
 *   (a 2-core CPU here) a preempted worker thread resumes on the next scheduler tick, so samples come out as the
 *   true time or that plus multiples of ~4 ms; the lowest of several single runs finds the true time, where a
 *   median of consecutive runs keeps the preemption. Hence one run per round and several rounds.
 * - Verification (after Triton's autotuner, where a failing config costs `inf`): the output against the float64
 *   CPU reference (`compareOutputs`), and the GPU detection's density against the CPU coverage. A failed point is
 *   stored with ok = false and NaN times, and the cost model leaves it out.
 * - f16 configurations (a plan of `spaceConfigs('f16', caps)`, `pit tune --dtype f16`): A and B are rounded to f16
 *   (`roundOperandsToF16`, what the f16 kernels read) before anything else, so the reference is the float64 product
 *   of the rounded operands (f32 accumulation needs no looser bound, core/kernels/f16.ts) and the coverage, density
 *   and counts are those of the rounded A — as a profile of dtype f16 verifies (core/profile/dtype.ts).
 */
import type { GpuContext } from '../gpu/device.ts';
import type { PipelineCache } from '../gpu/pipeline-cache.ts';
import { compareOutputs, matmulErrorScale, referenceMatmul } from '../kernels/reference.ts';
import { dtypeOf, familyOfConfig } from '../kernels/registry.ts';
import { dtypeUnsupported, roundOperandsToF16 } from '../profile/dtype.ts';
import type { AdapterDescriptor, ComputeDtype } from '../protocol.ts';
import { median } from '../gpu/timing.ts';
import { runVariant } from '../kernels/variants.ts';
import { oneLine } from '../model/errors.ts';
import { mulberry32 } from '../synthetic/random.ts';
import { WHOLE_ROW } from '../sparsity/micro-tiles.ts';
import type { Shape } from './costmodel.ts';
import { coverageOf } from './coverage.ts';
import { configId, spaceConfigs, type RuleConfig } from './rules.ts';
import { coverageShape, pointKey, tileDbHash, TUNER_LAYOUTS, type TilePoint } from './tiledb.ts';

/** What to measure. */
export interface TunePlan {
  name: string;
  /** Problem sizes; keep K above the largest pit-m width so every `1xW` rule is measured (W < K). */
  sizes: Shape[];
  /** Target sparsities 0–1 (fraction of micro-tiles zeroed). */
  sparsities: number[];
  configs: RuleConfig[];
  /** Unmeasured runs, measured runs per median, interleaved rounds (lowest median kept). */
  timing: { warmup: number; repeat: number; rounds: number };
}

/** The sparsity grid of `--quick`: the minimum {0, 0.5, 0.8, 0.9, 0.95, 0.99}. */
export const QUICK_SPARSITIES = [0, 0.5, 0.8, 0.9, 0.95, 0.99];
/** The full grid: stile_db.csv's 0–0.9 by 0.1, then 0.95 and 0.99. */
export const FULL_SPARSITIES = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99];

/**
 * Sizes of `--quick`, chosen so the cost model's features vary independently: a minimal problem (one workgroup, one
 * step: the fixed cost of a dispatch, which dominates the many 1×N×K layers of squeeze-excitation blocks), a tiny
 * one, a few rows by a wide N, a tall one with a short reduction (many workgroups, few steps each), one with a
 * long reduction (few workgroups, many steps) and a very tall, very narrow one (the first convolutions of a vision
 * model: thousands of pixels, 16–32 channels, a 3x3xC window; without it the cost model extrapolates how wide
 * tiles waste work on N = 16 and mispredicts those layers by up to 2x on lavapipe). Every K but the minimal and the
 * narrow one exceeds 64, so every `1xW` rule is measured. Small enough for lavapipe (~2 GFLOP/s) to measure in
 * seconds.
 */
export const QUICK_SIZES: Shape[] = [
  { m: 2, n: 24, k: 8 },
  { m: 4, n: 32, k: 96 },
  { m: 32, n: 128, k: 256 },
  { m: 1024, n: 32, k: 96 },
  { m: 128, n: 64, k: 768 },
  { m: 2048, n: 16, k: 27 },
];
/** The full plan adds a square problem and a tall, narrow one with a longer reduction. */
export const FULL_SIZES: Shape[] = [...QUICK_SIZES, { m: 256, n: 256, k: 256 }, { m: 2048, n: 32, k: 144 }];

/** `pit tune --quick`: under 2 minutes on lavapipe (most of it compiling pipelines on the CPU). */
export function quickPlan(configs: RuleConfig[] = spaceConfigs()): TunePlan {
  return { name: 'quick', sizes: QUICK_SIZES, sparsities: QUICK_SPARSITIES, configs, timing: { warmup: 1, repeat: 1, rounds: 7 } };
}

/** `pit tune`: the full grid, more sizes and repeats. Resumes on top of a quick database. */
export function fullPlan(configs: RuleConfig[] = spaceConfigs()): TunePlan {
  return { name: 'full', sizes: FULL_SIZES, sparsities: FULL_SPARSITIES, configs, timing: { warmup: 1, repeat: 1, rounds: 9 } };
}

/** What `pit tune --dtype` tunes on an adapter: the rule space of the dtype and the identity hash of its database. */
export interface TuneSpace {
  dtype: ComputeDtype;
  /** `spaceConfigs(dtype, adapter)`: for f16 the f16 families' tiles this adapter runs (SIMT, or tensor-core tiles). */
  configs: RuleConfig[];
  /** `tileDbHash(dtype, adapter)`: an f16 database never mixes with an f32 one (core/pit/tiledb.ts). */
  kernelHash: string;
}

/**
 * The rule space and tile-database hash of `dtype` on `adapter` (default f32: unchanged from before dtypes).
 * @throws Error (one line, core/profile/dtype.ts `dtypeUnsupported`) when the adapter cannot run `dtype` — f16 needs
 *   the WebGPU feature `shader-f16`; nothing is measured or stored then.
 */
export function tuneSpace(dtype: ComputeDtype, adapter: AdapterDescriptor): TuneSpace {
  const why = dtypeUnsupported(dtype, adapter);
  if (why) throw new Error(why);
  return dtype === 'f32'
    ? { dtype, configs: spaceConfigs(), kernelHash: tileDbHash('f32') }
    : { dtype, configs: spaceConfigs(dtype, adapter), kernelHash: tileDbHash(dtype, adapter) };
}

/** One point to measure. */
export interface PlannedPoint {
  key: string;
  config: RuleConfig;
  shape: Shape;
  sparsity: number;
  /** Relative expected cost (for the ETA): a constant for overheads plus the work. */
  weight: number;
}

/** Every legal point of a plan, grouped by (size, sparsity) so a group's configurations can be interleaved. */
export function planPoints(plan: TunePlan): PlannedPoint[] {
  const out: PlannedPoint[] = [];
  for (const shape of plan.sizes) {
    for (const sparsity of plan.sparsities) {
      for (const config of plan.configs) {
        if (familyOfConfig(config).illegalReason(config, shape)) continue;
        const key = pointKey({ ...config, ...shape, sparsity });
        out.push({ key, config, shape, sparsity, weight: 1 + (shape.m * shape.n * shape.k) / 2e5 });
      }
    }
  }
  return out;
}

/** Where measured points go. */
export interface TuneStore {
  /** Whether the point with this key is already stored (then it is skipped). */
  has(key: string): boolean;
  /** Stores one point; durable when it returns. */
  record(point: TilePoint): void;
}

/** Progress of a tune. */
export type TuneEvent =
  | { kind: 'start'; total: number; skipped: number }
  | { kind: 'point'; done: number; total: number; point: TilePoint; etaMs: number }
  | { kind: 'log'; message: string };

/** What a tune did. */
export interface TuneSummary {
  measured: number;
  skipped: number;
  failed: number;
  cancelled: boolean;
  elapsedMs: number;
}

const rng = mulberry32;

/** FNV-1a of a string: the seed of a point's operands. */
function seedOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Operand A [M, K] with micro-tile-structured sparsity: each aligned micro-tile `h x w` (a `1xK` pattern is whole
 * rows) is zeroed with probability `sparsity`; the rest holds uniform values in [-1, 1) \ {0}.
 * @param pattern `Hx1`, `1xW`, `1xK`, or null for element-wise zeros.
 */
export function structuredOperand(m: number, k: number, pattern: string | null, sparsity: number, seed: number): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(m * k);
  for (let i = 0; i < a.length; i++) {
    const v = r() * 2 - 1;
    a[i] = v === 0 ? 0.5 : v;
  }
  if (sparsity <= 0) return a;
  const [h, w] = pattern === null ? [1, 1] : pattern === WHOLE_ROW ? [1, k] : (pattern.split('x').map(Number) as [number, number]);
  const z = rng(seed ^ 0x9e3779b9);
  for (let r0 = 0; r0 < m; r0 += h) {
    for (let c0 = 0; c0 < k; c0 += w) {
      if (z() >= sparsity) continue;
      for (let i = r0; i < Math.min(m, r0 + h); i++) a.fill(0, i * k + c0, i * k + Math.min(k, c0 + w));
    }
  }
  return a;
}

/** The operand pattern a configuration is measured with: the micro-tile its detection indexes (null: element-wise). */
function patternOf(c: RuleConfig, k: number): string | null {
  return familyOfConfig(c).microTile(c, k) === null ? null : c.microTile;
}

/**
 * Runs the plan: for each (size, sparsity) group, the group's points not yet in `store`, `rounds` interleaved
 * passes, verification, then one `store.record` per point. Checks `signal` between runs; on abort it returns with
 * `cancelled` (points of the group in flight are not stored).
 * @throws DeviceLostError when the device is lost; a store error as thrown by the store.
 */
export async function tune(
  ctx: GpuContext,
  cache: PipelineCache,
  plan: TunePlan,
  store: TuneStore,
  opts: { signal?: AbortSignal; onEvent?: (e: TuneEvent) => void } = {},
): Promise<TuneSummary> {
  const emit = opts.onEvent ?? (() => {});
  const t0 = performance.now();
  const all = planPoints(plan);
  const todo = all.filter((p) => !store.has(p.key));
  const skipped = all.length - todo.length;
  emit({ kind: 'start', total: todo.length, skipped });
  const totalWeight = todo.reduce((s, p) => s + p.weight, 0);
  let doneWeight = 0;
  let done = 0;
  let failed = 0;
  const groups = new Map<string, PlannedPoint[]>();
  for (const p of todo) {
    const g = `${p.shape.m}x${p.shape.n}x${p.shape.k}|${p.sparsity}`;
    let list = groups.get(g);
    if (!list) groups.set(g, (list = []));
    list.push(p);
  }
  const { warmup, repeat, rounds } = plan.timing;
  for (const group of groups.values()) {
    const { m, n, k } = group[0]!.shape;
    const sparsity = group[0]!.sparsity;
    const b32 = structuredOperand(k, n, null, 0, seedOf(`B|${m}x${n}x${k}`));
    // Operands, reference and coverage per pattern and dtype: configurations sharing a micro-tile share the data.
    const data = new Map<string, { a: Float32Array; b: Float32Array; ref: Float32Array; scale: number }>();
    const state = group.map((p) => {
      const pattern = patternOf(p.config, k);
      const dtype = dtypeOf(familyOfConfig(p.config));
      const dk = `${dtype}|${pattern}`;
      let d = data.get(dk);
      if (!d) {
        // The seed does not depend on the dtype: an f16 point measures the f32 point's data, rounded.
        const a32 = structuredOperand(m, k, pattern, sparsity, seedOf(`A|${String(pattern)}|${m}x${n}x${k}|${sparsity}`));
        const { a, b } = dtype === 'f16' ? roundOperandsToF16(a32, b32) : { a: a32, b: b32 };
        d = { a, b, ref: referenceMatmul(a, b, m, n, k), scale: matmulErrorScale(a, b, m, n, k) };
        data.set(dk, d);
      }
      const covShape = coverageShape(p.config, k);
      const cov = covShape ? coverageOf({ a: d.a, m, k }, [covShape]).get(covShape)! : null;
      return { p, d, cov, kernelMs: Infinity, detectMs: Infinity, maxAbsErr: Number.NaN, wgslHash: '', error: '' as string, ok: true };
    });
    for (let round = 0; round < rounds; round++) {
      for (const s of state) {
        if (!s.ok) continue;
        if (opts.signal?.aborted) return { measured: done, skipped, failed, cancelled: true, elapsedMs: performance.now() - t0 };
        const c = s.p.config;
        try {
          // Pipelines and caches are warm after the first round: later rounds time at once.
          const run = await runVariant(ctx, cache, { m, n, k, a: s.d.a, b: s.d.b, freeLayouts: TUNER_LAYOUTS }, c, { warmup: round ? 0 : warmup, repeat });
          // The round's kernel + detection as one figure (medians of the same samples); the lowest round is kept.
          const [kernelMs, detectMs] = [median(run.kernelSamplesMs), run.detectMs];
          if (kernelMs + detectMs < s.kernelMs + s.detectMs) [s.kernelMs, s.detectMs] = [kernelMs, detectMs];
          if (round === 0) {
            s.wgslHash = run.wgsl[run.wgsl.length - 1]!.hash;
            const cmp = compareOutputs(run.output, s.d.ref, { k, scale: s.d.scale });
            s.maxAbsErr = cmp.maxAbsErr;
            if (!cmp.ok) {
              s.ok = false;
              s.error = `output differs from the CPU reference: max abs err ${cmp.maxAbsErr.toExponential(2)} > ${cmp.tolerance.toExponential(2)}`;
            } else if (s.cov && run.microTileDensity !== null && Math.abs(run.microTileDensity - s.cov.density) > 1e-9) {
              s.ok = false;
              s.error = `GPU detection found density ${run.microTileDensity} where the CPU finds ${s.cov.density}`;
            }
          }
        } catch (e) {
          if ((e as Error).name === 'DeviceLostError') throw e;
          s.ok = false;
          s.error = oneLine(e);
        }
      }
    }
    for (const s of state) {
      const c = s.p.config;
      const point: TilePoint = {
        family: c.family,
        microTile: c.microTile,
        tile: { ...c.tile },
        m,
        n,
        k,
        sparsity,
        density: s.cov ? s.cov.density : elementDensity(s.d.a),
        counts: s.cov ? Array.from(familyOfConfig(c).blockCounts(s.cov)) : [],
        kernelMs: s.ok ? s.kernelMs : Number.NaN,
        detectMs: s.ok ? s.detectMs : Number.NaN,
        ok: s.ok,
        maxAbsErr: s.maxAbsErr,
        wgslHash: s.wgslHash,
      };
      if (!s.ok) point.error = s.error;
      store.record(point);
      done++;
      if (!s.ok) failed++;
      doneWeight += s.p.weight;
      const elapsed = performance.now() - t0;
      emit({ kind: 'point', done, total: todo.length, point, etaMs: (elapsed / doneWeight) * (totalWeight - doneWeight) });
    }
  }
  return { measured: done, skipped, failed, cancelled: false, elapsedMs: performance.now() - t0 };
}

function elementDensity(a: Float32Array): number {
  let nz = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) nz++;
  return a.length ? nz / a.length : 0;
}

/** A one-line label of a point for progress output, e.g. `pit-k 8x1 @8x64x8/2x4 1024x64x96 s=0.9`. */
export function pointLabel(p: Pick<TilePoint, 'family' | 'microTile' | 'tile' | 'm' | 'n' | 'k' | 'sparsity'>): string {
  return `${configId(p)} ${p.m}x${p.n}x${p.k} s=${p.sparsity}`;
}
