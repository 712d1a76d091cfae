/**
 * A minimal `.npy` writer (NumPy format version 1.0: magic, header dict padded to a multiple of 64 bytes, raw
 * little-endian data) for the fixtures of an exported kernel set. Only what the fixtures need: f32 and u32, C order.
 */

/** The bytes of a `.npy` file holding `data` with `shape` (row-major). `<f4` for Float32Array, `<u4` for Uint32Array. */
export function npyBytes(data: Float32Array | Uint32Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`npy: shape [${shape.join(', ')}] needs ${count} elements, got ${data.length}`);
  const descr = data instanceof Float32Array ? '<f4' : '<u4';
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  // magic (6) + version (2) + header length (2) + header + '\n', padded with spaces to a multiple of 64.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  // Typed arrays are little-endian on every platform WebGPU runs on; DataView makes it explicit anyway.
  const view = new DataView(out.buffer, total);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(i * 4, data[i]!, true);
    else view.setUint32(i * 4, data[i]!, true);
  }
  return out;
}
