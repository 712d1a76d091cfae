/**
 * What the static weight-pattern families (tile-wise, bcsr-w, nm, hinm) share: reading the weight from a plan's
 * context, timing the CPU index build, buffers for uploaded indexes, and the rule for offering a pattern found in a
 * weight's zeros (without `pit.prune` metadata).
 */
import type { FamilyPlan, PlanBuffer, PlanContext } from './family.ts';
import type { MatmulShape } from './shape.ts';

/**
 * A pattern read from a weight's zeros alone (no `pit.prune` metadata for the layer) is offered only when its kernel
 * skips more than 5 % of the weight's work: at effective density ≥ 0.95 skipping explains no gain (the attribution's
 * HIGH_DENSITY), and an unpruned weight's few exact zeros should not add candidates to every layer.
 */
export const ZEROS_DENSITY_LIMIT = 0.95;

/**
 * The weight B [K, N] a static family's plan reads.
 * @throws RangeError naming the family when the context has no B or its length is not K·N.
 */
export function weightOf(family: string, s: MatmulShape, ctx: PlanContext | undefined): Float32Array {
  const b = ctx?.b;
  if (!b) throw new RangeError(`${family} builds its index from the layer's weight B at plan time: no B was given`);
  if (b.length !== s.k * s.n) throw new RangeError(`${family}: B has ${b.length} elements, [${s.k}, ${s.n}] needs ${s.k * s.n}`);
  return b;
}

/** Runs `build` and returns its result with its wall time, ms (the CPU cost of a static index). */
export function timed<T>(build: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = build();
  return { value, ms: performance.now() - t0 };
}

/**
 * Plan buffers and uploads of CPU-built arrays (role `scratch`: index and packed weight). An empty array is padded to
 * one element, since WebGPU cannot bind an empty buffer; kernels never read past the counts they are given.
 */
export function uploaded(arrays: Record<string, Uint32Array | Float32Array>): { buffers: PlanBuffer[]; uploads: NonNullable<FamilyPlan['uploads']> } {
  const buffers: PlanBuffer[] = [];
  const uploads: NonNullable<FamilyPlan['uploads']> = {};
  for (const [name, data] of Object.entries(arrays)) {
    const padded = data.length ? data : data instanceof Uint32Array ? new Uint32Array(4) : new Float32Array(4);
    buffers.push({ name, dtype: padded instanceof Uint32Array ? 'u32' : 'f32', shape: [padded.length], role: 'scratch' });
    uploads[name] = padded;
  }
  return { buffers, uploads };
}
