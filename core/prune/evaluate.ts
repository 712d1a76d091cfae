/**
 * Runs a model (the unpruned one, or pruned bytes) with onnxruntime on evaluation inputs and compares the first
 * graph output (`agreement.ts`). Used by `pit prune --evaluate` and `scripts/prune-quality.ts`.
 */
import type { OnnxModel } from '../model/ir.ts';
import { importOnnxBytes } from '../model/onnx-import.ts';
import { ReferenceSession, type ReferenceFeeds } from '../model/reference.ts';
import { DB_THRESHOLD, mapAgreement, pooledIoU, type MapAgreement } from './agreement.ts';

/**
 * The first graph output of `model` on every feed.
 *
 * @throws InputError / ModelError from the reference run
 */
export async function firstOutputs(model: OnnxModel, feeds: Iterable<ReferenceFeeds>): Promise<Float32Array[]> {
  const session = await ReferenceSession.create(model, []);
  const outs: Float32Array[] = [];
  try {
    for (const f of feeds) outs.push((await session.run(f)).outputs[0].data);
  } finally {
    await session.release();
  }
  return outs;
}

/** Agreement per evaluation input and pooled. */
export interface AgreementReport {
  /** Which output was compared (the first graph output). */
  output: string;
  perInput: (MapAgreement & { input: string })[];
  /** Σ intersection / Σ union over the inputs (null when no input has a positive in either map). */
  pooledIoU: number | null;
}

/**
 * Compares a pruned model with the reference outputs.
 *
 * @param reference outputs of the unpruned model (`firstOutputs`), one per feed, same order
 * @param labels input names for the report, one per feed
 */
export async function agreementWith(pruned: Uint8Array, reference: readonly Float32Array[], feeds: Iterable<ReferenceFeeds>, labels: readonly string[], threshold = DB_THRESHOLD): Promise<AgreementReport> {
  const model = importOnnxBytes(pruned, '<pruned model>');
  const outs = await firstOutputs(model, feeds);
  const perInput = outs.map((o, i) => ({ input: labels[i], ...mapAgreement(reference[i], o, threshold) }));
  return { output: model.outputs[0]?.name ?? '', perInput, pooledIoU: pooledIoU(perInput) };
}
