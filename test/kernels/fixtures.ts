/** Operand generators for the kernel tests: dense random data and structured dynamic sparsity, all seeded. */
import { rng } from '../gpu-helpers.ts';

/** Uniform values in [-1, 1) of length n (never exactly zero, so sparsity is only what a generator adds). */
export function randomDense(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => {
    const v = r() * 2 - 1;
    return v === 0 ? 0.5 : v;
  });
}

/** A [M,K] with each element zero with probability `sparsity`. */
export function randomSparse(m: number, k: number, sparsity: number, seed: number): Float32Array {
  const a = randomDense(m * k, seed);
  const r = rng(seed ^ 0x9e3779b9);
  for (let i = 0; i < a.length; i++) if (r() < sparsity) a[i] = 0;
  return a;
}

/** A [M,K] with whole `h x 1` micro-tiles (column slices of h rows) zeroed with probability `p`. */
export function zeroColumnBlocks(m: number, k: number, h: number, p: number, seed: number): Float32Array {
  const a = randomDense(m * k, seed);
  const r = rng(seed + 17);
  for (let mb = 0; mb * h < m; mb++) {
    for (let kk = 0; kk < k; kk++) {
      if (r() >= p) continue;
      for (let i = mb * h; i < Math.min(m, mb * h + h); i++) a[i * k + kk] = 0;
    }
  }
  return a;
}

/** A [M,K] with whole rows zeroed with probability `p` (padding tokens, dead ReLU rows). */
export function zeroRows(m: number, k: number, p: number, seed: number): Float32Array {
  const a = randomDense(m * k, seed);
  const r = rng(seed + 29);
  for (let i = 0; i < m; i++) if (r() < p) a.fill(0, i * k, i * k + k);
  return a;
}
