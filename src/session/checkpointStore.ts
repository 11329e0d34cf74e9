/**
 * Where a run's checkpoints go while it trains: the page keeps them in IndexedDB
 * (`IndexedDbCheckpointStore`), Node tests and the CLI's in-process runs in memory. A store holds
 * one checkpoint per run (the newest), as the bytes of `checkpointFile.ts`.
 */
export interface StoredCheckpoint {
  runId: string;
  step: number;
  savedAt: number;
  bytes: Uint8Array;
}

export interface RunCheckpointStore {
  /** Where the checkpoints go, for messages ("IndexedDB database …"). */
  readonly description: string;
  /** Replaces the run's checkpoint; throws (quota, storage unavailable) without touching the previous one. */
  save(runId: string, step: number, bytes: Uint8Array): Promise<void>;
  load(runId: string): Promise<StoredCheckpoint | undefined>;
  delete(runId: string): Promise<void>;
}

export class MemoryCheckpointStore implements RunCheckpointStore {
  readonly description = 'memory';
  readonly entries = new Map<string, StoredCheckpoint>();

  async save(runId: string, step: number, bytes: Uint8Array): Promise<void> {
    this.entries.set(runId, { runId, step, savedAt: Date.now(), bytes });
  }

  async load(runId: string): Promise<StoredCheckpoint | undefined> {
    return this.entries.get(runId);
  }

  async delete(runId: string): Promise<void> {
    this.entries.delete(runId);
  }
}

/**
 * What a person reads when a checkpoint cannot be written: what failed, that the run goes on
 * without checkpoints, and what to do. Quota errors and a missing IndexedDB get their own advice.
 */
export function checkpointFailureMessage(e: unknown, where: string, step: number): string {
  const name = (e as { name?: string } | undefined)?.name ?? '';
  const detail = e instanceof Error ? e.message : String(e);
  const quota = name === 'QuotaExceededError' || /quota|space/i.test(detail);
  const missing = /not available|indexeddb/i.test(detail) && !quota;
  const why = quota
    ? 'the browser\'s storage for this site is full'
    : missing
      ? 'IndexedDB is not available in this window (private browsing can turn it off)'
      : 'the browser refused the write';
  const todo = quota
    ? 'Free disk space (or remove cached models in the model panel, or other sites\' data), then queue the run again to have checkpoints.'
    : missing
      ? 'Use a normal (not private) window to have checkpoints.'
      : 'Reload the page once this run has finished if it repeats.';
  return (
    `Checkpoint at step ${step} could not be saved to ${where}: ${why} (${name ? `${name}: ` : ''}${detail}). ` +
    'Training goes on without checkpoints, so a reload or a closed tab would lose this run from its last saved checkpoint on; ' +
    `checkpoints and runs already saved are untouched. ${todo}`
  );
}
