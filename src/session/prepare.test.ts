import { describe, expect, it } from 'vitest';
import { classCounts, datasetImage, type ImageDataset } from '../io/datasets/types';
import { prepareData } from './prepare';

/** `perClass[c]` tiny grey images of class c. */
function dataset(perClass: number[]): ImageDataset {
  const labels = perClass.flatMap((n, c) => new Array<number>(n).fill(c));
  return {
    images: labels.map((l, i) => datasetImage(Uint8Array.from([l, i & 0xff, 0, 0]), 2, 2, 1)),
    labels: Int32Array.from(labels),
    classNames: perClass.map((_, c) => `c${c}`),
    source: 'test set',
    skipped: [],
  };
}

const counts = (labels: Int32Array, n: number) => classCounts({ labels, classNames: new Array(n).fill('') });

describe('prepareData: the split the data panel shows', () => {
  it('splits per class by the validation fraction, then takes k per class and the size limits', () => {
    const ds = dataset([20, 10, 5]);
    const split = prepareData(ds, { valFraction: 0.2, seed: 1 });
    expect(counts(split.val.labels, 3)).toEqual([4, 2, 1]);
    expect(counts(split.train.labels, 3)).toEqual([16, 8, 4]);
    const k = prepareData(ds, { valFraction: 0.2, seed: 1, kShot: 6 });
    expect(counts(k.train.labels, 3)).toEqual([6, 6, 4]);
    const limited = prepareData(ds, { valFraction: 0.5, seed: 1, trainLimit: 6, valLimit: 3 });
    expect(limited.train.count).toBe(6);
    expect(limited.val.count).toBe(3);
    // Another seed, other images; the same seed, the same images.
    const pixels = (d: ReturnType<typeof prepareData>) => d.train.images.map((im) => Array.from(im.data).join()).join('|');
    expect(pixels(prepareData(ds, { valFraction: 0.2, seed: 2 }))).not.toBe(pixels(split));
    expect(pixels(prepareData(ds, { valFraction: 0.2, seed: 1 }))).toBe(pixels(split));
  });

  it('a split seed keeps the validation images while the run seed redraws the k-shot training set (a study)', () => {
    const ds = dataset([20, 10, 5]);
    const pixels = (p: { images: Array<{ data: Uint8Array }> }) => p.images.map((im) => Array.from(im.data).join()).join('|');
    const a = prepareData(ds, { valFraction: 0.2, seed: 1, splitSeed: 0, kShot: 2, valLimit: 5 });
    const b = prepareData(ds, { valFraction: 0.2, seed: 2, splitSeed: 0, kShot: 2, valLimit: 5 });
    expect(pixels(a.val)).toBe(pixels(b.val));
    expect(pixels(a.train)).not.toBe(pixels(b.train));
    // Without a split seed, the run seed splits too (a lone run's behaviour, unchanged).
    expect(pixels(prepareData(ds, { valFraction: 0.2, seed: 2, kShot: 2, valLimit: 5 }).val)).not.toBe(pixels(a.val));
  });

  it('says what to change when a split leaves one side empty', () => {
    expect(() => prepareData(dataset([1, 1]), { valFraction: 0.2, seed: 0 })).toThrow(
      /test set: the split leaves no validation images \(validation fraction 0.2; a class needs at least 2 images.*Raise the validation fraction/,
    );
    expect(() => prepareData(dataset([3, 3]), { valFraction: 0, seed: 0 })).toThrow(/no validation images/);
  });

  it('refuses splits that cannot train or validate a classifier, naming the classes', () => {
    expect(() => prepareData(dataset([10]), { valFraction: 0.2, seed: 0 })).toThrow(/test set holds images of only one class \("c0"\): a classifier needs at least two/);
    // Labels that skip values (255 without a class list) leave classes no image belongs to.
    expect(() => prepareData(dataset([5, 0, 0, 5]), { valFraction: 0.2, seed: 0 })).toThrow(/2 of its 4 classes have no images \("c1", "c2"\)/);
    expect(() => prepareData(dataset([10, 1]), { valFraction: 0.2, seed: 0 })).toThrow(
      /"c1" has no validation images.*Each class needs at least 2 images \(one to train, one to validate\); "c1" has fewer/,
    );
    expect(() => prepareData(dataset([10, 10, 10]), { valFraction: 0.5, seed: 0, valLimit: 2 })).toThrow(/"c\d" has no validation images.*Raise the validation fraction or the validation limit/);
    const val = dataset([3, 0]);
    expect(() => prepareData(dataset([4, 4]), { valFraction: 0.2, seed: 0 }, val)).toThrow(/"c1" has no validation images.*Add images of those classes to the validation split/);
  });
});
