// An ESLint parser for Vue single-file components without a new dependency: the <script> and <script setup>
// blocks are linted as TypeScript (typescript-eslint's parser) with everything else blanked out, newlines kept,
// so reported lines and columns are the .vue file's own. Templates are not linted here: vue-tsc type-checks them.
import { parse as parseSfc } from 'vue/compiler-sfc';
import tseslint from 'typescript-eslint';

/** Replaces every character but newlines with a space. */
const blank = (s) => s.replace(/[^\n\r]/g, ' ');

export function parseForESLint(code, options = {}) {
  const { descriptor } = parseSfc(code, { filename: options.filePath ?? 'anonymous.vue', sourceMap: false });
  let masked = blank(code);
  for (const block of [descriptor.script, descriptor.scriptSetup]) {
    if (!block) continue;
    const { start, end } = block.loc;
    masked = masked.slice(0, start.offset) + code.slice(start.offset, end.offset) + masked.slice(end.offset);
  }
  return tseslint.parser.parseForESLint(masked, { ...options, sourceType: 'module' });
}

export const meta = { name: 'pit-vue-sfc-script', version: '1.0.0' };
export default { parseForESLint, meta };
