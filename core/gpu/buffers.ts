/** Buffer helpers: storage buffers from typed arrays, zeroed buffers, uniform buffers and readback. */

/** Sizes of storage bindings are rounded up to 4 bytes (WebGPU requires multiples of 4). */
function align4(bytes: number): number {
  return Math.max(4, Math.ceil(bytes / 4) * 4);
}

/** A storage buffer initialised with `data` (f32, u32 or i32 elements, or f16 bit patterns as u16; padded to 4 bytes). */
export function storageFrom(
  device: GPUDevice,
  data: Float32Array | Uint32Array | Int32Array | Uint16Array,
  label: string,
  extraUsage = 0,
): GPUBuffer {
  const buf = device.createBuffer({
    label,
    size: align4(data.byteLength),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage,
    mappedAtCreation: true,
  });
  const dst = new Uint8Array(buf.getMappedRange());
  dst.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buf.unmap();
  return buf;
}

/** A zero-initialised storage buffer of `bytes` bytes (WebGPU zero-fills new buffers). */
export function storageZeros(device: GPUDevice, bytes: number, label: string, extraUsage = 0): GPUBuffer {
  return device.createBuffer({
    label,
    size: align4(bytes),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage,
  });
}

/** A uniform buffer holding `words` as u32 (pack f32 with `new Uint32Array(new Float32Array(x).buffer)`). */
export function uniformU32(device: GPUDevice, words: number[] | Uint32Array, label: string): GPUBuffer {
  const data = words instanceof Uint32Array ? words : Uint32Array.from(words);
  // Uniform buffers are read in 16-byte units.
  const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
  const buf = device.createBuffer({ label, size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, mappedAtCreation: true });
  new Uint32Array(buf.getMappedRange()).set(data);
  buf.unmap();
  return buf;
}

/** Copies `bytes` bytes of `src` (from offset 0) into a fresh ArrayBuffer. */
export async function readBuffer(device: GPUDevice, src: GPUBuffer, bytes = src.size): Promise<ArrayBuffer> {
  const size = align4(bytes);
  const staging = device.createBuffer({ label: `${src.label}:readback`, size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, staging, 0, size);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  // Copy out: dawn.node's mapped range is an external buffer that dies with unmap().
  const out = staging.getMappedRange().slice(0, bytes);
  staging.unmap();
  staging.destroy();
  return out;
}

/** Reads `count` f32 values of `src`. */
export async function readF32(device: GPUDevice, src: GPUBuffer, count: number): Promise<Float32Array> {
  return new Float32Array(await readBuffer(device, src, count * 4));
}

/** Reads `count` u32 values of `src`. */
export async function readU32(device: GPUDevice, src: GPUBuffer, count: number): Promise<Uint32Array> {
  return new Uint32Array(await readBuffer(device, src, count * 4));
}
