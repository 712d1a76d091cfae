/**
 * TF.js weight shards (core/model/tfjs-weights.ts): every stored type decodes to the values TF.js' `decodeWeights`
 * gives (q · scale + min for uint8/uint16, IEEE half for float16), weights that straddle a shard boundary, and the
 * errors a broken model gives (missing shard named, wrong byte count).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../../core/model/errors.ts';
import { halfToFloat } from '../../core/kernels/f16.ts';
import { fileShardReader, parseWeightsManifest, readTfjsWeights } from '../../core/model/tfjs-weights.ts';
import { encodeWeights, floatToHalf } from './tfjs-builders.ts';

const mem = (shards: Record<string, Uint8Array>) => (p: string) => {
  const b = shards[p];
  if (!b) throw new Error(`no shard ${p}`);
  return b;
};

describe('readTfjsWeights', () => {
  it('decodes float32, uint8, uint16 and float16 weights to the dequantised values', () => {
    // Synthetic manifest, written by hand: levels and their expected values are known exactly.
    const q8 = new Uint8Array([0, 1, 255, 128]);
    const q16 = new Uint16Array([0, 65535, 1000]);
    const h = new Uint16Array([floatToHalf(1.5), floatToHalf(-0.25), 0x7bff]); // 0x7bff = 65504, largest half
    const f = new Float32Array([3.25, -7]);
    const bytes = new Uint8Array(f.byteLength + q8.byteLength + q16.byteLength + h.byteLength);
    let at = 0;
    for (const part of [new Uint8Array(f.buffer), q8, new Uint8Array(q16.buffer), new Uint8Array(h.buffer)]) {
      bytes.set(part, at);
      at += part.byteLength;
    }
    const groups = parseWeightsManifest(
      [
        {
          paths: ['s1'],
          weights: [
            { name: 'a/kernel', shape: [2], dtype: 'float32' },
            { name: 'b/kernel', shape: [2, 2], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
            { name: 'c/kernel', shape: [3], dtype: 'float32', quantization: { dtype: 'uint16', scale: 0.001, min: 2 } },
            { name: 'd/kernel', shape: [3], dtype: 'float32', quantization: { dtype: 'float16' } },
          ],
        },
      ],
      'm.json',
    );
    const w = readTfjsWeights(groups, mem({ s1: bytes }), 'm.json');
    expect([...w.byName.get('a/kernel')!.data]).toEqual([3.25, -7]);
    expect([...w.byName.get('b/kernel')!.data]).toEqual([-1, -0.5, 126.5, 63]);
    expect(w.byName.get('b/kernel')!.quantized).toBe('uint8');
    const c = w.byName.get('c/kernel')!.data;
    expect(c[0]).toBeCloseTo(2, 6);
    expect(c[1]).toBeCloseTo(2 + 65.535, 4);
    expect(c[2]).toBeCloseTo(3, 6);
    expect([...w.byName.get('d/kernel')!.data]).toEqual([1.5, -0.25, 65504]);
    expect(w.specs.map((s) => s.name)).toEqual(['a/kernel', 'b/kernel', 'c/kernel', 'd/kernel']);
    expect(w.data.byteLength).toBe(bytes.byteLength);
  });

  it('reads a weight split across two shards (the converter cuts shards at byte boundaries)', () => {
    const values = Float32Array.from({ length: 10 }, (_, i) => i - 4.5);
    const { entries, bytes } = encodeWeights([{ name: 'x/kernel', shape: [10], values }]);
    const w = readTfjsWeights(
      parseWeightsManifest([{ paths: ['p1', 'p2'], weights: entries }], 'm'),
      mem({ p1: bytes.subarray(0, 13), p2: bytes.subarray(13) }),
      'm',
    );
    expect([...w.byName.get('x/kernel')!.data]).toEqual([...values]);
  });

  it('halfToFloat decodes subnormals, infinities and NaN', () => {
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0xfc00)).toBe(-Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
  });

  it('names the missing shard file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pit-tfjsw-'));
    try {
      writeFileSync(join(dir, 'present.bin'), new Uint8Array(4));
      const read = fileShardReader(join(dir, 'model.json'));
      const groups = parseWeightsManifest([{ paths: ['present.bin', 'gone.bin'], weights: [{ name: 'w', shape: [2], dtype: 'float32' }] }], 'model.json');
      expect(() => readTfjsWeights(groups, read, 'model.json')).toThrow(ModelError);
      expect(() => readTfjsWeights(groups, read, 'model.json')).toThrow(`weight shard not found: ${join(dir, 'gone.bin')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses shards whose size does not match the weights, and bad manifests', () => {
    const groups = parseWeightsManifest([{ paths: ['s'], weights: [{ name: 'w', shape: [3], dtype: 'float32' }] }], 'm');
    expect(() => readTfjsWeights(groups, mem({ s: new Uint8Array(8) }), 'm')).toThrow('m: weight group 0 (s) holds 8 bytes, its 1 weights need 12');
    expect(() => parseWeightsManifest({ paths: [] }, 'm')).toThrow('m: weightsManifest is missing or not a list of groups');
    expect(() => parseWeightsManifest([{ paths: ['s'], weights: [{ name: 'w' }] }], 'm')).toThrow('weight without a name or a valid shape');
    const uq = parseWeightsManifest([{ paths: ['s'], weights: [{ name: 'w', shape: [1], dtype: 'float32', quantization: { dtype: 'uint8' } }] }], 'm');
    expect(() => readTfjsWeights(uq, mem({ s: new Uint8Array(1) }), 'm')).toThrow('uint8 quantisation without scale and min');
  });
});
