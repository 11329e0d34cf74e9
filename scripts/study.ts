/**
 * `npm run study`: the command-line entry point; everything else, and the documentation of every
 * option and output, is in scripts/studyRun.ts.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseStudyArgs, STUDY_USAGE, study } from './studyRun';
import { cliExitCode } from './trainRun';

export * from './studyRun';

export async function main(argv: readonly string[]): Promise<number> {
  return cliExitCode('study', STUDY_USAGE, async () => {
    const r = await study(parseStudyArgs(argv));
    return r.rows.some((x) => x.status === 'failed') ? 1 : 0;
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
