/**
 * Kernels as data (after ONNX Runtime Web's ProgramInfo): a program is its WGSL text, its bindings in binding-index
 * order, its workgroup size and its grid. Everything the text depends on is in `wgsl` itself, so the pipeline
 * cache key is the text's hash; shape values that need not change the code go into a uniform (`params`).
 */
import type { GpuContext } from '../gpu/device.ts';
import type { PipelineCache } from '../gpu/pipeline-cache.ts';
import type { Dispatch } from '../gpu/timing.ts';

export type BindingKind = 'storage' | 'read-only-storage' | 'uniform';

export interface BindingSpec {
  /** Name of the buffer in a `BufferSet` (e.g. `a`, `b`, `c`, `index`, `count`, `params`). */
  name: string;
  kind: BindingKind;
}

/** A generated kernel ready to dispatch. */
export interface KernelProgram {
  /** Family, e.g. `dense`, `pit-k`, `pit-m`, `detect-k`. */
  family: string;
  /** Human label with its parameters, e.g. `pit-k 32x1 tile 32x64x32`. */
  label: string;
  wgsl: string;
  /** binding i of group 0 is `bindings[i]`. */
  bindings: BindingSpec[];
  workgroupSize: [number, number, number];
  /** Grid in workgroups. */
  workgroups: [number, number, number];
  /** u32 words of the `params` uniform, when a binding named `params` exists. */
  params?: number[];
  /** Formula of the grid as text, for the exported manifest (e.g. `ceil(M/32), ceil(N/64), 1`). */
  dispatchFormula: string;
}

/** Buffers by binding name. */
export type BufferSet = Record<string, GPUBuffer>;

/**
 * Builds (or fetches from `cache`) the pipeline of `program` and binds `buffers` to it.
 * @throws ShaderCompileError on WGSL errors; Error when a binding's buffer is missing from `buffers`.
 */
export async function prepareDispatch(
  ctx: GpuContext,
  cache: PipelineCache,
  program: KernelProgram,
  buffers: BufferSet,
): Promise<Dispatch & { hash: string }> {
  const { pipeline, hash } = await cache.get(program.label, program.wgsl);
  const entries: GPUBindGroupEntry[] = program.bindings.map((b, i) => {
    const buffer = buffers[b.name];
    if (!buffer) throw new Error(`kernel '${program.label}': no buffer bound for binding ${i} '${b.name}'`);
    return { binding: i, resource: { buffer } };
  });
  const bindGroup = ctx.device.createBindGroup({ label: program.label, layout: pipeline.getBindGroupLayout(0), entries });
  return { pipeline, bindGroup, workgroups: program.workgroups, hash };
}
