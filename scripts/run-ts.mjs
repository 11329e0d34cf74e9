#!/usr/bin/env node
/**
 * Runs a TypeScript entry point under Node: bundles it with esbuild into one ES module
 * (WGSL imported as text, as the Vite plugin does), caches it, and runs it with the given arguments.
 *
 *   node scripts/run-ts.mjs [runner options] <entry.ts> [arguments for the entry...]
 *
 * Runner options (only before the entry):
 *   --outfile PATH    write the bundle here instead of node_modules/.cache/rankscope/
 *   --bundle-only     write the bundle and print its path, do not run it (to carry one file elsewhere)
 *   --external NAME   leave another package unbundled (repeatable); `webgpu` and the build tools always are
 *   --no-sourcemap    no .map file beside the bundle
 *
 * The bundle imports the packages left external (above all `webgpu`, whose dawn.node is native) from a
 * node_modules folder above where it lies, so a carried bundle needs `node_modules/webgpu` beside it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { constants } from 'node:os';
import { basename, dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Packages never bundled: native addons (webgpu's dawn.node, sharp's libvips) and build or test tooling that must not end up inside a bundle. */
const ALWAYS_EXTERNAL = ['webgpu', 'sharp', 'esbuild', 'vite', 'vitest', 'playwright-core', '@playwright/test', 'fsevents', 'lightningcss'];

function usage(message) {
  if (message) console.error(`run-ts: ${message}`);
  console.error('usage: node scripts/run-ts.mjs [--outfile PATH] [--bundle-only] [--external NAME] [--no-sourcemap] <entry.ts> [args...]');
  process.exit(2);
}

function parse(argv) {
  const opts = { outfile: undefined, bundleOnly: false, external: [...ALWAYS_EXTERNAL], sourcemap: true, entry: undefined, rest: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--outfile') opts.outfile = argv[++i] ?? usage('--outfile needs a path');
    else if (a === '--bundle-only') opts.bundleOnly = true;
    else if (a === '--external') opts.external.push(argv[++i] ?? usage('--external needs a package name'));
    else if (a === '--no-sourcemap') opts.sourcemap = false;
    else if (a === '--help' || a === '-h') usage();
    else if (a.startsWith('--')) usage(`unknown runner option ${a} (options for the entry go after the entry file)`);
    else break;
  }
  opts.entry = argv[i] ?? usage('no entry file given');
  opts.rest = argv.slice(i + 1);
  return opts;
}

async function bundle(opts) {
  const entry = resolve(opts.entry);
  const name = relative(root, entry).replace(/\.[cm]?tsx?$/, '').replace(/[\\/]/g, '_').replace(/^[._]+/, '');
  const outfile = resolve(opts.outfile ?? resolve(root, 'node_modules/.cache/rankscope', `${name || basename(entry)}.mjs`));
  mkdirSync(dirname(outfile), { recursive: true });
  const esbuild = await import('esbuild');
  try {
    await esbuild.build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: `node${process.versions.node.split('.')[0]}`,
      loader: { '.wgsl': 'text', '.py': 'text' },
      external: opts.external,
      sourcemap: opts.sourcemap ? 'linked' : false,
      absWorkingDir: root,
      logLevel: 'warning',
      // Bundled CommonJS packages call require() for Node built-ins and for the externals above.
      banner: { js: "import { createRequire as __rankscopeCreateRequire } from 'node:module';\nconst require = __rankscopeCreateRequire(import.meta.url);" },
    });
  } catch {
    // esbuild has already printed the errors with file and line.
    console.error(`run-ts: could not bundle ${relative(process.cwd(), entry)}`);
    process.exit(1);
  }
  return outfile;
}

const opts = parse(process.argv.slice(2));
const outfile = await bundle(opts);
if (opts.bundleOnly) {
  console.log(outfile);
} else {
  const child = spawn(process.execPath, [...(opts.sourcemap ? ['--enable-source-maps'] : []), outfile, ...opts.rest], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    process.exit(signal ? 128 + (constants.signals[signal] ?? 1) : (code ?? 1));
  });
}
