/**
 * Balanced k-means: k clusters of exactly `size` points each, the clustering step of gyro-permutation's output
 * channel rounds (arXiv 2407.20496 §4.2; sminy67/hinm_sp `balanced_kmeans`): Lloyd iterations whose assignment step
 * is a linear assignment of points to `size` copies of every centroid.
 */
import { solveAssignment } from './assignment.ts';

/**
 * Clusters `points` (each a vector of the same length) into `k` clusters of `size` points.
 *
 * @param points k·size vectors
 * @param rand uniform [0, 1) generator (seeded: the result is deterministic for a seed)
 * @param maxIter Lloyd iterations at most (20, as hinm_sp)
 * @returns `cluster[i]` in 0…k−1 for every point, each cluster holding exactly `size` points
 * @throws Error when points.length ≠ k·size
 */
export function balancedKMeans(points: ArrayLike<number>[], k: number, size: number, rand: () => number, maxIter = 20): number[] {
  const count = points.length;
  if (count !== k * size) throw new Error(`balanced k-means: ${count} points for ${k} clusters of ${size}`);
  const dim = count ? points[0].length : 0;
  // Initial centroids: k distinct points drawn at random (partial Fisher–Yates).
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (count - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  let centroids = order.slice(0, k).map((i) => Float64Array.from(points[i]));
  let cluster = new Array<number>(count).fill(0);
  for (let iter = 0; iter < maxIter; iter++) {
    const dist = points.map((p) => centroids.map((c) => euclid(p, c, dim)));
    // Column j of the square matrix is a seat in cluster floor(j / size).
    const cost = dist.map((d) => Float64Array.from({ length: count }, (_, j) => d[Math.floor(j / size)]));
    cluster = solveAssignment(cost).assign.map((j) => Math.floor(j / size));
    const next = Array.from({ length: k }, () => new Float64Array(dim));
    for (let i = 0; i < count; i++) {
      const c = next[cluster[i]];
      for (let d = 0; d < dim; d++) c[d] += points[i][d] / size;
    }
    let shift = 0;
    for (let c = 0; c < k; c++) shift += euclid(next[c], centroids[c], dim) ** 2;
    centroids = next;
    if (Math.sqrt(shift) < 1e-9) break;
  }
  return cluster;
}

function euclid(a: ArrayLike<number>, b: ArrayLike<number>, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) s += (a[d] - b[d]) ** 2;
  return Math.sqrt(s);
}
