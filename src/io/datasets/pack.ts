import type { PackedImages } from '../../train/data';
import type { DatasetImage, ImageDataset } from './types';

/**
 * Packs a decoded data set into one array of equal-sized 8-bit images for the GPU. Images of
 * another size are resized (bilinear) to the most common size; RGBA drops alpha; float images
 * are taken as 0–1 when their maximum is at most 1, else as 0–255. The model's own resize and
 * normalisation then run on the GPU.
 */
export function packImages(set: ImageDataset, indices?: readonly number[]): PackedImages {
  const idx = indices ?? set.images.map((_, i) => i);
  if (idx.length === 0) throw new Error(`${set.source}: no images to train on.`);
  const sizes = new Map<string, number>();
  for (const i of idx) {
    const im = set.images[i];
    const key = `${im.width}x${im.height}`;
    sizes.set(key, (sizes.get(key) ?? 0) + 1);
  }
  const [common] = [...sizes.entries()].sort((a, b) => b[1] - a[1])[0];
  const [width, height] = common.split('x').map(Number);
  const channels: 1 | 3 = idx.every((i) => set.images[i].channels === 1) ? 1 : 3;
  const per = width * height * channels;
  const pixels = new Uint8Array(idx.length * per);
  const labels = new Int32Array(idx.length);
  idx.forEach((i, k) => {
    writeImage(set.images[i], width, height, channels, pixels.subarray(k * per, (k + 1) * per));
    labels[k] = set.labels[i];
  });
  return { count: idx.length, width, height, channels, pixels, labels, classNames: set.classNames };
}

function writeImage(im: DatasetImage, width: number, height: number, channels: 1 | 3, out: Uint8Array): void {
  const floatScale = im.data instanceof Float32Array ? (im.data.reduce((m, v) => Math.max(m, v), 0) <= 1 ? 255 : 1) : 1;
  const src = (y: number, x: number, c: number) => {
    const ch = im.channels === 1 ? 0 : Math.min(c, 2);
    return im.data[(y * im.width + x) * im.channels + ch] * floatScale;
  };
  for (let y = 0; y < height; y++) {
    const sy = Math.min(Math.max(((y + 0.5) * im.height) / height - 0.5, 0), im.height - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, im.height - 1);
    const fy = sy - y0;
    for (let x = 0; x < width; x++) {
      const sx = Math.min(Math.max(((x + 0.5) * im.width) / width - 0.5, 0), im.width - 1);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, im.width - 1);
      const fx = sx - x0;
      for (let c = 0; c < channels; c++) {
        const v =
          (src(y0, x0, c) * (1 - fx) + src(y0, x1, c) * fx) * (1 - fy) + (src(y1, x0, c) * (1 - fx) + src(y1, x1, c) * fx) * fy;
        out[(y * width + x) * channels + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
}
