/**
 * GEMM tuning results under Node: one JSON file in the user's cache folder
 * ($XDG_CACHE_HOME/rankscope/, else ~/.cache/rankscope/), holding a record per adapter.
 * Node only: the page keeps its results in IndexedDB (src/session/idbTuningStore.ts).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { TUNING_VERSION, type TuningRecord, type TuningStore } from './store';

export function defaultTuningFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'rankscope', 'gemm-tuning.json');
}

interface TuningFile {
  version: number;
  adapters: Record<string, TuningRecord>;
}

export class FileTuningStore implements TuningStore {
  readonly description: string;

  constructor(readonly file: string = defaultTuningFile()) {
    this.description = file;
  }

  private async read(): Promise<TuningFile> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: TUNING_VERSION, adapters: {} };
      throw e;
    }
    try {
      const parsed = JSON.parse(text) as TuningFile;
      // Another kernel version's timings say nothing about these kernels: start over.
      if (parsed.version !== TUNING_VERSION || typeof parsed.adapters !== 'object') return { version: TUNING_VERSION, adapters: {} };
      return parsed;
    } catch {
      // A truncated or hand-edited file only costs a re-tune; it is rewritten on the next save.
      return { version: TUNING_VERSION, adapters: {} };
    }
  }

  async load(adapter: string): Promise<TuningRecord | undefined> {
    const rec = (await this.read()).adapters[adapter];
    return rec && rec.version === TUNING_VERSION ? rec : undefined;
  }

  async save(record: TuningRecord): Promise<void> {
    const all = await this.read();
    all.adapters[record.adapter] = record;
    await mkdir(dirname(this.file), { recursive: true });
    // Write then rename, so a process killed mid-write leaves the old file, not half a new one.
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(all, null, 1)}\n`);
    await rename(tmp, this.file);
  }
}
