import { describe, expect, it } from 'vitest';
import { sampleKShot, sampleKShotWithNote } from './kshot';

describe('sampleKShot', () => {
  const labels = Int32Array.from({ length: 60 }, (_, i) => (i < 50 ? i % 5 : 5)); // classes 0–4: 10 each; class 5: 10
  labels[59] = 0; // class 5 has 9, class 0 has 11

  it('takes k per class, seeded and deterministic, different across seeds', () => {
    const a = sampleKShot(labels, 4, 1);
    expect(a).toHaveLength(24);
    const per = new Array(6).fill(0);
    for (const i of a) per[labels[i]]++;
    expect(per).toEqual([4, 4, 4, 4, 4, 4]);
    expect(new Set(a).size).toBe(24);
    expect(Array.from(sampleKShot(labels, 4, 1))).toEqual(Array.from(a));
    expect(Array.from(sampleKShot(labels, 4, 2))).not.toEqual(Array.from(a));
  });

  it('draws only from `within` and notes classes short of k', () => {
    const within = Int32Array.from({ length: 30 }, (_, i) => i); // classes 0–4, 6 each
    const r = sampleKShotWithNote(labels, 8, 0, within, ['a', 'b', 'c', 'd', 'e', 'f']);
    for (const i of r.indices) expect(i).toBeLessThan(30);
    expect(r.indices).toHaveLength(30);
    expect(r.note).toMatch(/6 classes had fewer than 8 training images.*a \(6\).*f \(0\)/);
  });
});
