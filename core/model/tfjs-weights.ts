/**
 * TF.js weights: the `weightsManifest` of a `model.json` and its binary shards → float32 tensors by weight name.
 *
 * Follows the TF.js weights format (tfjs-core `src/io/types.ts` `WeightsManifestConfig`, decoded as
 * `src/io/io_utils.ts` `decodeWeights` does): the manifest is a list of groups; each group's shards (`paths`,
 * relative to the `model.json`) are concatenated in order, and its weights occupy that byte stream back to back,
 * little-endian, each `numel(shape) × bytes(dtype)` long — where `dtype` is the quantised storage type when a weight
 * has `quantization`. Dequantisation: uint8 / uint16 values become `q · scale + min` (rounded for int32 weights);
 * float16 values are IEEE half floats.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ModelError, oneLine } from './errors.ts';
import { numel } from './ir.ts';
import { halfToFloat } from '../kernels/f16.ts';

/** TF.js quantisation of one weight (`WeightsManifestEntry.quantization`). */
export interface TfjsQuantization {
  /** Storage type of the quantised values. */
  dtype: 'uint8' | 'uint16' | 'float16';
  /** uint8 / uint16: step between quantised levels. */
  scale?: number;
  /** uint8 / uint16: the value of level 0. */
  min?: number;
  /** Set by newer converters; informational (the target type is the entry's `dtype`). */
  original_dtype?: string;
}

/** One weight of a manifest group (`WeightsManifestEntry`). */
export interface TfjsWeightSpec {
  /** Keras weight name, e.g. `Conv1/kernel` or `bn_Conv1/moving_mean`. */
  name: string;
  /** Shape in Keras' own layout (Conv2D kernel `[kh, kw, Cin, Cout]`). */
  shape: number[];
  /** The weight's type once decoded. */
  dtype: string;
  quantization?: TfjsQuantization;
}

/** One manifest group: shard files and the weights stored in them. */
export interface TfjsWeightsGroup {
  /** Shard file names, relative to the model.json's folder, in byte order. */
  paths: string[];
  weights: TfjsWeightSpec[];
}

/** A decoded weight. */
export interface TfjsWeight {
  name: string;
  /** Keras layout, as in the manifest. */
  shape: number[];
  /** Values as float32, row-major in `shape`'s order. */
  data: Float32Array;
  /** The manifest's `dtype` (`float32`, `int32`, `bool`). */
  dtype: string;
  /** The quantised storage type, when quantised. */
  quantized?: TfjsQuantization['dtype'];
}

/** The weights of a model and the raw bytes they came from (the reference runtime loads the bytes itself). */
export interface TfjsWeights {
  /** Decoded weights by manifest name. */
  byName: Map<string, TfjsWeight>;
  /** Every entry of every group, in manifest order (what TF.js' own loader calls `weightSpecs`). */
  specs: TfjsWeightSpec[];
  /** The groups' shard bytes concatenated in manifest order (TF.js' `weightData`). */
  data: Uint8Array;
}

/** Reads a shard given its path relative to the model.json; returns its bytes or throws (ENOENT → "not found"). */
export type ShardReader = (relPath: string) => Uint8Array;

/** Bytes per stored element of each dtype TF.js writes. */
const BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/**
 * Checks and normalises a `weightsManifest` value from a model.json.
 *
 * @throws ModelError `LABEL: weightsManifest …` when it is not a list of `{paths, weights}` groups with named,
 *   shaped weights
 */
export function parseWeightsManifest(manifest: unknown, label: string): TfjsWeightsGroup[] {
  const bad = (why: string): never => {
    throw new ModelError(`${label}: weightsManifest ${why}`, { path: label });
  };
  if (!Array.isArray(manifest)) bad('is missing or not a list of groups');
  return (manifest as unknown[]).map((g, gi) => {
    const group = g as Partial<TfjsWeightsGroup>;
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) bad(`group ${gi} has no paths/weights lists`);
    for (const p of group.paths!) if (typeof p !== 'string' || p.length === 0) bad(`group ${gi} has an empty shard path`);
    for (const w of group.weights!) {
      if (!w || typeof w.name !== 'string' || !Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0)) {
        bad(`group ${gi} has a weight without a name or a valid shape`);
      }
    }
    return { paths: group.paths!.slice(), weights: group.weights!.map((w) => ({ ...w, shape: w.shape.slice() })) };
  });
}

/**
 * A shard reader for the files beside a model.json.
 *
 * @param modelJsonPath absolute path of the model.json
 * @returns a reader that throws ModelError `weight shard not found: PATH (listed in the weightsManifest of MODEL)`
 *   or `cannot read weight shard PATH: …`
 */
