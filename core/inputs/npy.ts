/**
 * `.npy` tensor inputs (NumPy format v1–v3, https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html),
 * parsed with `npyjs` and converted to float32 row-major.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'npyjs';
import { InputError, oneLine } from '../model/errors.ts';

/** A tensor read from a .npy file. */
export interface NpyTensor {
  dims: number[];
  /** float32, row-major (C order) whatever the file's order. */
  data: Float32Array;
  /** The file's dtype as npyjs reports it, without the byte-order mark (e.g. `f4`, `f8`, `i8`). */
  dtype: string;
}

/**
 * Reads a .npy file as float32. float16/float64 and integer/bool dtypes are converted (int64 via Number, exact up
 * to 2^53); Fortran-order arrays are reordered to C order.
 *
 * @throws InputError `input file not found: PATH`; `cannot read .npy PATH: …` (bad magic, truncated, size
 *   mismatch, big-endian data, which npyjs does not read); `unsupported .npy dtype D in PATH` (strings, complex)
 */
export function loadNpy(path: string): NpyTensor {
  const abs = resolve(path);
  let bytes: Buffer;
  try {
    bytes = readFileSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? `input file not found: ${abs}` : `cannot read .npy ${abs}: ${oneLine(err)}`, {
      path: abs,
      cause: err,
    });
  }
  // npyjs makes typed views at header offsets, so hand it a fresh, exactly-sized ArrayBuffer.
  const buf = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buf).set(bytes);
  let arr: ReturnType<typeof parse>;
  try {
    arr = parse(buf);
  } catch (err) {
    throw new InputError(`cannot read .npy ${abs}: ${oneLine(err)}`, { path: abs, cause: err });
  }
  const dtype = String(arr.dtype);
  if (!arr.data) throw new InputError(`unsupported .npy dtype ${dtype} in ${abs}`, { path: abs });
  const code = dtype.replace(/^[<>|=]/, '');
  if (code.startsWith('U') || code.startsWith('c')) {
    throw new InputError(`unsupported .npy dtype ${dtype} in ${abs} (numeric dtypes only)`, { path: abs });
  }
  if (!Array.isArray(arr.shape) || arr.shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new InputError(`cannot read .npy ${abs}: malformed shape in the header`, { path: abs });
  }
  const dims = arr.shape.slice();
  const count = dims.reduce((a, b) => a * b, 1);
  const src = arr.data as unknown as ArrayLike<number | bigint | boolean>;
  // npyjs views run to the end of the file: more values than the shape says means trailing garbage, fewer means truncation.
  if (src.length !== count) {
    throw new InputError(`cannot read .npy ${abs}: header shape [${dims.join(', ')}] needs ${count} values, the file holds ${src.length}`, {
      path: abs,
    });
  }
  let data: Float32Array = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = Number(src[i]);
  if (arr.fortranOrder && dims.length > 1) data = fortranToC(data, dims);
  return { dims, data, dtype };
}

/** Reorders a column-major (Fortran) array of `dims` to row-major. */
function fortranToC(f: Float32Array, dims: number[]): Float32Array {
  const out = new Float32Array(f.length);
  const rank = dims.length;
  const idx = new Array<number>(rank).fill(0);
  // Walk C order; keep the Fortran offset in step (strides: 1, d0, d0·d1, …).
  const fStride = new Array<number>(rank);
  fStride[0] = 1;
  for (let r = 1; r < rank; r++) fStride[r] = fStride[r - 1] * dims[r - 1];
  for (let i = 0; i < f.length; i++) {
    let off = 0;
    for (let r = 0; r < rank; r++) off += idx[r] * fStride[r];
    out[i] = f[off];
    for (let r = rank - 1; r >= 0; r--) {
      if (++idx[r] < dims[r]) break;
      idx[r] = 0;
    }
  }
  return out;
}
