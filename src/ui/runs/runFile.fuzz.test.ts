/** The run-file parser fuzzed as io's parsers are (src/io/fuzz/parsers.test.ts). */
import { describe, expect, it } from 'vitest';
import { fuzzTarget } from '../../io/fuzz/runFuzz';
import { runFileFuzzTarget } from './runFile.fuzz';

const RUNS = Number(process.env.RANKSCOPE_FUZZ_RUNS ?? 400);

describe('fuzzing the run-file parser', () => {
  it(`${RUNS} damaged or random run files end cleanly`, async () => {
    const report = await fuzzTarget(runFileFuzzTarget(), RUNS, 20261202);
    expect(report.failures).toEqual([]);
    expect(report.cases).toBe(RUNS);
  }, 120_000);
});
