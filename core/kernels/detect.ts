/**
 * Programs shared by the kernel families: PIT's online index construction (detection, PIT §4.3) over any row-major
 * tensor, the zero-fill that clears detection counts and outputs inside the timed work, and the transpose that
 * prepares a layout a family reads (pit-k's `AT`). Templates: `shaders/detect.wgsl.ts`, `shaders/common.wgsl.ts`,
 * `shaders/transpose.wgsl.ts`. Each family module (dense.ts, pit-k.ts, pit-m.ts) composes these with its own kernel.
 */
import { DETECT_WORKGROUP, detectWgsl, detectWindow } from '../../shaders/detect.wgsl.ts';
import { FILL_WORKGROUP, fillZeroWgsl } from '../../shaders/common.wgsl.ts';
import { TRANSPOSE_TILE, transposeWgsl } from '../../shaders/transpose.wgsl.ts';
import { ceilDiv as ceilDivTerm, constant, grid, min, mul, type GridTerm, type GridVars } from './grid.ts';
import { makeProgram, type KernelProgram } from './program.ts';
import { batchOf, ceilDiv, shapeVars, validateShape, type MatmulShape } from './shape.ts';

/** The largest workgroup count per grid dimension WebGPU guarantees (`maxComputeWorkgroupsPerDimension`). */
const MAX_GRID = 65535;

/** A tensor extent for a program: its value and its term in grid formulas (e.g. `K`, `M*N`). */
export interface Extent {
  value: number;
  term: GridTerm;
}

/**
 * Detection over a generic row-major X [rows, cols] f32 bound as `input`: for each column block j of width `w`, the
 * row blocks (of `h` rows) whose micro-tile has a non-zero. `count` [ceil(cols/w)] u32 (zero before), `index`
 * [ceil(cols/w) * ceil(rows/h)] u32 with block j's entries at `j*ceil(rows/h) ..`. Params
 * `[rows, cols, nBlocks, tilesX, rowBlocks]`. The element test is `x != 0` (NaN is non-zero). `dtype` f16: X holds
 * f16 elements (the f16 families; see `detectWgsl`).
 * @param role program role, e.g. `detect-k` (the manifest's kernel role).
 * @param vars grid variables the extents' terms refer to (M, N, K, B).
 * @param batch batched detection (more than one X): X is [batch, rows, cols] and each batch gets its own counts and
 *   index (`count` [batch, nBlocks], `index` [batch, nBlocks*RB]); grid z = batch. Absent or 1: the 2-D program.
 * @throws RangeError when w or h is not a positive integer or rows/cols < 1.
 */
export function detectRowsProgram(
  role: 'detect-k' | 'detect-m' | 'detect-n',
  input: string,
  microTile: string,
  rows: Extent,
  cols: Extent,
  w: number,
  h: number,
  vars: GridVars,
  batch?: Extent,
  dtype: 'f32' | 'f16' = 'f32',
): KernelProgram {
  if (!Number.isInteger(w) || w < 1) throw new RangeError(`${role}: micro-tile extent must be a positive integer, got ${w}`);
  if (!Number.isInteger(h) || h < 1) throw new RangeError(`${role}: micro-tile height must be a positive integer, got ${h}`);
  if (!Number.isInteger(rows.value) || rows.value < 1 || !Number.isInteger(cols.value) || cols.value < 1) {
    throw new RangeError(`${role}: X must have at least one row and column, got ${rows.value}x${cols.value}`);
  }
  const nBlocks = ceilDiv(cols.value, w);
  const rowBlocks = ceilDiv(rows.value, h);
  const win = detectWindow(w, h);
  const tilesX = ceilDiv(cols.value, win.span);
  // 2-D grid: a large tensor needs more workgroups than one dimension allows.
  const total = mul(ceilDivTerm(cols.term, win.span), ceilDivTerm(rows.term, win.rows));
  const gx = min(total, MAX_GRID);
  const batched = !!batch && batch.value > 1;
  if (batched && (!Number.isInteger(batch.value) || batch.value > MAX_GRID)) throw new RangeError(`${role}: batch ${batch.value} exceeds ${MAX_GRID} workgroups along z`);
  const params = [rows.value, cols.value, nBlocks, tilesX, rowBlocks];
  return makeProgram(
    {
      family: role,
      label: `${role} ${microTile}${batched ? ` x${batch.value}` : ''}${dtype === 'f16' ? ' f16' : ''}`,
      wgsl: detectWgsl({ w, h, family: role, microTile, vec4: cols.value % (dtype === 'f16' ? 8 : 4) === 0, ...(batched ? { batched } : {}), ...(dtype === 'f16' ? { dtype } : {}) }),
      bindings: [
        { name: input, kind: 'read-only-storage' },
        { name: 'count', kind: 'storage' },
        { name: 'index', kind: 'storage' },
        { name: 'params', kind: 'uniform' },
      ],
      workgroupSize: [DETECT_WORKGROUP, 1, 1],
      grid: grid(gx, ceilDivTerm(total, gx), batched ? batch.term : 1),
      params: batched ? [...params, rows.value * cols.value] : params,
    },
    vars,
  );
}

