#!/usr/bin/env node
/**
 * Runs before `npm test` (the `pretest` script): checks the system packages the tests need and
 * stops with one message naming every missing one and the command that installs them, instead of
 * letting a tool fail later with its own error; then installs the npm dependencies when they are
 * missing, as `npm start` does. Plain Node with no dependencies, since it runs before they exist.
 *
 *   node scripts/preflight.mjs            check, then install npm dependencies if needed
 *   node scripts/preflight.mjs --check    only check the system packages
 *
 * RANKSCOPE_SYSTEM_ROOT prefixes every system path (tests point it at an empty folder).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sys = process.env.RANKSCOPE_SYSTEM_ROOT ?? '';
const at = (p) => join(sys || '/', p);

/** Whether a shared library is in one of the usual library folders (Debian's multiarch ones included). */
function hasLibrary(name) {
  for (const base of ['/usr/lib', '/usr/lib64', '/lib', '/lib64']) {
    const dir = at(base);
    if (existsSync(join(dir, name))) return true;
    let subs = [];
    try {
      subs = readdirSync(dir).filter((d) => d.includes('-linux-'));
    } catch {
      continue;
    }
    if (subs.some((d) => existsSync(join(dir, d, name)))) return true;
  }
  return false;
}

/** Debian package → why the tests need it, and how to tell it is there. */
const PACKAGES = [
  {
    name: 'chromium',
    why: 'the browser the end-to-end tests drive, and the SwiftShader Vulkan driver WebGPU falls back to without a GPU',
    present: () => (process.env.CHROME_PATH ? existsSync(process.env.CHROME_PATH) : existsSync(at('/usr/bin/chromium'))),
  },
  { name: 'libvulkan1', why: 'the Vulkan loader that WebGPU under Node (the webgpu package) needs', present: () => hasLibrary('libvulkan.so.1') },
  {
    name: 'dataset-fashion-mnist',
    why: 'Fashion-MNIST, the real image set the tests train on',
    present: () => existsSync(at('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz')),
  },
];

function missingPackages() {
  return PACKAGES.filter((p) => !p.present());
}

const missing = missingPackages();
if (missing.length) {
  const names = missing.map((p) => p.name).join(' ');
  console.error(
    [
      `npm test needs ${missing.length === 1 ? 'a system package that is' : 'system packages that are'} not installed:`,
      ...missing.map((p) => `  - ${p.name}: ${p.why}`),
      '',
      'Install with (Debian, Ubuntu):',
      `  sudo apt-get update && sudo apt-get install -y ${names}`,
      'or run `bash .ci/run`, which installs them and then runs the tests.',
      ...(process.env.CHROME_PATH && missing.some((p) => p.name === 'chromium') ? [`(CHROME_PATH is set to ${process.env.CHROME_PATH}, which does not exist.)`] : []),
    ].join('\n'),
  );
  process.exit(1);
}

if (!process.argv.includes('--check')) {
  // The tools npm test runs; any one missing means the dependencies are not (fully) installed.
  const tools = ['tsc', 'vitest', 'vite', 'playwright'];
  if (tools.some((t) => !existsSync(join(root, 'node_modules', '.bin', t)))) {
    console.log('[pretest] npm dependencies are missing: installing them (npm install)');
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(npm, ['install'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
}
