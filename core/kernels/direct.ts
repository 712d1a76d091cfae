/**
 * The `direct` kernel family: a dense baseline candidate for grouped and depthwise convolutions (and any batched
 * matmul with few output columns). A depthwise conv lowers to a batched matmul with N = 1 (the channel multiplier)
 * and K = kh·kw per group, where a matmul tile of 16–128 columns computes mostly padding; the direct kernel computes
 * one output row per invocation with its N ≤ 16 outputs in registers, reading the im2col rows transposed (`at`,
 * which im2col writes at no cost). It skips nothing (axis `none`): the layer's baseline is the fastest verified of
 * the dense tiles and this kernel. Template: `shaders/direct-conv.wgsl.ts`.
 *
 * Configurations reuse the computation-tile fields: `bm` = rows (invocations) per workgroup, `bn` = `tn` = N,
 * `bk` = `tm` = 1; the tile's N must be the layer's N.
 */
import { DIRECT_MAX_N, directConvWgsl } from '../../shaders/direct-conv.wgsl.ts';
import { tileName, type ComputeTile } from '../../shaders/common.wgsl.ts';
import type { FamilyConfig, KernelFamily } from './family.ts';
import { BATCH, ceilDiv, grid, M } from './grid.ts';
import { makeProgram, type KernelProgram } from './program.ts';
import { batchOf, batchStrides, isBatched, shapeVars, validateShape, type MatmulShape } from './shape.ts';
import { parseTileName } from './tiles.ts';

/** Rows (invocations) per workgroup of the default configuration. */
export const DIRECT_ROWS = 128;

/** The direct configuration's tile for a layer with N outputs per row and `rows` rows per workgroup. */
export function directTile(n: number, rows = DIRECT_ROWS): ComputeTile {
  return { bm: rows, bn: n, bk: 1, tm: 1, tn: n };
}

/**
 * The direct program. Bindings: `at` [batch, K, M] f32, `b` [batch, K, N] f32 (either one shared matrix), `c`
 * [batch, M, N] f32 (fully overwritten), `params` uniform `[M, N, K, batch, strideAT, strideB, 0, 0]`. Grid
 * `(ceil(M/rows), B, 1)`.
 * @throws RangeError on an invalid shape, or a tile whose N is not the layer's or exceeds 16.
 */
export function directProgram(shape: MatmulShape, tile: ComputeTile): KernelProgram {
  validateShape(shape);
  const reason = tileProblem(tile, shape);
  if (reason) throw new RangeError(reason);
  const st = batchStrides(shape);
  const batch = batchOf(shape);
  return makeProgram(
    {
      family: 'direct',
      label: `direct ${tile.bm} rows N=${shape.n}${isBatched(shape) ? ` x${batch}` : ''}`,
      wgsl: directConvWgsl({ rows: tile.bm, n: shape.n }),
      bindings: [
        { name: 'at', kind: 'read-only-storage' },
        { name: 'b', kind: 'read-only-storage' },
        { name: 'c', kind: 'storage' },
        { name: 'params', kind: 'uniform' },
      ],
      workgroupSize: [tile.bm, 1, 1],
      grid: grid(ceilDiv(M, tile.bm), BATCH, 1),
      params: [shape.m, shape.n, shape.k, batch, st.a, st.b, 0, 0],
    },
    shapeVars(shape),
  );
}

/** Why `tile` cannot run the direct kernel at shape `s`, or null. */
function tileProblem(tile: ComputeTile, s: MatmulShape): string | null {
  if (s.n > DIRECT_MAX_N) return `direct keeps a row's N outputs in registers: N = ${s.n} exceeds ${DIRECT_MAX_N}`;
  if (tile.bn !== s.n || tile.tn !== s.n || tile.tm !== 1 || tile.bk !== 1) return `direct tile ${tileName(tile)} must be ROWSx${s.n}x1/1x${s.n} for N = ${s.n}`;
  if (!Number.isInteger(tile.bm) || tile.bm < 1 || tile.bm > 1024) return `direct: ${tile.bm} rows per workgroup is not in [1, 1024]`;
  return null;
}

const config = (tile: ComputeTile): FamilyConfig => ({ family: 'direct', microTile: null, tile: { ...tile } });

/** The direct family (see the module comment). */
export const directFamily: KernelFamily = {
  name: 'direct',
  axis: 'none',
  summary: 'direct grouped/depthwise conv over the im2col rows: one invocation per output row, its N ≤ 16 outputs in registers (a dense baseline candidate)',
  helperRoles: ['transpose'],
  defaultOn: true,
  // Not tuned: the tile database covers 2-D layers, where the dense tiles are the baseline.
  tuningConfigs: () => [],
  // Batched layers with few output columns (grouped / depthwise convs); 2-D layers keep the dense tiles.
  layerConfigs: (s) => (isBatched(s) && s.n <= DIRECT_MAX_N ? [config(directTile(s.n))] : []),
  illegalReason: (c, s) => tileProblem(c.tile, s),
  microTile: () => null,
  blockCounts: () => [],
  plan(s, c) {
    validateShape(s);
    return {
      aLayout: 'at',
      buffers: [{ name: 'c', dtype: 'f32', shape: isBatched(s) ? [batchOf(s), s.m, s.n] : [s.m, s.n], role: 'output' }],
      detect: [],
      compute: [directProgram(s, c.tile)],
      counts: null,
    };
  },
  costFeatures: { names: ['1', 'G', 'U'], work: 1 },
  // U: row-steps of work, one row of K multiply-adds (times N) per invocation, padding of the last workgroup included.
  kernelFeatures: (c, s, _counts, g) => [1, g, Math.ceil(s.m / c.tile.bm) * c.tile.bm * s.k * batchOf(s)],
  detectKey: () => null,
  variantName: (c) => (c.tile.bm === DIRECT_ROWS ? 'direct' : `direct ${tileName(c.tile)}`),
  describe: (op, c) =>
    `${op}: direct kernel, one ${op === 'Conv' || op === 'ConvTranspose' ? 'im2col row (output pixel)' : 'row of A'} per invocation, ${c.tile.bm} per workgroup, N = ${c.tile.bn} outputs per row in registers (dense)`,
  configOf: (v) => config(parseTileName(v.computeTile, [], directTile(1))),
  referenceIndex: () => null,
};
