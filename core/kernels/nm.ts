/**
 * The `nm` kernel family: 2:4 structured sparsity of the weight along K (NVIDIA Ampere's N:M; the baseline of the
 * HiNM paper; `pit prune --pattern nm`): in every column n of W [K, N], every group of 4 consecutive k's holds at
 * most 2 non-zeros. The weight is stored compressed — the 2 kept values and their 2-bit positions — and the kernel
 * does the 2 multiply-adds per group a dense kernel does 4 of (SIMT: no sparse tensor cores in WGSL). A static
 * pattern of B: no detection, no SRead of A beyond the positions' selection, no SWrite.
 *
 * **Index** (built on the CPU once per layer; `NmIndex`): column tiles of BN; per tile, `nm_vals` [K/2, BN] f32
 * (group g's 2 kept values, ascending position, at rows 2g and 2g + 1; zero where the group holds fewer than 2
 * non-zeros) and `nm_pos` [ceil(K/32), BN] u32 (per group and column 4 bits `p0 | p1 << 2`, p0 < p1, 8 groups per
 * word). Tiles follow each other: [T·K/2, BN] and [T·ceil(K/32), BN]. The positions come from the weight's zeros
 * whether or not the model has `pit.prune` metadata (2:4 carries no permutation).
 *
 * **Effective density**: 1/2 — the kernel does 2 of every 4 multiply-adds of the weight (K/2 · N of K · N).
 *
 * Template: `shaders/nm-matmul.wgsl.ts` (mode `nm`).
 */
import { tileName, type ComputeTile } from '../../shaders/common.wgsl.ts';
import { nmMatmulWgsl } from '../../shaders/nm-matmul.wgsl.ts';
import { WeightPatternError, type KernelFamily } from './family.ts';
import { ceilDiv, N } from './grid.ts';
import { invalidTileReason, staticFamily } from './static-family.ts';

/** Kept values per group and the group size (2:4). */
export const NM_KEEP = 2;
export const NM_GROUP = 4;

/**
 * One 2:4 group of 4 consecutive weights compressed: the positions p0 < p1 of its (at most 2) non-zeros, padded with
 * the lowest unused positions, and their values (0 for padding). Null when the group holds more than 2 non-zeros.
 */
export function compress24(w0: number, w1: number, w2: number, w3: number): { p0: number; p1: number; v0: number; v1: number } | null {
  const w = [w0, w1, w2, w3];
  const nz = [0, 1, 2, 3].filter((p) => w[p] !== 0);
  if (nz.length > NM_KEEP) return null;
  for (let p = 0; nz.length < NM_KEEP; p++) if (!nz.includes(p)) nz.push(p);
  nz.sort((x, y) => x - y);
  return { p0: nz[0]!, p1: nz[1]!, v0: w[nz[0]!]!, v1: w[nz[1]!]! };
}

/** Why W [K, N] is not 2:4 along K, or null (the first group holding more than 2 non-zeros). */
export function nmFitProblem(b: Float32Array, k: number, n: number): string | null {
  if (k % NM_GROUP) return `2:4 needs K a multiple of ${NM_GROUP}, K = ${k}`;
  for (let r = 0; r < k; r += NM_GROUP) {
    for (let c = 0; c < n; c++) {
      let nz = 0;
      for (let q = 0; q < NM_GROUP; q++) if (b[(r + q) * n + c] !== 0) nz++;
      if (nz > NM_KEEP) return `W[k=${r}..${r + 3}, n=${c}] holds ${nz} non-zeros, more than 2 of 4`;
    }
  }
  return null;
}

/** A 2:4 index as uploaded (see the module comment). */
export interface NmIndex {
  /** Column tiles of BN. */
  tiles: number;
  /** [tiles·K/2, BN]. */
  values: Float32Array;
  /** [tiles·ceil(K/32), BN]. */
  positions: Uint32Array;
  /** 1/2. */
  effectiveDensity: number;
}

/**
 * Compresses W [K, N] (2:4 along K) into column tiles of `bn`.
 * @throws RangeError when W is not 2:4 (`nmFitProblem`).
 */
