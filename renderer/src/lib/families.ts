/**
 * Colours of kernel families. Families are data (the host lists them in `host.info`): a family's colour is picked by
 * its index in that list, never by its name, so a family added to the registry gets a colour without a UI change.
 */

/** Colour-blind-safe qualitative palette (Okabe–Ito, darkened where white text or thin lines sit on it). */
export const FAMILY_PALETTE = ['#5f6b77', '#0072b2', '#d55e00', '#009e73', '#cc79a7', '#8a6d00', '#56b4e9', '#7a3e9d'] as const;

/** Colour of family `name` by its index in `families` (names in the host's order); unknown families come after. */
export function familyColour(name: string | null | undefined, families: readonly string[]): string {
  if (!name) return '#aab2bd';
  const i = families.indexOf(name);
  const at = i >= 0 ? i : families.length + (hash(name) % 3);
  return FAMILY_PALETTE[at % FAMILY_PALETTE.length]!;
}

function hash(s: string): number {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h;
}
