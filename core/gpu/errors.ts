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
