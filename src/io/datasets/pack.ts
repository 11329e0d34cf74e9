import type { PackedImages } from '../../train/data';
import type { Image8 } from '../../train/resample';
import type { DatasetImage, ImageDataset } from './types';

/**
 * The images at `indices` as 8-bit images for training, each at its own size (the loaders already
 * brought photos down to working size as they decoded them). 8-bit grey and RGB images are shared,
 * not copied; RGBA drops alpha (as PIL's convert('RGB')); float images are taken as 0–1 when their
 * maximum is at most 1, else as 0–255. The model's resize and crop happen per batch.
 */
export function packImages(set: ImageDataset, indices?: readonly number[]): PackedImages {
  const idx = indices ?? set.images.map((_, i) => i);
  if (idx.length === 0) throw new Error(`${set.source}: no images to train on.`);
  const images = idx.map((i) => toImage8(set.images[i]));
  const labels = Int32Array.from(idx, (i) => set.labels[i]);
  const channels: 1 | 3 = images.every((im) => im.channels === 1) ? 1 : 3;
  return { count: idx.length, images, channels, labels, classNames: set.classNames };
}

export function toImage8(im: DatasetImage): Image8 {
  // Disk-backed images are 8-bit grey or RGB by construction; reading `data` here would load them.
  if (im.onDisk) return im as Image8;
  if (im.data instanceof Uint8Array && im.channels !== 4) return { data: im.data, width: im.width, height: im.height, channels: im.channels };
  const n = im.width * im.height;
  const channels = im.channels === 1 ? 1 : 3;
  const out = new Uint8Array(n * channels);
  let scale = 1;
  if (im.data instanceof Float32Array) {
    let max = 0;
    for (const v of im.data) if (v > max) max = v;
    scale = max <= 1 ? 255 : 1;
  }
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < channels; c++) {
      const v = Math.round(im.data[i * im.channels + c] * scale);
      out[i * channels + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { data: out, width: im.width, height: im.height, channels };
}
