/**
 * Image dimensions from a PNG or JPEG header, without decoding: so a picture too large to decode (a few hundred KB
 * of PNG can inflate to gigabytes of pixels) is refused before any pixel memory is allocated.
 */

/** Width and height in pixels. */
export interface ImageSize {
  width: number;
  height: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * The size a PNG's IHDR chunk or a JPEG's first start-of-frame segment declares.
 * @returns null when the bytes are neither, or the header is cut short (the decoder then says what is wrong).
 */
export function imageSize(bytes: Uint8Array): ImageSize | null {
  return pngSize(bytes) ?? jpegSize(bytes);
}

/** PNG: signature, then IHDR (always the first chunk): width and height as big-endian uint32 at bytes 16 and 20. */
function pngSize(b: Uint8Array): ImageSize | null {
  if (b.length < 24 || PNG_SIGNATURE.some((x, i) => b[i] !== x)) return null;
  if (String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!) !== 'IHDR') return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}

/**
 * JPEG: walks the marker segments from SOI to the first SOFn (C0–CF except DHT C4, JPG C8, DAC CC), whose payload
 * holds precision (1 byte), height and width (big-endian uint16).
 */
function jpegSize(b: Uint8Array): ImageSize | null {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let pos = 2;
  while (pos + 4 <= b.length) {
    if (b[pos] !== 0xff) return null;
    const marker = b[pos + 1]!;
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    // Markers without a length: TEM, RST0–7, SOI, EOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9)) {
      pos += 2;
      continue;
    }
    if (marker === 0xda) return null; // start of scan before any frame header
    const length = dv.getUint16(pos + 2);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (pos + 9 > b.length) return null;
      return { height: dv.getUint16(pos + 5), width: dv.getUint16(pos + 7) };
    }
    pos += 2 + length;
  }
  return null;
}
