/**
 * The one place kernel families are registered (DESIGN.md §4). Everything else — the profile job, rule enumeration,
 * the tuner and cost model, the export, the database and the UI (through the host) — loops over `FAMILIES` or looks
 * a family up by name. Adding a family is one WGSL template, one module implementing `KernelFamily`, one line here,
 * and its tests.
 */
import { bcsrFamily } from './bcsr.ts';
import { bcsrWFamily } from './bcsr-w.ts';
import { denseFamily } from './dense.ts';
import { denseF16Family } from './dense-f16.ts';
import { directFamily } from './direct.ts';
import type { DeviceCaps, FamilyConfig, KernelFamily } from './family.ts';
import { hinmFamily } from './hinm.ts';
import { nmFamily } from './nm.ts';
import { pitKFamily } from './pit-k.ts';
import { pitKF16Family } from './pit-k-f16.ts';
import { pitMFamily } from './pit-m.ts';
import { pitMF16Family } from './pit-m-f16.ts';
import { pitMSeqlenFamily } from './pit-m-seqlen.ts';
import { pitNFamily } from './pit-n.ts';
import { tileWiseFamily } from './tile-wise.ts';
import type { ComputeDtype, FamilyInfo } from '../protocol.ts';

/**
 * Every family, dense ones first (the baselines: tiles, and the direct kernel of grouped/depthwise convs), in report
 * order: PIT's rules over the activations (pit-n over B where B is an activation; pit-m-seqlen: condense-M from known
 * sequence lengths) and the block-sparse baseline, then the static weight-pattern families (`sparseOperand: 'b'`), then
 * the f16 counterparts of dense, pit-k and pit-m (issue 11; measured only by runs of dtype f16, `defaultOn: false`).
 */
export const FAMILIES: readonly KernelFamily[] = [
  denseFamily,
  directFamily,
  pitKFamily,
  pitMFamily,
  pitNFamily,
  pitMSeqlenFamily,
  bcsrFamily,
  tileWiseFamily,
  nmFamily,
  hinmFamily,
  bcsrWFamily,
  denseF16Family,
  pitKF16Family,
  pitMF16Family,
];

/**
 * The baseline family of fp32 runs: its default tile is every layer's default dense variant, and it has a candidate on every
 * layer. The layer's baseline is the fastest verified configuration of any dense family (`isDenseFamily`).
 */
export const BASELINE_FAMILY: KernelFamily = denseFamily;

/** The operand dtype of a family (`f32` unless it says otherwise). */
export function dtypeOf(f: KernelFamily): ComputeDtype {
  return f.dtype ?? 'f32';
}

/** The baseline family of runs of `dtype`: the dense family of that dtype (`dense`, `dense-f16`). */
export function baselineFamily(dtype: ComputeDtype = 'f32'): KernelFamily {
  if (dtype === 'f32') return BASELINE_FAMILY;
  const f = FAMILIES.find((x) => dtypeOf(x) === dtype && x.counterpartOf === BASELINE_FAMILY.name);
  if (!f) throw new UnknownFamilyError(`no dense family computes in ${dtype}`);
  return f;
}

/** Whether `name` is the baseline family of some dtype (its tiles are a layer's dense baseline candidates). */
export function isBaselineFamily(name: string): boolean {
  return FAMILIES.some((f) => f.name === name && (f === BASELINE_FAMILY || f.counterpartOf === BASELINE_FAMILY.name));
}

/**
 * The family of dtype `dtype` standing for `name` (a family of any dtype): itself when it has that dtype, else its
 * counterpart (`pit-k` in f16 is `pit-k-f16`; `pit-k-f16` in f32 is `pit-k`).
 * @throws UnknownFamilyError when `name` is unknown or has no counterpart in `dtype`.
 */
export function familyForDtype(name: string, dtype: ComputeDtype): KernelFamily {
  const f = familyOf(name);
  if (dtypeOf(f) === dtype) return f;
  const base = f.counterpartOf ?? f.name;
  const g = FAMILIES.find((x) => dtypeOf(x) === dtype && (x.counterpartOf ?? x.name) === base);
  if (!g) throw new UnknownFamilyError(`kernel family '${name}' has no ${dtype} counterpart`);
  return g;
}

/**
 * Whether a family is a dense baseline candidate (it skips nothing: axis `none`): dense, and the direct kernel of
 * grouped/depthwise layers. Every dense family with configurations for a layer is measured on it.
 */
export function isDenseFamily(f: KernelFamily): boolean {
  return f.axis === 'none';
}

/** The names of every family, in report order. */
export function familyNames(): string[] {
  return FAMILIES.map((f) => f.name);
}

/** Unknown family name (a stored run or request naming a family this build does not have). */
export class UnknownFamilyError extends RangeError {
  override name = 'UnknownFamilyError';
}

/** The family named `name`. @throws UnknownFamilyError naming the known families. */
export function familyOf(name: string): KernelFamily {
  const f = FAMILIES.find((x) => x.name === name);
  if (!f) throw new UnknownFamilyError(`unknown kernel family '${name}' (known: ${familyNames().join(', ')})`);
  return f;
}

/** The family of a configuration. @throws UnknownFamilyError. */
export function familyOfConfig(c: FamilyConfig): KernelFamily {
  return familyOf(c.family);
}

/**
 * The family of a stored variant name (`pit-k 8x1` → pit-k): the longest registered name that the variant name
 * equals or starts with followed by a space. @throws UnknownFamilyError.
 */
export function familyOfVariant(variant: string): KernelFamily {
  const f = [...FAMILIES].sort((a, b) => b.name.length - a.name.length).find((x) => variant === x.name || variant.startsWith(`${x.name} `));
  if (!f) throw new UnknownFamilyError(`variant '${variant}' belongs to no known kernel family (known: ${familyNames().join(', ')})`);
  return f;
}

/** Every program role a kernel set may contain: each family's name and its helper roles. */
export function programRoles(): string[] {
  return [...new Set(FAMILIES.flatMap((f) => [f.name, ...f.helperRoles]))];
}

/**
 * Every tuning configuration of the families of `dtype` (default f32), in registry order: the space of a tile
 * database of that dtype. `caps` lets a family list what this device runs (f16 tensor-core tiles).
 */
export function tuningConfigs(dtype: ComputeDtype = 'f32', caps?: DeviceCaps): FamilyConfig[] {
  return FAMILIES.filter((f) => dtypeOf(f) === dtype).flatMap((f) => f.tuningConfigs(caps));
}

/** The registered families as clients see them (`host.info`, `models.default`, `pit profile --help`). */
export function familyInfos(): FamilyInfo[] {
  return FAMILIES.map((f) => ({
    name: f.name,
    axis: f.axis,
    summary: f.summary,
    defaultOn: f.defaultOn,
    baseline: f === BASELINE_FAMILY,
    operand: f.operand ?? 'a',
    ...(f.dtype && f.dtype !== 'f32' ? { dtype: f.dtype } : {}),
  }));
}
