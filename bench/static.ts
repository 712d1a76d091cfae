/**
 * SYNTHETIC pruned weights for the bench's static-pattern section (issue 12 item 5): a weight W [K, N] with each
 * `pit prune` pattern at a target sparsity, values uniform in [-1, 1) \ {0} where kept, and the pattern metadata the
 * family reads. tw, nm and bw come from the pruning code itself on random importance (the same masks `pit prune`
 * writes, without calibration); hinm uses random vector blocks, a random kept order and random 2:4 choices — the
 * shape of a gyro-permuted HiNM weight (permuted gather and scatter indices) without the cost of running gyro on a
 * 4096² weight, which would not change the kernel's work.
 */
import { bwMask } from '../core/prune/bw.ts';
import { hinmKeptCount } from '../core/prune/hinm.ts';
import { nmMask } from '../core/prune/nm.ts';
import { twMask } from '../core/prune/tw.ts';
import type { LayerPattern } from '../core/prune/types.ts';

/** The patterns the section measures, and the kernel family that runs each. */
export const STATIC_PATTERNS = { tw: 'tile-wise', nm: 'nm', hinm: 'hinm', bw: 'bcsr-w' } as const;
export type StaticPattern = keyof typeof STATIC_PATTERNS;

/** A synthetic pruned weight. */
export interface StaticWeight {
  pattern: StaticPattern;
  /** W [K, N] row-major. */
  b: Float32Array;
  /** The layer's `pit.prune` pattern metadata. */
  meta: LayerPattern;
  /** Fraction (0–1) of W's entries that are zero. */
  sparsity: number;
}

/** Whether a pattern can take a sparsity: 2:4 is 50 % only; HiNM at least 50 %. */
export function patternTakes(pattern: StaticPattern, sparsity: number): boolean {
  if (pattern === 'nm') return sparsity === 0.5;
  if (pattern === 'hinm') return sparsity >= 0.5;
  return true;
}

/** A random permutation of 0..n-1 (Fisher–Yates). */
function permutation(n: number, rand: () => number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/**
 * A synthetic pruned weight W [K, N] with `pattern` at `sparsity` (see the module comment).
 * @param v HiNM vector size (a divisor of N).
 * @throws RangeError when the pattern cannot take the sparsity or the shape (K a multiple of 4 for nm / hinm, K and N
 *   multiples of 32 for bw, V dividing N for hinm).
 */
export function staticWeight(pattern: StaticPattern, k: number, n: number, sparsity: number, v: number, rand: () => number): StaticWeight {
  if (!patternTakes(pattern, sparsity)) throw new RangeError(`${pattern} cannot be ${sparsity * 100} % sparse`);
  let mask: Uint8Array;
  let meta: LayerPattern;
  if (pattern === 'hinm') {
    if (k % 4 || n % v) throw new RangeError(`hinm needs K a multiple of 4 and V = ${v} dividing N = ${n}`);
    const kept = hinmKeptCount(k, sparsity);
    const channels = permutation(n, rand);
    mask = new Uint8Array(k * n);
    const blocks = Array.from({ length: n / v }, (_, b) => {
      const block = { channels: channels.slice(b * v, (b + 1) * v), kept: permutation(k, rand).slice(0, kept) };
      for (const c of block.channels) {
        for (let g = 0; g < kept; g += 4) {
          const two = permutation(4, rand).slice(0, 2);
          for (const q of two) mask[block.kept[g + q]! * n + c] = 1;
        }
      }
      return block;
    });
    meta = { pattern: 'hinm', v, keep: 2, group: 4, blocks };
  } else {
    const imp = new Float64Array(k * n);
    for (let i = 0; i < imp.length; i++) imp[i] = 0.05 + rand();
    const r = pattern === 'tw' ? twMask(imp, k, n, sparsity) : pattern === 'nm' ? nmMask(imp, k, n) : bwMask(imp, k, n, sparsity);
    mask = r.mask;
    meta = r.pattern;
  }
  const b = new Float32Array(k * n);
  let zeros = 0;
  for (let i = 0; i < b.length; i++) {
    if (!mask[i]) {
      zeros++;
      continue;
    }
    const x = rand() * 2 - 1;
    b[i] = x === 0 ? 0.5 : x;
  }
  return { pattern, b, meta, sparsity: zeros / b.length };
}
