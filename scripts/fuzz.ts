/**
 * Soak fuzzing: `npm run fuzz -- --minutes N [--only NAME]` runs every parser target of
 * src/io/fuzz (and the run-file target beside its parser in src/ui/runs) with fresh seeds, round after round, until the time is up, then prints a JSON line
 * and a table of cases and failures per target. Exits 1 when anything failed.
 */
import { fuzzTarget, type FuzzReport } from '../src/io/fuzz/runFuzz';
import { fuzzTargets } from '../src/io/fuzz/targets';
import { runFileFuzzTarget } from '../src/ui/runs/runFile.fuzz';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const minutes = Number(flag('--minutes') ?? 1);
if (!(minutes > 0)) {
  console.error('usage: npm run fuzz -- --minutes N [--only NAME]');
  process.exit(2);
}
const only = flag('--only');
const targets = [...fuzzTargets(), runFileFuzzTarget()].filter((t) => !only || t.name.includes(only));
// A parser that leaves a rejected promise behind would end this process; count it and go on.
const stray: string[] = [];
process.on('unhandledRejection', (e) => void stray.push(`unhandled rejection: ${(e as Error)?.message ?? String(e)}`));
const end = Date.now() + minutes * 60_000;
const totals = new Map<string, FuzzReport>(targets.map((t) => [t.name, { target: t.name, cases: 0, failures: [] }]));
let round = 0;
while (Date.now() < end) {
  for (const t of targets) {
    if (Date.now() >= end) break;
    const r = await fuzzTarget(t, 500, (Date.now() ^ (round * 7919)) >>> 0);
    const total = totals.get(t.name)!;
    total.cases += r.cases;
    total.failures.push(...r.failures);
  }
  round++;
}
const rows = [...totals.values()];
if (stray.length) rows.push({ target: 'anywhere (unhandled rejections)', cases: 0, failures: stray });
console.log(JSON.stringify({ minutes, rounds: round, targets: rows }));
console.log(`\n${'target'.padEnd(72)} ${'cases'.padStart(8)} failures`);
for (const r of rows) console.log(`${r.target.padEnd(72)} ${String(r.cases).padStart(8)} ${r.failures.length}`);
for (const r of rows) for (const f of r.failures) console.log(`\n${r.target}: ${f}`);
process.exitCode = rows.some((r) => r.failures.length) ? 1 : 0;
