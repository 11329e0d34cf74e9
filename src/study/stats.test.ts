import { describe, expect, it } from 'vitest';
import { meanSd, pairedDifference, studentTCdf, studentTQuantile, summarise, verdict } from './stats';
import type { StudyRow } from './types';

function row(method: string, budget: number | null, seed: number, acc: number, extra: Partial<StudyRow> = {}): StudyRow {
  return {
    key: `${method}|b=${budget}|s=${seed}|k=all`,
    method,
    config: {},
    setting: 'r=1',
    trainable_params: budget ?? 100,
    budget,
    seed,
    k_shot: null,
    reference: budget === null,
    reachable: true,
    status: 'done',
    best_val_accuracy: acc,
    final_val_accuracy: acc - 0.01,
    rank_numerical: 4,
    rank_effective: 2,
    intruders: seed,
    ...extra,
  };
}

describe('meanSd', () => {
  it('is the mean and the sample (n − 1) standard deviation, by hand', () => {
    // mean 2.5/3 = 0.83333…; squared deviations 0.0011111 + 0.0000444 + 0.0007111 = 0.0018667; /2 → sd 0.0305505
    const r = meanSd([0.8, 0.84, 0.86]);
    expect(r.mean).toBeCloseTo(0.8333333333, 9);
    expect(r.sd).toBeCloseTo(0.0305505046, 9);
    expect(meanSd([3]).sd).toBeNaN();
    expect(meanSd([3]).mean).toBe(3);
    expect(meanSd([]).mean).toBeNaN();
  });
});

describe("Student's t", () => {
  it('matches the tables’ two-sided 95% quantiles', () => {
    // t_{0.975, df} from standard tables.
    const table: Array<[number, number]> = [[1, 12.7062], [2, 4.3027], [3, 3.1824], [4, 2.7764], [9, 2.2622], [30, 2.0423], [1000, 1.9623]];
    for (const [df, t] of table) expect(studentTQuantile(0.975, df)).toBeCloseTo(t, 3);
    expect(studentTQuantile(0.025, 2)).toBeCloseTo(-4.3027, 3);
    // df = 1 is Cauchy: P(T ≤ 1) = 3/4.
    expect(studentTCdf(1, 1)).toBeCloseTo(0.75, 12);
  });
});

describe('pairedDifference and verdict', () => {
  it('pairs by seed and gives the 95% t-interval, by hand', () => {
    const rows = [
      ...[0.82, 0.85, 0.9].map((a, s) => row('randlora', 6000, s, a)),
      ...[0.8, 0.84, 0.86].map((a, s) => row('lora', 6000, s, a)),
    ];
    const [d] = pairedDifference(rows, 'randlora', 'lora');
    // d = [0.02, 0.01, 0.04]: mean 0.023333, sd 0.0152753, se 0.0088192, t(0.975, 2) = 4.302653 → ± 0.037946
    expect(d.n).toBe(3);
    expect(d.seeds).toEqual([0, 1, 2]);
    expect(d.mean).toBeCloseTo(0.0233333, 6);
    expect(d.sd).toBeCloseTo(0.0152753, 6);
    expect(d.lo).toBeCloseTo(-0.014613, 5);
    expect(d.hi).toBeCloseTo(0.061279, 5);
    const v = verdict(d, 'RandLoRA', 'LoRA');
    expect(v).toMatch(/do not separate RandLoRA and LoRA/);
    expect(v).toMatch(/\+2\.33 points/);
    expect(v).toMatch(/6,000 values \(3 seeds\)/);
  });

  it('says which is ahead when the interval excludes 0, and leaves out unpaired seeds', () => {
    const rows = [
      ...[0.85, 0.86, 0.87, 0.99].map((a, s) => row('lora', 2000, s, a)),
      ...[0.8, 0.8, 0.8].map((a, s) => row('randlora', 2000, s, a)),
      row('randlora', 2000, 3, 0.1, { status: 'failed' }),
    ];
    const [d] = pairedDifference(rows, 'randlora', 'lora');
    // d = [−0.05, −0.06, −0.07]: mean −0.06, sd 0.01, half-width 4.302653·0.01/√3 = 0.024841
    expect(d.n).toBe(3);
    expect(d.lo).toBeCloseTo(-0.084841, 5);
    expect(d.hi).toBeCloseTo(-0.035159, 5);
    expect(verdict(d, 'RandLoRA', 'LoRA')).toMatch(/LoRA is ahead of RandLoRA by 6\.00 points .*excludes 0/);
    const single = pairedDifference(rows.filter((r) => r.seed === 0), 'randlora', 'lora')[0];
    expect(single.lo).toBeNaN();
    expect(verdict(single, 'RandLoRA', 'LoRA')).toMatch(/no interval from a single seed/);
  });

  it('summarise gives mean ± sd per method and budget, counting done and diverged runs only', () => {
    const rows = [row('lora', 2000, 0, 0.8), row('lora', 2000, 1, 0.9, { status: 'diverged' }), row('lora', 2000, 2, 0.1, { status: 'failed' }), row('full', null, 0, 0.95)];
    const s = summarise(rows);
    expect(s).toHaveLength(2);
    expect(s[0]).toMatchObject({ method: 'lora', budget: 2000, n: 2, setting: 'r=1' });
    expect(s[0].accuracy.mean).toBeCloseTo(0.85, 12);
    expect(s[0].accuracy.sd).toBeCloseTo(Math.sqrt(0.005), 12);
    expect(s[0].intruders.mean).toBe(0.5);
    expect(s[1]).toMatchObject({ method: 'full', reference: true, n: 1 });
  });
});
