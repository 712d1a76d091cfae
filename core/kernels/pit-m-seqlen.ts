/**
 * The `pit-m-seqlen` kernel family: PIT's rule on the token axis m for a padded batch whose sequence lengths are
 * known (PIT §5, the `seqlens` path of its BERT workload; SparTA `pit_sm80`): the rows of A that belong to valid
 * tokens are listed from the lengths, not detected, and only they are gathered (SRead) into dense computation tiles
 * and their result rows scattered back (SWrite). Padded rows are not computed: C is zero-filled and they stay zero.
 *
 * It reuses the pit-m condense-M program for whole rows (`pitMProgram` with W = K: one chunk, plain stores; template
 * `shaders/pit-m-matmul.wgsl.ts`) with its `count` [1] and `index` [M] computed on the CPU from
 * `PlanContext.validRows` and uploaded once (`FamilyPlan.uploads`): no detection runs, and no GPU time is spent
 * building the index. Which rows are valid is the caller's knowledge of the lowering (core/ocr/seqlen.ts: for a
 * Conv over [N, C, H, W] the rows are (n, h, w) output pixels; for a MatMul over [N, T, C] they are (n, t) tokens).
 */
import { tileName, validateComputeTile } from '../../shaders/common.wgsl.ts';
import { WHOLE_ROW } from '../sparsity/micro-tiles.ts';
import { extents, zeroFillProgram } from './detect.ts';
import type { FamilyConfig, KernelFamily, PlanContext } from './family.ts';
import { M, mul, N } from './grid.ts';
import { pitMProgram } from './pit-m.ts';
import { isBatched, validateShape, type MatmulShape } from './shape.ts';
import { denseCandidates, DENSE_TILES } from './dense.ts';
import { DEFAULT_PIT_TILE, parseTileName } from './tiles.ts';
import type { ComputeTile } from '../../shaders/common.wgsl.ts';

/**
 * Checks a list of valid rows for `m` rows: integers, strictly ascending, in [0, m), at least one.
 * @throws RangeError saying what is wrong.
 */
export function checkValidRows(rows: readonly number[], m: number): void {
  if (!rows.length) throw new RangeError('pit-m-seqlen: no valid row (every sample has length 0)');
  let prev = -1;
  for (const r of rows) {
    if (!Number.isInteger(r) || r < 0 || r >= m) throw new RangeError(`pit-m-seqlen: valid row ${r} is outside [0, ${m})`);
    if (r <= prev) throw new RangeError(`pit-m-seqlen: valid rows must be strictly ascending (${r} after ${prev})`);
    prev = r;
  }
}

/**
 * The index the kernel reads, from the valid rows (CPU; PIT's seqlens index): `count` [1] = the number of valid
 * rows, `index` [M] = the valid rows ascending, then zeros (entries past `count` are never read).
 * @throws RangeError as `checkValidRows`.
 */
export function seqlenIndex(rows: readonly number[], m: number): { count: Uint32Array; index: Uint32Array } {
  checkValidRows(rows, m);
  const index = new Uint32Array(m);
  index.set(rows);
  return { count: Uint32Array.of(rows.length), index };
}

function needRows(ctx: PlanContext | undefined): readonly number[] {
  if (!ctx?.validRows) throw new RangeError('pit-m-seqlen needs the valid rows of the layer (PlanContext.validRows: a padded batch with known lengths)');
  return ctx.validRows;
}

const config = (tile: ComputeTile): FamilyConfig => ({ family: 'pit-m-seqlen', microTile: WHOLE_ROW, tile: { ...tile } });

/**
 * Computation tiles measured per layer: the first two dense candidates of the shape (its default dense tile and the
 * least padded other, core/kernels/dense.ts `denseCandidates`). The gathered rows are computed as dense rows, so the
 * rule uses the tiles dense uses and its gain over the baseline is the skipped rows, not a tile fit (a 32x128 PIT
 * tile would pad an N = 16 output eightfold).
 */
export function seqlenTiles(s: MatmulShape): ComputeTile[] {
  return denseCandidates(s).slice(0, 2);
}

/** The pit-m-seqlen family (see the module comment). */
export const pitMSeqlenFamily: KernelFamily = {
  name: 'pit-m-seqlen',
  axis: 'm',
  summary: 'PIT on the token axis m with known lengths: SRead of the valid rows of a padded batch (index from the lengths), SWrite of their C rows',
  helperRoles: ['fill'],
  defaultOn: false,
  needs: ['validRows'],
  tuningConfigs: () => [],
  layerConfigs: (s) => seqlenTiles(s).map(config),
  illegalReason: (c, s) =>
    c.microTile !== WHOLE_ROW ? `pit-m-seqlen gathers whole rows (1xK), not ${c.microTile}` : isBatched(s) ? 'pit-m-seqlen indexes the rows of a 2-D layer (batch 1) only' : null,
  microTile: (_c, k) => `1x${k}`,
  blockCounts: (cov) => cov.colCounts,
  contextDensity: (_c, s, ctx) => needRows(ctx).length / s.m,
  plan(s: MatmulShape, c: FamilyConfig, ctx?: PlanContext) {
    validateShape(s);
    validateComputeTile(c.tile);
    const illegal = pitMSeqlenFamily.illegalReason(c, s);
    if (illegal) throw new RangeError(illegal);
    const rows = needRows(ctx);
    const { count, index } = seqlenIndex(rows, s.m);
    const e = extents(s);
    return {
      aLayout: 'a',
      buffers: [
        { name: 'count', dtype: 'u32', shape: [1], role: 'scratch' },
        { name: 'index', dtype: 'u32', shape: [s.m], role: 'scratch' },
        { name: 'c', dtype: 'f32', shape: [s.m, s.n], role: 'output' },
      ],
      detect: [],
      // C is zeroed in the timed work, so padded rows read as zero whatever ran before.
      compute: [zeroFillProgram('c', { value: s.m * s.n, term: mul(M, N) }, e.vars), pitMProgram(s, c.tile, s.k)],
      uploads: { count, index },
      counts: null,
      outputRows: rows,
    };
  },
  costFeatures: { names: ['1', 'G', 'U', 'F'], work: 1 },
  kernelFeatures(c, s, counts, g) {
    // As pit-m whole rows: U = gathered row tiles × K slices per column tile; F: zero-fill of C.
    const rows = counts.length ? counts[0]! : s.m;
    return [1, g, Math.ceil(s.n / c.tile.bn) * Math.ceil(rows / c.tile.bm) * Math.ceil(s.k / c.tile.bk), (s.m * s.n) / 256];
  },
  detectKey: () => null,
  variantName: (c) => `pit-m-seqlen ${tileName(c.tile)}`,
  describe: (op, c) =>
    `${op}${op === 'Conv' ? ' (im2col)' : ''}: axis m (tokens), rows of valid tokens listed from the sequence lengths (CPU index, no detection), ` +
    `SRead of those rows into tile ${tileName(c.tile)}, SWrite of their C rows; padded rows not computed`,
  configOf: (v) => config(parseTileName(v.computeTile, DENSE_TILES, DEFAULT_PIT_TILE)),
  // The index comes from the lengths, not from A: there is no detection to reproduce.
  referenceIndex: () => null,
};
