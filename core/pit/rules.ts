/**
 * PIT rules (DESIGN.md §2–3, PIT §3.2 and §4): for an operator, a permutation-invariant axis, the micro-tile that
 * axis lets a kernel skip, and the computation tile the kernel computes densely. This module enumerates the rules
 * that are *legal* for a layer among the configurations of the registered kernel families (core/kernels/registry.ts);
 * each family decides its own legality, micro-tile, variant name and description.
 *
 * Every operator is first lowered to `C[M,N] = A[M,K]·B[K,N]` with A the dynamically sparse activation
 * (core/model/batched.ts), so axes are in matmul terms: MatMul / Gemm and Conv through im2col (k = Cin·kh·kw, the
 * reduction; m = batch·Ho·Wo pixels; Cout is n); batched layers per batch (attention: per batch·head, where QKᵀ's n
 * is the key axis and AV's k is).
 */
import type { FamilyConfig, RuleAxis } from '../kernels/family.ts';
import { familyOfConfig, tuningConfigs } from '../kernels/registry.ts';
import type { DeviceCaps } from '../kernels/family.ts';
import type { ComputeDtype } from '../protocol.ts';
import type { VariantSpec } from '../kernels/variants.ts';
import type { Shape } from './costmodel.ts';
import { tileName } from '../../shaders/common.wgsl.ts';

export type { RuleAxis } from '../kernels/family.ts';
/** A kernel configuration independent of any layer (see `FamilyConfig`). */
export type RuleConfig = FamilyConfig;

/** A PIT rule for one layer: `{op, axis, microTile, computeTile}` with its variant name and kernel spec. */
export interface PitRule {
  /** Stable id of the configuration, e.g. `pit-k 8x1 @8x64x8/2x4` (see `configId`). */
  id: string;
  /** Unique per layer; what the measurement is stored under (the family's `variantName`). */
  variant: string;
  op: string;
  axis: RuleAxis;
  config: RuleConfig;
  /** The micro-tile the kernel computes in this layer's [M, K] terms (`1xK` resolved), null for dense. */
  microTile: string | null;
  /** What `runVariant` runs. */
  spec: VariantSpec;
  /** One line: operator, axis, micro-tile, computation tile, SRead/SWrite plan. */
  description: string;
}

/**
 * Every configuration tuned by default: the tuning configurations of each family of `dtype` (default f32: a tile
 * database holds one dtype), in registry order, deduplicated. `caps` lets families list what the device runs.
 */
export function spaceConfigs(dtype: ComputeDtype = 'f32', caps?: DeviceCaps): RuleConfig[] {
  const seen = new Set<string>();
  return tuningConfigs(dtype, caps).filter((c) => {
    const id = configId(c);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** Stable id of a configuration: `dense @64x64x16/4x4`, `pit-k 8x1 @8x64x8/2x4`, `pit-m 1xK @32x128x8/4x4`. */
export function configId(c: RuleConfig): string {
  return `${c.family}${c.microTile ? ' ' + c.microTile : ''} @${tileName(c.tile)}`;
}

/**
 * Operators lowered to a (batched) matmul that rules apply to: ConvTranspose through its zero-inserted im2col, batched
 * MatMul (attention QKᵀ / AV) and grouped Conv per batch (core/model/batched.ts).
 */
export const RULE_OPS: readonly string[] = ['MatMul', 'Gemm', 'Conv', 'ConvTranspose'];

/**
 * The legal rules of a (lowered) layer among `configs`, in the order given. Operators other than those in RULE_OPS
 * have no rule (returns []).
 * @param op ONNX operator type of the layer.
 * @param shape the lowered matmul's M, N, K (decides e.g. which `1xW` rules exist).
 * @throws UnknownFamilyError when a configuration names a family that is not registered.
 */
export function rulesFor(op: string, shape: Shape, configs: readonly RuleConfig[] = spaceConfigs()): PitRule[] {
  if (!RULE_OPS.includes(op)) return [];
  const out: PitRule[] = [];
  for (const c of configs) {
    const family = familyOfConfig(c);
    if (family.illegalReason(c, shape)) continue;
    const microTile = family.microTile(c, shape.k);
    out.push({
      id: configId(c),
      variant: family.variantName(c),
      op,
      axis: family.axis,
      config: c,
      microTile,
      spec: { ...c, tile: { ...c.tile } },
      description: family.describe(op, c, shape.k),
    });
  }
  return out;
}
