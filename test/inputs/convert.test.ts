/** Element-type conversion of inputs (core/inputs/convert.ts) and typed .npy loading (npy.ts `loadNpyTyped`). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { halfToFloat } from '../../core/kernels/f16.ts';
import { convertFeed, floatToHalf } from '../../core/inputs/convert.ts';
import { loadNpyTyped } from '../../core/inputs/npy.ts';
import type { FeedTensor } from '../../core/model/ir.ts';
import { npyBytes } from './npy-fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'pit-convert-'));
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('float16', () => {
  it('encodes to the IEEE half bit patterns, rounding to nearest even', () => {
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(-2)).toBe(0xc000);
    expect(floatToHalf(65504)).toBe(0x7bff); // largest half
    expect(floatToHalf(65520)).toBe(0x7c00); // rounds up to +Infinity
    expect(floatToHalf(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(floatToHalf(2 ** -25)).toBe(0x0000); // half of it: ties to even (0)
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and 1 + 2^-10: even mantissa
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToHalf(-0)).toBe(0x8000);
    expect(floatToHalf(NaN)).toBe(0x7e00);
    for (const v of [0.1, -3.14159, 1e-5, 1000.5, 6e-8]) expect(Math.abs(halfToFloat(floatToHalf(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
  });
});

describe('loadNpyTyped keeps the file dtype', () => {
  function write(name: string, descr: string, shape: number[], data: ArrayBufferView, fortran = false): string {
    const p = join(tmp, name);
    writeFileSync(p, npyBytes(descr, shape, bytesOf(data), fortran));
    return p;
  }

  it('float16 stays bit patterns (fed to a float16 input unchanged), and converts exactly to float32', () => {
    const t = loadNpyTyped(write('f2.npy', '<f2', [3], Uint16Array.of(0x3c00, 0xc000, 0x3555)));
    expect(t).toEqual({ dims: [3], type: 'float16', data: Uint16Array.of(0x3c00, 0xc000, 0x3555) });
    expect(convertFeed(t, 'float16', 'f2.npy')).toBe(t);
    expect(Array.from(convertFeed(t, 'float32', 'f2.npy').data as Float32Array)).toEqual([1, -2, halfToFloat(0x3555)]);
  });

  it('bool becomes 0/1 bytes; int64 stays BigInt; Fortran order is reordered', () => {
    expect(loadNpyTyped(write('b1.npy', '|b1', [4], Uint8Array.of(1, 0, 0, 1)))).toEqual({ dims: [4], type: 'bool', data: Uint8Array.of(1, 0, 0, 1) });
    const i8 = loadNpyTyped(write('i8f.npy', '<i8', [2, 2], BigInt64Array.of(1n, 3n, 2n, 4n), true));
    expect(i8.type).toBe('int64');
    expect(Array.from(i8.data as BigInt64Array)).toEqual([1n, 2n, 3n, 4n]);
  });
});

describe('convertFeed', () => {
  const t = (type: 'int64' | 'float64' | 'int8' | 'uint8', data: ArrayLike<number | bigint>): FeedTensor => {
    const arrays = {
      int64: () => BigInt64Array.from(data as ArrayLike<bigint>),
      float64: () => Float64Array.from(data as ArrayLike<number>),
      int8: () => Int8Array.from(data as ArrayLike<number>),
      uint8: () => Uint8Array.from(data as ArrayLike<number>),
    };
    return { dims: [data.length], type, data: arrays[type]() };
  };

  it('integers to floats (float16 too), and integers narrowed when every value fits', () => {
    expect(Array.from(convertFeed(t('int64', [1n, -5n]), 'float32', 'w').data as Float32Array)).toEqual([1, -5]);
    expect(Array.from(convertFeed(t('int8', [1, -2]), 'float16', 'w').data as Uint16Array)).toEqual([0x3c00, 0xc000]);
    expect(Array.from(convertFeed(t('int64', [100n, -100n]), 'int8', 'w').data as Int8Array)).toEqual([100, -100]);
    expect(Array.from(convertFeed(t('int8', [-1, 2]), 'int64', 'w').data as BigInt64Array)).toEqual([-1n, 2n]);
    expect(Array.from(convertFeed(t('uint8', [0, 1]), 'bool', 'w').data as Uint8Array)).toEqual([0, 1]);
  });

  it('refuses floats to integers and values out of range, naming the value', () => {
    expect(() => convertFeed(t('float64', [1, 2]), 'int64', 'a.npy for model input "sr"')).toThrow(
      'cannot feed float64 data (a.npy for model input "sr") as int64: it would truncate; save the array with an integer dtype (e.g. numpy .astype(np.int64))',
    );
    expect(() => convertFeed(t('int8', [-1]), 'uint8', 'w')).toThrow('cannot feed int8 data (w) as uint8: value -1 at index 0 does not fit uint8');
  });
});
