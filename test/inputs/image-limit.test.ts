/**
 * The pixel limit of image inputs: a picture's size is read from its PNG/JPEG header and checked before decoding,
 * so a small file that would inflate to gigabytes (a 20000² PNG is a few hundred KB) is refused in milliseconds.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { defaultPhotoPaths } from '../../core/inputs/default.ts';
import { imageSize } from '../../core/inputs/image-header.ts';
import { decodeImageFile, DEFAULT_MAX_IMAGE_PIXELS, loadImageTensor, maxImagePixels } from '../../core/inputs/image.ts';
import { InputError } from '../../core/model/errors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'pit-img-limit-'));

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}

/**
 * A well-formed PNG header for a width × height RGB image, with the first `rows` rows of (black) pixel data: what
 * a hostile 20000² file starts like (the rest of its IDAT would inflate to 1.2 GB).
 */
function bigPng(width: number, height: number, rows: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, adaptive filter, no interlace
  const raw = Buffer.alloc(rows * (1 + width * 3));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array())]);
}

/** A JPEG that is only SOI, a JFIF APP0 and a baseline SOF0 declaring width × height. */
function bigJpegHeader(width: number, height: number): Buffer {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, height >> 8, height & 0xff, width >> 8, width & 0xff, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof, Buffer.from([0xff, 0xd9])]);
}

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('imageSize (header only)', () => {
  it('reads the size of a real JPEG photo and a PNG as their decoders do', () => {
    const [photo] = defaultPhotoPaths();
    const decoded = decodeImageFile(photo!);
    expect(imageSize(readFileSync(photo!))).toEqual({ width: decoded.width, height: decoded.height });
    const png = new PNG({ width: 37, height: 11 });
    png.data.fill(255);
    expect(imageSize(PNG.sync.write(png))).toEqual({ width: 37, height: 11 });
    expect(imageSize(bigJpegHeader(20000, 19000))).toEqual({ width: 20000, height: 19000 });
  });

  it('says null for what is not a PNG or JPEG header', () => {
    expect(imageSize(new Uint8Array([1, 2, 3]))).toBeNull();
    expect(imageSize(Buffer.from('GIF89a........................'))).toBeNull();
    expect(imageSize(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 4, 0, 0]))).toBeNull(); // scan before any frame
  });
});

describe('pixel limit', () => {
  it('refuses a 20000² PNG from its header in milliseconds, with one line', () => {
    const path = join(tmp, 'huge.png');
    writeFileSync(path, bigPng(20000, 20000, 16));
    const t0 = performance.now();
    const err = caught(() => decodeImageFile(path));
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe(
      `image ${path} is 20000×20000 (400.0 Mpixel), above the limit of 67.1 Mpixel: refused before decoding (PIT_MAX_IMAGE_PIXELS raises the limit)`,
    );
    expect(ms).toBeLessThan(500); // decoding alone would take seconds and gigabytes
    // The whole input path (what pit profile and the host call) refuses it the same way.
    expect(() => loadImageTensor(path, { limitSideLen: 64 })).toThrow(/20000×20000 .*above the limit/);
  });

  it('refuses an oversized JPEG from its frame header', () => {
    const path = join(tmp, 'huge.jpg');
    writeFileSync(path, bigJpegHeader(12000, 9000));
    expect(caught(() => decodeImageFile(path)).message).toMatch(/is 12000×9000 \(108\.0 Mpixel\), above the limit of 67\.1 Mpixel/);
  });

  it('applies a lower limit given as an option or by PIT_MAX_IMAGE_PIXELS, and decodes within it', () => {
    const png = new PNG({ width: 64, height: 48 });
    png.data.fill(128);
    const path = join(tmp, 'small.png');
    writeFileSync(path, PNG.sync.write(png));
    expect(decodeImageFile(path).width).toBe(64);
    expect(caught(() => decodeImageFile(path, { maxPixels: 3000 })).message).toMatch(/is 64×48 \(3072 pixels\), above the limit of 3000 pixels/);
    expect(decodeImageFile(path, { maxPixels: 64 * 48 }).height).toBe(48);

    expect(maxImagePixels({})).toBe(DEFAULT_MAX_IMAGE_PIXELS);
    expect(maxImagePixels({ PIT_MAX_IMAGE_PIXELS: '3000' })).toBe(3000);
    expect(() => maxImagePixels({ PIT_MAX_IMAGE_PIXELS: 'lots' })).toThrow("PIT_MAX_IMAGE_PIXELS must be a positive integer (pixels), got 'lots'");
    const saved = process.env.PIT_MAX_IMAGE_PIXELS;
    process.env.PIT_MAX_IMAGE_PIXELS = '3000';
    try {
      expect(() => decodeImageFile(path)).toThrow(/above the limit of 3000 pixels/);
    } finally {
      if (saved === undefined) delete process.env.PIT_MAX_IMAGE_PIXELS;
      else process.env.PIT_MAX_IMAGE_PIXELS = saved;
    }
  });
});
