/**
 * The main job (DESIGN.md §5): import an ONNX model, capture every sparse-capable layer's real input and reference
 * output with onnxruntime, and per layer and input, on the GPU: measure sparsity and micro-tile densities of the
 * exploited operand A, run every variant (dense, PIT rules), verify each against the reference, time them, choose
 * the fastest verified one (choice v0: measure everything; `dense` always a candidate), and write each finished
 * layer to the sink before starting the next.
 *
 * Errors before the run exists (missing or malformed model, no supported operator, unreadable input, wrong shape)
 * throw without touching the sink. Errors after it exists mark the run incomplete with the error's first line, and
 * a cancel (AbortSignal) marks it `cancelled`; finished layers stay.
 */
import type { GpuContext } from '../gpu/device.ts';
import type { PipelineCache } from '../gpu/pipeline-cache.ts';
import { loadInput } from '../inputs/default.ts';
import { compareOutputs, matmulErrorScale } from '../kernels/reference.ts';
import { defaultVariantSpecs, runVariant, type VariantSpec } from '../kernels/variants.ts';
import { ModelError, oneLine } from '../model/errors.ts';
import { importOnnx } from '../model/onnx-import.ts';
import { checkLowerable, lowerToMatmul } from '../model/lowering.ts';
import { ReferenceSession, type ReferenceCapture } from '../model/reference.ts';
import { findSparseOps, type SparseOp } from '../model/sparse-ops.ts';
import type { LayerResult, MicroTileDensity, ProgressEvent, VariantResult } from '../protocol.ts';
import { occupancyHeatmap, microTileDensity, sparsityOf } from '../sparsity/micro-tiles.ts';
import type { KernelText, RunSink } from './sink.ts';

/** Variants the job knows, in report order. */
export const VARIANT_NAMES = ['dense', 'pit-k', 'pit-m'] as const;

/** Micro-tile shapes whose densities are reported for every layer ([M, K] terms; `1x1` is element density). */
export const REPORTED_MICRO_TILES = ['1x1', '8x1', '32x1', '1x32', '1x64', '32x32'] as const;

export interface ProfileOptions {
  modelPath: string;
  inputs: string[];
  /** Longest image side after resizing (multiple of 32). */
  imageSize: number;
  variants: string[];
  repeat: number;
  warmup: number;
  maxLayers?: number;
}

export interface ProfileEnv {
  gpu: GpuContext;
  cache: PipelineCache;
  sink: RunSink;
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
}

/** Thrown (after marking the run) when the signal aborts the job. */
export class CancelledError extends Error {
  override name = 'CancelledError';
}

/**
 * Profiles `opts.modelPath` on `opts.inputs`; returns the run id and its layers.
 * @throws ModelError / InputError before the run is created; CancelledError, DeviceLostError or the failing
 *   error after it (the run is then marked incomplete).
 */
export async function profileModel(opts: ProfileOptions, env: ProfileEnv): Promise<{ runId: number; layers: LayerResult[] }> {
  const emit = env.onProgress ?? (() => {});
  emit({ kind: 'stage', stage: 'import', message: `importing ${opts.modelPath}` });
  const model = importOnnx(opts.modelPath);
  const ops = findSparseOps(model);
  const supported = ops.filter((o) => o.supported);
  if (!supported.length) {
    throw new ModelError(
      `${opts.modelPath}: no supported operator (MatMul, Gemm, or Conv with group=1) among ${model.nodes.length} nodes` +
        (ops.length ? ` (${ops.length} unsupported: ${ops[0]!.name}: ${ops[0]!.reason})` : ''),
    );
  }
  const layersToRun = opts.maxLayers ? ops.slice(0, opts.maxLayers) : ops;
  const inputs = opts.inputs.map((p) => loadInput(p, { imageSize: opts.imageSize }, model.inputs[0]!));
  const variants = opts.variants.includes('dense') ? opts.variants : ['dense', ...opts.variants];

  const runId = env.sink.createRun({
    model: { path: opts.modelPath, sha256: model.sha256 },
    adapter: env.gpu.adapter,
    inputs: inputs.map((i) => i.ref),
    variants,
    repeat: opts.repeat,
    options: { warmup: opts.warmup, imageSize: opts.imageSize, maxLayers: opts.maxLayers ?? null },
  });
  const layers: LayerResult[] = [];
  const total = layersToRun.length * inputs.length;
  const t0 = performance.now();
  let session: ReferenceSession | null = null;
  try {
    session = await ReferenceSession.create(model, layersToRun);
    for (const [inputIndex, input] of inputs.entries()) {
      checkCancel(env.signal);
      emit({ kind: 'stage', stage: 'reference', message: `reference run (onnxruntime) on ${input.ref.path} ${JSON.stringify(input.dims)}` });
      const captured = await session.run({ dims: input.dims, data: input.data });
      emit({ kind: 'stage', stage: 'profile', message: `profiling ${layersToRun.length} layers on the GPU` });
      for (const op of layersToRun) {
        checkCancel(env.signal);
        const { layer, kernels } = await profileLayer(op, inputIndex, captured, model, variants, opts, env);
        env.sink.recordLayer(runId, layer, kernels);
        layers.push(layer);
        const done = layers.length;
        emit({ kind: 'layer', runId, done, total, layer, etaMs: ((performance.now() - t0) / done) * (total - done) });
      }
    }
    env.sink.finishRun(runId);
    emit({ kind: 'stage', stage: 'done', message: `run ${runId} complete: ${layers.length} layers` });
    return { runId, layers };
  } catch (e) {
    const cancelled = e instanceof CancelledError;
    try {
      env.sink.failRun(runId, cancelled ? 'cancelled' : oneLine(e));
    } catch (markError) {
      // The original error matters more (e.g. a full disk fails both); say both in one line.
      throw new Error(`${oneLine(e)} (and the run could not be marked incomplete: ${oneLine(markError)})`);
    }
    throw e;
  } finally {
    await session?.release();
  }
}

