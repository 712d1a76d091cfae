/**
 * The `GPU` entry point on plain Node: dawn.node from the `webgpu` package. The object returned by `create()` is
 * kept referenced for the life of the process (if it is collected, later GPU calls crash; DESIGN.md §6).
 */
import { createRequire } from 'node:module';
import { recordDawnToggles } from './device.ts';
import { NoAdapterError } from './errors.ts';
import { withFilteredStderr } from './quiet-stderr.ts';

let kept: GPU | null = null;

/** How dawn.node is loaded. */
export interface NodeGpuOptions {
  /**
   * Let Dawn's start-up warnings through to stderr (`--verbose`). Default false: adapter requests run with native
   * stderr filtered of them (quiet-stderr.ts); every other line still reaches stderr.
   */
  verbose?: boolean;
}

/**
 * Dawn toggles for profiling, given to `create()` (so process-wide: they are set before any adapter is discovered).
 * - `disable-dawn-features=timestamp_quantization`: Dawn quantises timestamps (to ~65 µs on some drivers) as a
 *   timing-attack defence, which hides short kernels; a local profiler wants the raw counter.
 * - `vulkan_enable_f16_on_nvidia`: Dawn hides `shader-f16` on NVIDIA's Vulkan driver unless asked (crbug 42251215;
 *   ONNX Runtime's WebGPU EP and llama.cpp's WebGPU backend set it too). It acts on NVIDIA adapters only.
 * - `allow_unsafe_apis`: exposes experimental features, among them `chromium-experimental-subgroup-matrix` (tensor
 *   cores from WGSL). Elsewhere it only makes experimental features requestable; nothing here relies on one the
 *   adapter lacks (features are requested when present).
 * - `use_vulkan_memory_model`: subgroup matrices (SPIR-V cooperative matrices) require the Vulkan memory model.
 * Measured on an H200 (driver 580.159.04, webgpu 0.6.2): with them the adapter lists `shader-f16` and f16→f32
 * 16x16x16 / 16x8x16 / 16x8x8 subgroup matrices, without them neither (../shared/gpu/README.md). On lavapipe they change
 * nothing the tests see (it has `shader-f16` and `subgroups` either way, and no subgroup matrices).
 */
export const DEFAULT_DAWN_FLAGS = [
  'enable-dawn-features=vulkan_enable_f16_on_nvidia,allow_unsafe_apis,use_vulkan_memory_model',
  'disable-dawn-features=timestamp_quantization',
];

/**
 * Loads dawn.node once and returns its `GPU` (the first call's flags and options hold for the process).
 * @throws NoAdapterError when the `webgpu` package cannot be loaded on this platform.
 */
export function nodeGpu(flags: string[] = DEFAULT_DAWN_FLAGS, options: NodeGpuOptions = {}): GPU {
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
  const gpu = mod.create(flags);
  kept = options.verbose ? gpu : quietAdapters(gpu);
  recordDawnToggles(kept, flags);
  return kept;
}

/**
 * `gpu` with `requestAdapter` run under withFilteredStderr: Dawn prints its warnings synchronously inside the first
 * request (adapter discovery). The wrapper holds `gpu`, so it stays referenced as long as the wrapper is.
 */
function quietAdapters(gpu: GPU): GPU {
  const quiet = {
    requestAdapter: (options?: GPURequestAdapterOptions) => withFilteredStderr(() => gpu.requestAdapter(options)),
    getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat(),
    get wgslLanguageFeatures() {
      return gpu.wgslLanguageFeatures;
    },
  };
  return quiet as unknown as GPU;
}
