/**
 * The inputs of a profiling job: one or more **samples**, each a file per model input, loaded, converted to the
 * element type every model input declares and checked against the model — all before a run is created, so bad input
 * costs one line and stores nothing.
 *
 * Three ways to say them:
 * - plain files (`--input a.jpg b.npy`): one sample per file, for single-input models (the legacy form);
 * - named files (`--input x=a.npy --input sr=sr.npy …`), samples separated by `--sample` (`samplesFromFlags`);
 * - a JSON manifest (`--inputs-manifest FILE`, `readManifest`):
 *   `{ "image"?: SPEC, "samples": [ { "NAME": "FILE" | { "file": "FILE", "image"?: SPEC } , … } | "FILE", … ] }`,
 *   paths relative to the manifest, SPEC a preset name or an `ImageSpec` object (`presets.ts`).
 *
 * Files: `.npy` (float16/32/64, int8/16/32/64, uint8/16/32/64, bool; `convert.ts` says which conversions are taken)
 * and `.jpg` / `.jpeg` / `.png` images (an `ImageSpec`; default `paddle-det` at `imageSize`).
 */
import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { InputError, oneLine } from '../model/errors.ts';
import type { FeedTensor, OnnxModel, ValueInfo } from '../model/ir.ts';
import { elemTypeName, feedTypeOf, formatDims } from '../model/ir.ts';
import type { InputRef } from '../protocol.ts';
import { convertFeed } from './convert.ts';
import { decodeImageFile } from './image.ts';
import { loadNpyTyped } from './npy.ts';
import { type ImagePresetName, type ImageSpec, parseImageSpec, preprocessImage } from './presets.ts';

/** One file for one model input. */
export interface InputSource {
  /** Model input name; may be omitted for a single-input model. */
  name?: string;
  /** File path (.npy, .jpg, .jpeg, .png). */
  path: string;
  /** Preprocessing of an image file, overriding the job's `imagePreset`. */
  image?: ImageSpec | ImagePresetName;
}

/** One sample: a file for every model input. */
export interface SampleSpec {
  sources: InputSource[];
}

/** How a job's inputs are given (the input half of the profile options). */
export interface SampleOptions {
  /** Input files, one sample each (single-input models); ignored when `samples` is given. */
  inputs: string[];
  /** Samples with named inputs (multi-input models, or per-input preprocessing). */
  samples?: SampleSpec[];
  /** `paddle-det`'s `limit_side_len`: longest image side after resizing, rounded to a multiple of 32. */
  imageSize: number;
  /** Preprocessing of image files that have none of their own; default `paddle-det` at `imageSize`. */
  imagePreset?: ImageSpec | ImagePresetName;
}

/** A sample ready to feed. */
export interface LoadedSample {
  /** What the run stores about it (one entry of `RunSummary.inputs`). */
  ref: InputRef;
  /** A tensor for every model input, in the element type the input declares. */
  feeds: Record<string, FeedTensor>;
  /** Short text for progress messages: the file and shape, or `NAME=FILE, …`. */
  label: string;
}

const IMAGE_EXTS = new Set(['.jpg', '.jpeg', '.png']);

/** One file loaded in its own element type, with what was done to it. */
interface LoadedFile {
  tensor: FeedTensor;
  kind: InputRef['kind'];
  preprocess: string;
}

function loadFile(path: string, image: ImageSpec): LoadedFile {
  const ext = extname(path).toLowerCase();
  if (IMAGE_EXTS.has(ext)) {
    const t = preprocessImage(decodeImageFile(path), image);
    return { tensor: { dims: t.dims, type: 'float32', data: t.data }, kind: 'image', preprocess: t.description };
  }
  if (ext === '.npy') return { tensor: loadNpyTyped(path), kind: 'npy', preprocess: '' };
  throw new InputError(`unsupported input type '${ext || '(none)'}' for ${path} (expected .jpg, .jpeg, .png or .npy)`, { path });
}

/** A `model-input` image spec sized to the model input's fixed height and width (NCHW dims 2 and 3), when it has them. */
function forModelInput(spec: ImageSpec, info: ValueInfo): ImageSpec {
  if (spec.resize !== 'model-input' || !info.dims || info.dims.length !== 4) return spec;
  const [, , h, w] = info.dims;
  return typeof h === 'number' && h > 0 && typeof w === 'number' && w > 0 ? { ...spec, height: h, width: w } : spec;
}

/**
 * Checks a tensor's shape against a model input's declared dims, binding symbolic dims: a `dim_param` must have the
 * same size in every input of a sample (e.g. `batch` in silero VAD's `input`, `h` and `c`).
 *
 * @param bound symbolic dim → [size, the input that fixed it], shared across one sample's inputs
 * @throws InputError naming the input, the file and both shapes, or the symbolic dim and both sizes
 */
