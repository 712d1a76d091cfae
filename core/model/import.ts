/**
 * Format-agnostic model import: one entry point that picks the importer from the file, so the profile job, the CLI
 * and the host need not know which formats exist. Both importers produce the same IR (`ir.ts`: ONNX operators,
 * NCHW values).
 */
import { openSync, readSync, closeSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { ModelError, oneLine } from './errors.ts';
import type { OnnxModel } from './ir.ts';
import { importOnnx } from './onnx-import.ts';
import { importTfjs } from './tfjs-import.ts';

/**
 * Imports a model file: `.json` (or any file whose first non-blank byte is `{`) as a TF.js layers model.json with its
 * weight shards beside it (`importTfjs`), anything else as ONNX (`importOnnx`).
 *
 * @param path model file
 * @returns the IR; `format` says which importer made it (`'tfjs-layers'`; ONNX models leave it out)
 * @throws ModelError as the chosen importer (`model file not found: PATH` for a missing file, whatever its name)
 */
export function importModel(path: string): OnnxModel {
  const abs = resolve(path);
  const ext = extname(abs).toLowerCase();
  if (ext === '.json') return importTfjs(abs);
  if (ext === '.onnx') return importOnnx(abs);
  return startsWithBrace(abs) ? importTfjs(abs) : importOnnx(abs);
}

/** Whether the file's first non-whitespace byte is `{` (JSON object; an ONNX protobuf never starts so). */
function startsWithBrace(abs: string): boolean {
  let fd: number;
  try {
    fd = openSync(abs, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ModelError(`model file not found: ${abs}`, { path: abs, cause: err });
    throw new ModelError(`cannot read model file ${abs}: ${oneLine(err)}`, { path: abs, cause: err });
  }
  try {
    const buf = Buffer.alloc(64);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const text = buf.subarray(0, n).toString('latin1').trimStart();
    return text.startsWith('{');
  } finally {
    closeSync(fd);
  }
}
