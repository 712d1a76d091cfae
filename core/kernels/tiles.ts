/**
 * Computation tiles shared by the kernel families: the defaults, parsing a tile back from its name, and the padding
 * a tile grid computes for an output.
 */
import { tileName, type ComputeTile } from '../../shaders/common.wgsl.ts';

export type { ComputeTile } from '../../shaders/common.wgsl.ts';

/**
 * Default computation tile of the dense kernel: 128x128x16 with 8x8 per thread (256 threads), single-buffered (16.6
 * KiB of workgroup memory, inside WebGPU's 16 KiB-per-array and common 32 KiB limits): 3.63 ms for 4096³ fp32
 * (37.9 TFLOP/s) on an NVIDIA H200 (Vulkan), against 5.95 ms for the former 64x64x16/4x4 default and 2.70 ms for
 * cuBLAS (bench/results/nvidia-h200-2026-11-21-run2.md).
 */
export const DEFAULT_DENSE_TILE: ComputeTile = { bm: 128, bn: 128, bk: 16, tm: 8, tn: 8, doubleBuffer: false };

/**
 * Default computation tile of the PIT kernels: 32x128x8 with 4x4 per thread (256 threads, vec4 path,
 * double-buffered); BM = 32 matches the 32x1 micro-tile. Fastest of a sweep on an NVIDIA H200 (Vulkan, 4096³
 * fp32): pit-k 32x1 took 5.54 ms at density 1 and 0.556 ms at density 0.1 (+0.03 ms detection)
 * (bench/results/nvidia-h200-2026-11-21-run2.md).
 */
export const DEFAULT_PIT_TILE: ComputeTile = { bm: 32, bn: 128, bk: 8, tm: 4, tn: 4 };

/** The widest N that gets a narrow tile (`narrowTile`) on batched layers. */
export const NARROW_N = 16;

/**
 * A computation tile for batched layers with few output columns (N ≤ 16: depthwise / grouped convs, whose N is the
 * channel multiplier, and small attention heads): 64 rows by the next power of two ≥ N columns, BK 8, one row of the
 * full width per thread (1 x BN registers, 64 threads, scalar path). The 2-D layers' tiles are 32–128 columns wide,
 * which at N = 1 computes 32–128 times the work in padding.
 */
export function narrowTile(n: number): ComputeTile {
  let bn = 1;
  while (bn < Math.min(n, NARROW_N)) bn *= 2;
  return { bm: 64, bn, bk: 8, tm: 1, tn: bn };
}

/** Elements a tile grid computes for an [M, N] output, padding included. */
export function paddedElements(m: number, n: number, t: ComputeTile): number {
  return Math.ceil(m / t.bm) * t.bm * Math.ceil(n / t.bn) * t.bn;
}

/** Whether two tiles are the same (by name, which includes single buffering). */
export function sameTile(a: ComputeTile, b: ComputeTile): boolean {
  return tileName(a) === tileName(b);
}

/**
 * Parses a tile name `BMxBNxBK/TMxTN[/sb][/mmaMxNxKsSG][/kS]` (as `tileName` writes it). Older runs stored
 * `BMxBNxBK` only: then the first of `known` with that block is taken, else `fallback`'s per-thread work.
 * @throws RangeError when the text is not a tile name.
 */
export function parseTileName(name: string, known: readonly ComputeTile[], fallback: ComputeTile): ComputeTile {
  const exact = known.find((t) => tileName(t) === name);
  if (exact) return { ...exact };
  const m = /^(\d+)x(\d+)x(\d+)(?:\/(\d+)x(\d+))?(\/sb)?(?:\/mma(\d+)x(\d+)x(\d+)s(\d+))?(?:\/k(\d+))?$/.exec(name);
  if (!m) throw new RangeError(`computation tile '${name}' is not BMxBNxBK/TMxTN`);
  const [bm, bn, bk] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (m[4]) {
    return {
      bm,
      bn,
      bk,
      tm: Number(m[4]),
      tn: Number(m[5]),
      ...(m[6] ? { doubleBuffer: false } : {}),
      ...(m[7] ? { mma: { m: Number(m[7]), n: Number(m[8]), k: Number(m[9]), sg: Number(m[10]) } } : {}),
      ...(m[11] ? { splitK: Number(m[11]) } : {}),
    };
  }
  const same = known.find((t) => t.bm === bm && t.bn === bn && t.bk === bk);
  if (same) return { ...same };
  return { bm, bn, bk, tm: fallback.tm, tn: fallback.tn };
}
