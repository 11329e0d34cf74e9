/**
 * `npm test` from a fresh clone: the pretest step names every missing system package in one
 * message with the command that installs them, and installs npm dependencies when they are
 * missing. Missing packages are simulated with RANKSCOPE_SYSTEM_ROOT (a folder standing in for /).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const script = join(__dirname, 'preflight.mjs');
const tmp = mkdtempSync(join(tmpdir(), 'rankscope-preflight-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string | undefined>, file = script) {
  const { CHROME_PATH: _c, ...rest } = process.env;
  return spawnSync(process.execPath, [file, ...args], { encoding: 'utf8', env: { ...rest, ...env } });
}

function touch(path: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, '');
}

describe('npm test preflight', () => {
  it('names every missing package once, with the apt command, and fails', () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    const r = run(['--check'], { RANKSCOPE_SYSTEM_ROOT: empty });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^npm test needs system packages that are not installed:\n {2}- chromium: .+\n {2}- libvulkan1: .+\n {2}- dataset-fashion-mnist: .+\n/);
    expect(r.stderr.match(/apt-get install/g)).toHaveLength(1);
    expect(r.stderr).toContain('sudo apt-get update && sudo apt-get install -y chromium libvulkan1 dataset-fashion-mnist');
  });

  it('names only what is missing: a multiarch libvulkan and the data set count as installed', () => {
    const some = join(tmp, 'some');
    touch(join(some, 'usr/lib/aarch64-linux-gnu/libvulkan.so.1'));
    touch(join(some, 'usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz'));
    const r = run(['--check'], { RANKSCOPE_SYSTEM_ROOT: some });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('npm test needs a system package that is not installed:\n  - chromium:');
    expect(r.stderr).toContain('apt-get install -y chromium\n');
    expect(r.stderr).not.toContain('libvulkan1:');
    touch(join(some, 'usr/bin/chromium'));
    expect(run(['--check'], { RANKSCOPE_SYSTEM_ROOT: some }).status).toBe(0);
    // CHROME_PATH replaces /usr/bin/chromium, and must exist.
    const chrome = run(['--check'], { RANKSCOPE_SYSTEM_ROOT: some, CHROME_PATH: join(tmp, 'no-such-chrome') });
    expect(chrome.status).toBe(1);
    expect(chrome.stderr).toContain('CHROME_PATH is set to');
  });

  it('passes on this machine, where .ci/run installed the packages', () => {
    const r = run(['--check'], {});
    expect(r.status, r.stderr).toBe(0);
  });

  it('installs npm dependencies when the tools are missing', () => {
    // A project of its own, with no dependencies: the step sees no tsc and runs npm install.
    const project = join(tmp, 'project');
    mkdirSync(join(project, 'scripts'), { recursive: true });
    copyFileSync(script, join(project, 'scripts', 'preflight.mjs'));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'preflight-check', version: '1.0.0', private: true }));
    const r = run([], {}, join(project, 'scripts', 'preflight.mjs'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('[pretest] npm dependencies are missing: installing them (npm install)');
    expect(existsSync(join(project, 'package-lock.json'))).toBe(true);
  });
});
