/**
 * Builders for tiny synthetic TF.js layers models (labelled synthetic wherever used): a Keras 2 Functional topology
 * written as the TF.js converter writes it (`modelTopology.model_config`, `weightsManifest`, shard files), with
 * weights stored as float32 or quantised (uint8 / uint16 with scale and min, float16), so both our importer and
 * TF.js' own loader read the same bytes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../../core/synthetic/random.ts';

/** A layer: class, config (name is added), and the layers it reads. */
export interface LayerSpec {
  name: string;
  cls: string;
  config?: Record<string, unknown>;
  inbound?: string[];
}

/** A weight: Keras name (`layer/kernel`), shape, values and how to store them. */
export interface WeightSpec {
  name: string;
  shape: number[];
  values: ArrayLike<number>;
  store?: 'float32' | 'uint8' | 'uint16' | 'float16';
}

/** float → IEEE half bits, round to nearest even (normal range only: test values stay within ±65504 and above 2^-14). */
export function floatToHalf(v: number): number {
  const u = new Uint32Array(new Float32Array([v]).buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  if (v === 0 || exp <= 0) return sign;
  const mant = u & 0x7fffff;
  let h = sign | (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return h;
}

/** Encodes weights as the manifest entries and one shard's bytes. */
export function encodeWeights(weights: WeightSpec[]): { entries: Record<string, unknown>[]; bytes: Uint8Array } {
  const chunks: Uint8Array[] = [];
  const entries = weights.map((w) => {
    const n = w.values.length;
    const store = w.store ?? 'float32';
    const entry: Record<string, unknown> = { name: w.name, shape: w.shape, dtype: 'float32' };
    if (store === 'float32') {
      chunks.push(new Uint8Array(Float32Array.from(w.values).buffer));
    } else if (store === 'float16') {
      const h = new Uint16Array(n);
      for (let i = 0; i < n; i++) h[i] = floatToHalf(w.values[i]!);
      chunks.push(new Uint8Array(h.buffer));
      entry['quantization'] = { dtype: 'float16' };
    } else {
      const levels = store === 'uint8' ? 255 : 65535;
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < n; i++) {
        min = Math.min(min, w.values[i]!);
        max = Math.max(max, w.values[i]!);
      }
      const scale = max > min ? (max - min) / levels : 1;
      const q = store === 'uint8' ? new Uint8Array(n) : new Uint16Array(n);
      for (let i = 0; i < n; i++) q[i] = Math.round((w.values[i]! - min) / scale);
      chunks.push(new Uint8Array(q.buffer));
      entry['quantization'] = { dtype: store, scale, min };
    }
    return entry;
  });
  const total = chunks.reduce((s, c) => s + c.byteLength, 0);
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return { entries, bytes };
}

/**
 * Writes `dir/model.json` and its weight shard(s) (split into `shards` files of near-equal size, as the converter
 * splits at 4 MB) for a Functional model.
 *
 * @returns the model.json path
 */
export function writeTfjsModel(
  dir: string,
  spec: { input: { name: string; shape: (number | null)[] }; layers: LayerSpec[]; output: string; weights: WeightSpec[]; shards?: number },
): string {
  mkdirSync(dir, { recursive: true });
  const layers = [
    { name: spec.input.name, class_name: 'InputLayer', config: { batch_input_shape: spec.input.shape, dtype: 'float32', sparse: false, name: spec.input.name }, inbound_nodes: [] },
    ...spec.layers.map((l) => ({
      name: l.name,
      class_name: l.cls,
      config: { name: l.name, trainable: false, ...(l.config ?? {}) },
      inbound_nodes: [(l.inbound ?? []).map((i) => [i, 0, 0, {}])],
    })),
  ];
  const { entries, bytes } = encodeWeights(spec.weights);
  const nShards = spec.shards ?? 1;
  const paths: string[] = [];
  const per = Math.ceil(bytes.byteLength / nShards);
  for (let s = 0; s < nShards; s++) {
    const p = `group1-shard${s + 1}of${nShards}.bin`;
    writeFileSync(join(dir, p), bytes.subarray(s * per, Math.min(bytes.byteLength, (s + 1) * per)));
    paths.push(p);
  }
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'PIT Studio test builder (synthetic)',
    convertedBy: null,
    modelTopology: {
      keras_version: '2.2.4',
      backend: 'tensorflow',
      model_config: {
        class_name: 'Model',
        config: { name: 'synthetic', layers, input_layers: [[spec.input.name, 0, 0]], output_layers: [[spec.output, 0, 0]] },
      },
    },
    weightsManifest: [{ paths, weights: entries }],
  };
  const path = join(dir, 'model.json');
  writeFileSync(path, JSON.stringify(modelJson));
  return path;
}

/** `n` deterministic values in [lo, hi). */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}
