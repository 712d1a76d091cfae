/**
 * A small WGSL highlighter: splits source into tokens a view colours by kind (keywords, types, numbers, comments,
 * attributes, built-in functions). Not a parser: it only has to be right about where tokens start and end, so
 * that joining every token's text gives the source back unchanged.
 */

/** What a token is, for colouring. */
export type WgslTokenKind = 'keyword' | 'type' | 'number' | 'comment' | 'attribute' | 'builtin' | 'ident' | 'punct' | 'space';

/** A slice of the source and its kind. */
export interface WgslToken {
  kind: WgslTokenKind;
  text: string;
}

const KEYWORDS = new Set(
  (
    'alias break case const const_assert continue continuing default diagnostic discard else enable false fn for if ' +
    'let loop override requires return struct switch true var while'
  ).split(' '),
);

const TYPES = new Set(
  (
    'bool f16 f32 i32 u32 vec2 vec3 vec4 mat2x2 mat2x3 mat2x4 mat3x2 mat3x3 mat3x4 mat4x2 mat4x3 mat4x4 array atomic ptr ' +
    'sampler sampler_comparison texture_1d texture_2d texture_2d_array texture_3d texture_cube texture_storage_2d ' +
    'vec2f vec3f vec4f vec2i vec3i vec4i vec2u vec3u vec4u vec2h vec3h vec4h ' +
    'function private workgroup uniform storage read write read_write'
  ).split(' '),
);

const BUILTINS = new Set(
  (
    'abs acos all any arrayLength asin atan atan2 atomicAdd atomicAnd atomicCompareExchangeWeak atomicExchange atomicLoad ' +
    'atomicMax atomicMin atomicOr atomicStore atomicSub atomicXor bitcast ceil clamp cos countOneBits cross degrees ' +
    'distance dot exp exp2 extractBits firstLeadingBit firstTrailingBit floor fma fract frexp insertBits inverseSqrt ' +
    'ldexp length log log2 max min mix modf normalize pow radians reflect round saturate select sign sin smoothstep ' +
    'sqrt step storageBarrier subgroupAdd subgroupBallot subgroupBroadcast tan tanh textureLoad textureStore transpose ' +
    'trunc workgroupBarrier workgroupUniformLoad'
  ).split(' '),
);

/** Numbers: hex (0x…) and decimal literals with exponents and the i/u/f/h suffixes. */
const NUMBER = /^(?:0[xX][0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?(?:[pP][+-]?\d+)?[iufh]?|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[iufh]?)/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*/;
const SPACE = /^\s+/;

/** Splits `src` into tokens; `tokens.map(t => t.text).join('') === src`. */
export function tokenizeWgsl(src: string): WgslToken[] {
  const out: WgslToken[] = [];
  const push = (kind: WgslTokenKind, text: string) => {
    const last = out[out.length - 1];
    // Merging neighbours of the same kind keeps the DOM small for long kernels.
    if (last && last.kind === kind && (kind === 'punct' || kind === 'space')) last.text += text;
    else out.push({ kind, text });
  };
  let i = 0;
  while (i < src.length) {
    const rest = src.slice(i, i + 256);
    if (src.startsWith('//', i)) {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      push('comment', src.slice(i, stop));
      i = stop;
      continue;
    }
    if (src.startsWith('/*', i)) {
      // WGSL block comments nest.
      let depth = 0;
      let j = i;
      while (j < src.length) {
        if (src.startsWith('/*', j)) {
          depth++;
          j += 2;
        } else if (src.startsWith('*/', j)) {
          depth--;
          j += 2;
          if (depth === 0) break;
        } else j++;
      }
      push('comment', src.slice(i, j));
      i = j;
      continue;
    }
    let m = SPACE.exec(rest);
    if (m) {
      push('space', m[0]);
      i += m[0].length;
      continue;
    }
    if (src[i] === '@') {
      const id = IDENT.exec(src.slice(i + 1, i + 257));
      const text = '@' + (id ? id[0] : '');
      push('attribute', text);
      i += text.length;
      continue;
    }
    m = NUMBER.exec(rest);
    if (m && !/[A-Za-z_]/.test(src[i - 1] ?? '')) {
      push('number', m[0]);
      i += m[0].length;
      continue;
    }
    m = IDENT.exec(rest);
    if (m) {
      const w = m[0];
      push(KEYWORDS.has(w) ? 'keyword' : TYPES.has(w) ? 'type' : BUILTINS.has(w) ? 'builtin' : 'ident', w);
      i += w.length;
      continue;
    }
    push('punct', src[i]!);
    i++;
  }
  return out;
}

/** The tokens split into lines (for line numbers); a token spanning lines (a block comment) is split too. */
export function tokenLines(tokens: readonly WgslToken[]): WgslToken[][] {
  const lines: WgslToken[][] = [[]];
  for (const t of tokens) {
    const parts = t.text.split('\n');
    parts.forEach((p, k) => {
      if (k > 0) lines.push([]);
      if (p) lines[lines.length - 1]!.push({ kind: t.kind, text: p });
    });
  }
  return lines;
}
