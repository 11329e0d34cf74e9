/**
 * The page's GEMM tuning store (IndexedDB through idb, here fake-indexeddb): a record per adapter,
 * read back as written, another kernel version's record ignored, records of two adapters apart.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { TUNING_VERSION, type TuningRecord } from '../engine/tuning/store';
import { IndexedDbTuningStore } from './idbTuningStore';

const record = (adapter: string, tiling: string): TuningRecord => ({
  version: TUNING_VERSION,
  adapter,
  classes: { 'tA0 tB1 M512 N64 K64 b1': { tiling, ms: { [tiling]: 1.5, '16x16k16': 3 }, shape: '272x48x48', measuredAt: '2026-12-02T07:00:00.000Z' } },
  partial: { 'tA1 tB0 M64 N64 K512 b1': { shape: { M: 48, N: 48, K: 272, batch: 1, transA: true, transB: false }, ms: { '16x16k16': 2, '8x8k16': null } } },
});

describe('IndexedDbTuningStore', () => {
  it('keeps one record per adapter and ignores records of another kernel version', async () => {
    const store = new IndexedDbTuningStore('tuning-test');
    expect(await store.load('gpu A')).toBeUndefined();
    await store.save(record('gpu A', '4x4k16'));
    await store.save(record('gpu B', '8x16k16'));
    expect(await store.load('gpu A')).toEqual(record('gpu A', '4x4k16'));
    expect((await store.load('gpu B'))?.classes['tA0 tB1 M512 N64 K64 b1'].tiling).toBe('8x16k16');
    // A second store on the same database (a reloaded page) sees what the first wrote.
    await store.save(record('gpu A', '16x8k16'));
    expect((await new IndexedDbTuningStore('tuning-test').load('gpu A'))?.classes['tA0 tB1 M512 N64 K64 b1'].tiling).toBe('16x8k16');
    await store.save({ ...record('gpu C', '4x4k16'), version: TUNING_VERSION + 1 });
    expect(await store.load('gpu C')).toBeUndefined();
    expect(store.description).toBe('IndexedDB database "tuning-test"');
  });
});
