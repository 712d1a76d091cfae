/**
 * The `GPU` entry point on plain Node: dawn.node from the `webgpu` package. The object returned by `create()` is
 * kept referenced for the life of the process (if it is collected, later GPU calls crash; DESIGN.md §6).
 */
import { createRequire } from 'node:module';
import { NoAdapterError } from './errors.ts';

let kept: GPU | null = null;

/**
 * Dawn toggles for profiling: Dawn quantises timestamps (to ~65 µs on some drivers) as a timing-attack defence, which
 * hides short kernels; a local profiler wants the raw counter.
 */
export const DEFAULT_DAWN_FLAGS = ['disable-dawn-features=timestamp_quantization'];

/**
 * Loads dawn.node once and returns its `GPU`.
 * @throws NoAdapterError when the `webgpu` package cannot be loaded on this platform.
 */
export function nodeGpu(flags: string[] = DEFAULT_DAWN_FLAGS): GPU {
  if (kept) return kept;
  const require = createRequire(import.meta.url);
  let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
  try {
    mod = require('webgpu');
  } catch (e) {
    throw new NoAdapterError(`cannot load dawn.node (package 'webgpu'): ${(e as Error).message.split('\n')[0]}`);
  }
  // WebGPU's enum-like globals (GPUBufferUsage, GPUMapMode, …) are needed by code written for browsers.
  for (const [k, v] of Object.entries(mod.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  kept = mod.create(flags);
  return kept;
}
