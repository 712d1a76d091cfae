// Lint: TypeScript rules plus the layer map (after VS Code's code-layering rule), checked by machine:
//   core      — PIT itself: no Electron, no DOM, no database, no UI (runs on dawn.node and in a browser worker)
//   db        — SQLite repository: may import core types, nothing of Electron or the UI
//   main      — Electron main, preload, host, CLI: may import core and db
//   renderer  — the Vue app: may import only *types* from core/protocol.ts, nothing of Node
import tseslint from 'typescript-eslint';
import vueSfcParser from './scripts/eslint-vue-sfc-parser.mjs';

const nodeOnly = ['electron', 'better-sqlite3', 'webgpu', 'onnxruntime-node', 'node:*', 'fs', 'path', 'child_process'];

export default tseslint.config(
  { ignores: ['.scratch/**', 'node_modules/**', 'out/**', 'dist/**', '.gpu/**', 'bench/results/**', 'test-results/**', '**/*.d.ts'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['core/**/*.ts', 'shaders/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'electron', message: 'core/ runs outside Electron: no Electron imports.' },
            { name: 'vue', message: 'core/ has no UI.' },
            { name: 'better-sqlite3', message: 'core/ does not touch the database: db/ does.' },
          ],
          patterns: [
            { group: ['**/db/*', '**/main/*', '**/renderer/*'], message: 'core/ imports only core/ and shaders/.' },
          ],
        },
      ],
      'no-restricted-globals': ['error', 'window', 'document', 'localStorage', 'navigator'],
    },
  },
  {
    files: ['db/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'db/ runs in the host, not in Electron.' }],
          patterns: [{ group: ['**/main/*', '**/renderer/*', '**/core/gpu/*', '**/core/kernels/*'], message: 'db/ stores; it does not run kernels or UI.' }],
        },
      ],
    },
  },
  {
    // Vue SFCs: their <script> blocks as TypeScript. Names used only in the template look unused from here;
    // vue-tsc (noUnusedLocals, templates included) reports the really unused ones.
    files: ['**/*.vue'],
    languageOptions: { parser: vueSfcParser },
    rules: { '@typescript-eslint/no-unused-vars': 'off' },
  },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.vue'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeOnly.filter((n) => !n.includes('*')).map((name) => ({ name, message: 'the renderer runs in a sandboxed page: no Node modules.' })),
          patterns: [
            { group: ['node:*'], message: 'the renderer runs in a sandboxed page: no Node modules.' },
            { group: ['**/core/**', '!**/core/protocol', '!**/core/protocol.ts'], message: 'the renderer imports only core/protocol.ts.' },
            { group: ['**/core/protocol', '**/core/protocol.ts'], allowTypeImports: true, message: 'the renderer imports only types from core/protocol.ts.' },
            { group: ['**/db/**', '**/main/**'], message: 'the renderer talks to the host over RPC only.' },
          ],
        },
      ],
    },
  },
);