export function fileShardReader(modelJsonPath: string): ShardReader {
  const dir = dirname(modelJsonPath);
  return (rel) => {
    const p = resolve(dir, rel);
    try {
      return readFileSync(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        throw new ModelError(`weight shard not found: ${p} (listed in the weightsManifest of ${modelJsonPath})`, { path: p, cause: err });
      }
      throw new ModelError(`cannot read weight shard ${p}: ${oneLine(err)}`, { path: p, cause: err });
    }
  };
}

/**
 * Reads every group's shards and decodes every weight to float32.
 *
 * @param groups the parsed manifest (`parseWeightsManifest`)
 * @param read shard reader (`fileShardReader`, or in-memory bytes)
 * @param label model path for messages
 * @throws ModelError when a shard is missing (the reader's message names the file), the shards of a group hold
 *   fewer or more bytes than its weights need (`LABEL: weight group 0 (group1-shard1of1) holds N bytes, its weights
 *   need M`), a dtype or quantisation is unknown, or uint8/uint16 quantisation lacks `scale`/`min`
 */
export function readTfjsWeights(groups: readonly TfjsWeightsGroup[], read: ShardReader, label: string): TfjsWeights {
  const byName = new Map<string, TfjsWeight>();
  const specs: TfjsWeightSpec[] = [];
  const chunks: Uint8Array[] = [];
  for (const [gi, g] of groups.entries()) {
    const parts = g.paths.map((p) => read(p));
    const total = parts.reduce((s, p) => s + p.byteLength, 0);
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.byteLength;
    }
    const need = g.weights.reduce((s, w) => s + numel(w.shape) * storageBytes(w, label), 0);
    if (need !== total) {
      throw new ModelError(
        `${label}: weight group ${gi} (${g.paths.join(', ')}) holds ${total} bytes, its ${g.weights.length} weights need ${need}`,
        { path: label },
      );
    }
    let offset = 0;
    for (const w of g.weights) {
      const n = numel(w.shape);
      const size = n * storageBytes(w, label);
      byName.set(w.name, decodeWeight(w, bytes.subarray(offset, offset + size), label));
      specs.push(w);
      offset += size;
    }
    chunks.push(bytes);
  }
  const data = chunks.length === 1 ? chunks[0]! : concat(chunks);
  return { byName, specs, data };
}

/** Bytes per element as stored (the quantised type when quantised). */
function storageBytes(w: TfjsWeightSpec, label: string): number {
  const stored = w.quantization ? w.quantization.dtype : w.dtype;
  const b = BYTES[stored];
  if (b === undefined || (!w.quantization && (stored === 'uint8' || stored === 'uint16' || stored === 'float16'))) {
    throw new ModelError(`${label}: weight ${w.name} has dtype ${stored}, which TF.js weights do not store`, { path: label });
  }
  return b;
}

/** One weight's bytes → float32 values (dequantised as TF.js `decodeWeights` does). */
function decodeWeight(w: TfjsWeightSpec, bytes: Uint8Array, label: string): TfjsWeight {
  const n = numel(w.shape);
  // A DataView, not a typed array: a weight's offset in the shard need not be aligned to its element size.
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  const q = w.quantization;
  if (w.dtype !== 'float32' && w.dtype !== 'int32' && w.dtype !== 'bool') {
    throw new ModelError(`${label}: weight ${w.name} has dtype ${w.dtype}; only float32, int32 and bool weights are supported`, { path: label });
  }
  if (!q) {
    if (w.dtype === 'float32') for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
    else if (w.dtype === 'int32') for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true);
    else for (let i = 0; i < n; i++) out[i] = dv.getUint8(i);
    return { name: w.name, shape: w.shape.slice(), data: out, dtype: w.dtype };
  }
  if (q.dtype === 'float16') {
    if (w.dtype !== 'float32') throw new ModelError(`${label}: weight ${w.name}: float16 quantisation of a ${w.dtype} weight`, { path: label });
    for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
  } else if (q.dtype === 'uint8' || q.dtype === 'uint16') {
    if (typeof q.scale !== 'number' || typeof q.min !== 'number') {
      throw new ModelError(`${label}: weight ${w.name}: ${q.dtype} quantisation without scale and min`, { path: label });
    }
    const round = w.dtype === 'int32';
    for (let i = 0; i < n; i++) {
      const level = q.dtype === 'uint8' ? dv.getUint8(i) : dv.getUint16(i * 2, true);
      const v = level * q.scale + q.min;
      out[i] = round ? Math.round(v) : v;
    }
  } else {
    throw new ModelError(`${label}: weight ${w.name} has unknown quantisation dtype ${String((q as { dtype: unknown }).dtype)}`, { path: label });
  }
  return { name: w.name, shape: w.shape.slice(), data: out, dtype: w.dtype, quantized: q.dtype };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