/** Extent helpers of a matmul shape: `M`, `N`, `K` and the batch `B` with their values. */
export function extents(s: MatmulShape): { M: Extent; N: Extent; K: Extent; B: Extent; vars: GridVars } {
  validateShape(s);
  const vars = shapeVars(s);
  const term = (name: 'M' | 'N' | 'K' | 'B'): Extent => ({ value: vars[name], term: { text: name, at: (v) => v[name]! } });
  return { M: term('M'), N: term('N'), K: term('K'), B: term('B'), vars };
}

/**
 * The batch extent of an operand's per-batch work (detection, layout): the shape's batch `B`, or 1 when the operand
 * is shared by every batch (`shared`), or undefined for a 2-D shape (the unbatched programs).
 */
export function operandBatch(s: MatmulShape, shared: boolean | undefined): Extent | undefined {
  if (batchOf(s) <= 1) return undefined;
  if (shared) return { value: 1, term: constant(1) };
  return extents(s).B;
}

/** The extent over every matrix of a (batched) operand: `perMatrix` times the batch (`perMatrix` alone when 2-D). */
export function timesBatch(perMatrix: Extent, batch: Extent | undefined): Extent {
  if (!batch || batch.value === 1) return perMatrix;
  return { value: batch.value * perMatrix.value, term: mul(batch.term, perMatrix.term) };
}

/**
 * Zero-fill of the whole buffer bound as `name` (u32 words; f32 zero has the same bits), grid-stride so any size
 * fits one dispatch: at most 4096 workgroups of 256, then each thread loops.
 * @param words the word count: a number (a constant in the grid formula) or an extent over the shape's variables.
 * @param vars grid variables the extent's term refers to (not needed for a number).
 * @throws RangeError when the word count is < 1.
 */
export function zeroFillProgram(name: string, words: Extent | number, vars: GridVars = {}): KernelProgram {
  if (typeof words === 'number') words = { value: words, term: constant(words) };
  if (!Number.isInteger(words.value) || words.value < 1) throw new RangeError(`zero-fill '${name}': word count must be a positive integer, got ${words.value}`);
  return makeProgram(
    {
      family: 'fill',
      label: `zero ${name}`,
      wgsl: fillZeroWgsl(),
      bindings: [{ name, kind: 'storage' }],
      workgroupSize: [FILL_WORKGROUP, 1, 1],
      grid: grid(min(ceilDivTerm(words.term, FILL_WORKGROUP), 4096), 1, 1),
    },
    vars,
  );
}

/**
 * The transpose `output [cols, rows] = input [rows, cols]ᵀ` (layout preparation, e.g. `at` from `a`), of f32 or
 * (f16 families) f16 elements. Bindings: `input`, `output`, `params` `[rows, cols, 0, 0]`. Grid
 * `(ceil(cols/16), ceil(rows/16), 1)`; with `batch` (more than one matrix, f32 only) each of the batch's [rows, cols]
 * matrices is transposed, grid z = batch.
 * @throws RangeError for a batched f16 transpose (the f16 families are 2-D only).
 */
export function transposeProgram(input: string, output: string, rows: Extent, cols: Extent, vars: GridVars, batch?: Extent, dtype: 'f32' | 'f16' = 'f32'): KernelProgram {
  const batched = !!batch && batch.value > 1;
  if (batched && dtype === 'f16') throw new RangeError('transpose: f16 layouts are 2-D only (no batched form)');
  return makeProgram(
    {
      family: 'transpose',
      label: `transpose ${input} -> ${output}${batched ? ` x${batch.value}` : ''}${dtype === 'f16' ? ' f16' : ''}`,
      wgsl: transposeWgsl(batched, dtype),
      bindings: [
        { name: input, kind: 'read-only-storage' },
        { name: output, kind: 'storage' },
        { name: 'params', kind: 'uniform' },
      ],
      workgroupSize: [TRANSPOSE_TILE, TRANSPOSE_TILE, 1],
      grid: grid(ceilDivTerm(cols.term, TRANSPOSE_TILE), ceilDivTerm(rows.term, TRANSPOSE_TILE), batched ? batch.term : 1),
      params: [rows.value, cols.value, 0, 0],
    },
    vars,
  );
}
