// electron-vite: Electron main (+ the host child entry), the preload, and the renderer.
// - main: ESM (package.json "type": "module"); dependencies stay external, so native modules (better-sqlite3,
//   webgpu, onnxruntime-node) load from node_modules with the host's plain Node, not Electron's ABI.
// - preload: one CommonJS file — a sandboxed preload cannot be an ES module.
// - renderer: vite.renderer.config.ts.
import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import type { Plugin } from 'vite';
import { rendererConfig } from './vite.renderer.config.ts';

/**
 * electron-vite adds a CommonJS shim (`const require = createRequire(import.meta.url)`) to every ESM chunk that
 * mentions `require(`. Core modules that make their own module-level `require` the same way then clash after
 * scope hoisting ("Identifier 'require' has already been declared"). Such a chunk brings its own `require`, so
 * the shim's declaration is dropped there.
 */
function dropDuplicateRequireShim(): Plugin {
  const shim = /^const require = __shims_module__\.createRequire\(import\.meta\.url\);$/m;
  return {
    name: 'pit:drop-duplicate-require-shim',
    enforce: 'post',
    renderChunk(code) {
      if (!shim.test(code)) return null;
      const rest = code.replace(shim, '');
      return /^(?:var|let|const) require = /m.test(rest) ? { code: rest, map: null } : null;
    },
  };
}

export default defineConfig({
  main: {
    plugins: [dropDuplicateRequireShim()],
    build: {
      outDir: 'out/main',
      rolldownOptions: {
        input: { index: resolve('main/index.ts'), host: resolve('main/host/main.ts') },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rolldownOptions: {
        input: { preload: resolve('main/preload.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: rendererConfig,
});