export function checkDims(info: ValueInfo, dims: readonly number[], source: string, bound: Map<string, [number, string]>): void {
  if (info.dims === null) return;
  const fits = info.dims.length === dims.length && info.dims.every((d, i) => typeof d !== 'number' || d < 0 || d === dims[i]);
  if (!fits) {
    throw new InputError(`input shape ${formatDims(dims)} (from ${source}) does not match model input "${info.name}": expected ${formatDims(info.dims)}`, {
      path: source,
      input: info.name,
    });
  }
  info.dims.forEach((d, i) => {
    if (typeof d !== 'string') return;
    const prev = bound.get(d);
    if (prev && prev[0] !== dims[i]) {
      throw new InputError(
        `symbolic dim '${d}' is ${prev[0]} in model input "${prev[1]}" but ${dims[i]} in "${info.name}" (from ${source}); one sample must agree`,
        { path: source, input: info.name },
      );
    }
    if (!prev) bound.set(d, [dims[i]!, info.name]);
  });
}

/**
 * Loads one sample: every model input from its file, converted to the declared element type and checked.
 *
 * @param index the sample's position, for messages
 * @throws InputError for an unknown or repeated input name, a missing input, an unnamed file for a model with
 *   several inputs, an unreadable file, an unconvertible element type, or a shape that does not fit
 */
export function loadSample(model: OnnxModel, sample: SampleSpec, defaultImage: ImageSpec, index: number, imageSize: number): LoadedSample {
  const names = model.inputs.map((i) => i.name);
  const which = model.inputs.length > 1 ? ` (sample ${index})` : '';
  const byName = new Map<string, InputSource>();
  if (!model.inputs.length && sample.sources.length) {
    // Nothing can be fed (every value is a constant or an initializer): say so rather than list zero inputs.
    throw new InputError(`${model.path} has no graph inputs, so ${sample.sources[0]!.path} cannot be fed to it (the model computes from constants only)`, { path: sample.sources[0]!.path });
  }
  for (const s of sample.sources) {
    let name = s.name;
    if (name === undefined) {
      if (model.inputs.length !== 1) {
        throw new InputError(
          `${model.path} has ${model.inputs.length} inputs (${names.join(', ')}): give each as NAME=FILE (unnamed: ${s.path})`,
          { path: s.path },
        );
      }
      name = names[0]!;
    }
    if (!names.includes(name)) {
      throw new InputError(`unknown model input "${name}" (for ${s.path}); the model's inputs: ${names.join(', ')}`, { path: s.path, input: name });
    }
    if (byName.has(name)) throw new InputError(`model input "${name}" is given twice${which}: ${byName.get(name)!.path} and ${s.path}`, { input: name });
    byName.set(name, s);
  }
  const feeds: Record<string, FeedTensor> = {};
  const parts: { name: string; path: string; kind: InputRef['kind']; dims: number[]; converted: boolean; text: string }[] = [];
  const bound = new Map<string, [number, string]>();
  for (const info of model.inputs) {
    const s = byName.get(info.name);
    if (!s) {
      throw new InputError(`no file given for model input "${info.name}" (${elemTypeName(info.elemType)} ${formatDims(info.dims)})${which}`, {
        input: info.name,
      });
    }
    const abs = resolve(s.path);
    const type = feedTypeOf(info.elemType);
    if (!type) throw new InputError(`model input "${info.name}" is ${elemTypeName(info.elemType)}, which PIT Studio cannot feed`, { input: info.name });
    const image = forModelInput(s.image === undefined ? defaultImage : parseImageSpec(s.image, imageSize, `image spec of ${abs}`), info);
    const file = loadFile(abs, image);
    // Shape first: a file of the wrong shape is the likelier mistake, and its message names both shapes.
    checkDims(info, file.tensor.dims, abs, bound);
    const fed = convertFeed(file.tensor, type, `${abs} for model input "${info.name}"`);
    feeds[info.name] = fed;
    const conv = file.tensor.type === type ? '' : `, converted from ${file.tensor.type}`;
    parts.push({
      name: info.name,
      path: abs,
      kind: file.kind,
      dims: fed.dims,
      converted: conv !== '',
      text: file.kind === 'image' ? `${file.preprocess}${conv ? ` (${conv.slice(2)})` : ''}` : `npy ${type} ${formatDims(fed.dims)}${conv}`,
    });
  }
  const first = parts[0]!;
  if (parts.length === 1) {
    return {
      ref: { path: first.path, kind: first.kind, shape: first.dims, preprocess: first.kind === 'image' || first.converted ? first.text : '', synthetic: false },
      feeds,
      label: `${first.path} ${JSON.stringify(first.dims)}`,
    };
  }
  // The run database keeps one path / kind / shape per sample: the first model input's, with every input described.
  return {
    ref: {
      path: first.path,
      kind: first.kind,
      shape: first.dims,
      preprocess: `${parts.length} model inputs: ${parts.map((p) => `${p.name} ← ${p.path} (${p.text})`).join('; ')}`,
      synthetic: false,
    },
    feeds,
    label: `sample ${index}: ${parts.map((p) => `${p.name}=${p.path} ${JSON.stringify(p.dims)}`).join(', ')}`,
  };
}

