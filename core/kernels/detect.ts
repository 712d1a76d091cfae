/**
 * Program descriptors of PIT's online index construction (detection, PIT §4.3) for the two matmul rules, and the
 * zero-fill program that clears detection counts and the pit-m output inside the timed work.
 * Template: `shaders/detect.wgsl.ts` (one kernel for both: "row blocks of X [R, C] with a non-zero micro-tile").
 */
import { DETECT_WORKGROUP, detectWgsl, detectWindow } from '../../shaders/detect.wgsl.ts';
import { FILL_WORKGROUP, fillZeroWgsl } from '../../shaders/common.wgsl.ts';
import { ceilDiv, validateShape, type MatmulShape } from './dense.ts';
import type { KernelProgram } from './program.ts';

/** The largest workgroup count per grid dimension WebGPU guarantees (`maxComputeWorkgroupsPerDimension`). */
const MAX_GRID = 65535;

/**
 * Detection over a generic row-major X [rows, cols] f32 bound as `input`: for each column block j of width `w`, the
 * row blocks (of `h` rows) whose micro-tile has a non-zero. `count` [ceil(cols/w)] u32 (zero before), `index`
 * [ceil(cols/w) * ceil(rows/h)] u32 with block j's entries at `j*ceil(rows/h) ..`. Params
 * `[rows, cols, nBlocks, tilesX, rowBlocks]`.
 * @throws RangeError when w or h is not a positive integer or rows/cols < 1.
 */
export function detectRowsProgram(
  family: 'detect-k' | 'detect-m',
  input: string,
  microTile: string,
  rows: number,
  cols: number,
  w: number,
  h = 1,
): KernelProgram {
  if (!Number.isInteger(w) || w < 1) throw new RangeError(`${family}: micro-tile extent must be a positive integer, got ${w}`);
  if (!Number.isInteger(h) || h < 1) throw new RangeError(`${family}: micro-tile height must be a positive integer, got ${h}`);
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(cols) || cols < 1) {
    throw new RangeError(`${family}: X must have at least one row and column, got ${rows}x${cols}`);
  }
  const nBlocks = ceilDiv(cols, w);
  const rowBlocks = ceilDiv(rows, h);
  const win = detectWindow(w, h);
  const tilesX = ceilDiv(cols, win.span);
  const total = tilesX * ceilDiv(rows, win.rows);
  // 2-D grid: a large tensor needs more workgroups than one dimension allows.
  const gx = Math.min(total, MAX_GRID);
  const gy = ceilDiv(total, gx);
  const vec4 = cols % 4 === 0;
  return {
    family,
    label: `${family} ${microTile}`,
    wgsl: detectWgsl({ w, h, family, microTile, vec4 }),
    bindings: [
      { name: input, kind: 'read-only-storage' },
      { name: 'count', kind: 'storage' },
      { name: 'index', kind: 'storage' },
      { name: 'params', kind: 'uniform' },
    ],
    workgroupSize: [DETECT_WORKGROUP, 1, 1],
    workgroups: [gx, gy, 1],
    params: [rows, cols, nBlocks, tilesX, rowBlocks],
    dispatchFormula:
      `ceil(C/${win.span})*ceil(R/${win.rows}) workgroups as (min(that, ${MAX_GRID}), ceil(that/${MAX_GRID}), 1) with ` +
      (family === 'detect-k' ? 'R=K, C=M' : 'R=M, C=K'),
  };
}

/**
 * Detection for pit-k (micro-tile `bm x kh` of A, default `bm x 1`): reads `at` = AT [K, M] f32 and appends, for
 * each row block mb = 0..ceil(M/bm)-1, the k-blocks (k / kh) whose `A[mb*bm .., kb*kh ..]` has a non-zero:
 * `count` [ceil(M/bm)] u32 (must be zero before: run `zeroFillProgram('count')` first), `index`
 * [ceil(M/bm)*ceil(K/kh)] u32. Order within a block is arbitrary. With kh = 1 the entries are the k's themselves.
 * @throws RangeError on an invalid shape, bm or kh.
 */
export function detectKProgram(shape: MatmulShape, bm: number, kh = 1): KernelProgram {
  validateShape(shape);
  return detectRowsProgram('detect-k', 'at', `${bm}x${kh}`, shape.k, shape.m, bm, kh);
}

/**
 * Detection for pit-m (micro-tile `mh x w` of A, default `1 x w`): reads `a` = A [M, K] f32 and appends, for each
 * k-chunk c = 0..ceil(K/w)-1, the row blocks (m / mh) whose `A[rb*mh .., c*w .. (c+1)*w)` has a non-zero: `count`
 * [ceil(K/w)] u32 (zero before), `index` [ceil(K/w)*ceil(M/mh)] u32. Order within a chunk is arbitrary. With
 * mh = 1 the entries are rows m.
 * @throws RangeError on an invalid shape, w or mh.
 */
export function detectMProgram(shape: MatmulShape, w: number, mh = 1): KernelProgram {
  validateShape(shape);
  return detectRowsProgram('detect-m', 'a', `${mh}x${w}`, shape.m, shape.k, w, mh);
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
