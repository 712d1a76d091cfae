// Bundles the bench (bench/index.ts and what it imports from core/ and shaders/) into ONE ES module,
// out/bench/index.mjs, with `webgpu` external (dawn.node travels separately in .gpu/, see ../shared/gpu/README.md).
// The git commit (with +dirty when the tree has changes) is baked in, since the GPU machine gets no .git.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';

function git(args) {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}
const head = git(['rev-parse', 'HEAD']) || 'unknown';
const dirty = git(['status', '--porcelain']) ? '+dirty' : '';

await build({
  entryPoints: { index: 'bench/index.ts' },
  outdir: 'out/bench',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu'],
  define: { __PIT_COMMIT__: JSON.stringify(head + dirty) },
  logLevel: 'warning',
  banner: { js: "import { createRequire as __pitCreateRequire } from 'node:module'; const require = __pitCreateRequire(import.meta.url);" },
});
console.log(`bench: built out/bench/index.mjs (commit ${head}${dirty})`);
