import { defineConfig } from 'vitest/config';
import type { Plugin } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * Imports `*.wgsl` as a string, so kernels live in real .wgsl files and are specialised at run
 * time; `*.py` likewise, so the Python script an export carries is a real, checkable .py file.
 */
function wgslText(): Plugin {
  return {
    name: 'rankscope-wgsl-text',
    transform(code, id) {
      if (!id.endsWith('.wgsl') && !id.endsWith('.py')) return null;
      return { code: `export default ${JSON.stringify(code)};`, map: null };
    },
  };
}

export default defineConfig({
  plugins: [react(), wgslText()],
  worker: { format: 'es', plugins: () => [wgslText()] },
  test: {
    include: ['src/**/*.test.ts', 'bench/**/*.test.ts', 'scripts/**/*.test.ts'],
    environment: 'node',
    // Dawn + SwiftShader already spreads each kernel over every core; parallel test files only thrash.
    fileParallelism: false,
    pool: 'forks',
    // GEMM autotuning off unless a test switches it on (src/engine/tuning tests, the bench's step
    // test): timings would make runs differ in speed and the CLIs would write the user's cache.
    env: { RANKSCOPE_AUTOTUNE: '0' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
