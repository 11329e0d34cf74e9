/**
 * `npm run study`: the command-line entry point; everything else, and the documentation of every
 * option and output, is in scripts/studyRun.ts.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseStudyArgs, STUDY_USAGE, study } from './studyRun';
import { UsageError } from './trainRun';

export * from './studyRun';

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const r = await study(parseStudyArgs(argv));
    return r.rows.some((x) => x.status === 'failed') ? 1 : 0;
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message) console.error(`study: ${e.message}`);
      console.error(STUDY_USAGE);
      return 2;
    }
    console.error(`study: ${(e as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
