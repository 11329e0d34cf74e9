/**
 * Runs fuzz targets with fast-check and collects what went wrong: a case fails when the parser
 * throws an untyped error, names no file, returns an inconsistent result, or takes longer than the
 * per-case budget (a hang or a bomb). Failures are reported with fast-check's shrunk input size.
 */
import fc from 'fast-check';
import { acceptable, type FuzzTarget } from './targets';

export interface FuzzReport {
  target: string;
  cases: number;
  failures: string[];
}

/** Generous: the slowest intact case takes milliseconds; a case near this is a hang in the making. */
export const CASE_BUDGET_MS = 5_000;

export async function fuzzTarget(target: FuzzTarget, numRuns: number, seed?: number): Promise<FuzzReport> {
  const failures: string[] = [];
  let cases = 0;
  const property = fc.asyncProperty(target.inputs, async (bytes) => {
    cases++;
    const t0 = performance.now();
    let problem: string | undefined;
    try {
      await target.run(bytes);
    } catch (e) {
      problem = acceptable(target, e);
    }
    const ms = performance.now() - t0;
    if (!problem && ms > CASE_BUDGET_MS) problem = `took ${Math.round(ms)} ms on ${bytes.length} bytes`;
    if (problem) throw new Error(problem);
  });
  const result = await fc.check(property, { numRuns, seed, endOnFailure: true });
  if (result.failed) {
    const input = result.counterexample?.[0] as Uint8Array | undefined;
    failures.push(`${(result.errorInstance as Error)?.message ?? 'failed'} (input of ${input?.length ?? '?'} bytes, seed ${result.seed}, path ${result.counterexamplePath})`);
  }
  return { target: target.name, cases, failures };
}
