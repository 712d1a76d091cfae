/**
 * `.npy` tensor inputs (NumPy format v1–v3, https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html),
 * parsed with `npyjs`: in their own dtype (`loadNpyTyped`, what multi-input models are fed after `convert.ts`), or
 * converted to float32 row-major (`loadNpy`).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'npyjs';
import { InputError, oneLine } from '../model/errors.ts';
import type { FeedTensor, FeedType } from '../model/ir.ts';
import { halfToFloat } from '../kernels/f16.ts';

/** A tensor read from a .npy file. */
export interface NpyTensor {
  dims: number[];
  /** float32, row-major (C order) whatever the file's order. */
  data: Float32Array;
  /** The file's dtype as npyjs reports it, without the byte-order mark (e.g. `f4`, `f8`, `i8`). */
  dtype: string;
}

/** npy dtype codes (without byte order) → the element type they are loaded as. */
const NPY_TYPES: Readonly<Record<string, FeedType>> = {
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
  i1: 'int8',
  i2: 'int16',
  i4: 'int32',
  i8: 'int64',
  u1: 'uint8',
  u2: 'uint16',
  u4: 'uint32',
  u8: 'uint64',
  b1: 'bool',
};

/** The fresh, exactly-sized buffer npyjs needs (it makes typed views at header offsets). */
function readNpyBuffer(abs: string): ArrayBuffer {
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
  const buf = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buf).set(bytes);
  return buf;
}

/** Parses with npyjs and checks header and length; values stay in the file's dtype (float16 as bit patterns). */
function parseNpy(abs: string): { dims: number[]; code: string; dtype: string; src: ArrayLike<number | bigint | boolean>; fortran: boolean } {
  const buf = readNpyBuffer(abs);
  let arr: ReturnType<typeof parse>;
  try {
    arr = parse(buf, { convertFloat16: false });
  } catch (err) {
    throw new InputError(`cannot read .npy ${abs}: ${oneLine(err)}`, { path: abs, cause: err });
  }
  const dtype = String(arr.dtype);
  if (!arr.data) throw new InputError(`unsupported .npy dtype ${dtype} in ${abs}`, { path: abs });
  const code = dtype.replace(/^[<>|=]/, '');
  if (!(code in NPY_TYPES)) {
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
  return { dims, code, dtype, src, fortran: !!arr.fortranOrder && dims.length > 1 };
}

/**
 * Reads a .npy file in its own element type (float16 as IEEE half bit patterns, bool as 0/1 bytes, int64/uint64 as
 * BigInts, so nothing is rounded); Fortran-order arrays are reordered to C order.
 *
 * @returns a `FeedTensor` whose `type` is the file's dtype (`<f4` → float32, `<i8` → int64, `|b1` → bool, …)
 * @throws InputError as `loadNpy`; also for dtypes with no feedable counterpart (complex, strings, datetimes)
 */
export function loadNpyTyped(path: string): FeedTensor {
  const abs = resolve(path);
  const { dims, code, src, fortran } = parseNpy(abs);
  const type = NPY_TYPES[code]!;
  const count = src.length;
  let data: FeedTensor['data'];
  if (type === 'bool') data = Uint8Array.from({ length: count }, (_, i) => (src[i] ? 1 : 0));
  else data = (src as unknown as FeedTensor['data']).slice(); // a compact copy, detached from the file buffer
  if (fortran) data = fortranToC(data, dims);
  return { dims, type, data };
}

/**
 * Reads a .npy file as float32. float16/float64 and integer/bool dtypes are converted (int64 via Number, exact up
 * to 2^53); Fortran-order arrays are reordered to C order.
 *
 * @throws InputError `input file not found: PATH`; `cannot read .npy PATH: …` (bad magic, truncated, size
 *   mismatch, big-endian data, which npyjs does not read); `unsupported .npy dtype D in PATH` (strings, complex)
 */
export function loadNpy(path: string): NpyTensor {
  const t = loadNpyTyped(path);
  const data = new Float32Array(t.data.length);
  if (t.type === 'float16') for (let i = 0; i < data.length; i++) data[i] = halfToFloat((t.data as Uint16Array)[i]!);
  else for (let i = 0; i < data.length; i++) data[i] = Number(t.data[i]);
  return { dims: t.dims, data, dtype: NPY_CODES[t.type] };
}

/** The npy dtype code each element type is read from (the inverse of `NPY_TYPES`). */
const NPY_CODES = Object.fromEntries(Object.entries(NPY_TYPES).map(([c, t]) => [t, c])) as Record<FeedType, string>;

/** Reorders a column-major (Fortran) array of `dims` to row-major. */
function fortranToC<T extends FeedTensor['data']>(f: T, dims: number[]): T {
  const out = f.slice() as T;
  const rank = dims.length;
  const idx = new Array<number>(rank).fill(0);
  // Walk C order; keep the Fortran offset in step (strides: 1, d0, d0·d1, …).
  const fStride = new Array<number>(rank);
  fStride[0] = 1;
  for (let r = 1; r < rank; r++) fStride[r] = fStride[r - 1]! * dims[r - 1]!;
  for (let i = 0; i < f.length; i++) {
    let off = 0;
    for (let r = 0; r < rank; r++) off += idx[r]! * fStride[r]!;
    out[i] = f[off]!;
    for (let r = rank - 1; r >= 0; r--) {
      if (++idx[r]! < dims[r]!) break;
      idx[r] = 0;
    }
  }
  return out;
}
