import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('io entry point for the page', () => {
  it('bundles for the browser without Node built-ins or the Node-only modules', async () => {
    const result = await build({
      entryPoints: [new URL('./index.ts', import.meta.url).pathname],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      loader: { '.wgsl': 'text', '.py': 'text' },
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((f) => /nodeFolder|nodeBlobCache|decodeNode|pngjs|jpeg-js|src\/io\/node\.ts/.test(f))).toEqual([]);
    const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
    expect(imports.filter((p) => p.startsWith('node:') || ['fs', 'path', 'os', 'zlib', 'stream'].includes(p))).toEqual([]);
  });
});
