/**
 * The demo model's layers as the bench reads them (§d): shapes and the real micro-tile masks of each layer's
 * activation operand A, captured on the CPU by `bench/capture-layers.ts`, and the synthesis of an A with exactly that
 * mask (the values are synthetic: the GPU machine has no onnxruntime to produce the real ones).
 */

/** One captured layer: `C[M,N] = A[M,K]·B[K,N]` after lowering (Conv: im2col). */
export interface CapturedLayer {
  name: string;
  m: number;
  n: number;
  k: number;
  /** Element sparsity of the real A (fraction of zeros, 0–1). */
  sparsity: number;
  /** Effective density (0–1) of 32x1 micro-tiles of the real A. */
  density32x1: number;
  /** Fraction (0–1) of rows of the real A with a non-zero (1xK micro-tiles). */
  densityRows: number;
  /** Occupancy of 32x1 micro-tiles, grid ceil(M/32) x K row-major, bit-packed LSB first, base64 (`encodeMask`). */
  mask32x1: string;
  /** Occupancy of rows (1xK micro-tiles), M bits, bit-packed, base64. */
  maskRows: string;
}

/** The file `bench/data/ocr-det-layers.json`. */
export interface LayerFile {
  model: string;
  input: string;
  /** ISO date of the capture. */
  captured: string;
  layers: CapturedLayer[];
}

/** Packs a 0/1 byte mask into bits (LSB first) and returns base64. */
export function encodeMask(occupied: Uint8Array): string {
  const bits = new Uint8Array(Math.ceil(occupied.length / 8));
  for (let i = 0; i < occupied.length; i++) if (occupied[i]) bits[i >> 3]! |= 1 << (i & 7);
  return Buffer.from(bits).toString('base64');
}

/** Unpacks `encodeMask`'s output to `length` 0/1 bytes. @throws RangeError when the data is too short. */
export function decodeMask(b64: string, length: number): Uint8Array {
  const bits = Buffer.from(b64, 'base64');
  if (bits.length * 8 < length) throw new RangeError(`mask has ${bits.length * 8} bits, ${length} needed`);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (bits[i >> 3]! >> (i & 7)) & 1;
  return out;
}

/**
 * An A [M, K] f32 whose 32x1 micro-tile occupancy and row occupancy are the captured ones: inside every occupied
 * 32x1 micro-tile of an occupied row the values are uniform in [-1, 1) (never 0); everything else is 0. Synthetic
 * values, real masks.
 * @throws RangeError when a mask does not fit the shape.
 */
export function synthesiseA(layer: CapturedLayer, rand: () => number): Float32Array {
  const { m, k } = layer;
  const blocks = Math.ceil(m / 32);
  const mask = decodeMask(layer.mask32x1, blocks * k);
  const rows = decodeMask(layer.maskRows, m);
  const a = new Float32Array(m * k);
  for (let i = 0; i < m; i++) {
    if (!rows[i]) continue;
    const mb = (i / 32) | 0;
    for (let p = 0; p < k; p++) {
      if (!mask[mb * k + p]) continue;
      const v = rand() * 2 - 1;
      a[i * k + p] = v === 0 ? 0.5 : v;
    }
  }
  return a;
}
