/**
 * IEEE 754 binary16 (f16) on the CPU for the f16 kernel families: rounding f32 operands to f16 (what an f16 run
 * computes with), their bit patterns for upload, and the verification tolerance of f16 operands with f32
 * accumulation.
 *
 * Tolerance (stated in the README, "f16"): the product of two f16 values is exact in f32 (11 + 11 significand bits
 * ≤ 24), so a kernel that multiplies f16 operands and accumulates in f32 (the SIMT path, and the tensor cores'
 * f16→f32 subgroup matrices) makes only the f32 summation errors of an fp32 kernel on the *rounded* operands. Its
 * output is therefore verified against the float64 reference of the f16-rounded A and B with the fp32 bound of
 * `compareOutputs` (reference.ts): `16 · 2^-24 · sqrt(K) · Σ|ã||b̃|`. The rounding of the inputs themselves
 * (relative 2^-11 each, up to `2·2^-11·Σ|a||b|` on C) is a property of running in f16, not of the kernel: it is
 * reported apart (`f16InputErrorBound`) and never loosens the check, which would otherwise let a dropped micro-tile
 * (about one product term, ~Σ|a||b|/K) pass at K ≥ 512.
 */
import { isBatched, type MatmulShape } from './shape.ts';

/** Largest finite f16 (65504). */
export const F16_MAX = 65504;
/** Unit roundoff of f16 (2^-11). */
export const F16_UNIT_ROUNDOFF = 2 ** -11;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The f16 bit pattern of the f32 bit pattern `bits`, rounded to nearest even (overflow → ±Inf, NaN stays NaN). */
function halfBits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const man = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  const e = exp - 112; // f16 biased exponent
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal f16 (or zero): the value in units of 2^-24, rounded half to even.
    if (e < -10) return sign;
    const m = man | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  // A carry out of the mantissa bumps the exponent, up to Inf: still the right bits.
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++;
  return sign | r;
}

/** IEEE 754 half (bit pattern) → number. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

let decodeTable: Float32Array | null = null;

/** f16 bit pattern → value, for all 65536 patterns. */
function table(): Float32Array {
  if (decodeTable) return decodeTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = halfToFloat(h);
  decodeTable = t;
  return t;
}

/** The f16 bit patterns of `x` (f32 values, rounded to nearest even; beyond ±65504 → ±Inf). */
export function toF16Bits(x: Float32Array): Uint16Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = halfBits(bits[i]!);
  return out;
}

/** The values of f16 bit patterns, as f32 (exact). */
export function fromF16Bits(h: Uint16Array): Float32Array {
  const t = table();
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = t[h[i]!]!;
  return out;
}

/** One f32 value rounded to f16 (nearest even). */
export function roundF16(v: number): number {
  f32[0] = v;
  return table()[halfBits(u32[0]!)]!;
}

/** `x` rounded element-wise to f16, as f32 values (each exactly representable in f16). */
export function roundToF16(x: Float32Array): Float32Array {
  return fromF16Bits(toF16Bits(x));
}

/** Whether every element of `x` is already an f16 value (then uploading it as f16 loses nothing). */
export function isF16Exact(x: Float32Array): boolean {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const t = table();
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const r = t[halfBits(bits[i]!)]!;
    if (r !== v && !(Number.isNaN(r) && Number.isNaN(v))) return false;
  }
  return true;
}

/** The largest |x| among finite elements, and how many finite elements exceed F16_MAX (they become ±Inf in f16). */
export function f16Overflow(x: Float32Array): { maxAbs: number; overflow: number } {
  let maxAbs = 0;
  let overflow = 0;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]!);
    if (!Number.isFinite(a)) continue;
    if (a > maxAbs) maxAbs = a;
    // Values from 65520 up round to Inf (65504 + half an ulp of 32).
    if (a >= 65520) overflow++;
  }
  return { maxAbs, overflow };
}

/**
 * Upper bound of how far an f16 run's exact result can be from the f32 operands' exact result, per element:
 * `(2u + u²) · Σ|a||b|` with u = 2^-11 (each operand rounded once; Higham §3.1). `scale` is `Σ|a||b|`'s bound
 * (`matmulErrorScale`). Reported beside a run, never used to loosen verification (see the module comment).
 */
export function f16InputErrorBound(scale: number): number {
  return (2 * F16_UNIT_ROUNDOFF + F16_UNIT_ROUNDOFF ** 2) * scale;
}

/**
 * Why an f16 family cannot run shape `s`, or null: the f16 templates are 2-D (no batch dimension in their grid or
 * uniforms), so a batched layer (attention's heads, a grouped conv) runs in f32 families only.
 */
export function f16ShapeProblem(family: string, s: MatmulShape): string | null {
  return isBatched(s) ? `${family} is 2-D only: a batched layer (batch ${s.batch}) runs in fp32` : null;
}
