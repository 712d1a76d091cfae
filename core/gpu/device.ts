/**
 * Adapter and device acquisition over an injected `GPU` object (dawn.node's `create()` or `navigator.gpu`), with
 * clear errors: no adapter, missing feature, device lost.
 */
import type { AdapterDescriptor } from '../protocol.ts';
import { DeviceLostError, MissingFeatureError, NoAdapterError } from './errors.ts';

/** A device with what the runtime needs to know about it. */
export interface GpuContext {
  device: GPUDevice;
  adapter: AdapterDescriptor;
  /** Whether `timestamp-query` was enabled on the device. */
  timestampQuery: boolean;
  /** Whether `subgroups` was enabled on the device. */
  subgroups: boolean;
  /** Resolves with a `DeviceLostError` when the device is lost (never rejects). */
  lost: Promise<DeviceLostError>;
  /** The first loss, once it happened; checked before each submission. */
  lostError: DeviceLostError | null;
  destroy(): void;
}

export interface AcquireOptions {
  /** Features the caller cannot work without (a `MissingFeatureError` if absent). */
  requiredFeatures?: GPUFeatureName[];
  /** Features enabled when present (`timestamp-query` and `subgroups` by default). */
  optionalFeatures?: GPUFeatureName[];
  powerPreference?: GPUPowerPreference;
}

/**
 * Requests an adapter and a device from `gpu`.
 * @throws NoAdapterError when no adapter is available; MissingFeatureError when a required feature is missing.
 */
export async function acquireDevice(gpu: GPU, options: AcquireOptions = {}): Promise<GpuContext> {
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new NoAdapterError(
      'no WebGPU adapter: install a Vulkan driver (on a machine without a GPU: Mesa lavapipe >= 25, `bash scripts/setup.sh`)',
    );
  }
  const required = options.requiredFeatures ?? [];
  for (const f of required) {
    if (!adapter.features.has(f)) {
      throw new MissingFeatureError(`adapter ${describeAdapter(adapter.info)} lacks required WebGPU feature '${f}'`);
    }
  }
  const optional = options.optionalFeatures ?? (['timestamp-query', 'subgroups'] as GPUFeatureName[]);
  const features = [...new Set([...required, ...optional.filter((f) => adapter.features.has(f))])];
  // Ask for the adapter's own storage limits: the default 128 MiB binding limit is too small for big layers.
  const limits: Record<string, number> = {
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
    maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: adapter.limits.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: adapter.limits.maxComputeWorkgroupSizeY,
    maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
  };
  const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits: limits });
  const info = adapter.info;
  const ctx: GpuContext = {
    device,
    adapter: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      backend: (info as unknown as { backend?: string }).backend ?? '',
      timestampQuery: features.includes('timestamp-query'),
    },
    timestampQuery: features.includes('timestamp-query'),
    subgroups: features.includes('subgroups'),
    lost: undefined as unknown as Promise<DeviceLostError>,
    lostError: null,
    destroy: () => device.destroy(),
  };
  ctx.lost = device.lost.then((info) => {
    const err = new DeviceLostError(`WebGPU device lost (${info.reason}): ${info.message || 'no message'}`);
    if (info.reason !== 'destroyed') ctx.lostError = err;
    return err;
  });
  return ctx;
}

/** A one-line human description of an adapter. */
export function describeAdapter(info: Partial<GPUAdapterInfo> | AdapterDescriptor): string {
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s) => s && String(s).length);
  return parts.length ? parts.join(' / ') : 'unknown adapter';
}

/** @throws DeviceLostError when the device of `ctx` has been lost. */
export function assertAlive(ctx: GpuContext): void {
  if (ctx.lostError) throw ctx.lostError;
}
