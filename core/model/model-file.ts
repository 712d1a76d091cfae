/** Reading a model file from disk, with the errors every importer (ONNX, TF.js layers) gives for it. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ModelError, oneLine } from './errors.ts';

/**
 * The bytes of the model file at `path` and its absolute path.
 * @throws ModelError `model file not found: PATH` when it does not exist; `cannot read model file PATH: …` for any
 *   other I/O error.
 */
export function readModelFile(path: string): { abs: string; bytes: Uint8Array } {
  const abs = resolve(path);
  try {
    return { abs, bytes: readFileSync(abs) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ModelError(`model file not found: ${abs}`, { path: abs, cause: err });
    throw new ModelError(`cannot read model file ${abs}: ${oneLine(err)}`, { path: abs, cause: err });
  }
}
