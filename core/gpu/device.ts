/**
 * Adapter and device acquisition over an injected `GPU` object (dawn.node's `create()` or `navigator.gpu`), with
 * clear errors: no adapter, missing feature, device lost.
 */
import type { AdapterDescriptor, SubgroupMatrixConfigInfo } from '../protocol.ts';
import { DeviceLostError, MissingFeatureError, NoAdapterError } from './errors.ts';

/** A device with what the runtime needs to know about it. */
export interface GpuContext {
  device: GPUDevice;
  adapter: AdapterDescriptor;
  /** Whether `timestamp-query` was enabled on the device. */
  timestampQuery: boolean;
  /** Whether `subgroups` was enabled on the device. */
  subgroups: boolean;
  /** Whether `shader-f16` was enabled on the device (the f16 kernel families need it). */
  shaderF16: boolean;
  /**
   * The subgroup-matrix configurations usable on the device: the adapter's `subgroupMatrixConfigs` when
   * `chromium-experimental-subgroup-matrix` was enabled, else empty (the f16 families then take their SIMT path).
   */
  subgroupMatrixConfigs: SubgroupMatrixConfigInfo[];
  /** Resolves with a `DeviceLostError` when the device is lost (never rejects). */
  lost: Promise<DeviceLostError>;
  /** The first loss, once it happened; checked before each submission. */
  lostError: DeviceLostError | null;
  destroy(): void;
}

export interface AcquireOptions {
  /** Features the caller cannot work without (a `MissingFeatureError` if absent). */
  requiredFeatures?: GPUFeatureName[];
  /** Features enabled when present (default `DEFAULT_OPTIONAL_FEATURES`). */
  optionalFeatures?: GPUFeatureName[];
  powerPreference?: GPUPowerPreference;
  /** The Dawn toggles `gpu` was created with, reported in the adapter descriptor (default: as `recordDawnToggles` noted). */
  dawnToggles?: string[];
}

/** The experimental feature name (not in `GPUFeatureName`'s type yet). */
const SUBGROUP_MATRIX = 'chromium-experimental-subgroup-matrix' as GPUFeatureName;

/**
 * Features requested whenever the adapter has them: timestamps (GPU timing), subgroups, `shader-f16` (f16 kernel
 * families) and `chromium-experimental-subgroup-matrix` (their tensor-core tiles; Dawn lists it only with the toggle
 * `allow_unsafe_apis`, and it needs `subgroups`).
 */
export const DEFAULT_OPTIONAL_FEATURES = ['timestamp-query', 'subgroups', 'shader-f16', SUBGROUP_MATRIX] as GPUFeatureName[];

const toggles = new WeakMap<GPU, string[]>();

/** Notes the Dawn toggles a `GPU` object was created with (node-gpu.ts does), so that devices report them. */
export function recordDawnToggles(gpu: GPU, flags: readonly string[]): void {
  toggles.set(gpu, [...flags]);
}

/** The subgroup-matrix configurations of an adapter (`GPUAdapterInfo.subgroupMatrixConfigs`; [] where absent). */
export function subgroupMatrixConfigsOf(info: GPUAdapterInfo): SubgroupMatrixConfigInfo[] {
  const raw = (info as unknown as { subgroupMatrixConfigs?: Iterable<Record<string, unknown>> }).subgroupMatrixConfigs;
  if (!raw) return [];
  return [...raw].map((c) => ({
    componentType: String(c.componentType),
    resultComponentType: String(c.resultComponentType),
    M: Number(c.M),
    N: Number(c.N),
    K: Number(c.K),
  }));
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
  const optional = options.optionalFeatures ?? DEFAULT_OPTIONAL_FEATURES;
  let features = [...new Set([...required, ...optional.filter((f) => adapter.features.has(f))])];
  // Subgroup matrices need subgroups on the device too.
  if (!features.includes('subgroups')) features = features.filter((f) => f !== SUBGROUP_MATRIX);
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
  const shaderF16 = features.includes('shader-f16');
  const subgroups = features.includes('subgroups');
  const matrices = features.includes(SUBGROUP_MATRIX) ? subgroupMatrixConfigsOf(info) : [];
  const sizes = info as unknown as { subgroupMinSize?: number; subgroupMaxSize?: number };
  const dawnToggles = options.dawnToggles ?? toggles.get(gpu) ?? [];
  const ctx: GpuContext = {
    device,
    adapter: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      backend: (info as unknown as { backend?: string }).backend ?? '',
      timestampQuery: features.includes('timestamp-query'),
      shaderF16,
      subgroups,
      ...(sizes.subgroupMinSize && sizes.subgroupMaxSize ? { subgroupSizes: [sizes.subgroupMinSize, sizes.subgroupMaxSize] as [number, number] } : {}),
      subgroupMatrixConfigs: matrices,
      dawnToggles,
    },
    timestampQuery: features.includes('timestamp-query'),
    subgroups,
    shaderF16,
    subgroupMatrixConfigs: matrices,
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

/**
 * One line on an adapter's f16 and tensor-core support and the Dawn toggles in effect, e.g.
 * `shader-f16 yes; subgroup matrices f16→f32 16x16x16, 16x8x16; Dawn toggles: enable-dawn-features=…`.
 * Empty for descriptors recorded before these were reported.
 */
export function describeCapabilities(a: AdapterDescriptor): string {
  const parts: string[] = [];
  if (a.shaderF16 !== undefined) parts.push(`shader-f16 ${a.shaderF16 ? 'yes' : 'no'}`);
  if (a.subgroups !== undefined) parts.push(`subgroups ${a.subgroups ? `yes${a.subgroupSizes ? ` (${a.subgroupSizes[0]}–${a.subgroupSizes[1]})` : ''}` : 'no'}`);
  if (a.subgroupMatrixConfigs !== undefined) {
    const cfg = a.subgroupMatrixConfigs.map((c) => `${c.componentType}→${c.resultComponentType} ${c.M}x${c.N}x${c.K}`);
    parts.push(`subgroup matrices ${cfg.length ? cfg.join(', ') : 'none'}`);
  }
  if (a.dawnToggles?.length) parts.push(`Dawn toggles: ${a.dawnToggles.join(' ')}`);
  return parts.join('; ');
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
