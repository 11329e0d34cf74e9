/**
 * What the CLIs that read finished runs share (npm run ensemble, npm run compose): a run folder
 * as `npm run train` leaves it, and numeric flags. No entry point here: scripts/run-ts.mjs bundles
 * a script with its imports, so a module with its own `main` guard would run inside the importer.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from './trainRun';

/** A numeric flag's value, at least `min` (a whole number unless told otherwise); shared with npm run compose. */
export function number(flag: string, v: string | undefined, min: number, integer = true): number {
  const n = Number(v);
  if (v === undefined || v === '' || !Number.isFinite(n)) throw new UsageError(`${flag} needs a number, got ${JSON.stringify(v)}`);
  if (n < min || (integer && !Number.isInteger(n))) throw new UsageError(`${flag} is ${v}; it takes ${integer ? 'a whole number' : 'a number'} of at least ${min}`);
  return n;
}

export interface RunFolder {
  dir: string;
  summary: Record<string, unknown>;
  merged: string;
}

/** A run folder as `npm run train` leaves it, or a message naming the run and what is missing. */
export async function readRunFolder(dir: string): Promise<RunFolder> {
  let summary: Record<string, unknown>;
  try {
    summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8'));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(`${dir}: ${missing ? 'no summary.json, so the run did not finish (or this is not a run folder written by npm run train)' : `summary.json is not readable JSON (${(e as Error).message})`}. Finish the run, or leave it out of --runs.`);
  }
  const merged = join(dir, 'merged');
  const has = await stat(join(merged, 'model.safetensors')).then(() => true, () => false);
  if (!has) throw new Error(`${dir}: merged/model.safetensors is missing, so there is no trained model to use. Run npm run train again for it, or leave it out of --runs.`);
  return { dir, summary, merged };
}

