/** .npy inputs: dtypes converted to float32, Fortran order reordered, corrupt files rejected. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadNpy } from '../../core/inputs/npy.ts';
import { InputError } from '../../core/model/errors.ts';
import { npyBytes } from './npy-fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'pit-npy-'));

function write(name: string, bytes: Buffer): string {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('loadNpy', () => {
  it('reads float32 in C order', () => {
    const p = write('f4.npy', npyBytes('<f4', [2, 3], bytesOf(new Float32Array([1, 2, 3, 4, 5, 6.5]))));
    const t = loadNpy(p);
    expect(t.dims).toEqual([2, 3]);
    expect(Array.from(t.data)).toEqual([1, 2, 3, 4, 5, 6.5]);
    expect(t.data).toBeInstanceOf(Float32Array);
  });

  it('converts float64 and int64 to float32', () => {
    const f8 = loadNpy(write('f8.npy', npyBytes('<f8', [3], bytesOf(new Float64Array([0.1, -2, 1e10])))));
    expect(Array.from(f8.data)).toEqual([Math.fround(0.1), -2, Math.fround(1e10)]);
    expect(f8.dtype).toBe('f8');
    const i8 = loadNpy(write('i8.npy', npyBytes('<i8', [2, 2], bytesOf(new BigInt64Array([1n, -2n, 3n, 40000n])))));
    expect(Array.from(i8.data)).toEqual([1, -2, 3, 40000]);
    const u1 = loadNpy(write('u1.npy', npyBytes('|u1', [4], new Uint8Array([0, 1, 128, 255]))));
    expect(Array.from(u1.data)).toEqual([0, 1, 128, 255]);
  });

  it('reorders Fortran-order arrays to C order', () => {
    // The 2x3 matrix [[1, 2, 3], [4, 5, 6]] stored column by column.
    const p = write('fortran.npy', npyBytes('<f4', [2, 3], bytesOf(new Float32Array([1, 4, 2, 5, 3, 6])), true));
    expect(Array.from(loadNpy(p).data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('a file without the npy magic → InputError', () => {
    const p = write('bad.npy', Buffer.from('definitely not numpy'));
    expect(() => loadNpy(p)).toThrow(InputError);
    expect(() => loadNpy(p)).toThrow(`cannot read .npy ${p}: Not an .npy file`);
  });

  it('truncated data → InputError (by a non-multiple of the item size, or by whole items)', () => {
    const full = npyBytes('<f4', [2, 3], bytesOf(new Float32Array(6)));
    expect(() => loadNpy(write('cut1.npy', full.subarray(0, full.length - 2)))).toThrow(/^cannot read \.npy /);
    expect(() => loadNpy(write('cut2.npy', full.subarray(0, full.length - 8)))).toThrow(
      /header shape \[2, 3\] needs 6 values, the file holds 4/,
    );
  });

  it('an unsupported dtype → InputError naming it', () => {
    const p = write('str.npy', npyBytes('<U2', [2], new Uint8Array(16)));
    expect(() => loadNpy(p)).toThrow(`unsupported .npy dtype U2 in ${p} (numeric dtypes only)`);
    const be = write('be.npy', npyBytes('>f4', [2], new Uint8Array(8)));
    expect(() => loadNpy(be)).toThrow(InputError);
  });

  it('a missing file → InputError: input file not found', () => {
    expect(() => loadNpy(join(tmp, 'none.npy'))).toThrow(/^input file not found: /);
  });
});
