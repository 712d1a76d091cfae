/**
 * Program descriptors of PIT's online index construction (detection, PIT §4.3) for the two matmul rules, and the
 * zero-fill program that clears detection counts and the pit-m output inside the timed work.
 * Template: `shaders/detect.wgsl.ts` (one kernel for both: "rows of X [R, C] with a non-zero w-wide segment").
 */
import { DETECT_WORKGROUP, detectWgsl, segmentsPerWorkgroup } from '../../shaders/detect.wgsl.ts';
import { FILL_WORKGROUP, fillZeroWgsl } from '../../shaders/common.wgsl.ts';
import { ceilDiv, validateShape, type MatmulShape } from './dense.ts';
import type { KernelProgram } from './program.ts';

/** The largest workgroup count per grid dimension WebGPU guarantees (`maxComputeWorkgroupsPerDimension`). */
const MAX_GRID = 65535;

function rowsProgram(
  family: 'detect-k' | 'detect-m',
  input: string,
  microTile: string,
  rows: number,
  cols: number,
  w: number,
): KernelProgram {
  if (!Number.isInteger(w) || w < 1) throw new RangeError(`${family}: micro-tile extent must be a positive integer, got ${w}`);
  const nBlocks = ceilDiv(cols, w);
  const tpw = segmentsPerWorkgroup(w);
  const groupsPerRow = ceilDiv(nBlocks, tpw);
  const total = rows * groupsPerRow;
  // 2-D grid: a large tensor needs more workgroups than one dimension allows.
  const gx = Math.min(total, MAX_GRID);
  const gy = ceilDiv(total, gx);
  return {
    family,
    label: `${family} ${microTile}`,
    wgsl: detectWgsl({ w, family, microTile }),
    bindings: [
      { name: input, kind: 'read-only-storage' },
      { name: 'count', kind: 'storage' },
      { name: 'index', kind: 'storage' },
      { name: 'params', kind: 'uniform' },
    ],
    workgroupSize: [DETECT_WORKGROUP, 1, 1],
    workgroups: [gx, gy, 1],
    params: [rows, cols, nBlocks, groupsPerRow],
    dispatchFormula: `R*ceil(ceil(C/${w})/${tpw}) workgroups as (min(that, ${MAX_GRID}), ceil(that/${MAX_GRID}), 1) with R=${family === 'detect-k' ? 'K, C=M' : 'M, C=K'}`,
  };
}

/**
 * Detection for pit-k (micro-tile `bm x 1` of A): reads `at` = AT [K, M] f32 and appends, for each row block
 * mb = 0..ceil(M/bm)-1, the k's whose `A[mb*bm .. , k]` has a non-zero: `count` [ceil(M/bm)] u32 (must be zero
 * before: run `zeroFillProgram('count')` first), `index` [ceil(M/bm)*K] u32. Order within a block is arbitrary.
 * @throws RangeError on an invalid shape or bm.
 */
export function detectKProgram(shape: MatmulShape, bm: number): KernelProgram {
  validateShape(shape);
  return rowsProgram('detect-k', 'at', `${bm}x1`, shape.k, shape.m, bm);
}

/**
 * Detection for pit-m (micro-tile `1 x w` of A): reads `a` = A [M, K] f32 and appends, for each k-chunk
 * c = 0..ceil(K/w)-1, the rows m whose `A[m, c*w .. (c+1)*w)` has a non-zero: `count` [ceil(K/w)] u32 (zero
 * before), `index` [ceil(K/w)*M] u32. Order within a chunk is arbitrary.
 * @throws RangeError on an invalid shape or w.
 */
export function detectMProgram(shape: MatmulShape, w: number): KernelProgram {
  validateShape(shape);
  return rowsProgram('detect-m', 'a', `1x${w}`, shape.m, shape.k, w);
}

/**
 * Zero-fill of the whole buffer bound as `name` (u32 words; f32 zero has the same bits), grid-stride so any size
 * fits one dispatch. `words` sizes the grid (at most 4096 workgroups of 256, then each thread loops).
 * @throws RangeError when words < 1.
 */
export function zeroFillProgram(name: string, words: number): KernelProgram {
  if (!Number.isInteger(words) || words < 1) throw new RangeError(`zero-fill '${name}': word count must be a positive integer, got ${words}`);
  const groups = Math.min(ceilDiv(words, FILL_WORKGROUP), 4096);
  return {
    family: 'fill',
    label: `zero ${name}`,
    wgsl: fillZeroWgsl(),
    bindings: [{ name, kind: 'storage' }],
    workgroupSize: [FILL_WORKGROUP, 1, 1],
    workgroups: [groups, 1, 1],
    dispatchFormula: `min(ceil(words/${FILL_WORKGROUP}), 4096), 1, 1`,
  };
}
