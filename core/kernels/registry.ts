/**
 * The one place kernel families are registered (DESIGN.md §4). Everything else — the profile job, rule enumeration,
 * the tuner and cost model, the export, the database and the UI (through the host) — loops over `FAMILIES` or looks
 * a family up by name. Adding a family is one WGSL template, one module implementing `KernelFamily`, one line here,
 * and its tests.
 */
import { bcsrFamily } from './bcsr.ts';
import { bcsrWFamily } from './bcsr-w.ts';
import { denseFamily } from './dense.ts';
import { directFamily } from './direct.ts';
import type { FamilyConfig, KernelFamily } from './family.ts';
import { hinmFamily } from './hinm.ts';
import { nmFamily } from './nm.ts';
import { pitKFamily } from './pit-k.ts';
import { pitMFamily } from './pit-m.ts';
import { pitMSeqlenFamily } from './pit-m-seqlen.ts';
import { pitNFamily } from './pit-n.ts';
import { tileWiseFamily } from './tile-wise.ts';
import type { FamilyInfo } from '../protocol.ts';

/**
 * Every family, dense ones first (the baselines: tiles, and the direct kernel of grouped/depthwise convs), in report
 * order: PIT's rules over the activations (pit-n over B where B is an activation; pit-m-seqlen: condense-M from known
 * sequence lengths) and the block-sparse baseline, then the static weight-pattern families (`sparseOperand: 'b'`).
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
];

/**
 * The baseline family: its default tile is every layer's default dense variant, and it has a candidate on every
 * layer. The layer's baseline is the fastest verified configuration of any dense family (`isDenseFamily`).
 */
export const BASELINE_FAMILY: KernelFamily = denseFamily;

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

/** Every tuning configuration of every family, in registry order (the tile database's space). */
export function tuningConfigs(): FamilyConfig[] {
  return FAMILIES.flatMap((f) => f.tuningConfigs());
}

/** The registered families as clients see them (`host.info`, `models.default`, `pit profile --help`). */
export function familyInfos(): FamilyInfo[] {
  return FAMILIES.map((f) => ({ name: f.name, axis: f.axis, summary: f.summary, defaultOn: f.defaultOn, baseline: f === BASELINE_FAMILY, operand: f.operand ?? 'a' }));
}
