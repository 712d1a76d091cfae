/**
 * PIT rules (DESIGN.md §2–3, PIT §3.2 and §4): for an operator, a permutation-invariant axis, the micro-tile that
 * axis lets a kernel skip, and the computation tile the kernel computes densely. This module enumerates the rules
 * that are *legal* for a layer and that PIT Studio has a kernel for, and maps each to the `VariantSpec` that runs it.
 *
 * Every operator is first lowered to `C[M,N] = A[M,K]·B[K,N]` with A the dynamically sparse activation
 * (core/model/lowering.ts), so the axes below are in matmul terms:
 * - MatMul / Gemm: `k` (condense-K: gather A columns and B rows, micro-tile `Hx1` of A, no SWrite) and `m`
 *   (condense-M: gather rows of A, scatter rows of C, micro-tile `1xW`); `n` is invariant too but concerns the
 *   columns of B and C, which A's sparsity says nothing about, and there is no pit-n kernel: never enumerated.
 * - Conv (through im2col): k = Cin·kh·kw is the reduction (invariant as a whole: the window axes are permuted only
 *   together with the channel, which the im2col column order already fixes), m = batch·Ho·Wo pixels (each output
 *   pixel is independent); Cout is n.
 *
 * Kernel constraints (core/kernels): pit-k's micro-tile height is the computation tile's BM and its width is 1;
 * pit-m's micro-tile is `1xW`, and `W >= K` is the whole-row rule `1xK` (one chunk, plain stores), so a `1xW` rule
 * is only legal when `W < K` (otherwise it *is* the whole-row rule, with another kernel text).
 *
 * Names: a rule's *variant name* is unique per layer (measurements are stored by it). The three rules of the
 * original variant set keep their historic names — `dense` (DEFAULT_DENSE_TILE), `pit-k` (32x1 on
 * DEFAULT_PIT_TILE), `pit-m` (whole rows on DEFAULT_PIT_TILE) — and every other rule is named by family, micro-tile
 * and, for dense, computation tile (e.g. `pit-k 8x1`, `pit-m 1x32`, `dense 32x128x8/4x4`).
 */
import { tileName, type ComputeTile } from '../../shaders/common.wgsl.ts';
import { DEFAULT_DENSE_TILE, DEFAULT_PIT_TILE, type VariantSpec } from '../kernels/variants.ts';

/** Kernel families a rule can use (the matmul kernels of core/kernels). */
export type RuleFamily = 'dense' | 'pit-k' | 'pit-m';

/** The permutation-invariant axis a rule exploits (`none` for dense). */
export type RuleAxis = 'none' | 'k' | 'm';

/** Micro-tile label of the whole-row pit-m rule: `1xK`, resolved to `1x${K}` per layer. */
export const WHOLE_ROW = '1xK';

/**
 * A kernel configuration independent of any layer: family, micro-tile label (`Hx1`, `1xW`, `1xK`; null for dense)
 * and computation tile. The tile database measures configurations; a rule is a configuration applied to a layer.
 */
export interface RuleConfig {
  family: RuleFamily;
  /** `Hx1` for pit-k (H = tile.bm), `1xW` or `1xK` for pit-m, null for dense. */
  microTile: string | null;
  tile: ComputeTile;
}

/** A PIT rule for one layer: `{op, axis, microTile, computeTile}` with its variant name and kernel spec. */
export interface PitRule {
  /** Stable id of the configuration, e.g. `pit-k 8x1 @8x64x8/2x4` (see `configId`). */
  id: string;
  /** Unique per layer; what the measurement is stored under (see the module comment). */
  variant: string;
  op: string;
  axis: RuleAxis;
  config: RuleConfig;
  /** The micro-tile in this layer's [M, K] terms (`1xK` resolved to `1x${K}`), null for dense. */
  microTile: string | null;
  /** What `runVariant` runs. */
  spec: VariantSpec;
  /** One line: operator, axis, micro-tile, computation tile, SRead/SWrite plan. */
  description: string;
}

/**
 * Configurations PIT Studio tunes and chooses among: the computation tiles of each family and the micro-tiles of
 * each invariant axis. Heights 4/8/16/32 and widths 16/32/64 follow PIT's tile database (`stile_db.csv` measures
 * 4x1…32x1; PIT §5 uses 1x64-class row tiles for condense-M).
 */
export interface RuleSpace {
  dense: ComputeTile[];
  /** pit-k: one computation tile per micro-tile height (its BM is the height). */
  pitK: ComputeTile[];
  /** pit-m: micro-tile widths W (rules `1xW`, legal when W < K) … */
  pitMWidths: number[];
  /** … each with these computation tiles, plus the whole-row rule `1xK` on the same tiles. */
  pitMTiles: ComputeTile[];
}

/**
 * The default space: 4 dense tiles (the default 64x64x16/4x4, the PIT tile 32x128x8/4x4 for wide N, 64x32x16/4x2 for
 * narrow N, 16x64x16/2x4 for few rows), pit-k heights 4/8/16/32 (BN = 64 below 32 rows, since the layers that have
 * k-sparsity at small heights are narrow), and pit-m widths 16/32/64 plus whole rows on the PIT tile. Twelve
 * configurations: enough to show the trade-offs, few enough for `pit tune --quick` to finish in 2 minutes on
 * lavapipe (each pipeline compiles on the CPU there).
 */
