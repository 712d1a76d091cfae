/**
 * One entry point over the patterns: which sparsities and shapes each accepts, and the mask of one layer.
 */
import { bwMask, bwShapeProblem } from './bw.ts';
import { hinmMask, hinmShapeProblem } from './hinm.ts';
import { nmMask, nmShapeProblem } from './nm.ts';
import { twMask } from './tw.ts';
import { vwMask, vwShapeProblem } from './vw.ts';
import type { PatternName, PatternResult, PermuteMode } from './types.ts';

/** What a pattern is asked for. */
export interface PatternOptions {
  pattern: PatternName;
  /** Target fraction of W's entries set to zero, in [0, 1); 0 is the identity (nothing pruned). */
  sparsity: number;
  /** V, output channels per vector block (vw, hinm). */
  vector: number;
  /** gyro applies to hinm (output + input channels) and vw (output channels). */
  permute: PermuteMode;
}

/** Vector sizes accepted by `--vector` (the papers use 64 and 128; smaller ones fit small layers). */
export const VECTOR_SIZES: readonly number[] = [16, 32, 64, 128];

/**
 * Why these options cannot be used on any layer, or null: a sparsity outside [0, 1), a sparsity the pattern
 * cannot express (2:4 is 50 %; HiNM is at least 50 %), an unknown vector size, or gyro on a pattern that has no
 * channel permutation.
 */
export function optionsProblem(o: PatternOptions): string | null {
  const s = o.sparsity;
  if (!Number.isFinite(s) || s < 0 || s >= 1) return `sparsity must be in (0, 1) (or 0 for the identity), got ${s}`;
  if (o.pattern === 'nm' && s !== 0 && s !== 0.5) return `nm is 2:4, which is 50 % sparse: --sparsity must be 0.5, got ${s}`;
  if (o.pattern === 'hinm' && s !== 0 && s < 0.5) return `hinm keeps 2 of 4 inside the kept vectors, so its sparsity is at least 0.5, got ${s}`;
  if ((o.pattern === 'hinm' || o.pattern === 'vw') && !VECTOR_SIZES.includes(o.vector)) return `--vector must be one of ${VECTOR_SIZES.join(', ')}, got ${o.vector}`;
  if (o.permute === 'gyro' && o.pattern !== 'hinm' && o.pattern !== 'vw') return `--permute gyro applies to hinm and vw (channel permutations), not ${o.pattern}`;
  return null;
}

/** Why W [K, N] does not fit the pattern, or null. tw fits any shape. */
export function shapeProblem(o: PatternOptions, k: number, n: number): string | null {
  if (o.sparsity === 0) return null;
  switch (o.pattern) {
    case 'nm':
      return nmShapeProblem(k);
    case 'hinm':
      return hinmShapeProblem(k, n, o.vector);
    case 'vw':
      return vwShapeProblem(n, o.vector);
    case 'bw':
      return bwShapeProblem(k, n);
    case 'tw':
      return null;
  }
}

/**
 * The mask of one layer.
 *
 * @param imp importance [K, N] row-major
 * @param rand seeded uniform [0, 1) generator (gyro's sampling and clustering)
 * @throws Error when the shape does not fit (check `shapeProblem` first)
 */
export function patternMask(imp: Float64Array, k: number, n: number, o: PatternOptions, rand: () => number): PatternResult {
  if (o.sparsity === 0) return { mask: new Uint8Array(k * n).fill(1), pattern: { pattern: 'identity' } };
  switch (o.pattern) {
    case 'nm':
      return nmMask(imp, k, n);
    case 'hinm':
      return hinmMask(imp, k, n, o.sparsity, o.vector, o.permute, rand);
    case 'vw':
      return vwMask(imp, k, n, o.sparsity, o.vector, o.permute, rand);
    case 'bw':
      return bwMask(imp, k, n, o.sparsity);
    case 'tw':
      return twMask(imp, k, n, o.sparsity);
  }
}
