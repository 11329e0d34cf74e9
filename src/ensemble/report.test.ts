import { describe, expect, it } from 'vitest';
import { CONTROLLER_DEFAULTS } from './controller';
import { ensembleReport, type CachedMember } from './report';

/** Two members on 3 classes: A is right on even images, B on images divisible by 3; features tell them apart. */
function members(N: number): CachedMember[] {
  const C = 3;
  const labels = Int32Array.from({ length: N }, (_, n) => n % C);
  const make = (name: string, right: (n: number) => boolean): CachedMember => {
    const logits = new Float32Array(N * C);
    const features = new Float32Array(N * 2);
    for (let n = 0; n < N; n++) {
      const k = right(n) ? labels[n] : (labels[n] + 1) % C;
      logits[n * C + k] = 3;
      features[n * 2] = right(n) ? 1 : -1;
      features[n * 2 + 1] = n / N;
    }
    const split = { features, logits, labels };
    return { name, featureSize: 2, train: split, val: split };
  };
  return [make('A', (n) => n % 2 === 0), make('B', (n) => n % 3 === 0)];
}

describe('ensembleReport', () => {
  it('gives each member, the average, the oracle and per-image temperatures on the validation rows', () => {
    const N = 30;
    const r = ensembleReport(members(N), 3, { ...CONTROLLER_DEFAULTS, steps: 40, width: 8 });
    // A is right on 15 of 30, B on 10; some member is right where n is even or divisible by 3: 20.
    expect(r.members).toEqual([
      { name: 'A', accuracy: 0.5 },
      { name: 'B', accuracy: 10 / 30 },
    ]);
    expect(r.oracle).toBeCloseTo(20 / 30, 12);
    expect(r.bestMember).toBe(0.5);
    expect(r.valImages).toBe(N);
    expect(r.perImage.temperatures).toHaveLength(N);
    for (const t of r.perImage.temperatures) {
      expect(t).toHaveLength(2);
      for (const v of t) expect(v).toBeGreaterThan(0);
    }
    expect(r.perImage.memberPredictions[0][0]).toBe(0);
    expect(r.perImage.memberPredictions[0][1]).toBe(2);
    expect(r.losses).toHaveLength(40);
    expect(r.losses[39]).toBeLessThan(r.losses[0]);
    // The ensemble learns to trust the right member from its features: at least the best member.
    expect(r.accuracy).toBeGreaterThanOrEqual(r.bestMember);
    expect(r.controllerParams).toBe(8 * 4 + 8 + 2 * 8 + 2);
  });

  it('refuses a single member', () => {
    expect(() => ensembleReport(members(6).slice(0, 1), 3, CONTROLLER_DEFAULTS)).toThrow(/at least two members; got 1/);
  });
});
