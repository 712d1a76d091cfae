/**
 * Workgroup memory of a WGSL module, read off its `var<workgroup>` declarations: what the generated text really
 * declares, so a limit check never relies on a second formula that could drift from the template.
 *
 * Sizes follow the WGSL memory layout rules (https://www.w3.org/TR/WGSL/#memory-layouts): `f32`, `u32`, `i32`,
 * `atomic<…>` 4 bytes; `f16` 2; `vecN<T>` N·size(T) with vec3 aligned as vec4; `array<T, n>` n·stride(T). Each
 * variable is then rounded up to 16 bytes, as Dawn (and the WebGPU spec's `maxComputeWorkgroupStorageSize`
 * accounting) does.
 */

const SCALARS: Record<string, number> = { f32: 4, u32: 4, i32: 4, f16: 2, bool: 4 };

/** Byte size and alignment of a WGSL type used in workgroup memory. @throws RangeError on a type it does not know. */
function sizeOf(type: string): { size: number; align: number } {
  const t = type.replace(/\s+/g, '');
  if (SCALARS[t] !== undefined) return { size: SCALARS[t]!, align: SCALARS[t]! };
  let m = /^atomic<(\w+)>$/.exec(t);
  if (m) return { size: 4, align: 4 };
  m = /^vec([234])<(\w+)>$/.exec(t) ?? /^vec([234])([fiuh])$/.exec(t);
  if (m) {
    const scalar = m[2]!.length === 1 ? { f: 'f32', i: 'i32', u: 'u32', h: 'f16' }[m[2]!]! : m[2]!;
    const s = SCALARS[scalar];
    if (s === undefined) throw new RangeError(`workgroup memory: unknown vector element type in ${type}`);
    const n = Number(m[1]);
    const align = (n === 3 ? 4 : n) * s;
    return { size: n * s, align };
  }
  m = /^array<(.+),(\d+)u?>$/.exec(t);
  if (m) {
    const el = sizeOf(m[1]!);
    const stride = Math.ceil(el.size / el.align) * el.align;
    return { size: stride * Number(m[2]), align: el.align };
  }
  throw new RangeError(`workgroup memory: cannot size WGSL type '${type}'`);
}

/**
 * Bytes of workgroup memory `wgsl` declares (each variable rounded up to 16 bytes).
 * @throws RangeError when a declaration's type cannot be sized (e.g. an array sized by an override constant).
 */
export function workgroupBytes(wgsl: string): number {
  let total = 0;
  for (const m of wgsl.matchAll(/var<workgroup>\s+\w+\s*:\s*([^;]+);/g)) {
    total += Math.ceil(sizeOf(m[1]!).size / 16) * 16;
  }
  return total;
}
