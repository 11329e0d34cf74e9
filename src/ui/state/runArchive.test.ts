import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { RunArchive } from './runArchive';
import { useRunStore, type RunView } from './runStore';

function view(id: string, createdAt: number): RunView {
  return {
    spec: { id, name: id, method: 'lora', targets: ['query'], train: { steps: 2 } },
    state: 'done',
    train: [{ kind: 'train', step: 1, loss: 2.3, accuracy: 0.1, lr: 1e-3, grad_norm: 1, images_per_second: 10, seconds: 1 }],
    evals: [{ kind: 'eval', step: 2, val_loss: 2.2, val_accuracy: 0.2, seconds: 2 }],
    spectra: [{ step: 2, spectrum: { module: 'query', rows: 2, cols: 2, singularValues: [1, 0], numericalRank: 1, effectiveRank: 1, stableRank: 1 } }],
    color: '#3257d6',
    createdAt,
  };
}

describe('run archive (IndexedDB)', () => {
  it('saves finished runs, reads them back oldest first across instances, and deletes one', async () => {
    const name = `test-runs-${Math.random()}`;
    const a = new RunArchive(name);
    await a.save(view('b', 2));
    await a.save({ ...view('a', 1), restored: true });
    a.close();
    const b = new RunArchive(name);
    const loaded = await b.load();
    expect(loaded.map((v) => v.spec.id)).toEqual(['a', 'b']);
    expect(loaded[0].restored).toBeUndefined();
    expect(loaded[1].spectra[0].spectrum.singularValues).toEqual([1, 0]);
    await b.delete('a');
    expect((await b.load()).map((v) => v.spec.id)).toEqual(['b']);
  });
});

describe('run store', () => {
  it('restores archived runs before the live ones, without duplicates, and new runs get an unused colour', () => {
    const s = useRunStore.getState();
    s.add({ id: 'live', name: 'live', method: 'randlora', targets: [], train: {} });
    s.restore([view('old', 1)]);
    s.restore([view('old', 1)]);
    const st = useRunStore.getState();
    expect(st.order).toEqual(['old', 'live']);
    expect(st.runs.old.restored).toBe(true);
    expect(st.runs.live.color).toBe('#3257d6');
    s.add({ id: 'next', name: 'next', method: 'full', targets: [], train: {} });
    expect(useRunStore.getState().runs.next.color).not.toBe('#3257d6');
    s.apply({ type: 'state', runId: 'next', state: 'failed', error: 'boom' });
    expect(useRunStore.getState().runs.next).toMatchObject({ state: 'failed', error: 'boom' });
    s.remove('old');
    expect(useRunStore.getState().order).toEqual(['live', 'next']);
  });
});
