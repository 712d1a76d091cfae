// Bundles the `pit` command (main/cli.ts and everything it imports from core/ and db/) into out/cli/pit.mjs, and the
// host process that `pit serve` supervises (main/host/main.ts) into out/cli/host.mjs.
// Packages stay external: native modules (webgpu, better-sqlite3, onnxruntime-node) load from node_modules.
import { build } from 'esbuild';

await build({
  entryPoints: { pit: 'main/cli.ts', host: 'main/host/main.ts' },
  outdir: 'out/cli',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
  banner: { js: "import { createRequire as __pitCreateRequire } from 'node:module'; const require = __pitCreateRequire(import.meta.url);" },
});
