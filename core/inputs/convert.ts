/**
 * Element-type conversion of an input tensor to the type its model input declares (`ValueInfo.elemType`), with the
 * rules numpy's `astype(..., casting='same_kind')` would accept plus exact integer narrowing:
 *
 * - to a float type (float16 / float32 / float64): from any float, integer or bool (values rounded to the target;
 *   int64 beyond 2^24 is not exact in float32, as in numpy);
 * - to an integer type: from integers and bool only, when every value fits the target's range (a float source would
 *   truncate, so it is refused: save the array with an integer dtype);
 * - to bool: from bool, or integers that are all 0 or 1.
 *
 * Nothing is converted silently into a different kind: an int64 input is fed int64.
 */
import { InputError } from '../model/errors.ts';
import type { FeedArrays, FeedTensor, FeedType } from '../model/ir.ts';
import { halfToFloat } from '../kernels/f16.ts';

const FLOATS: ReadonlySet<FeedType> = new Set(['float16', 'float32', 'float64']);

/** Inclusive ranges of the integer types. */
const INT_RANGE: Readonly<Record<string, [bigint, bigint]>> = {
  int8: [-128n, 127n],
  int16: [-32768n, 32767n],
  int32: [-2147483648n, 2147483647n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint8: [0n, 255n],
  uint16: [0n, 65535n],
  uint32: [0n, 4294967295n],
  uint64: [0n, 2n ** 64n - 1n],
  bool: [0n, 1n],
};


/** number → IEEE 754 half bit pattern, rounded to nearest even (overflow → ±Infinity, NaN kept). */
export function floatToHalf(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  if (a < 2 ** -24 / 2) return sign; // below half the smallest subnormal: ±0
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--; // log2 rounding at exact powers
  if (e < -14) {
    // Subnormal: units of 2^-24, round half to even.
    const q = a / 2 ** -24;
    let m = Math.round(q);
    if (Math.abs(q % 1) === 0.5 && m % 2 !== 0) m--;
    return sign | m; // m may reach 0x400, which is the smallest normal: still the right bits
  }
  const q = (a / 2 ** e - 1) * 1024;
  let m = Math.round(q);
  if (Math.abs(q % 1) === 0.5 && m % 2 !== 0) m--;
  if (m === 1024) {
    m = 0;
    e++;
  }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

/** The numeric value of element i (float16 decoded; int64 kept as BigInt). */
function valueAt(t: FeedTensor, i: number): number | bigint {
  if (t.type === 'float16') return halfToFloat((t.data as Uint16Array)[i]!);
  return t.data[i]!;
}

/** A new typed array of `type` and length n. */
function allocate(type: FeedType, n: number): FeedArrays[FeedType] {
  switch (type) {
    case 'float32':
      return new Float32Array(n);
    case 'float16':
      return new Uint16Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'uint64':
      return new BigUint64Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'uint32':
      return new Uint32Array(n);
    case 'int16':
      return new Int16Array(n);
    case 'uint16':
      return new Uint16Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(n);
  }
}

/**
 * Converts `t` to element type `to` (see the module comment for what is allowed). Returns `t` itself when it already
 * has that type.
 *
 * @param where what the tensor is, for messages, e.g. `x.npy for model input "sr"`
 * @throws InputError `cannot feed float32 data (WHERE) as int64: it would truncate …`, or `… value 300 at index 4
 *   does not fit uint8`
 */
export function convertFeed(t: FeedTensor, to: FeedType, where: string): FeedTensor {
  if (t.type === to) return t;
  const n = t.data.length;
  if (FLOATS.has(to)) {
    const out = allocate(to, n);
    for (let i = 0; i < n; i++) {
      const v = Number(valueAt(t, i));
      if (to === 'float16') (out as Uint16Array)[i] = floatToHalf(v);
      else (out as Float32Array | Float64Array)[i] = v;
    }
    return { dims: t.dims.slice(), type: to, data: out };
  }
  if (FLOATS.has(t.type)) {
    throw new InputError(
      `cannot feed ${t.type} data (${where}) as ${to}: it would truncate; save the array with an integer dtype (e.g. numpy .astype(np.${to === 'bool' ? 'bool_' : to}))`,
    );
  }
  const [lo, hi] = INT_RANGE[to]!;
  const out = allocate(to, n);
  const big = to === 'int64' || to === 'uint64';
  for (let i = 0; i < n; i++) {
    const v = BigInt(valueAt(t, i) as number | bigint);
    if (v < lo || v > hi) {
      throw new InputError(`cannot feed ${t.type} data (${where}) as ${to}: value ${v} at index ${i} does not fit ${to === 'bool' ? 'bool (0 or 1)' : to}`);
    }
    if (big) (out as BigInt64Array | BigUint64Array)[i] = v;
    else (out as Exclude<FeedArrays[FeedType], BigInt64Array | BigUint64Array>)[i] = Number(v);
  }
  return { dims: t.dims.slice(), type: to, data: out };
}
