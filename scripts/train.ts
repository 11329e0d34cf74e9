/**
 * `npm run train`: the command-line entry point. The run itself (argument parsing, loading,
 * training, summary and exports) lives in scripts/trainRun.ts, shared with `npm run study`;
 * that file's header documents every option and output.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cliExitCode, parseTrainArgs, resumeArgs, train, USAGE } from './trainRun';

export * from './trainRun';

export async function main(argv: readonly string[]): Promise<number> {
  return cliExitCode('train', USAGE, async () => {
    const summary = await train((await resumeArgs(argv)) ?? parseTrainArgs(argv));
    // A diverged run kept its last finite weights and wrote them, but it is not a success.
    if (summary.status === 'diverged') {
      console.error(`train: ${(summary.divergence as { message: string }).message}`);
      return 3;
    }
    return 0;
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
