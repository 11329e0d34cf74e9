import { describe, expect, it } from 'vitest';
import type { StudyRow } from '../../study/types';
import { chartSeries, defaultPair, logDomain, logTicks, pairableMethods, studyPoints } from './results';

function row(method: string, budget: number | null, seed: number, acc: number, params: number, extra: Partial<StudyRow> = {}): StudyRow {
  return {
    key: `${method}|b=${budget}|s=${seed}|k=all`,
    method,
    config: {},
    setting: budget === null ? '' : `r=${params}`,
    trainable_params: params,
    budget,
    seed,
    k_shot: null,
    reference: budget === null,
    reachable: true,
    status: 'done',
    best_val_accuracy: acc,
    final_val_accuracy: acc,
    rank_numerical: 4,
    rank_effective: 3,
    intruders: seed,
    run_id: `${method}-${budget}-${seed}`,
    ...extra,
  };
}

const rows = [
  row('lora', 2000, 0, 0.6, 2016),
  row('lora', 2000, 1, 0.7, 2016),
  row('lora', 8000, 0, 0.8, 8064),
  row('randlora', 2000, 0, 0.65, 1728),
  row('full', null, 0, 0.9, 100000),
  row('full', null, 1, 0.8, 100000),
];

describe('study results', () => {
  it('groups rows by method and budget with mean ± sd over seeds and the runs behind each point', () => {
    const p = studyPoints(rows).find((x) => x.method === 'lora' && x.budget === 2000)!;
    expect(p.n).toBe(2);
    expect(p.accuracy.mean).toBeCloseTo(0.65, 12);
    // Sample standard deviation of 0.6 and 0.7.
    expect(p.accuracy.sd).toBeCloseTo(Math.SQRT1_2 * 0.1, 12);
    expect(p.intruders.mean).toBeCloseTo(0.5, 12);
    expect(p.runIds).toEqual(['lora-2000-0', 'lora-2000-1']);
    expect(p.reachable).toBe(true);
    const far = studyPoints([row('vera', 100, 0, 0.5, 1026, { reachable: false, note: 'VeRA cannot go below 1,026 values' })])[0];
    expect(far).toMatchObject({ reachable: false, note: 'VeRA cannot go below 1,026 values' });
    // One seed: sd drawn as 0, not NaN.
    expect(studyPoints(rows).find((x) => x.method === 'lora' && x.budget === 8000)!.accuracy.sd).toBe(0);
  });

  it('leaves unmeasured values out of the mean (a probe has no ΔW spectrum)', () => {
    const p = studyPoints([row('probe', null, 0, 0.5, 245, { rank_effective: NaN }), row('probe', null, 1, 0.5, 245, { rank_effective: NaN })])[0];
    expect(p.rank.mean).toBeNaN();
    expect(p.accuracy.mean).toBe(0.5);
  });

  it('splits adapters (sorted by count) from references, for one k-shot value', () => {
    const s = chartSeries([...rows, row('lora', 500, 0, 0.5, 1008)], null);
    expect(s.methods.map((m) => m.method)).toEqual(['lora', 'randlora']);
    expect(s.methods[0].points.map((p) => p.params)).toEqual([1008, 2016, 8064]);
    expect(s.references.map((r) => r.method)).toEqual(['full']);
    expect(chartSeries(rows, 4).methods).toEqual([]);
  });

  it('spans whole decades on the log axis', () => {
    expect(logDomain([1728, 8064])).toEqual([1000, 10000]);
    expect(logDomain([1000, 100000])).toEqual([100, 1e6]);
    expect(logDomain([])).toEqual([1, 10]);
    expect(logTicks([100, 10000])).toEqual([100, 200, 500, 1000, 2000, 5000, 10000]);
  });

  it('pairs RandLoRA − LoRA by default', () => {
    expect(pairableMethods(rows)).toEqual(['lora', 'randlora']);
    expect(defaultPair(['lora', 'vera', 'randlora'])).toEqual(['randlora', 'lora']);
    expect(defaultPair(['lora', 'vera'])).toEqual(['vera', 'lora']);
    expect(defaultPair(['lora'])).toBeUndefined();
  });
});
