/**
 * Where a lowering finds a captured op's operands: its captured tensors (from `reference.ts`) or the model's constants.
 * Shared by the 2-D (`lowering.ts`) and batched (`batched.ts`) lowerings.
 */
import { ModelError } from './errors.ts';
import type { ConstTensor, NamedTensor, OnnxModel, TensorData } from './ir.ts';
import type { CapturedOp, ReferenceCapture } from './reference.ts';
import type { SparseOp } from './sparse-ops.ts';

/**
 * Name of the constant that holds, per output channel, the magnitude at which the reference runtime rounds a layer's
 * bias when our import folded something into it that the runtime computes unfused (a BatchNormalization after a TF.js
 * conv: the runtime rounds at |b·s|, |mean·s| and |beta|, which can be far larger than the folded bias
 * beta − mean·s + b·s). Verification tolerances use it in place of |bias| (core/profile/layer-problem.ts).
 */
export function biasErrorScaleName(biasName: string): string {
  return `${biasName}#runtime-error-scale`;
}

/** Constants of a model, or the map itself. */
export type Constants = OnnxModel | ReadonlyMap<string, ConstTensor>;

/** The constants map of `c`. */
export function constantsOf(c: Constants): ReadonlyMap<string, ConstTensor> {
  return 'constants' in c && c.constants instanceof Map ? c.constants : (c as ReadonlyMap<string, ConstTensor>);
}

/**
 * The captured tensors of `op`.
 *
 * @param captured one op's capture, or a whole reference capture (looked up by `op.index`)
 * @throws ModelError `NAME: not lowerable: REASON` for an unsupported op (never captured); `NAME: no captured
 *   tensors …` when the capture lacks it
 */
export function capturedOf(op: SparseOp, captured: CapturedOp | ReferenceCapture): CapturedOp {
  // Unsupported ops are never captured: say why they are not lowerable rather than that they are missing.
  if (!op.supported) throw new ModelError(`${op.name}: not lowerable: ${op.reason ?? 'unsupported'}`, { node: op.name });
  if ('ops' in captured) {
    const c = captured.ops.get(op.index);
    if (!c) throw new ModelError(`${op.name}: no captured tensors (was the op passed to the reference run?)`, { node: op.name });
    return c;
  }
  return captured;
}

/** B / bias tensor: the model constant, else the captured value; undefined when neither exists. */
export function operand(name: string, constants: ReadonlyMap<string, ConstTensor>, captured?: NamedTensor): TensorData | undefined {
  const c = constants.get(name);
  if (c) return { dims: c.dims, data: c.data };
  return captured;
}
