import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDatasetFolder } from '../node';
import { NodeFolderSource } from '../sources/nodeFolder';
import { nodeImageDecoder } from './decodeNode';
import { readImageFolder } from './imageFolder';
import { sniffImageFormat } from './imageFormat';

let root: string;

function png(width: number, height: number, colorType: 0 | 2 | 6, pixel: (x: number, y: number) => [number, number, number, number]): Buffer {
  const img = new pngjs.PNG({ width, height, colorType, inputColorType: 6 });
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) img.data.set(pixel(x, y), 4 * (y * width + x));
  return pngjs.PNG.sync.write(img, { colorType, inputColorType: 6 });
}

function jpg(width: number, height: number, rgb: [number, number, number]): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([...rgb, 255], 4 * i);
  return jpeg.encode({ width, height, data }, 95).data;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rankscope-folder-'));
  const put = async (rel: string, bytes: Uint8Array | string) => {
    await mkdir(join(root, 'pets', rel, '..'), { recursive: true });
    await writeFile(join(root, 'pets', rel), bytes);
  };
  await put('cat/a.png', png(3, 2, 2, (x, y) => [x * 100, y * 100, 7, 255]));
  await put('cat/nested/b.png', png(4, 4, 6, () => [1, 2, 3, 128]));
  await put('cat/not-really.jpg', png(2, 2, 0, (x) => [x * 255, x * 255, x * 255, 255]));
  await put('dog/c.jpg', jpg(8, 6, [200, 30, 40]));
  await put('dog/broken.png', png(4, 4, 2, () => [1, 2, 3, 255]).subarray(0, 40));
  await put('dog/notes.txt', 'a dog');
  await put('dog/.DS_Store', 'junk');
  await put('empty-class/bad.jpeg', 'nope');
  await put('README.md', 'top-level file');
  await put('bird/d.gif', 'GIF89a....');
  await put('bird/e.png', png(5, 5, 0, () => [9, 9, 9, 255]));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('class-folder data sets', () => {
  it('decodes PNG and JPEG into one dataset, and lists what it skipped and why', async () => {
    const progress: number[] = [];
    const ds = await readImageFolder(new NodeFolderSource(join(root, 'pets')), { decode: nodeImageDecoder(), onProgress: (p) => progress.push(p.done) });
    expect(ds.classNames).toEqual(['bird', 'cat', 'dog']);
    expect(ds.images.length).toBe(5);
    expect([...ds.labels]).toEqual([0, 1, 1, 1, 2]);
    const [bird, catA, catB, catGrey, dog] = ds.images;
    expect(bird).toMatchObject({ width: 5, height: 5, channels: 1 });
    expect(catA).toMatchObject({ width: 3, height: 2, channels: 3 });
    expect([...catA.data.subarray(0, 6)]).toEqual([0, 0, 7, 100, 0, 7]);
    expect([...catA.data.subarray(9, 12)]).toEqual([0, 100, 7]);
    // RGBA loses its alpha, as PIL's convert('RGB') does.
    expect(catB).toMatchObject({ width: 4, height: 4, channels: 3 });
    expect([...catB.data.subarray(0, 3)]).toEqual([1, 2, 3]);
    // Decoded by content: a PNG named .jpg still reads.
    expect(catGrey).toMatchObject({ width: 2, height: 2, channels: 1 });
    expect([...catGrey.data]).toEqual([0, 255, 0, 255]);
    expect(dog).toMatchObject({ width: 8, height: 6, channels: 3 });
    expect(Math.abs(dog.data[0] - 200)).toBeLessThan(6);
    expect(Math.abs(dog.data[1] - 30)).toBeLessThan(6);
    const skipped = Object.fromEntries(ds.skipped.map((s) => [s.file, s.reason]));
    expect(Object.keys(skipped).sort()).toEqual(['README.md', 'bird/d.gif', 'dog/broken.png', 'dog/notes.txt', 'empty-class/', 'empty-class/bad.jpeg']);
    expect(skipped['README.md']).toMatch(/not inside a class folder/);
    expect(skipped['dog/notes.txt']).toMatch(/not an image file/);
    expect(skipped['bird/d.gif']).toMatch(/^damaged GIF \(/);
    expect(skipped['empty-class/bad.jpeg']).toMatch(/not an image \(unrecognised content/);
    expect(skipped['dog/broken.png']).toMatch(/^damaged PNG \(/);
    expect(skipped['empty-class/']).toMatch(/no readable images, so this class was left out/);
    expect(progress[progress.length - 1]).toBe(8);
  });

  it('loads through the CLI entry point', async () => {
    const ds = await loadDatasetFolder(join(root, 'pets'));
    expect(ds.images.length).toBe(5);
    expect(ds.validation).toBeUndefined();
    const nothing = join(root, 'nothing');
    await mkdir(join(nothing, 'x'), { recursive: true });
    await writeFile(join(nothing, 'x', 'a.png'), 'bad');
    await expect(loadDatasetFolder(nothing)).rejects.toThrow(/holds no readable images in class folders \(x\/a\.png: not an image \(unrecognised content.*\)\)\. Lay it out as one folder per class/);
  });

  it('trains on train/ and validates on val/ (preferred over test/), with the training split\'s classes', async () => {
    const splits = join(root, 'splits');
    const put = async (rel: string, v: number) => {
      await mkdir(join(splits, rel, '..'), { recursive: true });
      await writeFile(join(splits, rel), png(2, 1, 2, () => [v, v, v, 255]));
    };
    await put('train/dog/a.png', 10);
    await put('train/cat/a.png', 20);
    await put('train/cat/b.png', 30);
    await put('val/dog/x.png', 40);
    await put('val/fox/y.png', 50);
    await put('test/cat/z.png', 60);
    const progress: Array<[number, number]> = [];
    const ds = await readImageFolder(new NodeFolderSource(splits), { decode: nodeImageDecoder(), onProgress: (p) => progress.push([p.done, p.total]) });
    expect(ds.source).toMatch(/\(train split\)$/);
    expect(ds.classNames).toEqual(['cat', 'dog']);
    expect([...ds.labels]).toEqual([0, 0, 1]);
    expect(ds.images.map((im) => im.data[0])).toEqual([20, 30, 10]);
    expect(ds.validation?.split).toBe('val');
    const val = ds.validation!.set;
    expect(val.source).toMatch(/\(val split\)$/);
    expect(val.classNames).toEqual(['cat', 'dog']);
    expect([...val.labels]).toEqual([1]);
    expect(val.images[0].data[0]).toBe(40);
    const skipped = Object.fromEntries(ds.skipped.map((s) => [s.file, s.reason]));
    expect(skipped['val/fox/y.png']).toMatch(/class fox is not among the training split's classes/);
    expect(skipped['test/']).toMatch(/not read: val is the validation split/);
    expect(progress.at(-1)).toEqual([4, 4]);
    // Without val/, test/ validates; a set with no training split is refused by name.
    await rm(join(splits, 'val'), { recursive: true });
    expect((await loadDatasetFolder(splits)).validation?.split).toBe('test');
    await rm(join(splits, 'train'), { recursive: true });
    await put('valid/cat/q.png', 1);
    await expect(loadDatasetFolder(splits)).rejects.toThrow(/holds split folders \(test, valid\) but none is a training split/);
  });

  it('is cancelled by its signal', async () => {
    const ac = new AbortController();
    const p = readImageFolder(new NodeFolderSource(join(root, 'pets')), { decode: nodeImageDecoder(), signal: ac.signal, onProgress: () => ac.abort() });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('recognises formats by their first bytes', () => {
    expect(sniffImageFormat(png(1, 1, 2, () => [0, 0, 0, 255]))).toBe('png');
    expect(sniffImageFormat(jpg(1, 1, [0, 0, 0]))).toBe('jpeg');
    expect(sniffImageFormat(new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 '))).toBe('webp');
    expect(sniffImageFormat(Uint8Array.of(1, 2, 3))).toBeNull();
  });
});
