/**
 * Format-agnostic reference capture (DESIGN.md §5 step 2): the runtime that matches the model's format runs it —
 * onnxruntime for ONNX (`reference.ts`), TF.js for TF.js layers models (`tfjs-reference.ts`) — and both return the
 * same `ReferenceCapture` (per sparse op: activation input and output, NCHW for convolutions), which the lowering
 * reads without knowing where it came from.
 */
import type { OnnxModel } from './ir.ts';
import { ReferenceSession, type ReferenceCapture, type ReferenceFeeds, type ReferenceOptions } from './reference.ts';
import type { SparseOp } from './sparse-ops.ts';
import { isTfjsModel } from './tfjs-import.ts';
import type { TfjsReferenceOptions } from './tfjs-reference.ts';

/** A reference session of either runtime: `run` per input, `release` once. */
export interface ReferenceRunner {
  /** The runtime, for messages: `onnxruntime` or `TF.js wasm`. */
  readonly runtime: string;
  /**
   * Runs the model on one input and captures every supported op's tensors.
   * @throws InputError / ModelError as the runtime's session (`ReferenceSession.run`, `TfjsReferenceSession.run`)
   */
  run(feeds: ReferenceFeeds): Promise<ReferenceCapture>;
  /** Frees the runtime's session. */
  release(): Promise<void>;
}

/** Options of either runtime. */
export type CaptureOptions = ReferenceOptions & TfjsReferenceOptions;

/**
 * Creates the reference session for the model's format.
 *
 * @param model imported model (`importModel`)
 * @param ops ops to capture (unsupported ones are ignored)
 * @throws ModelError when the runtime rejects the model
 */
export async function createReferenceSession(model: OnnxModel, ops: readonly SparseOp[], options: CaptureOptions = {}): Promise<ReferenceRunner> {
  if (isTfjsModel(model)) {
    // Loaded only for TF.js models: ONNX jobs never load TF.js.
    const { TfjsReferenceSession } = await import('./tfjs-reference.ts');
    return TfjsReferenceSession.create(model, ops, options);
  }
  const s = await ReferenceSession.create(model, ops, options);
  return { runtime: 'onnxruntime', run: (feeds) => s.run(feeds), release: () => s.release() };
}

/**
 * One-shot capture with the model's runtime: create, run once, release.
 *
 * @throws InputError / ModelError as `createReferenceSession` and `run`
 */
export async function captureModel(model: OnnxModel, ops: readonly SparseOp[], feeds: ReferenceFeeds, options?: CaptureOptions): Promise<ReferenceCapture> {
  const s = await createReferenceSession(model, ops, options);
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}