function checkCancel(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError('cancelled');
}


/** Measures one layer on one input: statistics, every variant, verification and the choice. */
async function profileLayer(
  op: SparseOp,
  inputIndex: number,
  captured: ReferenceCapture,
  model: ReturnType<typeof importOnnx>,
  variants: string[],
  opts: ProfileOptions,
  env: ProfileEnv,
): Promise<{ layer: LayerResult; kernels: KernelText[] }> {
  const base = { index: op.index, name: op.name, op: op.op, input: inputIndex };
  // Some operators only prove unlowerable with real shapes (e.g. a MatMul whose B turns out batched).
  const skipped = checkLowerable(op, captured, model);
  if (skipped) {
    return { layer: { ...base, m: 0, n: 0, k: 0, sparsity: 0, microTiles: [], variants: [], chosen: 'dense', skipped }, kernels: [] };
  }
  const mm = lowerToMatmul(op, captured, model);
  const { m, n, k, a } = mm;
  const microTiles: MicroTileDensity[] = REPORTED_MICRO_TILES.map((shape) => ({ shape, density: microTileDensity(a, m, k, shape) }));
  const specs: VariantSpec[] = defaultVariantSpecs(m, n, k).filter((s) => variants.includes(s.name));
  // fp32 rounding grows with Σ|a||b|, not |C| (which cancellation can make tiny): the tolerance scales with it.
  const errScale = matmulErrorScale(mm.a, mm.b, m, n, k) * Math.abs(mm.alpha ?? 1) + (mm.bias ? Math.max(...Array.from(mm.bias, Math.abs)) : 0);
  const results: VariantResult[] = [];
  const kernels = new Map<string, KernelText>();
  for (const spec of specs) {
    checkCancel(env.signal);
    const computeTile = `${spec.tile.bm}x${spec.tile.bn}x${spec.tile.bk}`;
    try {
      const run = await runVariant(env.gpu, env.cache, mm, spec, { warmup: opts.warmup, repeat: opts.repeat });
      const out = run.output;
      // The kernels compute A·B; the layer's own epilogue (Gemm alpha, bias) is applied here before comparing.
      const alpha = mm.alpha ?? 1;
      if (alpha !== 1 || mm.bias) {
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[i * n + j] = alpha * out[i * n + j]! + (mm.bias ? mm.bias[j]! : 0);
      }
      const cmp = compareOutputs(out, mm.expected, { k, scale: errScale });
      for (const w of run.wgsl) kernels.set(w.hash, { hash: w.hash, label: w.label, wgsl: w.text });
      if (run.microTileDensity !== null && spec.microTile && !microTiles.some((t) => t.shape === spec.microTile)) {
        microTiles.push({ shape: spec.microTile, density: run.microTileDensity });
      }
      results.push({
        name: spec.name,
        microTile: spec.microTile,
        computeTile,
        ms: run.kernelMs,
        detectMs: run.detectMs,
        maxAbsErr: cmp.maxAbsErr,
        maxRelErr: cmp.maxRelErr,
        ok: cmp.ok,
        wgslHash: run.wgsl[run.wgsl.length - 1]!.hash,
        kernelHashes: run.wgsl.map((w) => w.hash),
      } as VariantResult);
    } catch (e) {
      if ((e as Error).name === 'DeviceLostError') throw e;
      results.push({
        name: spec.name,
        microTile: spec.microTile,
        computeTile,
        ms: NaN,
        detectMs: 0,
        maxAbsErr: NaN,
        maxRelErr: NaN,
        ok: false,
        wgslHash: '',
        error: oneLine(e),
      });
    }
  }
  return {
    layer: {
      ...base,
      m,
      n,
      k,
      sparsity: sparsityOf(a),
      microTiles,
      variants: results,
      chosen: chooseFastest(results),
      heatmap: occupancyHeatmap(a, m, k),
    },
    kernels: [...kernels.values()],
  };
}

/**
 * Choice v0: the verified variant with the lowest kernel + detection time; `dense` when nothing verified.
 */
export function chooseFastest(results: VariantResult[]): string {
  let best: VariantResult | undefined;
  for (const r of results) {
    if (!r.ok || !Number.isFinite(r.ms)) continue;
    if (!best || r.ms + r.detectMs < best.ms + best.detectMs) best = r;
  }
  return best?.name ?? 'dense';
}
