/**
 * Compute pipelines cached by everything the WGSL depends on: the key is the sha256 of the exact source, the entry
 * point and the override constants, so two descriptors that generate the same text share one pipeline. Shader
 * creation runs inside a validation error scope, which turns a WGSL error into a ShaderCompileError with the
 * compiler's messages (as tinygrad's ops_webgpu does).
 */
import { createHash } from 'node:crypto';
import { ShaderCompileError } from './errors.ts';

/** sha256 (hex) of a WGSL source: the identity under which the text is stored and reported. */
export function wgslHash(wgsl: string): string {
  return createHash('sha256').update(wgsl).digest('hex');
}

export interface CachedPipeline {
  pipeline: GPUComputePipeline;
  hash: string;
}

/** One cache per device. */
export class PipelineCache {
  private readonly entries = new Map<string, Promise<CachedPipeline>>();
  constructor(private readonly device: GPUDevice) {}

  /** Number of pipelines built so far. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The pipeline for `wgsl` (entry `main`), built once.
   * @throws ShaderCompileError when the WGSL does not compile or the pipeline fails validation.
   */
  get(label: string, wgsl: string, constants: Record<string, number> = {}, entryPoint = 'main'): Promise<CachedPipeline> {
    const hash = wgslHash(wgsl);
    const key = `${hash}|${entryPoint}|${JSON.stringify(Object.entries(constants).sort())}`;
    let hit = this.entries.get(key);
    if (!hit) {
      hit = this.build(label, wgsl, hash, constants, entryPoint);
      this.entries.set(key, hit);
      hit.catch(() => this.entries.delete(key));
    }
    return hit;
  }

  private async build(
    label: string,
    wgsl: string,
    hash: string,
    constants: Record<string, number>,
    entryPoint: string,
  ): Promise<CachedPipeline> {
    const device = this.device;
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ label, code: wgsl });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) {
      await device.popErrorScope();
      const first = errors[0]!;
      throw new ShaderCompileError(
        `WGSL of '${label}' does not compile: ${first.message} (line ${first.lineNum}:${first.linePos})` +
          (errors.length > 1 ? ` and ${errors.length - 1} more` : ''),
        label,
        wgsl,
      );
    }
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await device.createComputePipelineAsync({
        label,
        layout: 'auto',
        compute: { module, entryPoint, constants },
      });
    } catch (e) {
      await device.popErrorScope();
      throw new ShaderCompileError(`pipeline '${label}' failed: ${(e as Error).message.split('\n')[0]}`, label, wgsl);
    }
    const err = await device.popErrorScope();
    if (err) throw new ShaderCompileError(`pipeline '${label}' failed validation: ${err.message.split('\n')[0]}`, label, wgsl);
    return { pipeline, hash };
  }
}
