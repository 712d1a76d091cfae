/**
 * Error scopes around a GPU step. WebGPU reports a validation or out-of-memory error asynchronously and only to the
 * innermost scope open when the call was made; outside any scope it becomes an "uncaptured error" (logged, not
 * thrown), and the object created is silently invalid — so the first error a caller sees is a later one such as
 * "[Invalid BindGroup …] is invalid" at dispatch, which only echoes the real cause. Every step that creates GPU
 * objects (buffers, bind groups, pipelines) or submits work runs inside `withGpuErrors`, which throws the step's own
 * first error.
 */
import { GpuValidationError } from './errors.ts';

/**
 * Runs `step` with a validation and an out-of-memory error scope open, and throws the first error either captured.
 * A synchronous exception of `step` is rethrown after the scopes are closed (so they never leak).
 * @param what the step, for the message (e.g. `variant dense 64x64x16: creating buffers and bind groups`).
 * @throws GpuValidationError `WHAT: GPU validation error: FIRST LINE` (or `GPU out of memory: …`).
 */
export async function withGpuErrors<T>(device: GPUDevice, what: string, step: () => T | Promise<T>): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T;
  try {
    result = await step();
  } catch (e) {
    await device.popErrorScope().catch(() => null);
    await device.popErrorScope().catch(() => null);
    throw e;
  }
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  if (validation) throw new GpuValidationError(`${what}: GPU validation error: ${firstLine(validation.message)}`);
  if (oom) throw new GpuValidationError(`${what}: GPU out of memory: ${firstLine(oom.message)}`);
  return result;
}

/** The first non-empty line of a GPU error message (Dawn appends the call stack of the failing object). */
function firstLine(message: string): string {
  return (message.split('\n').find((l) => l.trim()) ?? message).trim();
}
