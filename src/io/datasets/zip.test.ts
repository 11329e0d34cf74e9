import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync, strToU8, type Zippable } from 'fflate';
import pngjs from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { DroppedFilesSource } from '../sources/droppedFiles';
import { NodeFolderSource } from '../sources/nodeFolder';
import { decodeImageNode } from './decodeNode';
import { loadImageDataset, detectDatasetLayout } from './load';
import { crc32 } from '../crc32';
import { looksLikeZip, ZipSource } from './zip';

function png(width: number, height: number, rgb: [number, number, number]): Uint8Array {
  const img = new pngjs.PNG({ width, height });
  for (let i = 0; i < width * height; i++) img.data.set([...rgb, 255], 4 * i);
  return new Uint8Array(pngjs.PNG.sync.write(img));
}

const decode = (bytes: Uint8Array) => decodeImageNode(bytes);

/** A zip of class folders, the way a person would make one of their photos. */
function petsZip(top = 'pets/'): Uint8Array {
  const files: Zippable = {
    [`${top}cat/a.png`]: png(3, 2, [200, 10, 10]),
    [`${top}cat/b.png`]: [png(5, 4, [190, 20, 20]), { level: 0 }], // stored, not deflated
    [`${top}dog/c.png`]: png(4, 4, [10, 10, 200]),
    [`${top}dog/broken.png`]: png(4, 4, [1, 2, 3]).subarray(0, 40),
    [`${top}dog/notes.txt`]: strToU8('a dog'),
    '__MACOSX/._junk': strToU8('resource fork'),
  };
  return zipSync(files, { level: 6 });
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('zip archives', () => {
  it('crc32 matches the standard check value', () => {
    expect(crc32(strToU8('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('lists entries without the shared top folder or archive junk, and inflates each on demand', async () => {
    const zip = new ZipSource(petsZip(), 'pets.zip');
    expect(looksLikeZip(petsZip())).toBe(true);
    expect(await zip.list()).toEqual(['cat/a.png', 'cat/b.png', 'dog/broken.png', 'dog/c.png', 'dog/notes.txt']);
    expect(zip.description).toBe('zip pets.zip');
    expect(await decodeImageNode(await zip.readBytes('cat/b.png'))).toMatchObject({ width: 5, height: 4, channels: 3 });
    expect(await zip.readText('dog/notes.txt')).toBe('a dog');
    expect(await zip.exists('cat/a.png')).toBe(true);
    await expect(zip.readBytes('cat/zzz.png')).rejects.toThrow(/cat\/zzz.png is not in zip pets.zip/);
  });

  it('loads a zip of class folders dropped as one file, flagging the unreadable files', async () => {
    const dropped = new DroppedFilesSource([{ file: new Blob([petsZip() as Uint8Array<ArrayBuffer>]), path: 'pets.zip' }]);
    expect(await detectDatasetLayout(dropped)).toBe('zip');
    const ds = await loadImageDataset(dropped, { decode });
    expect(ds.classNames).toEqual(['cat', 'dog']);
    expect([...ds.labels]).toEqual([0, 0, 1]);
    expect(ds.images.map((im) => [im.width, im.height])).toEqual([[3, 2], [5, 4], [4, 4]]);
    expect(Array.from(ds.images[2].data.subarray(0, 3))).toEqual([10, 10, 200]);
    const skipped = Object.fromEntries(ds.skipped.map((s) => [s.file, s.reason]));
    expect(Object.keys(skipped).sort()).toEqual(['dog/broken.png', 'dog/notes.txt']);
    expect(skipped['dog/broken.png']).toMatch(/damaged PNG/);
    expect(skipped['dog/notes.txt']).toMatch(/not an image file/);
  });

  it('flags an entry whose compressed bytes were damaged and still loads the rest', async () => {
    const bytes = zipSync({ 'a/one.png': [png(6, 6, [1, 1, 1]), { level: 0 }], 'a/two.png': png(2, 2, [5, 5, 5]), 'b/three.png': png(2, 2, [7, 7, 7]) });
    // Flip bytes in the middle of the stored entry one.png's data: its CRC no longer matches.
    const at = bytes.findIndex((_, i) => bytes[i] === 0x49 && bytes[i + 1] === 0x44 && bytes[i + 2] === 0x41 && bytes[i + 3] === 0x54); // "IDAT"
    bytes[at + 8] ^= 0xff;
    const dir = await mkdtemp(join(tmpdir(), 'rankscope-zip-'));
    dirs.push(dir);
    await writeFile(join(dir, 'set.zip'), bytes);
    const ds = await loadImageDataset(new NodeFolderSource(dir), { decode });
    expect(ds.classNames).toEqual(['a', 'b']);
    expect(ds.images.length).toBe(2);
    expect(ds.skipped).toEqual([{ file: 'a/one.png', reason: expect.stringMatching(/one.png in zip set.zip is damaged \(its CRC-32 checksum does not match\)/) }]);
  });

  it('names the file and says what to do when a .zip is not a zip', async () => {
    const src = new DroppedFilesSource([{ file: new Blob(['definitely not a zip archive, just text']), path: 'photos.zip' }]);
    await expect(loadImageDataset(src, { decode })).rejects.toThrow(/photos.zip is not a readable zip archive: its end record is missing.*Create the zip again/);
  });

  it('opens a zip by its content when its name says nothing, and keeps a one-class top folder', async () => {
    const bytes = zipSync({ 'x/a.png': png(2, 2, [1, 2, 3]), 'y/b.png': png(2, 2, [3, 2, 1]) });
    const ds = await loadImageDataset(new DroppedFilesSource([{ file: new Blob([bytes as Uint8Array<ArrayBuffer>]), path: 'download' }]), { decode });
    expect(ds.classNames).toEqual(['x', 'y']);
    // A zip with one folder of loose images: that folder is a class, not a wrapper to strip.
    const one = new ZipSource(zipSync({ 'cats/a.png': png(2, 2, [1, 2, 3]) }), 'one.zip');
    expect(await one.list()).toEqual(['cats/a.png']);
  });

  it('reads IDX files inside a zip', async () => {
    const idx = (magic: number, dims: number[], values: number[]) => {
      const b = new Uint8Array(4 + 4 * dims.length + values.length);
      const v = new DataView(b.buffer);
      b.set([0, 0, magic, dims.length]);
      dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
      b.set(values, 4 + 4 * dims.length);
      return b;
    };
    const bytes = zipSync({
      'mnist/t10k-images-idx3-ubyte': idx(0x08, [2, 1, 2], [1, 2, 3, 4]),
      'mnist/t10k-labels-idx1-ubyte': idx(0x08, [2], [7, 3]),
    });
    const ds = await loadImageDataset(new ZipSource(bytes, 'mnist.zip'), { decode });
    // Only the test split is there: it is loaded rather than failing on the missing train split.
    expect([...ds.labels]).toEqual([7, 3]);
    expect(ds.source).toMatch(/\(test\)/);
  });
});
