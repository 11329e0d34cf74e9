import { describe, expect, it } from 'vitest';
import { withKShot } from './kShotData';
import type { LabData } from './run';

function packed(labels: number[]) {
  return { count: labels.length, images: [], channels: 1 as const, labels: Int32Array.from(labels), classNames: ['a', 'b', 'c'] };
}

// 3 classes, 5 images each, in the packed training split; the run may only draw from trainIndices.
const labels = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2];
const data: LabData = { train: packed(labels), trainIndices: labels.map((_, i) => i).filter((i) => i !== 3), val: packed([0, 1, 2]), valIndices: [0, 1, 2], classNames: ['a', 'b', 'c'] };

describe('a run’s k-shot training set', () => {
  it('takes k images per class from the training split, the same for the same seed, others for another', () => {
    const a = withKShot(data, { k: 2, seed: 1 });
    const counts = [0, 0, 0];
    for (const i of a.trainIndices) counts[data.train.labels[i]]++;
    expect(counts).toEqual([2, 2, 2]);
    expect(a.trainIndices.every((i) => data.trainIndices.includes(i))).toBe(true);
    expect(new Set(a.trainIndices).size).toBe(6);
    expect(withKShot(data, { k: 2, seed: 1 }).trainIndices).toEqual(a.trainIndices);
    const seeds = new Set([1, 2, 3, 4, 5].map((seed) => [...withKShot(data, { k: 2, seed }).trainIndices].sort((x, y) => x - y).join()));
    expect(seeds.size).toBeGreaterThan(1);
    // Validation is untouched, and nothing is copied.
    expect(a.val).toBe(data.val);
    expect(a.train).toBe(data.train);
  });

  it('leaves the data alone without k-shot, and gives a class with fewer than k all it has', () => {
    expect(withKShot(data, undefined)).toBe(data);
    const all = withKShot(data, { k: 10, seed: 0 });
    expect([...all.trainIndices].sort((x, y) => x - y)).toEqual(data.trainIndices);
  });
});
