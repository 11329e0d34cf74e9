import { mkdtemp, mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeFolderSource } from '../sources/nodeFolder';
import { RESAMPLE } from '../../train/resample';
import { decodeImageNode, nodeImageDecoder } from './decodeNode';
import { readImageFolder } from './imageFolder';
import { nodeImageCache } from './nodeImageCache';
import type { DatasetImage } from './types';

let root: string;

/** An RGB image whose quadrants are red (top-left), green (top-right), blue (bottom-left), white. */
function quadrants(w: number, h: number): Buffer {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const q = (y < h / 2 ? 0 : 2) + (x < w / 2 ? 0 : 1);
      px.set([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]][q], 3 * (y * w + x));
    }
  return px;
}

const at = (im: DatasetImage, x: number, y: number) => Array.from(im.data.subarray((y * im.width + x) * im.channels, (y * im.width + x + 1) * im.channels));
const near = (a: number[], b: number[], tol = 40) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= tol);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rankscope-decode-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('Node decoding to working size', () => {
  it('applies EXIF orientation and keeps the aspect ratio at the working edge, pre-shrinking large photos', async () => {
    // Stored 1600×1200 landscape with orientation 6: upright it is 1200×1600, stored top-left at upright top-right.
    const jpeg = await sharp(quadrants(1600, 1200), { raw: { width: 1600, height: 1200, channels: 3 } }).jpeg({ quality: 90 }).withMetadata({ orientation: 6 }).toBuffer();
    const img = await decodeImageNode(new Uint8Array(jpeg), { edge: 96, resample: RESAMPLE.bicubic });
    expect([img.width, img.height, img.channels]).toEqual([96, 128, 3]);
    expect(near(at(img, 90, 5), [255, 0, 0])).toBe(true);
    expect(near(at(img, 5, 5), [0, 0, 255])).toBe(true);
    expect(near(at(img, 90, 120), [0, 255, 0])).toBe(true);
    // Small images are never enlarged.
    const small = await decodeImageNode(new Uint8Array(jpeg), { edge: 4000 });
    expect([small.width, small.height]).toEqual([1200, 1600]);
  });

  it('reads 16-bit, palette and grey-with-alpha PNGs, WebP and AVIF', async () => {
    const raw = quadrants(40, 30);
    const src = () => sharp(raw, { raw: { width: 40, height: 30, channels: 3 } });
    const cases: Array<[string, Buffer, number]> = [
      ['16-bit PNG', await src().toColourspace('rgb16').png().toBuffer(), 3],
      ['palette PNG', await src().png({ palette: true, colours: 8 }).toBuffer(), 3],
      ['grey+alpha PNG', await src().toColourspace('b-w').ensureAlpha(0.5).png().toBuffer(), 1],
      ['WebP', await src().webp({ lossless: true }).toBuffer(), 3],
      ['AVIF', await src().avif({ lossless: true }).toBuffer(), 3],
    ];
    for (const [what, bytes, channels] of cases) {
      const img = await decodeImageNode(new Uint8Array(bytes));
      expect({ what, size: [img.width, img.height, img.channels] }).toEqual({ what, size: [40, 30, channels] });
      if (channels === 3) expect({ what, ok: near(at(img, 30, 25), [255, 255, 255]) && near(at(img, 2, 2), [255, 0, 0]) }).toEqual({ what, ok: true });
    }
  });
});

describe('working-size image cache', () => {
  it('skips decoding on a second load of the same files, holds images on disk, and decodes a changed file again', async () => {
    const data = join(root, 'set');
    for (const [cls, n] of [['a', 3], ['b', 2]] as const) {
      await mkdir(join(data, cls), { recursive: true });
      for (let i = 0; i < n; i++) {
        const png = await sharp(quadrants(300 + 10 * i, 200), { raw: { width: 300 + 10 * i, height: 200, channels: 3 } }).png().toBuffer();
        await writeFile(join(data, cls, `${i}.png`), png);
      }
    }
    let decodes = 0;
    const inner = nodeImageDecoder({ edge: 50, resample: RESAMPLE.bilinear });
    const decode = (bytes: Uint8Array) => {
      decodes++;
      return inner(bytes);
    };
    const cacheDir = join(root, 'cache');
    const load = () => readImageFolder(new NodeFolderSource(data), { decode, cache: nodeImageCache(50, RESAMPLE.bilinear, { dir: cacheDir, onDisk: true }) });
    const first = await load();
    expect(decodes).toBe(5);
    const second = await load();
    expect(decodes).toBe(5);
    expect(second.images.map((im) => [im.width, im.height])).toEqual(first.images.map((im) => [im.width, im.height]));
    expect(second.images[0].onDisk).toBe(true);
    expect(Array.from(second.images[4].data)).toEqual(Array.from(first.images[4].data));
    expect(second.images[0].width).toBe(75);
    // Another working size is another entry; a touched file is decoded again.
    await readImageFolder(new NodeFolderSource(data), { decode: nodeImageDecoder({ edge: 40 }), cache: nodeImageCache(40, RESAMPLE.bicubic, { dir: cacheDir }) });
    await utimes(join(data, 'a', '1.png'), new Date(), new Date(Date.now() + 5000));
    await load();
    expect(decodes).toBe(6);
  });
});
