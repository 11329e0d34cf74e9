import type { LabData } from './run';

/** Images whose pixels enter the key (evenly spaced), so a large set held on disk is not read in full. */
const SAMPLED_IMAGES = 64;
/** Bytes of each sampled image that enter the key (evenly spaced). */
const SAMPLED_BYTES = 512;

/**
 * A short key for "the same data split": class names, which images train and which validate,
 * their labels and sizes, and pixels of a sample of them. A checkpoint records it, so a run is
 * resumed only on the split it trained on (another data set, validation fraction, seed or k-shot
 * would change every later batch).
 */
export function splitKey(data: LabData): string {
  let h = 0x811c9dc5;
  const mix = (v: number) => {
    h = Math.imul(h ^ (v | 0), 0x01000193) >>> 0;
  };
  for (const name of data.classNames) for (let i = 0; i < name.length; i++) mix(name.charCodeAt(i));
  for (const [set, indices] of [
    [data.train, data.trainIndices],
    [data.val, data.valIndices],
  ] as const) {
    mix(indices.length);
    const every = Math.max(1, Math.floor(indices.length / SAMPLED_IMAGES));
    indices.forEach((i, n) => {
      const img = set.images[i];
      mix(i);
      mix(set.labels[i]);
      mix(img.width);
      mix(img.height);
      if (n % every !== 0) return;
      // One read of `data`: an image held on disk reads its file on each access.
      const px = img.data;
      const stride = Math.max(1, Math.floor(px.length / SAMPLED_BYTES));
      for (let b = 0; b < px.length; b += stride) mix(px[b]);
    });
  }
  return `${data.trainIndices.length}+${data.valIndices.length}:${h.toString(16).padStart(8, '0')}`;
}
