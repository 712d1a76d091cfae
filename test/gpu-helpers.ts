/** Shared GPU setup for tests: one device per test file on the adapter dawn.node finds (lavapipe in CI). */
import { acquireDevice, type GpuContext } from '../core/gpu/device.ts';
import { nodeGpu } from '../core/gpu/node-gpu.ts';
import { PipelineCache } from '../core/gpu/pipeline-cache.ts';
import { mulberry32 } from '../core/synthetic/random.ts';

export interface TestGpu {
  ctx: GpuContext;
  cache: PipelineCache;
}

/** Acquires a device for a test file; call `ctx.destroy()` in `afterAll`. */
export async function testGpu(): Promise<TestGpu> {
  const ctx = await acquireDevice(nodeGpu());
  return { ctx, cache: new PipelineCache(ctx.device) };
}

/** Deterministic pseudo-random numbers (mulberry32), so failures reproduce. */
export const rng = mulberry32;
