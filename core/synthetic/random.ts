/**
 * Deterministic pseudo-random numbers for synthetic operands (tile-database points, benchmark operands, test
 * fixtures): the same seed gives the same data on every machine, so measurements and failures reproduce. Data made
 * with it is synthetic and is labelled so wherever it is shown or stored.
 */

/** mulberry32: a generator of numbers uniform in [0, 1) (32-bit state; not for cryptography). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
