/**
 * Dawn prints two lines on the process's stderr (fd 2, from native code) the first time an adapter is requested on
 * some Vulkan drivers (lavapipe among them): "Warning: maxDynamicUniformBuffersPerPipelineLayout artificially
 * reduced from 1000000 to 16 …" and the same for storage buffers. They say nothing a user can act on, and they
 * reach the terminal even with `-q`. Node cannot dup2, so fd 2 is swapped the POSIX way for the duration of one
 * synchronous call: close(2) and open() return the lowest free descriptor, which is 2. What native code writes
 * meanwhile goes to an unlinked temporary file; afterwards fd 2 is reopened on the original stderr (through
 * /proc/self/fd) and every line except Dawn's known warnings is written back, so nothing else is lost.
 *
 * Only where this is safe: Linux (/proc), and stderr a terminal, a pipe, /dev/null or a file opened for appending.
 * A file opened without O_APPEND shares its offset with whoever opened it (`>log 2>&1`), which a new open cannot
 * share: there the call runs unfiltered and the warnings stay.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Dawn's start-up warnings that are dropped (each a whole line). */
export const DAWN_STARTUP_WARNING = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+/;

const O_APPEND = 0o2000;

/** Whether fd 2 can be swapped and restored without changing what later writes to it do. */
function swappable(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const st = fstatSync(2);
    if (st.isFIFO() || st.isCharacterDevice()) return true;
    if (!st.isFile()) return false; // a socket cannot be reopened through /proc
    const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync('/proc/self/fdinfo/2', 'utf8'));
    return !!flags && (parseInt(flags[1]!, 8) & O_APPEND) !== 0;
  } catch {
    return false;
  }
}

/**
 * Runs `fn` (synchronous, or the synchronous part of an async call: the returned promise is passed through) with
 * native writes to stderr captured, then writes back every captured line except those matching `drop`.
 * When stderr cannot be swapped safely (see the module comment), `fn` runs as is.
 */
export function withFilteredStderr<T>(fn: () => T, drop: RegExp = DAWN_STARTUP_WARNING): T {
  if (!swappable()) return fn();
  let saved = -1;
  let capture = -1;
  const file = join(tmpdir(), `pit-stderr-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  try {
    saved = openSync('/proc/self/fd/2', 'a'); // a second handle on the original stderr, to restore it from
    closeSync(2);
    capture = openSync(file, 'wx+', 0o600); // the lowest free descriptor: 2
    unlinkSync(file);
  } catch {
    // Could not swap (or restore below would be unsafe): undo what was done and run unfiltered.
    if (capture >= 0 && capture !== 2) closeSync(capture);
    restore(saved);
    return fn();
  }
  if (capture !== 2) {
    // Another thread took descriptor 2 between close and open: leave it, put stderr back elsewhere is impossible.
    closeSync(capture);
    restore(saved);
    return fn();
  }
  let captured = '';
  try {
    return fn();
  } finally {
    captured = readCapture(2);
    closeSync(2);
    restore(saved);
    const kept = captured
      .split('\n')
      .filter((line, i, all) => !drop.test(line) && !(i === all.length - 1 && line === ''))
      .join('\n');
    if (kept) writeSync(2, kept + (captured.endsWith('\n') ? '\n' : ''));
  }
}

/** Reopens the original stderr (through its saved handle) on the now-free descriptor 2. */
function restore(saved: number): void {
  if (saved < 0) return;
  try {
    const back = openSync(`/proc/self/fd/${saved}`, 'a');
    if (back !== 2) closeSync(back); // 2 was not free (another thread): nothing better to do
  } finally {
    closeSync(saved);
  }
}

function readCapture(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(64 * 1024);
  let pos = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n <= 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
    pos += n;
  }
  return Buffer.concat(chunks).toString('utf8');
}
