import { defineConfig } from 'vitest/config';

// Unit and integration tests (Node). GPU tests run on whatever adapter dawn.node finds (lavapipe in CI): small
// shapes, generous timeouts because shader compilation on the CPU is slow.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
  },
});
