/**
 * Atomic export writing (main/commands/write-folder.ts): a set is complete or absent. A disk that fills up half-way
 * leaves neither the target folder nor the temporary one, and the same export then succeeds.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeDurably, writeFolder, type FileWriter } from '../../main/commands/write-folder.ts';

const files = new Map<string, string | Uint8Array>([
  ['manifest.json', '{"format":"test"}\n'],
  ['kernels/k1.wgsl', '// k1\n'],
  ['kernels/k2.wgsl', '// k2\n'],
  ['fixtures/f1.a.npy', new Uint8Array([1, 2, 3, 4])],
  ['verify.mjs', '// verify\n'],
]);

/** A writer whose disk is full from the `n`-th file on (after writing half of it, as a real ENOSPC would). */
function fullAfter(n: number): FileWriter {
  let count = 0;
  return (path, data) => {
    if (++count < n) return writeDurably(path, data);
    writeFileSync(path, typeof data === 'string' ? data.slice(0, data.length >> 1) : data.subarray(0, data.length >> 1));
    throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC' });
  };
}

describe('writeFolder', () => {
  it('leaves nothing behind when the disk fills up half-way, and the same export then succeeds', () => {
    const parent = mkdtempSync(join(tmpdir(), 'pit-write-'));
    const out = join(parent, 'set');
    expect(() => writeFolder(out, files, { writeFile: fullAfter(3) })).toThrow(`writing ${out} failed: ENOSPC: no space left on device, write; nothing was written`);
    expect(readdirSync(parent)).toEqual([]); // no set, no partial folder

    expect(writeFolder(out, files)).toEqual({ how: 'created', files: 5 });
    expect(readdirSync(parent)).toEqual(['set']);
    expect(readFileSync(join(out, 'kernels', 'k2.wgsl'), 'utf8')).toBe('// k2\n');
    expect([...readFileSync(join(out, 'fixtures', 'f1.a.npy'))]).toEqual([1, 2, 3, 4]);
  });

  it('fills an existing empty folder whole, and refuses a non-empty one without force', () => {
    const parent = mkdtempSync(join(tmpdir(), 'pit-write-'));
    const out = join(parent, 'set');
    mkdirSync(out);
    expect(writeFolder(out, files).how).toBe('created');
    expect(() => writeFolder(out, files)).toThrow(/exists and is not an empty folder; nothing was written/);
    expect(readdirSync(parent)).toEqual(['set']);
  });

  it('with force, replaces the set\u2019s files and keeps the folder\u2019s other files; a failure changes nothing', () => {
    const parent = mkdtempSync(join(tmpdir(), 'pit-write-'));
    const out = join(parent, 'set');
    mkdirSync(join(out, 'kernels'), { recursive: true });
    writeFileSync(join(out, 'notes.txt'), 'mine');
    writeFileSync(join(out, 'kernels', 'k1.wgsl'), '// old k1\n');
    expect(() => writeFolder(out, files, { force: true, writeFile: fullAfter(2) })).toThrow(/ENOSPC/);
    expect(readFileSync(join(out, 'kernels', 'k1.wgsl'), 'utf8')).toBe('// old k1\n');
    expect(readdirSync(parent)).toEqual(['set']);

    expect(writeFolder(out, files, { force: true })).toEqual({ how: 'merged', files: 5 });
    expect(readFileSync(join(out, 'kernels', 'k1.wgsl'), 'utf8')).toBe('// k1\n');
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('mine');
    expect(existsSync(join(out, 'verify.mjs'))).toBe(true);
    expect(readdirSync(parent)).toEqual(['set']);
  });
});
