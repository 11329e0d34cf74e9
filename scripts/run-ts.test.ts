/**
 * scripts/run-ts.mjs bundles a TypeScript entry (WGSL imported as text), runs it with the
 * arguments after the entry, passes its exit code on, and with --bundle-only just writes the file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..');
const runner = join(root, 'scripts/run-ts.mjs');
const dir = mkdtempSync(join(tmpdir(), 'rankscope-run-ts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const entry = join(dir, 'entry.ts');
writeFileSync(
  entry,
  `import fill from ${JSON.stringify(join(root, 'shaders/fill.wgsl'))};
const args: string[] = process.argv.slice(2);
console.log(JSON.stringify({ wgsl: fill.includes('@compute'), args }));
process.exit(args.includes('--fail') ? 3 : 0);
`,
);

function run(...args: string[]) {
  return spawnSync(process.execPath, [runner, ...args], { cwd: root, encoding: 'utf8' });
}

describe('scripts/run-ts.mjs', () => {
  it('bundles and runs an entry, forwarding its arguments and exit code', () => {
    const outfile = join(dir, 'out/entry.mjs');
    const ok = run('--outfile', outfile, entry, 'a', '--quick');
    expect(ok.stderr).toBe('');
    expect(JSON.parse(ok.stdout)).toEqual({ wgsl: true, args: ['a', '--quick'] });
    expect(ok.status).toBe(0);
    expect(existsSync(outfile)).toBe(true);
    expect(run('--outfile', outfile, entry, '--fail').status).toBe(3);
  });

  it('--bundle-only writes one self-contained file and prints its path', () => {
    const outfile = join(dir, 'carry/entry.mjs');
    const res = run('--bundle-only', '--no-sourcemap', '--outfile', outfile, entry);
    expect(res.status).toBe(0);
    expect(res.stdout.trim()).toBe(outfile);
    expect(readFileSync(outfile, 'utf8')).toContain('@compute');
    expect(existsSync(`${outfile}.map`)).toBe(false);
  });

  it('explains a missing entry', () => {
    const res = run();
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('no entry file given');
  });
});
