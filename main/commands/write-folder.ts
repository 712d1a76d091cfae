/**
 * Writes a set of files as one folder, atomically: everything goes into a hidden temporary sibling folder first
 * (same parent, so the same file system), each file flushed to disk, and the folder is renamed into place only
 * when all of it is written. A failure half-way (disk full, I/O error) removes the temporary folder: the target is
 * left as it was, and the command can simply be run again.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** How writeFolder writes one file (injectable so a test can make the disk "full" at a chosen file). */
export type FileWriter = (path: string, data: string | Uint8Array) => void;

/** Writes and fsyncs one file (created; it must not exist). */
export const writeDurably: FileWriter = (path, data) => {
  const fd = openSync(path, 'wx', 0o644);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
};

/** What writeFolder did. */
export interface WriteFolderResult {
  /** `created`: the folder was renamed into place whole; `merged`: --force into an existing non-empty folder. */
  how: 'created' | 'merged';
  files: number;
}

/**
 * Writes `files` (relative path → content) as the folder `out`. `out` must not exist or be empty, unless `force`:
 * then the files are written into the temporary folder all the same and then moved over the existing ones one by
 * one (each file replaced atomically, other files of `out` left alone).
 * @param options.writeFile how to write one file (default writeDurably).
 * @throws Error (one line, ending `nothing was written`) when writing fails; the temporary folder is gone then.
 */
export function writeFolder(out: string, files: ReadonlyMap<string, string | Uint8Array>, options: { force?: boolean; writeFile?: FileWriter } = {}): WriteFolderResult {
  const parent = dirname(out);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(out)}.partial-${process.pid}-${Date.now().toString(36)}`);
  const write = options.writeFile ?? writeDurably;
  try {
    mkdirSync(tmp);
    for (const [rel, data] of files) {
      const path = join(tmp, rel);
      mkdirSync(dirname(path), { recursive: true });
      write(path, data);
    }
    const existing = statSync(out, { throwIfNoEntry: false });
    if (existing && (!existing.isDirectory() || readdirSync(out).length)) {
      if (!options.force || !existing.isDirectory()) throw new Error(`${out} exists and is not an empty folder`);
      for (const rel of files.keys()) {
        mkdirSync(dirname(join(out, rel)), { recursive: true });
        renameSync(join(tmp, rel), join(out, rel));
      }
      rmSync(tmp, { recursive: true, force: true });
      return { how: 'merged', files: files.size };
    }
    if (existing) rmdirSync(out); // empty: replaced by the complete folder
    renameSync(tmp, out);
    return { how: 'created', files: files.size };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    const e = err as NodeJS.ErrnoException;
    throw new Error(`writing ${out} failed: ${String(e.message).split('\n')[0]}; nothing was written`, { cause: err });
  }
}
