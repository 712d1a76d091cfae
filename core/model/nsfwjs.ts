/**
 * The TF.js layers models that the npm package `nsfwjs` ships (MobileNetV2 at 224 px, InceptionV3 at 299 px; ReLU6 /
 * ReLU networks, PIT's activation-sparsity workload on real weights), as ordinary `model.json` + shard files.
 *
 * nsfwjs 4 ships each model as browserify (UMD) bundles — `dist/models/NAME/model.min.js` exports the model.json
 * object, `group1-shardXofY.min.js` a shard as base64 — rather than as files TF.js' file loader reads. This module
 * evaluates those bundles in an empty `vm` context (no `require`, no `process`: they only build a literal) and writes
 * the standard layout once into a cache folder, so `pit profile --model …/model.json` and the importer see a plain
 * TF.js layers model. Nothing is fetched from the network.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { ModelError, oneLine } from './errors.ts';

const require = createRequire(import.meta.url);

/** A model nsfwjs ships, with the input size its `load()` uses. */
export interface NsfwjsModelInfo {
  /** Folder under `nsfwjs/dist/models`. */
  dir: string;
  /** Square input side, pixels (nsfwjs `options.size`). */
  size: number;
  /** What it is. */
  description: string;
}

/** The TF.js layers models of nsfwjs, by the name `--model nsfwjs:NAME` takes. */
export const NSFWJS_MODELS: Readonly<Record<string, NsfwjsModelInfo>> = {
  mobilenet_v2: { dir: 'mobilenet_v2', size: 224, description: 'MobileNetV2 (Keras 2.2.4), 224 px, ReLU6, 5 classes' },
  inception_v3: { dir: 'inception_v3', size: 299, description: 'InceptionV3 (Keras 2.2.4), 299 px, ReLU, 5 classes' },
};

/** Model argument prefix naming a bundled nsfwjs model: `nsfwjs:mobilenet_v2`. */
export const NSFWJS_PREFIX = 'nsfwjs:';

/**
 * The cache folder PIT Studio writes derived files to: `$PIT_CACHE_DIR`, else `$XDG_CACHE_HOME/pit-studio`, else
 * `~/.cache/pit-studio`.
 */
export function cacheDir(): string {
  if (process.env['PIT_CACHE_DIR']) return process.env['PIT_CACHE_DIR'];
  const base = process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(base, 'pit-studio');
}

/** The installed nsfwjs package folder and version. @throws ModelError when nsfwjs is not installed. */
function nsfwjsPackage(): { dir: string; version: string } {
  let entry: string;
  try {
    // The package's `exports` hide package.json; resolving (not loading) an exported entry finds the folder.
    entry = require.resolve('nsfwjs/core'); // <pkg>/dist/cjs/core.js
  } catch (err) {
    throw new ModelError('the nsfwjs models need the nsfwjs package, which is not installed', { cause: err });
  }
  const dir = dirname(dirname(dirname(entry)));
  const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  return { dir, version };
}

/** Evaluates a browserify UMD bundle in an empty context and returns what it exports. */
function evalBundle(file: string): unknown {
  let src: string;
  try {
    src = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ModelError(`cannot read nsfwjs bundle ${file}: ${oneLine(err)}`, { path: file, cause: err });
  }
  const module = { exports: {} as unknown };
  try {
    runInNewContext(src, { module, exports: module.exports }, { filename: file, timeout: 60_000 });
  } catch (err) {
    throw new ModelError(`nsfwjs bundle ${file} did not evaluate: ${oneLine(err)}`, { path: file, cause: err });
  }
  return module.exports;
}

/**
 * Path of the `model.json` of a bundled nsfwjs model, writing the model.json and its shards (as TF.js names them in
 * the manifest) into `<cache>/nsfwjs-VERSION/NAME/` on first use. Writes go to a temporary folder renamed into
 * place, so concurrent callers and interrupted writes never leave a half-written model.
 *
 * @param name a key of `NSFWJS_MODELS`
 * @param cache cache folder (default `cacheDir()`)
 * @throws ModelError for an unknown name (listing the known ones), a missing package, or a bundle that is not a
 *   TF.js layers model
 */
export function nsfwjsModelPath(name: string, cache = cacheDir()): string {
  const info = NSFWJS_MODELS[name];
  if (!info) throw new ModelError(`unknown nsfwjs model '${name}' (known: ${Object.keys(NSFWJS_MODELS).join(', ')})`);
  const pkg = nsfwjsPackage();
  const target = join(cache, `nsfwjs-${pkg.version}`, name);
  const modelJson = join(target, 'model.json');
  if (existsSync(modelJson)) return modelJson;

  const src = join(pkg.dir, 'dist', 'models', info.dir);
  const json = JSON.parse(JSON.stringify(evalBundle(join(src, 'model.min.js')))) as {
    modelTopology?: unknown;
    weightsManifest?: { paths: string[] }[];
  };
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new ModelError(`nsfwjs bundle ${join(src, 'model.min.js')} is not a TF.js layers model`, { path: src });
  }
  const tmp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  mkdirSync(tmp, { recursive: true });
  try {
    for (const g of json.weightsManifest) {
      for (const p of g.paths) {
        const b64 = evalBundle(join(src, `${p}.min.js`));
        if (typeof b64 !== 'string') throw new ModelError(`nsfwjs bundle ${join(src, `${p}.min.js`)} is not a base64 weight shard`, { path: src });
        writeFileSync(join(tmp, p), Buffer.from(b64, 'base64'));
      }
    }
    writeFileSync(
      join(tmp, 'model.json'),
      JSON.stringify({ format: 'layers-model', generatedBy: `nsfwjs ${pkg.version} (${info.dir})`, convertedBy: 'PIT Studio from the package bundles', ...json }),
    );
    mkdirSync(dirname(target), { recursive: true });
    try {
      renameSync(tmp, target);
    } catch (err) {
      // Another process finished first: its copy is identical.
      if (!existsSync(modelJson)) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return modelJson;
}

/**
 * Resolves a model argument: `nsfwjs:NAME` → the bundled model's model.json (written on first use); anything else
 * is returned unchanged.
 *
 * @throws ModelError as `nsfwjsModelPath`
 */
export function resolveModelArg(arg: string): string {
  return arg.startsWith(NSFWJS_PREFIX) ? nsfwjsModelPath(arg.slice(NSFWJS_PREFIX.length)) : arg;
}
