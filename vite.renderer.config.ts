// The renderer's Vite config, shared by `npm run build:renderer` (web mode needs only this bundle) and
// electron.vite.config.ts (the desktop app). Relative base: the same files load from file:// in Electron and from
// http://127.0.0.1 in web mode.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig, type UserConfig } from 'vite';

const here = fileURLToPath(new URL('./renderer/', import.meta.url));

/** Options both builds share. */
export const rendererConfig: UserConfig = {
  root: here,
  base: './',
  plugins: [vue()],
  build: {
    outDir: resolve(here, '..', 'out', 'renderer'),
    emptyOutDir: true,
    target: 'chrome120',
    chunkSizeWarningLimit: 2000,
    rolldownOptions: { input: resolve(here, 'index.html') },
  },
};

export default defineConfig(rendererConfig);