/**
 * Every sample of a job, loaded and checked (see the module comment).
 *
 * @returns one `LoadedSample` per sample, in order
 * @throws InputError as `loadSample`; `no input given` when there is none; a bad `imagePreset`
 */
export function loadSamples(model: OnnxModel, opts: SampleOptions): LoadedSample[] {
  const samples = opts.samples ?? opts.inputs.map((path) => ({ sources: [{ path }] }));
  if (!samples.length) throw new InputError('no input given');
  // Without a preset: what the model's format expects (Keras classifiers from TF.js take RGB in [0, 1]).
  const image = parseImageSpec(opts.imagePreset ?? (model.format === 'tfjs-layers' ? 'rgb01' : 'paddle-det'), opts.imageSize, '--image-preset');
  return samples.map((s, i) => loadSample(model, s, image, i, opts.imageSize));
}

/** One `--input` value or a `--sample` separator, in command-line order. */
export type InputFlag = { input: string } | 'sample';

/**
 * Samples from `--input` values and `--sample` separators, in order. Within a group (between separators), named
 * values (`NAME=FILE`, split at the first `=`) form one sample; plain files are one sample each (single-input
 * models). A group mixing both is refused.
 *
 * @returns the samples, or `{ error }` with a one-line usage message
 */
export function samplesFromFlags(flags: readonly InputFlag[]): { samples: SampleSpec[] } | { error: string } {
  const groups: string[][] = [[]];
  for (const f of flags) {
    if (f === 'sample') groups.push([]);
    else groups[groups.length - 1]!.push(f.input);
  }
  const samples: SampleSpec[] = [];
  for (const [gi, group] of groups.entries()) {
    if (!group.length) {
      if (groups.length > 1) return { error: `--sample ${gi === 0 ? 'before the first' : 'with no'} --input (sample ${gi} is empty)` };
      continue;
    }
    const named = group.map((v) => {
      const eq = v.indexOf('=');
      return eq > 0 ? { name: v.slice(0, eq), path: v.slice(eq + 1) } : { path: v };
    });
    const count = named.filter((s) => 'name' in s).length;
    if (count === 0 && groups.length === 1) {
      for (const s of named) samples.push({ sources: [s] });
    } else if (count === named.length) {
      samples.push({ sources: named });
    } else if (count === 0) {
      if (group.length > 1) return { error: `sample ${gi} lists ${group.length} unnamed files: with --sample, name each input as --input NAME=FILE` };
      samples.push({ sources: named });
    } else {
      return { error: `sample ${gi} mixes named (NAME=FILE) and unnamed inputs: name every input of a sample` };
    }
  }
  return { samples };
}

/**
 * Reads a JSON inputs manifest (format in the module comment). Paths are resolved against the manifest's folder.
 *
 * @returns the samples and the manifest-wide image spec, if any
 * @throws InputError `inputs manifest PATH: …` for an unreadable file, bad JSON or a bad entry
 */
export function readManifest(path: string): { samples: SampleSpec[]; image?: ImageSpec | ImagePresetName } {
  const abs = resolve(path);
  const fail = (msg: string): never => {
    throw new InputError(`inputs manifest ${abs}: ${msg}`, { path: abs });
  };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(abs, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    fail(code === 'ENOENT' ? 'file not found' : `not valid JSON (${oneLine(err)})`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) fail('expected an object { "samples": [...] }');
  const top = json as Record<string, unknown>;
  for (const k of Object.keys(top)) if (k !== 'samples' && k !== 'image') fail(`unknown field '${k}' (fields: samples, image)`);
  const list = top['samples'];
  if (!Array.isArray(list) || !list.length) fail('"samples" must be a non-empty array');
  const dir = dirname(abs);
  const image = top['image'] as ImageSpec | ImagePresetName | undefined;
  const samples = (list as unknown[]).map((entry, i): SampleSpec => {
    if (typeof entry === 'string') return { sources: [{ path: resolve(dir, entry) }] };
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return fail(`samples[${i}] must be a file name or an object of NAME: FILE`);
    const sources = Object.entries(entry as Record<string, unknown>).map(([name, v]): InputSource => {
      if (typeof v === 'string') return { name, path: resolve(dir, v), ...(image !== undefined ? { image } : {}) };
      if (v && typeof v === 'object' && typeof (v as { file?: unknown }).file === 'string') {
        const o = v as { file: string; image?: ImageSpec | ImagePresetName };
        for (const k of Object.keys(o)) if (k !== 'file' && k !== 'image') fail(`samples[${i}].${name}: unknown field '${k}' (fields: file, image)`);
        const img = o.image ?? image;
        return { name, path: resolve(dir, o.file), ...(img !== undefined ? { image: img } : {}) };
      }
      return fail(`samples[${i}].${name} must be a file name or { "file": …, "image": … }`);
    });
    if (!sources.length) fail(`samples[${i}] names no input`);
    return { sources };
  });
  if (image !== undefined) for (const s of samples) for (const src of s.sources) src.image ??= image;
  return { samples, ...(image !== undefined ? { image } : {}) };
}
