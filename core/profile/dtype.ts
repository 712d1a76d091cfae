/**
 * The operand dtype of a profile run (issue 11, `pit profile --dtype f16|f32`): which families stand for the
 * requested ones, the baseline, and what the verification compares with. An f16 run rounds each layer's A and B to
 * f16 (what the f16 kernels compute with) and verifies against the float64 reference of the rounded operands with
 * the fp32 summation bound (core/kernels/f16.ts explains why f16 inputs with f32 accumulation need no looser bound).
 */
import { f16Overflow, roundToF16 } from '../kernels/f16.ts';
import type { KernelFamily } from '../kernels/family.ts';
import { baselineFamily, familyForDtype, familyOf, UnknownFamilyError } from '../kernels/registry.ts';
import type { OnnxModel } from '../model/ir.ts';
import type { AdapterDescriptor, ComputeDtype } from '../protocol.ts';

/** ONNX `TensorProto.DataType` of float16. */
const FLOAT16 = 10;
/** ONNX float32. */
const FLOAT = 1;

/**
 * The model's weight dtype: `f16` when most of the elements of its floating-point initializers are float16 (an fp16
 * export), else `f32` (TF.js float16-quantised weights are dequantised to float32 and count as f32).
 */
export function modelWeightDtype(model: Pick<OnnxModel, 'constants'>): ComputeDtype {
  let f16 = 0;
  let f32 = 0;
  for (const t of model.constants.values()) {
    if (t.source !== 'initializer') continue;
    if (t.elemType === FLOAT16) f16 += t.data.length;
    else if (t.elemType === FLOAT) f32 += t.data.length;
  }
  return f16 > f32 ? 'f16' : 'f32';
}

/**
 * Families of a run of `dtype`: the counterparts of the requested ones, the baseline first, and the requested ones
 * with no counterpart in `dtype` (`without`: e.g. pit-n or the static weight-pattern families in f16; not measured).
 * @throws UnknownFamilyError on an unknown name.
 */
export function familiesForDtype(requested: readonly string[], dtype: ComputeDtype): { baseline: KernelFamily; families: string[]; without: string[] } {
  const baseline = baselineFamily(dtype);
  const names: string[] = [];
  const without: string[] = [];
  for (const f of requested) {
    familyOf(f);
    let g: KernelFamily;
    try {
      g = familyForDtype(f, dtype);
    } catch (e) {
      if (!(e instanceof UnknownFamilyError)) throw e;
      without.push(f);
      continue;
    }
    if (!names.includes(g.name)) names.push(g.name);
  }
  return { baseline, families: names.includes(baseline.name) ? names : [baseline.name, ...names], without };
}

/**
 * Why a run of `dtype` cannot run on `adapter` (one line), or null. f16 needs `shader-f16` (on NVIDIA's Vulkan driver
 * Dawn exposes it only with the toggle `vulkan_enable_f16_on_nvidia`, which node-gpu.ts sets).
 */
export function dtypeUnsupported(dtype: ComputeDtype, adapter: AdapterDescriptor): string | null {
  if (dtype === 'f16' && !adapter.shaderF16) {
    return `--dtype f16 needs the WebGPU feature 'shader-f16', which this adapter (${[adapter.vendor, adapter.device, adapter.description].filter(Boolean).join(' / ')}) does not expose`;
  }
  return null;
}

/** A layer's operands rounded to f16 (what the f16 kernels read) and how many elements overflowed to ±Inf. */
export interface F16Operands {
  a: Float32Array;
  b: Float32Array;
  /** Elements of A or B beyond the f16 range (they become ±Inf in f16): the layer's f16 result is not meaningful. */
  overflow: number;
}

/**
 * A and B (f32 values, any shape) rounded to nearest-even f16 and held as f32: the operands an f16 run computes with
 * and verifies against (the float64 product of these, core/profile/layer-problem.ts).
 */
export function roundOperandsToF16(a: Float32Array, b: Float32Array): F16Operands {
  return { a: roundToF16(a), b: roundToF16(b), overflow: f16Overflow(a).overflow + f16Overflow(b).overflow };
}
