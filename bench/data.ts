/**
 * Operand generators and output verification of the bench (issue 5 §1): block-sparse A with non-zero micro-tiles
 * at random places, and a check of a GPU output against float64 sums on sampled rows, columns and elements (a full
 * CPU reference at 4096³ would take minutes), plus a full scan proving every element was written.
 */
import { matmulErrorScale, FP32_UNIT_ROUNDOFF } from '../core/kernels/reference.ts';
import { mulberry32 } from '../core/synthetic/random.ts';

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
export const rng = mulberry32;

/** `n` f32 values uniform in [-1, 1), never exactly 0. */
export function randomDense(n: number, rand: () => number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = rand() * 2 - 1;
    x[i] = v === 0 ? 0.5 : v;
  }
  return x;
}

/** A block-sparse operand and its micro-tile mask. */
export interface BlockSparse {
  /** A [M, K] row-major f32: random non-zero values inside non-zero micro-tiles, 0 elsewhere. */
  a: Float32Array;
  /** Occupancy of the micro-tile grid `ceil(M/h) x ceil(K/w)` row-major (1 = non-zero). */
  mask: Uint8Array;
  gridRows: number;
  gridCols: number;
  /** Non-zero micro-tiles / all micro-tiles (0–1): exactly round((1 - sparsity) · tiles) / tiles. */
  density: number;
}

/**
 * A [M, K] whose non-zero `h x w` micro-tiles (in [M, K] terms) sit at random places: exactly
 * `round((1 - sparsity) · tiles)` of them (a partial Fisher–Yates shuffle), every element inside them non-zero.
 * @throws RangeError when sparsity is outside [0, 1] or a dimension is not a positive integer.
 */
export function blockSparse(m: number, k: number, h: number, w: number, sparsity: number, rand: () => number): BlockSparse {
  for (const [name, v] of Object.entries({ m, k, h, w })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`blockSparse: ${name} must be a positive integer, got ${v}`);
  }
  if (!(sparsity >= 0 && sparsity <= 1)) throw new RangeError(`blockSparse: sparsity must be in [0, 1], got ${sparsity}`);
  const gridRows = Math.ceil(m / h);
  const gridCols = Math.ceil(k / w);
  const tiles = gridRows * gridCols;
  const keep = Math.round((1 - sparsity) * tiles);
  const mask = new Uint8Array(tiles);
  if (keep === tiles) mask.fill(1);
  else {
    const order = new Uint32Array(tiles);
    for (let i = 0; i < tiles; i++) order[i] = i;
    for (let i = 0; i < keep; i++) {
      const j = i + Math.floor(rand() * (tiles - i));
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
      mask[order[i]!] = 1;
    }
  }
  const a = new Float32Array(m * k);
  for (let i = 0; i < m; i++) {
    const mrow = ((i / h) | 0) * gridCols;
    for (let p = 0; p < k; p++) {
      if (!mask[mrow + ((p / w) | 0)]) continue;
      const v = rand() * 2 - 1;
      a[i * k + p] = v === 0 ? 0.5 : v;
    }
  }
  return { a, mask, gridRows, gridCols, density: keep / tiles };
}

/** Outcome of `verifySampled`. */
export interface SampledCheck {
  /** Elements compared against float64 sums. */
  compared: number;
  /** Elements of the whole output that are NaN or ±Infinity (unwritten outputs start as NaN in runVariant). */
  nonFinite: number;
  /** Largest |ours − ref| over the compared elements. */
  maxAbsErr: number;
  /** The tolerance: 16 · 2^-24 · sqrt(K) · scale, scale = max row L1 of A × max |B| (reference.ts's bound). */
  tolerance: number;
  ok: boolean;
}

/**
 * Checks C [M,N] = A·B on sampled rows, columns and elements in float64, and scans all of C for non-finite values.
 * Rows: first, last and `rows` random ones; columns: first, last and `cols` random; plus `elements` random (m, n).
 * Cost about (rows + 2)·K·N + (cols + 2)·M·K + elements·K multiply-adds.
 * @throws RangeError on a length mismatch.
 */
export function verifySampled(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  m: number,
  n: number,
  k: number,
  rand: () => number,
  opts: { rows?: number; cols?: number; elements?: number } = {},
): SampledCheck {
  if (a.length !== m * k || b.length !== k * n || c.length !== m * n) throw new RangeError('verifySampled: operand lengths do not match the shape');
  let nonFinite = 0;
  for (let i = 0; i < c.length; i++) if (!Number.isFinite(c[i]!)) nonFinite++;
  const tolerance = 16 * FP32_UNIT_ROUNDOFF * Math.sqrt(k) * matmulErrorScale(a, b, m, n, k) + 1e-30;
  let maxAbsErr = 0;
  let compared = 0;
  const note = (ours: number, ref: number): void => {
    const d = Number.isFinite(ours) ? Math.abs(ours - ref) : Infinity;
    if (d > maxAbsErr || Number.isNaN(d)) maxAbsErr = Number.isNaN(d) ? Infinity : d;
    compared++;
  };
  const pick = (count: number, size: number): number[] => {
    const s = new Set<number>([0, size - 1]);
    for (let i = 0; i < count; i++) s.add(Math.floor(rand() * size));
    return [...s];
  };
  const acc = new Float64Array(Math.max(n, m));
  for (const i of pick(opts.rows ?? 2, m)) {
    acc.fill(0, 0, n);
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p]!;
      if (av === 0) continue;
      const row = p * n;
      for (let j = 0; j < n; j++) acc[j] += av * b[row + j]!;
    }
    for (let j = 0; j < n; j++) note(c[i * n + j]!, acc[j]!);
  }
  for (const j of pick(opts.cols ?? 2, n)) {
    for (let i = 0; i < m; i++) {
      let s = 0;
      const base = i * k;
      for (let p = 0; p < k; p++) {
        const av = a[base + p]!;
        if (av !== 0) s += av * b[p * n + j]!;
      }
      note(c[i * n + j]!, s);
    }
  }
  for (let e = 0; e < (opts.elements ?? 256); e++) {
    const i = Math.floor(rand() * m);
    const j = Math.floor(rand() * n);
    let s = 0;
    for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
    note(c[i * n + j]!, s);
  }
  return { compared, nonFinite, maxAbsErr, tolerance, ok: nonFinite === 0 && maxAbsErr <= tolerance };
}
