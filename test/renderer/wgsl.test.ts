/** The WGSL highlighter: lossless tokens of the right kinds. */
import { describe, expect, it } from 'vitest';
import { tokenizeWgsl, tokenLines } from '../../renderer/src/lib/wgsl.ts';

const SRC = `// dense tile 64x64
/* outer /* nested */ still comment */
@group(0) @binding(1) var<storage, read_write> C: array<f32>;
const BM = 64u;
override scale: f32 = 1.5e-3f;
@compute @workgroup_size(16, 16, 1)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let x = max(0x1Fu, 2i);
  workgroupBarrier();
}`;

describe('tokenizeWgsl', () => {
  const tokens = tokenizeWgsl(SRC);
  const kinds = (text: string) => tokens.filter((t) => t.text === text).map((t) => t.kind);

  it('is lossless', () => {
    expect(tokens.map((t) => t.text).join('')).toBe(SRC);
  });

  it('classifies keywords, types, numbers, attributes, built-ins and comments', () => {
    expect(kinds('fn')).toEqual(['keyword']);
    expect(kinds('let')).toEqual(['keyword']);
    expect(kinds('override')).toEqual(['keyword']);
    expect(kinds('f32')).toEqual(['type', 'type']);
    expect(kinds('vec3u')).toEqual(['type']);
    expect(kinds('read_write')).toEqual(['type']);
    expect(kinds('64u')).toEqual(['number']);
    expect(kinds('1.5e-3f')).toEqual(['number']);
    expect(kinds('0x1Fu')).toEqual(['number']);
    expect(kinds('2i')).toEqual(['number']);
    expect(kinds('@workgroup_size')).toEqual(['attribute']);
    expect(kinds('max')).toEqual(['builtin']);
    expect(kinds('workgroupBarrier')).toEqual(['builtin']);
    expect(kinds('BM')).toEqual(['ident']);
    expect(tokens[0]).toEqual({ kind: 'comment', text: '// dense tile 64x64' });
    expect(tokens.find((t) => t.text.startsWith('/*'))!.text).toBe('/* outer /* nested */ still comment */');
  });

  it('does not read digits inside identifiers as numbers', () => {
    expect(tokenizeWgsl('vec4f x2').filter((t) => t.kind === 'number')).toEqual([]);
  });
});

describe('tokenLines', () => {
  it('splits into lines, block comments included', () => {
    const lines = tokenLines(tokenizeWgsl('a /* x\ny */ b\nc'));
    expect(lines.map((l) => l.map((t) => t.text).join(''))).toEqual(['a /* x', 'y */ b', 'c']);
    expect(lines[1]![0]).toEqual({ kind: 'comment', text: 'y */' });
  });
});
