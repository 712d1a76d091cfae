/**
 * The `hinm` kernel family: hierarchical N:M sparsity of the weight (HiNM, arXiv 2407.20496; sminy67/hinm_sp;
 * `pit prune --pattern hinm`): output channels in vector blocks of V share one list of kept K indices (column
 * vectors), and inside that list every 4 consecutive entries form a 2:4 group per channel. Gyro-permutation chooses
 * which channels share a block and the order of the kept list; as the paper does, both permutations are folded into
 * the kernel's indices instead of rewriting the model: the kept list is the gather index of A's columns (SRead) and
 * the block's channel list the scatter index of C's columns (SWrite).
 *
 * **Index** (built on the CPU once per layer from the `pit.prune` metadata `hinm` blocks and the weight, which must
 * follow them; `HinmIndex`): `hinm_blocks` [N/V, 4] u32 per block (`slotOff` into the kept lists, `slotCount` = its
 * kept count L (a multiple of 4), `valRow0`, `posRow0`), `hinm_kept` [Σ L] u32 (gather order), `hinm_chan` [N] u32
 * (block b's channels at b·V ..), `hinm_vals` [Σ L/2, V] f32 and `hinm_pos` [Σ ceil(L/32), V] u32 (the 2:4
 * compression of `nm.ts` along each block's gather order). Without metadata the blocks cannot be recovered from the
 * zeros (the gyro permutation is not visible in them), so the family applies only to layers the metadata lists.
 *
 * **Effective density**: Σ_blocks (L/2)·V / (K·N) — per block, 2 of every 4 kept k's for each of its V channels.
 * At HiNM sparsity S ≥ 50 % that is 1 − S (up to rounding L to a multiple of 4).
 *
 * Template: `shaders/nm-matmul.wgsl.ts` (mode `hinm`).
 */
import { tileName, type ComputeTile } from '../../shaders/common.wgsl.ts';
import { nmMatmulWgsl } from '../../shaders/nm-matmul.wgsl.ts';
import type { LayerPattern } from '../prune/types.ts';
import { WeightPatternError, type KernelFamily } from './family.ts';
import { ceilDiv, N } from './grid.ts';
import { compress24, NM_GROUP, nmTileProblem } from './nm.ts';
import type { MatmulShape } from './shape.ts';
import { staticFamily, type StaticLayer } from './static-family.ts';

type HinmPattern = Extract<LayerPattern, { pattern: 'hinm' }>;

/** A HiNM index as uploaded (see the module comment). */
export interface HinmIndex {
  /** Channels per vector block. */
  v: number;
  /** [N/V, 4]: slotOff, slotCount, valRow0, posRow0. */
  blocks: Uint32Array;
  kept: Uint32Array;
  chan: Uint32Array;
  values: Float32Array;
  positions: Uint32Array;
  /** Σ (L/2)·V / (K·N). */
  effectiveDensity: number;
}

/**
 * Builds the HiNM index of W [K, N] from its `hinm` pattern, checking that the pattern fits the weight: blocks of V
 * channels partitioning N, kept lists of distinct k's in range with a length a multiple of 4, and every non-zero of
 * W in a kept row of its channel's block with at most 2 per 2:4 group.
 * @throws WeightPatternError naming the layer and the first thing that does not fit.
 */
export function packHinm(b: Float32Array, k: number, n: number, p: HinmPattern, layer: string): HinmIndex {
  const v = p.v;
  if (p.keep !== 2 || p.group !== NM_GROUP) throw new WeightPatternError(layer, `HiNM ${p.keep}:${p.group} is not 2:4`);
  if (!Number.isInteger(v) || v < 1 || n % v) throw new WeightPatternError(layer, `HiNM vectors of V = ${v} do not divide N = ${n} (pit.prune metadata for another shape?)`);
  if (p.blocks.length !== n / v) throw new WeightPatternError(layer, `HiNM metadata has ${p.blocks.length} vector blocks, N/V = ${n / v}`);
  const blockOf = new Int32Array(n).fill(-1);
  const meta = new Uint32Array(p.blocks.length * 4);
  let slots = 0;
  let words = 0;
  p.blocks.forEach((bl, i) => {
    if (bl.channels.length !== v) throw new WeightPatternError(layer, `HiNM block ${i} has ${bl.channels.length} channels, V = ${v}`);
    for (const c of bl.channels) {
      if (!Number.isInteger(c) || c < 0 || c >= n) throw new WeightPatternError(layer, `HiNM block ${i} names channel ${c}, outside N = ${n}`);
      if (blockOf[c] >= 0) throw new WeightPatternError(layer, `HiNM channel ${c} is in blocks ${blockOf[c]} and ${i}`);
      blockOf[c] = i;
    }
    if (bl.kept.length % NM_GROUP) throw new WeightPatternError(layer, `HiNM block ${i} keeps ${bl.kept.length} k's, not a multiple of ${NM_GROUP}`);
    const seen = new Set<number>();
    for (const r of bl.kept) {
      if (!Number.isInteger(r) || r < 0 || r >= k) throw new WeightPatternError(layer, `HiNM block ${i} keeps k = ${r}, outside K = ${k}`);
      if (seen.has(r)) throw new WeightPatternError(layer, `HiNM block ${i} keeps k = ${r} twice`);
      seen.add(r);
    }
    meta.set([slots, bl.kept.length, slots / 2, words], 4 * i);
    slots += bl.kept.length;
    words += Math.ceil(bl.kept.length / 32);
  });
  const kept = new Uint32Array(slots);
  const chan = new Uint32Array(n);
  const values = new Float32Array((slots / 2) * v);
  const positions = new Uint32Array(words * v);
  let work = 0;
  p.blocks.forEach((bl, i) => {
    const [slotOff, count, valRow0, posRow0] = meta.subarray(4 * i, 4 * i + 4);
    kept.set(bl.kept, slotOff);
    chan.set(bl.channels, i * v);
    work += (count / 2) * v;
    const keep = new Uint8Array(k);
    for (const r of bl.kept) keep[r] = 1;
    bl.channels.forEach((c, col) => {
      for (let r = 0; r < k; r++) {
        if (!keep[r] && b[r * n + c] !== 0) throw new WeightPatternError(layer, `W[k=${r}, n=${c}] = ${b[r * n + c]} is non-zero, but HiNM block ${i} does not keep k = ${r}`);
      }
      for (let g = 0; g < count / NM_GROUP; g++) {
        const ks = bl.kept.slice(g * NM_GROUP, g * NM_GROUP + NM_GROUP);
        const z = compress24(b[ks[0]! * n + c]!, b[ks[1]! * n + c]!, b[ks[2]! * n + c]!, b[ks[3]! * n + c]!);
        if (!z) throw new WeightPatternError(layer, `channel ${c}: the 2:4 group of k = ${ks.join(', ')} (HiNM block ${i}) holds more than 2 non-zeros`);
        values[(valRow0 + 2 * g) * v + col] = z.v0;
        values[(valRow0 + 2 * g + 1) * v + col] = z.v1;
        positions[(posRow0 + (g >> 3)) * v + col]! |= (z.p0 | (z.p1 << 2)) << (4 * (g & 7));
      }
    });
  });
  return { v, blocks: meta, kept, chan, values, positions, effectiveDensity: k * n ? work / (k * n) : 0 };
}

