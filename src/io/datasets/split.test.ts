import { describe, expect, it } from 'vitest';
import { kShotPerClass, seededShuffle, trainValSplit } from './split';

const labels = Int32Array.from({ length: 1000 }, (_, i) => (i * 7) % 10 === 3 ? 4 : i % 4); // uneven class sizes, 5 classes

function counts(idx: ArrayLike<number>): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < idx.length; i++) m.set(labels[idx[i]], (m.get(labels[idx[i]]) ?? 0) + 1);
  return m;
}

describe('seeded splits', () => {
  it('shuffles reproducibly, differently per seed, as a permutation', () => {
    const a = seededShuffle(Int32Array.from({ length: 50 }, (_, i) => i), 42);
    const b = seededShuffle(Int32Array.from({ length: 50 }, (_, i) => i), 42);
    const c = seededShuffle(Int32Array.from({ length: 50 }, (_, i) => i), 43);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('splits every class by the same fraction, disjoint and complete', () => {
    const s = trainValSplit(labels, { valFraction: 0.2, seed: 7 });
    expect(s.train.length + s.val.length).toBe(1000);
    expect(new Set([...s.train, ...s.val]).size).toBe(1000);
    const all = counts(Int32Array.from({ length: 1000 }, (_, i) => i));
    const val = counts(s.val);
    for (const [c, n] of all) expect(val.get(c)).toBe(Math.round(n * 0.2));
    expect(trainValSplit(labels, { valFraction: 0.2, seed: 7 })).toEqual(s);
    expect(trainValSplit(labels, { valFraction: 0.2, seed: 8 }).val).not.toEqual(s.val);
    // Tiny classes still appear in validation.
    expect(trainValSplit(Int32Array.of(0, 0, 1, 1, 1), { valFraction: 0.1, seed: 1 }).val.length).toBe(2);
    expect(() => trainValSplit(labels, { valFraction: 1, seed: 1 })).toThrow(/valFraction must be in \[0, 1\)/);
  });

  it('takes k per class from the training part only', () => {
    const s = trainValSplit(labels, { valFraction: 0.5, seed: 3 });
    const k = kShotPerClass(labels, 5, { seed: 3, within: s.train });
    expect(k.indices.length).toBe(25);
    expect(k.short).toEqual([]);
    const train = new Set(s.train);
    expect([...k.indices].every((i) => train.has(i))).toBe(true);
    for (const n of counts(k.indices).values()) expect(n).toBe(5);
    expect(kShotPerClass(labels, 5, { seed: 3, within: s.train })).toEqual(k);
    expect(kShotPerClass(labels, 5, { seed: 4, within: s.train }).indices).not.toEqual(k.indices);
    const few = kShotPerClass(Int32Array.of(0, 0, 0, 1), 2, { seed: 1, numClasses: 3 });
    expect(few.indices.length).toBe(3);
    expect(few.short).toEqual([
      { label: 1, available: 1 },
      { label: 2, available: 0 },
    ]);
  });
});
