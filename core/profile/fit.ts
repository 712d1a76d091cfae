/**
 * Sizing a layer before anything is allocated (issue 14 item 1): from its matmul shape alone, how much the job
 * would hold on the host and on the GPU, checked against the device's binding limit and the memory budget
 * (core/gpu/limits.ts). A layer that fits is measured whole; one that does not is measured in row slices along M
 * (core/profile/tiled.ts) — rows of a matmul are independent, and every GPU buffer but B shrinks with them; one whose
 * smallest slice still does not fit (B alone over a binding, or one block of rows too wide) is skipped with the reason.
 * Nothing is allocated here: the lowering (an im2col can be gigabytes for a 16 KB model) happens only after.
 *
 * What a layer (or slice) of R rows holds, bytes:
 * - host: `9·R·K + 12·R·N + 4·K·N` — A (4·R·K), its element occupancy for the coverage (R·K), the transposed A a
 *   variant reading Aᵀ is uploaded from (4·R·K), the reference rows (4·R·N), the read-back C and the verifier's copy
 *   (8·R·N), B (4·K·N). Captured tensors the reference run already holds are not counted again.
 * - GPU: the sum over every candidate variant of its plan's buffers (operands, output, scratch, C's staging copy;
 *   `planBytes`), since the variants of a layer are measured in interleaved rounds and stay alive together.
 */
import { formatBytes, type MemoryLimits } from '../gpu/limits.ts';
import type { ALayout, FamilyConfig } from '../kernels/family.ts';
import { familyOfConfig } from '../kernels/registry.ts';
import type { MatmulShape } from '../kernels/shape.ts';
import { planBytes, planVariant } from '../kernels/variants.ts';

/** How a layer is measured, decided from its shape. */
export type LayerFit =
  | { kind: 'whole'; hostBytes: number; gpuBytes: number }
  | {
      kind: 'tiled';
      /** Rows per slice (the last may have fewer): a multiple of `align`. */
      rows: number;
      slices: number;
      /** Host and GPU bytes of one slice. */
      hostBytes: number;
      gpuBytes: number;
      /** Why the whole layer does not fit, one line. */
      reason: string;
    }
  | { kind: 'skip'; reason: string };

/** What `fitLayer` checks. */
export interface FitInput {
  shape: MatmulShape;
  /** Every configuration measured on the layer whatever its data (the dense tiles; each family's under policy measure). */
  configs: readonly FamilyConfig[];
  /**
   * Configurations of which at most `count` are measured, depending on the data (policy tiledb's shortlist): the
   * `count` that need most GPU memory are counted.
   */
  optional?: { configs: readonly FamilyConfig[]; count: number };
  /** Layouts of A the producer writes (`MatmulOperands.freeLayouts`). */
  freeLayouts: readonly ALayout[];
  limits: MemoryLimits;
  /** Slice heights are multiples of this (every micro-tile height and computation-tile row count of the layer). */
  align: number;
}

/** Host bytes of `rows` rows of a layer with reduction length k and n columns (see the module comment). */
export function hostBytes(rows: number, n: number, k: number): number {
  return 9 * rows * k + 12 * rows * n + 4 * k * n;
}

/** Why `rows` rows of the layer do not fit, or null when they do; with their host and GPU bytes. */
function check(input: FitInput, rows: number): { problem: string | null; host: number; gpu: number } {
  const { shape, limits } = input;
  const s = { m: rows, n: shape.n, k: shape.k };
  const host = hostBytes(rows, s.n, s.k);
  const sizes: number[] = [];
  let gpu = 0;
  let problem: string | null = null;
  const size = (c: FamilyConfig): number | null => {
    let plan;
    try {
      plan = planVariant(s, c, input.freeLayouts);
    } catch (e) {
      problem ??= `${familyOfConfig(c).variantName(c)} cannot run ${rows} rows: ${(e as Error).message}`;
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
 * Decides whether a layer is measured whole, in row slices, or skipped (see the module comment). Slices are as few
 * as fit, of equal height (a multiple of `align`), the last one shorter.
 * @returns the decision; `skip` and `tiled` say why in one line.
 */
export function fitLayer(input: FitInput): LayerFit {
  const { m, n, k } = input.shape;
  const whole = check(input, m);
  if (!whole.problem) return { kind: 'whole', hostBytes: whole.host, gpuBytes: whole.gpu };
  const what = `${m}×${n}×${k}`;
  const align = Math.max(1, Math.floor(input.align));
  const units = Math.floor(m / align);
  const smallest = units >= 1 ? check(input, align) : null;
  if (!smallest || smallest.problem) {
    const why = smallest?.problem ?? whole.problem;
    return { kind: 'skip', reason: `too large for this device: ${why}${smallest && align < m ? ` even in slices of ${align} rows` : ''} (layer ${what})` };
  }
  // The most rows that fit: fit is monotone in the row count, so bisect over multiples of `align`.
  let lo = 1;
  let hi = units;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (check(input, mid * align).problem) hi = mid - 1;
    else lo = mid;
  }
  const slices = Math.ceil(m / (lo * align));
  const rows = Math.ceil(Math.ceil(m / slices) / align) * align;
  const one = check(input, rows);
  return { kind: 'tiled', rows, slices: Math.ceil(m / rows), hostBytes: one.host, gpuBytes: one.gpu, reason: whole.problem };
}