/** The computation tile for blocks of V channels at M rows: BN = V, TN = V/16 (16 threads along N), 128 or 32 rows. */
export function hinmTile(m: number, v: number): ComputeTile {
  const tn = Math.max(1, v / 16);
  return m >= 128 ? { bm: 128, bn: v, bk: 16, tm: 8, tn } : { bm: 32, bn: v, bk: 16, tm: 4, tn };
}

const KNOWN_TILES: readonly ComputeTile[] = [16, 32, 64, 128].flatMap((v) => [hinmTile(128, v), hinmTile(1, v)]);

/**
 * The HiNM index for computation tile `tile` from the layer's `hinm` pattern (its blocks must be BN = V wide).
 * @throws RangeError when the layer has no hinm pattern or its V is not BN; WeightPatternError from `packHinm`.
 */
function hinmIndexOf(b: Float32Array, s: MatmulShape, tile: ComputeTile, layer: StaticLayer): HinmIndex {
  const p = layer.pattern;
  if (p?.pattern !== 'hinm') throw new RangeError('hinm needs the layer\'s pit.prune hinm pattern (its vector blocks and gather order): none was given');
  if (p.v !== tile.bn) throw new RangeError(`hinm: the layer's vector blocks have V = ${p.v}, the computation tile BN = ${tile.bn}`);
  return packHinm(b, s.k, s.n, p, layer.name);
}

/**
 * The hinm family (see the module comment). Its program binds `at` [K,M] f32, `hinm_vals`, `hinm_pos`,
 * `hinm_blocks`, `hinm_kept`, `hinm_chan`, `c`, `params` (static-family.ts); grid `(ceil(M/BM), N/V, 1)`.
 */
export const hinmFamily: KernelFamily = staticFamily<HinmIndex>({
  name: 'hinm',
  summary: 'hierarchical N:M weight (HiNM): vector blocks of V channels with a kept-k gather list (SRead), 2:4 inside it, channels scattered (SWrite); gyro permutations folded into both indices',
  helperRoles: ['transpose'],
  aLayout: 'at',
  knownTiles: KNOWN_TILES,
  tileProblem: (tile) => nmTileProblem(tile, 'hinm'),
  buildIndex: hinmIndexOf,
  indexArrays: (ix) => ({ hinm_vals: ix.values, hinm_pos: ix.positions, hinm_blocks: ix.blocks, hinm_kept: ix.kept, hinm_chan: ix.chan }),
  kernel(s, tile) {
    const vecGlobal = s.m % 4 === 0;
    return { label: `hinm V=${tile.bn} 2:4 tile ${tileName(tile)}`, vecGlobal, wgsl: nmMatmulWgsl({ tile, mode: 'hinm', vecGlobal }), columnTiles: ceilDiv(N, tile.bn) };
  },
  rule: (tile) =>
    `static HiNM weight, axis k, per block of ${tile.bn} channels SRead of its kept k's (input permutation) with 2:4 inside, tile ${tileName(tile)}, SWrite of its channels (output permutation)`,
  candidates(s, w) {
    const p = w.pattern;
    if (p?.pattern !== 'hinm') return [];
    const ix = packHinm(w.b, s.k, s.n, p, w.layer);
    return [{ tile: hinmTile(s.m, p.v), effectiveDensity: ix.effectiveDensity, source: `pit.prune HiNM pattern: ${s.n / p.v} vector blocks of ${p.v}, ${ix.kept.length / (s.n / p.v)} kept k's per block on average` }];
  },
});
