/**
 * Dawn's two start-up warnings ("Warning: maxDynamic…BuffersPerPipelineLayout artificially reduced …") kept off
 * stderr unless --verbose, by swapping fd 2 around the adapter request (core/gpu/quiet-stderr.ts): every other
 * line written meanwhile still arrives, in order, and stderr works as before afterwards. A shell pipe (`2>&1 |`)
 * is a FIFO, as a terminal's stderr is a tty; Node's `stdio: 'pipe'` is a socket, which cannot be reopened and is
 * left alone (the supervisor filters its children's stderr lines instead: test/host/supervisor.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CHILD = join(import.meta.dirname, 'stderr-child.ts');
const dir = mkdtempSync(join(tmpdir(), 'pit-stderr-'));
const WARNING = /maxDynamic(Uniform|Storage)BuffersPerPipelineLayout/;

function run(mode: string, stderr: 'pipe' | number = 'pipe') {
  return spawnSync(process.execPath, ['--import', 'tsx', CHILD, mode], { encoding: 'utf8', stdio: ['ignore', 'pipe', stderr], timeout: 60_000 });
}

/** Runs the child with stderr into a shell pipe (a FIFO, as `pit … 2>&1 | less` has); returns what came through it. */
function runThroughFifo(mode: string): { status: number | null; text: string } {
  const r = spawnSync('sh', ['-c', `"$0" --import tsx "$1" "$2" 2>&1 >/dev/null | cat`, process.execPath, CHILD, mode], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, text: r.stdout };
}

describe('withFilteredStderr', () => {
  it('drops only the known warnings from a pipe, keeping the rest in order', () => {
    const r = runThroughFifo('fake');
    expect(r.status).toBe(0);
    expect(r.text).toBe('before\na driver line that matters\nafter 42\n');
  });

  it("leaves a socket (Node's stdio 'pipe') alone: every line arrives, unfiltered", () => {
    const r = run('fake');
    expect(r.status).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines.filter((l) => WARNING.test(l))).toHaveLength(2);
    expect(lines.filter((l) => !WARNING.test(l))).toEqual(['before', 'a driver line that matters', 'after 42']);
  });

  it('filters a file opened for appending (2>>log) the same way', () => {
    const log = join(dir, 'append.log');
    writeFileSync(log, 'earlier\n');
    const fd = openSync(log, 'a');
    const r = run('fake', fd);
    closeSync(fd);
    expect(r.status).toBe(0);
    expect(readFileSync(log, 'utf8')).toBe('earlier\nbefore\na driver line that matters\nafter 42\n');
  });

  it('leaves a file that shares its offset (2>log) alone rather than risk overwriting it', () => {
    const log = join(dir, 'trunc.log');
    const fd = openSync(log, 'w');
    const r = run('fake', fd);
    closeSync(fd);
    expect(r.status).toBe(0);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toBe('before');
    expect(lines.filter((l) => WARNING.test(l))).toHaveLength(2);
    expect(lines.at(-1)).toBe('after 42');
  });
});

describe('nodeGpu on this machine', () => {
  it('requests an adapter without Dawn start-up warnings on stderr; --verbose lets them through', () => {
    const quiet = runThroughFifo('dawn');
    expect(quiet.status).toBe(0);
    expect(quiet.text).toBe('before\nafter\n');
    const verbose = run('dawn-verbose');
    expect(verbose.status, verbose.stderr).toBe(0);
    // Only some drivers warn (lavapipe does); where they do, verbose shows exactly what quiet hid.
    const warned = verbose.stderr.split('\n').filter((l) => WARNING.test(l));
    if (/llvmpipe|lavapipe/i.test(verbose.stdout)) expect(warned).toHaveLength(2);
    expect(verbose.stderr.split('\n').filter((l) => !WARNING.test(l)).join('\n')).toBe('before\nafter\n');
  });
});
