/**
 * Sizing a layer before anything is allocated (issue 14 item 1): from its matmul shape alone, how much the job
 * would hold on the host and on the GPU, checked against the device's binding limit and the memory budget
 * (core/gpu/limits.ts). A layer that fits is measured whole; one that does not is measured in slices
 * (core/profile/tiled.ts) — of rows along M for a 2-D layer (rows of a matmul are independent, and every GPU buffer
 * but B shrinks with them), of batches for a batched one (attention heads, conv groups: independent matmuls) — and
 * one whose smallest slice still does not fit (B alone over a binding, a shared operand that slicing cannot shrink,
 * one block of rows or one batch too large) is skipped with the reason. Nothing is allocated here: the lowering (an
 * im2col can be gigabytes for a 16 KB model) happens only after.
 *
 * What a layer (or slice) holds, bytes, with A the elements of A over its distinct matrices, B those of B, C those of
 * the output:
 * - host: `9·A + 12·C + 8·B` — A (4), its element occupancy for the coverage (1), a transposed copy of A a variant
 *   reading Aᵀ is uploaded from (4); the reference (4), the read-back C and the verifier's epilogue copy (8); B and a
 *   transposed copy for a variant reading Bᵀ (8). Captured tensors the reference run already holds are not counted
 *   again (an upper bound otherwise).
 * - GPU: the sum over every candidate variant of its plan's buffers (operands, output, scratch, uploaded indexes, C's
 *   staging copy; `planBytes`), since the variants of a layer are measured in interleaved rounds and stay alive
 *   together.
 */
import { formatBytes, type MemoryLimits } from '../gpu/limits.ts';
import type { FamilyConfig, OperandLayout, PlanContext } from '../kernels/family.ts';
import { batchOf, isBatched, validateShape, type MatmulShape } from '../kernels/shape.ts';
import { planBytes, planVariant } from '../kernels/variants.ts';
import type { SliceAxis } from '../model/slices.ts';

/** How a layer is measured, decided from its shape. */
export type LayerFit =
  | { kind: 'whole'; hostBytes: number; gpuBytes: number }
  | {
      kind: 'sliced';
      /** `rows` of M (a 2-D layer) or `batch`es (a batched layer). */
      axis: SliceAxis;
      /** Units (rows or batches) per slice, the last slice possibly fewer; rows are a multiple of `align`. */
      size: number;
      slices: number;
      /** Host and GPU bytes of one slice (the largest). */
      hostBytes: number;
      gpuBytes: number;
      /** Why the whole layer does not fit, one line. */
      reason: string;
    }
  | { kind: 'skip'; reason: string };

/** What `fitLayer` checks. */
export interface FitInput {
  /** The whole layer's kernel shape (batched or 2-D). */
  shape: MatmulShape;
  /** What a slice cuts: rows (a 2-D layer) or batches (a batched layer). */
  axis: SliceAxis;
  /** Every configuration measured on the layer whatever its data (the dense tiles; each family's under policy measure). */
  configs: readonly FamilyConfig[];
  /**
   * Configurations of which at most `count` are measured, depending on the data (policy tiledb's shortlist): the
   * `count` that need most GPU memory are counted.
   */
  optional?: { configs: readonly FamilyConfig[]; count: number };
  /** Layouts the producers write (`MatmulOperands.freeLayouts`). */
  freeLayouts: readonly OperandLayout[];
  /** The plan context of a slice of `units` units starting at 0 (a static family's weight, valid rows); none when absent. */
  context?: (units: number) => PlanContext;
  limits: MemoryLimits;
  /** Rows of a slice are a multiple of this (every micro-tile height and computation-tile row count of the layer). */
  align: number;
  /** Set when the layer cannot be sliced at all (e.g. near-zero as zero needs the whole output): why. */
  unsliceable?: string;
}

/** The shape of a slice of `units` units of the layer (a batch slice of one batch is a 2-D shape). */
export function sliceShape(shape: MatmulShape, axis: SliceAxis, units: number): MatmulShape {
  if (axis === 'rows') return { ...shape, m: units };
  const { batch: _b, aShared, bShared, ...rest } = shape;
  return units > 1 ? { ...rest, batch: units, ...(aShared ? { aShared } : {}), ...(bShared ? { bShared } : {}) } : rest;
}

