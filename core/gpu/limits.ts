/**
 * Memory limits of a profile job (issue 14 item 1), checked from shapes before anything is allocated:
 * - the **binding limit**: the largest buffer one storage binding may hold, `min(maxStorageBufferBindingSize,
 *   maxBufferSize)` of the device (128 MiB on lavapipe, which asks for the adapter's own limits in device.ts);
 * - the **memory budget**: the most one layer may hold at once on each side — host arrays (the lowered operands,
 *   their copies and read-backs) and GPU buffers (every variant measured together). The default is half the
 *   machine's free memory (`node:os freemem`), so that on a software adapter, whose GPU memory is host memory, both
 *   sides together stay within what is free. WebGPU does not tell how much memory a GPU has; the adapter's
 *   per-buffer limits bound each buffer besides the budget.
 * Sizes in bytes.
 */
import { ResourceLimitError } from './errors.ts';

/** The limits a layer is checked against, bytes. */
export interface MemoryLimits {
  /** Largest buffer one binding may hold: `min(maxStorageBufferBindingSize, maxBufferSize)`. */
  bindingBytes: number;
  /** The most one layer may hold at once on the host, and on the GPU (see the module comment). */
  budgetBytes: number;
}

/** Largest buffer one storage binding may hold on a device with these limits, bytes. */
export function bindingLimit(limits: Pick<GPUSupportedLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize'>): number {
  return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}

/** The default memory budget: half of `freeBytes` (the machine's free memory), at least 64 MiB. */
export function defaultMemoryBudget(freeBytes: number): number {
  return Math.max(64 * 2 ** 20, Math.floor(freeBytes / 2));
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 2 ** 10, m: 1e6, mb: 1e6, mib: 2 ** 20, g: 1e9, gb: 1e9, gib: 2 ** 30, t: 1e12, tb: 1e12, tib: 2 ** 40 };

/**
 * Parses a size: a number of bytes with an optional unit, `512MiB`, `2GiB`, `1.5G`, `3e9` (k/M/G/T are powers of
 * 10, KiB/MiB/GiB/TiB powers of 2; case-insensitive).
 * @returns bytes (an integer ≥ 1), or null when the text is not a positive size.
 */
export function parseBytes(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return null;
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return null;
  const bytes = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) && bytes >= 1 ? bytes : null;
}

/** `3.08 GiB`, `197.8 MiB`, `512 KiB`, `12 B`: binary units, for messages. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return `${bytes} B`;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}

/**
 * @throws ResourceLimitError `WHAT: NAME [dims] needs X, over this device's Y per binding` when one buffer of `bytes`
 *   is over the binding limit.
 */
export function checkBinding(what: string, name: string, shape: readonly number[], bytes: number, bindingBytes: number): void {
  if (bytes > bindingBytes) {
    throw new ResourceLimitError(`${what}: buffer '${name}' [${shape.join(', ')}] needs ${formatBytes(bytes)}, over this device's ${formatBytes(bindingBytes)} per binding`);
  }
}
