/**
 * Calibration: the L2 norm ‖x_k‖ of every input feature k of every prunable layer over real activations, which
 * Wanda-style importance |w|·‖x‖ needs. The activations come from the reference capture (`core/model/reference.ts`,
 * onnxruntime on the CPU), lowered to the layer's matmul operand A [M, K] (`core/model/lowering.ts`: im2col for Conv,
 * zero padding included), one calibration input at a time so only one input's activations are alive at once.
 */
import type { OnnxModel } from '../model/ir.ts';
import { lowerToMatmul } from '../model/lowering.ts';
import { ReferenceSession, type ReferenceFeeds } from '../model/reference.ts';
import type { PrunableLayer } from './layers.ts';
import { PruneError } from './types.ts';

/** Per layer (by node name): ‖x_k‖ [K] over every row of every calibration input, and the row count. */
export interface CalibrationStats {
  norms: Map<string, Float64Array>;
  /** Rows of A seen per layer (Conv: batch·Ho·Wo per input, summed). */
  rows: Map<string, number>;
  /** Calibration inputs run. */
  inputs: number;
}

/**
 * Runs the model on every calibration input and accumulates Σ_m A[m, k]² per layer.
 *
 * @param feeds calibration inputs, loaded lazily by the caller's iterable (a generator keeps one in memory)
 * @param onInput called after each input with its 0-based position
 * @throws PruneError `no calibration input` when `feeds` is empty; `calibration captured no activation for layer
 *   NAME` when the reference run did not produce a layer's input; InputError / ModelError from the reference run
 */
export async function calibrate(model: OnnxModel, layers: readonly PrunableLayer[], feeds: Iterable<ReferenceFeeds>, onInput?: (i: number) => void): Promise<CalibrationStats> {
  const sums = new Map(layers.map((l) => [l.name, new Float64Array(l.k)]));
  const rows = new Map(layers.map((l) => [l.name, 0]));
  const session = await ReferenceSession.create(model, layers.map((l) => l.op));
  let inputs = 0;
  try {
    for (const feed of feeds) {
      const capture = await session.run(feed);
      for (const layer of layers) {
        const cap = capture.ops.get(layer.op.index);
        if (!cap) throw new PruneError(`calibration captured no activation for layer ${layer.name}`, layer.name);
        const { a, m, k } = lowerToMatmul(layer.op, cap, model);
        if (k !== layer.k) throw new PruneError(`layer ${layer.name}: activation has K = ${k}, its weight K = ${layer.k}`, layer.name);
        const s = sums.get(layer.name)!;
        for (let r = 0; r < m; r++) {
          const o = r * k;
          for (let c = 0; c < k; c++) s[c] += a[o + c] * a[o + c];
        }
        rows.set(layer.name, rows.get(layer.name)! + m);
      }
      onInput?.(inputs);
      inputs++;
    }
  } finally {
    await session.release();
  }
  if (!inputs) throw new PruneError('no calibration input: give at least one with --calibrate');
  const norms = new Map([...sums].map(([name, s]) => [name, s.map(Math.sqrt)]));
  return { norms, rows, inputs };
}
