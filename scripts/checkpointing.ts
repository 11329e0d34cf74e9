/**
 * The CLI's run checkpoints: DIR/checkpoint/args.json keeps the command line the run started
 * with (so `--resume DIR` needs no other flag) and DIR/checkpoint/state.safetensors the trainer's
 * state plus how many lines of metrics.jsonl it covers. Writes are atomic (a temporary file
 * renamed over the old one), so a run killed mid-write leaves the previous checkpoint intact.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeCheckpoint, encodeCheckpoint } from '../src/session/checkpointFile';
import type { Trainer, TrainerState } from '../src/train/trainer';

export const CHECKPOINT_DIR = 'checkpoint';
const ARGS = 'args.json';
const STATE = 'state.safetensors';

async function atomicWrite(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

export async function writeRunArgs(out: string, argv: readonly string[]): Promise<void> {
  await mkdir(join(out, CHECKPOINT_DIR), { recursive: true });
  await atomicWrite(join(out, CHECKPOINT_DIR, ARGS), `${JSON.stringify({ argv }, null, 2)}\n`);
}

/** The command line a run in `out` started with; says what is missing when it is not a run folder. */
export async function readRunArgs(out: string): Promise<string[]> {
  const path = join(out, CHECKPOINT_DIR, ARGS);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new Error(`${path} does not exist: --resume takes the --out folder of a run that npm run train started (it writes ${CHECKPOINT_DIR}/${ARGS}).`);
  }
  const argv = (JSON.parse(text) as { argv?: unknown }).argv;
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) throw new Error(`${path} holds no command line; start the run again.`);
  return argv as string[];
}

export async function saveCheckpoint(out: string, trainer: Trainer, metricLines: number): Promise<void> {
  const bytes = encodeCheckpoint(await trainer.saveState(), { metricLines });
  await mkdir(join(out, CHECKPOINT_DIR), { recursive: true });
  await atomicWrite(join(out, CHECKPOINT_DIR, STATE), bytes);
}

export async function loadCheckpointState(out: string): Promise<{ state: TrainerState; metricLines: number } | undefined> {
  const path = join(out, CHECKPOINT_DIR, STATE);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch {
    return undefined;
  }
  const { state, extra } = decodeCheckpoint(bytes, path);
  return { state, metricLines: Number(extra.metricLines ?? 0) };
}

/** A finished run needs no state to resume from (it can be as large as the model, three times over). */
export async function clearCheckpointState(out: string): Promise<void> {
  await rm(join(out, CHECKPOINT_DIR, STATE), { force: true });
}