/** Host bytes a layer (or slice) of this shape holds (see the module comment). */
export function hostBytes(s: MatmulShape): number {
  const batch = batchOf(s);
  const aMats = isBatched(s) && s.aShared ? 1 : batch;
  const bMats = isBatched(s) && s.bShared ? 1 : batch;
  return 9 * aMats * s.m * s.k + 12 * batch * s.m * s.n + 8 * bMats * s.k * s.n;
}

/** Why `units` units of the layer do not fit, or null when they do; with their host and GPU bytes. */
function check(input: FitInput, units: number): { problem: string | null; host: number; gpu: number } {
  const { limits } = input;
  const s = sliceShape(input.shape, input.axis, units);
  const host = hostBytes(s);
  const ctx = input.context?.(units);
  const sizes: number[] = [];
  let gpu = 0;
  let problem: string | null = null;
  try {
    // An operand of 2^32 elements or more cannot be indexed by the kernels at all: a size problem slices solve.
    validateShape(s);
  } catch (e) {
    return { problem: (e as Error).message, host, gpu: 0 };
  }
  const size = (c: FamilyConfig): number | null => {
    let plan;
    try {
      plan = planVariant(s, c, input.freeLayouts, ctx);
    } catch {
      // Not a size problem: the variant fails with this error when it is measured (as on any layer), counting nothing.
      return null;
    }
    const { total, largest } = planBytes(plan);
    if (largest.bytes > limits.bindingBytes) {
      problem ??= `${largest.name} [${largest.shape.join(', ')}] needs ${formatBytes(largest.bytes)}, over this device's ${formatBytes(limits.bindingBytes)} per binding`;
    }
    return total;
  };
  for (const c of input.configs) gpu += size(c) ?? 0;
  if (input.optional) {
    for (const c of input.optional.configs) sizes.push(size(c) ?? 0);
    gpu += sizes.sort((a, b) => b - a).slice(0, input.optional.count).reduce((a, b) => a + b, 0);
  }
  if (!problem && gpu > limits.budgetBytes) problem = `its variants' GPU buffers need ${formatBytes(gpu)} together, over the memory budget of ${formatBytes(limits.budgetBytes)}`;
  if (!problem && host > limits.budgetBytes) problem = `its host arrays need ${formatBytes(host)}, over the memory budget of ${formatBytes(limits.budgetBytes)}`;
  return { problem, host, gpu };
}

/**
 * Decides whether a layer is measured whole, in slices, or skipped (see the module comment). Slices are as few as
 * fit, of equal size (rows: a multiple of `align`), the last one smaller.
 * @returns the decision; `skip` and `sliced` say why in one line.
 */
export function fitLayer(input: FitInput): LayerFit {
  const { m, n, k } = input.shape;
  const batch = batchOf(input.shape);
  const whole = check(input, input.axis === 'rows' ? m : batch);
  if (!whole.problem) return { kind: 'whole', hostBytes: whole.host, gpuBytes: whole.gpu };
  const what = `${batch > 1 ? `${batch}x` : ''}${m}×${n}×${k}`;
  if (input.unsliceable) return { kind: 'skip', reason: `too large for this device: ${whole.problem}; ${input.unsliceable} (layer ${what})` };
  const rows = input.axis === 'rows';
  const align = rows ? Math.max(1, Math.floor(input.align)) : 1;
  const count = rows ? Math.floor(m / align) : batch;
  const unit = rows ? `${align} rows` : 'one batch';
  // A layer no larger than one slice (at most `align` rows) has no smaller slice to try.
  const smallest = rows ? (align < m ? check(input, align) : null) : check(input, 1);
  if (!smallest || smallest.problem) {
    const why = smallest?.problem ?? whole.problem;
    return { kind: 'skip', reason: `too large for this device: ${why}${smallest ? ` even in slices of ${unit}` : ''} (layer ${what})` };
  }
  // The most units that fit: fit is monotone in the slice size, so bisect over multiples of `align`.
  let lo = 1;
  let hi = count;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (check(input, mid * align).problem) hi = mid - 1;
    else lo = mid;
  }
  const total = rows ? m : batch;
  const slices = Math.ceil(total / (lo * align));
  const size = Math.ceil(Math.ceil(total / slices) / align) * align;
  const one = check(input, size);
  return { kind: 'sliced', axis: input.axis, size, slices: Math.ceil(total / size), hostBytes: one.host, gpuBytes: one.gpu, reason: whole.problem };
}
