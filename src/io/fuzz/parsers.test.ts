/**
 * Every parser a person's files reach, fuzzed: damaged and random inputs either parse to results
 * that hold together or throw a typed error naming the file, within a per-case time budget.
 * `npm run fuzz -- --minutes N` runs the same targets for longer.
 */
import { describe, expect, it } from 'vitest';
import { fuzzTarget } from './runFuzz';
import { fuzzTargets } from './targets';

// Cases per target in CI: some thousands in all, a few seconds each on two cores.
const RUNS = Number(process.env.RANKSCOPE_FUZZ_RUNS ?? 400);

describe('fuzzing the parsers', () => {
  for (const target of fuzzTargets()) {
    it(`${target.name}: ${RUNS} damaged or random inputs end cleanly`, async () => {
      const report = await fuzzTarget(target, RUNS, 20261202);
      expect(report.failures).toEqual([]);
      expect(report.cases).toBe(RUNS);
    }, 300_000);
  }
});