export const DEFAULT_RULE_SPACE: RuleSpace = {
  dense: [
    { ...DEFAULT_DENSE_TILE },
    { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4 },
    { bm: 64, bn: 32, bk: 16, tm: 4, tn: 2 },
    { bm: 16, bn: 64, bk: 16, tm: 2, tn: 4 },
  ],
  pitK: [
    { bm: 4, bn: 64, bk: 8, tm: 1, tn: 4 },
    { bm: 8, bn: 64, bk: 8, tm: 2, tn: 4 },
    { bm: 16, bn: 64, bk: 8, tm: 2, tn: 4 },
    { ...DEFAULT_PIT_TILE },
  ],
  pitMWidths: [16, 32, 64],
  pitMTiles: [{ ...DEFAULT_PIT_TILE }],
};

/** Every configuration of a space, dense first, then pit-k by height, then pit-m by width (whole rows last). */
export function spaceConfigs(space: RuleSpace = DEFAULT_RULE_SPACE): RuleConfig[] {
  const out: RuleConfig[] = [];
  const seen = new Set<string>();
  const push = (c: RuleConfig) => {
    const id = configId(c);
    if (seen.has(id)) return;
    seen.add(id);
    out.push(c);
  };
  for (const t of space.dense) push({ family: 'dense', microTile: null, tile: { ...t } });
  for (const t of space.pitK) push({ family: 'pit-k', microTile: `${t.bm}x1`, tile: { ...t } });
  for (const t of space.pitMTiles) {
    for (const w of space.pitMWidths) push({ family: 'pit-m', microTile: `1x${w}`, tile: { ...t } });
    push({ family: 'pit-m', microTile: WHOLE_ROW, tile: { ...t } });
  }
  return out;
}

/** Stable id of a configuration: `dense @64x64x16/4x4`, `pit-k 8x1 @8x64x8/2x4`, `pit-m 1xK @32x128x8/4x4`. */
export function configId(c: RuleConfig): string {
  return `${c.family}${c.microTile ? ' ' + c.microTile : ''} @${tileName(c.tile)}`;
}

const sameTile = (a: ComputeTile, b: ComputeTile) => tileName(a) === tileName(b);

/**
 * Variant name of a configuration (unique among a layer's rules): the historic `dense` / `pit-k` / `pit-m` for
 * the original three, else family + micro-tile (+ tile for dense or for a non-default pit tile).
 */
export function variantName(c: RuleConfig): string {
  if (c.family === 'dense') return sameTile(c.tile, DEFAULT_DENSE_TILE) ? 'dense' : `dense ${tileName(c.tile)}`;
  const defaultTile = sameTile(c.tile, DEFAULT_PIT_TILE);
  if (c.family === 'pit-k' && c.microTile === `${DEFAULT_PIT_TILE.bm}x1` && defaultTile) return 'pit-k';
  if (c.family === 'pit-m' && c.microTile === WHOLE_ROW && defaultTile) return 'pit-m';
  return `${c.family} ${c.microTile}${c.family === 'pit-m' && !defaultTile ? ' ' + tileName(c.tile) : ''}`;
}

/** Why a configuration is not a legal rule for a layer of shape [M,N,K], or null when it is. */
export function illegalReason(c: RuleConfig, k: number): string | null {
  if (c.family === 'pit-k') {
    const [h, w] = (c.microTile ?? '').split('x').map(Number);
    if (w !== 1) return `pit-k micro-tile ${c.microTile} must be Hx1`;
    if (h !== c.tile.bm) return `pit-k micro-tile ${c.microTile} needs a computation tile with BM = ${h}, got ${c.tile.bm}`;
  }
  if (c.family === 'pit-m' && c.microTile !== WHOLE_ROW) {
    const [h, w] = (c.microTile ?? '').split('x').map(Number);
    if (h !== 1 || !(w! >= 1)) return `pit-m micro-tile ${c.microTile} must be 1xW`;
    if (w! >= k) return `pit-m 1x${w} covers whole rows when K = ${k} <= ${w}: that is the 1xK rule`;
  }
  return null;
}

/** The invariant axis a family exploits. */
export function axisOf(family: RuleFamily): RuleAxis {
  return family === 'pit-k' ? 'k' : family === 'pit-m' ? 'm' : 'none';
}

/**
 * The legal rules of a (lowered) layer among `configs`, in the order given. Operators other than MatMul, Gemm and
 * Conv have no rule (returns []).
 * @param op ONNX operator type of the layer.
 * @param k Reduction length K of the lowered matmul (decides which `1xW` rules exist).
 */
export function rulesFor(op: string, k: number, configs: readonly RuleConfig[] = spaceConfigs()): PitRule[] {
  if (!['MatMul', 'Gemm', 'Conv'].includes(op)) return [];
  const out: PitRule[] = [];
  for (const c of configs) {
    if (illegalReason(c, k)) continue;
    const microTile = c.microTile === WHOLE_ROW ? `1x${k}` : c.microTile;
    const spec: VariantSpec = { name: c.family, microTile, tile: { ...c.tile } };
    out.push({
      id: configId(c),
      variant: variantName(c),
      op,
      axis: axisOf(c.family),
      config: c,
      microTile,
      spec,
      description: describeRule(op, c, microTile),
    });
  }
  return out;
}

function describeRule(op: string, c: RuleConfig, microTile: string | null): string {
  const tile = tileName(c.tile);
  const lowered = op === 'Conv' ? ' (im2col)' : '';
  if (c.family === 'dense') return `${op}${lowered}: dense, computation tile ${tile}`;
  if (c.family === 'pit-k') {
    return `${op}${lowered}: axis k, micro-tile ${microTile} of A, SRead of non-zero k's into tile ${tile}, no SWrite`;
  }
  return `${op}${lowered}: axis m, micro-tile ${microTile} of A, SRead of non-zero rows into tile ${tile}, SWrite of C rows` +
    (c.microTile === WHOLE_ROW ? ' (plain stores)' : ' (CAS accumulation over k-chunks)');
}
