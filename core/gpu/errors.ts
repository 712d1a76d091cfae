/** Errors of the GPU runtime. Each message is one line that says what failed and where. */

/** No WebGPU adapter could be obtained (no driver, or lavapipe missing). */
export class NoAdapterError extends Error {
  override name = 'NoAdapterError';
}

/** The adapter lacks a feature or limit the kernel needs. */
export class MissingFeatureError extends Error {
  override name = 'MissingFeatureError';
}

/** The device was lost (driver reset, crash, destroy) while work was in flight. */
export class DeviceLostError extends Error {
  override name = 'DeviceLostError';
}

/** WGSL failed to compile or a pipeline failed validation; `wgsl` is the source that failed. */
export class ShaderCompileError extends Error {
  override name = 'ShaderCompileError';
  constructor(message: string, readonly label: string, readonly wgsl: string) {
    super(message);
  }
}

/**
 * A buffer, a variant or a layer needs more memory than the device allows in one binding or buffer
 * (`maxStorageBufferBindingSize`, `maxBufferSize`) or than the memory budget (`--memory-budget`). Thrown *before*
 * anything is allocated. A RangeError, so callers that handle bad sizes keep working; named, so a report says what it
 * is rather than "RangeError".
 */
export class ResourceLimitError extends RangeError {
  override name = 'ResourceLimitError';
}

/**
 * The first GPU validation or out-of-memory error of a step (creating buffers, pipelines, bind groups, or running a
 * dispatch), captured by an error scope around that step: the real cause, not a later "[Invalid BindGroup] is
 * invalid" that only echoes an object created invalid earlier.
 */
export class GpuValidationError extends Error {
  override name = 'GpuValidationError';
}
