import { describe, expect, it } from 'vitest';
import type { RunView } from '../state/runStore';
import { combinable, composeRefusal, ensembleRefusal } from './eligible';

const CLASSES = ['a', 'b'];

function run(id: string, patch: Partial<RunView> = {}): RunView {
  return {
    spec: { id, name: id, method: 'lora', targets: [], train: {} },
    state: 'done',
    train: [],
    evals: [],
    spectra: [],
    color: '#000',
    createdAt: 0,
    model: 'm',
    result: { classNames: CLASSES } as unknown as RunView['result'],
    exports: { merged: new Uint8Array([1, 2, 3]) },
    ...patch,
  };
}

describe('combinable', () => {
  it('takes finished runs on the loaded model with a merged model, and says why the others are left out', () => {
    const c = combinable(
      [
        run('ok'),
        run('other-model', { model: 'n' }),
        run('training', { state: 'training' }),
        run('failed', { state: 'failed' }),
        run('no-merged', { exports: { note: 'The merged model is too large to keep in the page.' } }),
        run('imported', { exports: undefined, imported: { file: 'x.rankscope.json', at: 0 } }),
        run('stopped', { state: 'stopped' }),
      ],
      'm',
    );
    expect(c.runs.map((r) => r.spec.id)).toEqual(['ok', 'stopped']);
    expect(c.left.map((l) => [l.run.spec.id, l.why])).toEqual([
      ['no-merged', 'The merged model is too large to keep in the page.'],
      ['imported', 'imported from a run file, which holds no weights: train it here to use it'],
    ]);
    expect(combinable([run('ok')], undefined).runs).toEqual([]);
  });
});

describe('refusals', () => {
  it('ensembles two or more runs trained on the loaded classes', () => {
    expect(ensembleRefusal([run('a')], CLASSES)).toMatch(/at least two runs.*1 picked/);
    expect(ensembleRefusal([run('a'), run('b')], CLASSES)).toBeUndefined();
    expect(ensembleRefusal([run('a'), run('b')], undefined)).toMatch(/Load the data set/);
    const other = run('c', { result: { classNames: ['x', 'y'] } as unknown as RunView['result'] });
    expect(ensembleRefusal([run('a'), other], CLASSES)).toMatch(/^"c" was trained on the classes \["x","y"\]/);
  });

  it('composes one or more runs, whatever their classes', () => {
    expect(composeRefusal([])).toMatch(/at least one run/);
    expect(composeRefusal([run('c', { result: { classNames: ['x'] } as unknown as RunView['result'] })])).toBeUndefined();
  });
});