export function packNm(b: Float32Array, k: number, n: number, bn: number): NmIndex {
  const problem = nmFitProblem(b, k, n);
  if (problem) throw new RangeError(`nm: ${problem}`);
  const tiles = Math.ceil(n / bn);
  const groups = k / NM_GROUP;
  const words = Math.ceil(groups / 8);
  const values = new Float32Array(tiles * (k / 2) * bn);
  const positions = new Uint32Array(tiles * words * bn);
  for (let c = 0; c < n; c++) {
    const t = Math.floor(c / bn);
    const col = c % bn;
    for (let g = 0; g < groups; g++) {
      const r = g * NM_GROUP;
      const z = compress24(b[r * n + c]!, b[(r + 1) * n + c]!, b[(r + 2) * n + c]!, b[(r + 3) * n + c]!)!;
      const vrow = t * (k / 2) + 2 * g;
      values[vrow * bn + col] = z.v0;
      values[(vrow + 1) * bn + col] = z.v1;
      positions[(t * words + (g >> 3)) * bn + col]! |= (z.p0 | (z.p1 << 2)) << (4 * (g & 7));
    }
  }
  return { tiles, values, positions, effectiveDensity: 0.5 };
}

/** The computation tile at M rows: 128x64x16/8x4 (256 threads) from 128 rows, else 32x64x16/4x4. */
export function nmTile(m: number): ComputeTile {
  return m >= 128 ? { bm: 128, bn: 64, bk: 16, tm: 8, tn: 4 } : { bm: 32, bn: 64, bk: 16, tm: 4, tn: 4 };
}

const KNOWN_TILES: readonly ComputeTile[] = [nmTile(128), nmTile(1)];

/** Why a tile cannot run the N:M template, or null. */
export function nmTileProblem(tile: ComputeTile, family: string): string | null {
  const invalid = invalidTileReason(tile);
  if (invalid) return invalid;
  if (tile.bk % 4 || tile.tm % 4) return `${family} needs BK and TM multiples of 4, got ${tileName(tile)}`;
  return null;
}

/**
 * The nm family (see the module comment). Its program binds `a` [M,K] f32, `nm_vals`, `nm_pos`, `c`, `params`
 * (static-family.ts); grid `(ceil(M/BM), ceil(N/BN), 1)`.
 */
export const nmFamily: KernelFamily = staticFamily<NmIndex>({
  name: 'nm',
  summary: 'N:M (2:4) sparse weight along K: 2 kept values and their 2-bit positions per group of 4, half the multiply-adds',
  helperRoles: [],
  aLayout: 'a',
  knownTiles: KNOWN_TILES,
  tileProblem: (tile) => nmTileProblem(tile, 'nm'),
  buildIndex: (b, s, tile) => packNm(b, s.k, s.n, tile.bn),
  indexArrays: (ix) => ({ nm_vals: ix.values, nm_pos: ix.positions }),
  kernel(s, tile) {
    const vecGlobal = s.k % 4 === 0;
    return { label: `nm 2:4 tile ${tileName(tile)}`, vecGlobal, wgsl: nmMatmulWgsl({ tile, mode: 'nm', vecGlobal }), columnTiles: ceilDiv(N, tile.bn) };
  },
  rule: (tile) => `static 2:4 weight along k, compressed values + 2-bit positions, tile ${tileName(tile)}, no SRead/SWrite index`,
  candidates(s, w) {
    const p = w.pattern;
    if (p && p.pattern !== 'nm') return [];
    const problem = nmFitProblem(w.b, s.k, s.n);
    if (problem) {
      if (p) throw new WeightPatternError(w.layer, `its pit.prune pattern is 2:4, but ${problem}`);
      return [];
    }
    // An all-zero weight is trivially 2:4, but then any family skips everything; 2:4 needs no metadata otherwise.
    return [{ tile: nmTile(s.m), effectiveDensity: 0.5, source: p ? 'pit.prune 2:4 pattern' : "the weight's zeros: 2 of every 4 k's per column" }];
  },
});
