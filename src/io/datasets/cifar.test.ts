import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DroppedFilesSource } from '../sources/droppedFiles';
import { NodeFolderSource } from '../sources/nodeFolder';
import { CIFAR100_FINE_CLASSES, CIFAR10_CLASSES, findCifarFiles, parseCifarBatch } from './cifar';
import { detectDatasetLayout, loadImageDataset } from './load';
import { TarSource } from './tar';
import { classCounts } from './types';

const decode = () => Promise.reject(new Error('CIFAR needs no image decoder'));

/** The pixel value of image `i`, channel `c` (0 R, 1 G, 2 B), at row y, column x: distinct enough to catch a wrong layout. */
const pixel = (i: number, c: number, y: number, x: number) => (i * 37 + c * 80 + y * 3 + x) & 0xff;

/**
 * Records exactly as the CIFAR "binary version" lays them out: label byte(s), then the red plane,
 * the green plane and the blue plane, each 32 rows of 32 bytes.
 */
function cifarBytes(labels: number[][], first = 0): Uint8Array {
  const record = labels[0].length + 3072;
  const out = new Uint8Array(labels.length * record);
  labels.forEach((ls, k) => {
    const r = k * record;
    out.set(ls, r);
    for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) out[r + ls.length + c * 1024 + y * 32 + x] = pixel(first + k, c, y, x);
  });
  return out;
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rankscope-cifar-'));
  const c10 = join(root, 'cifar-10-batches-bin');
  await mkdir(c10, { recursive: true });
  await writeFile(join(c10, 'data_batch_1.bin'), cifarBytes([[3], [9], [0]], 0));
  await writeFile(join(c10, 'data_batch_2.bin'), cifarBytes([[3], [1]], 3));
  // Truncated in the middle of a record: reported, while the other batches load.
  await writeFile(join(c10, 'data_batch_3.bin'), cifarBytes([[5], [5]]).subarray(0, 3073 + 100));
  await writeFile(join(c10, 'test_batch.bin'), cifarBytes([[7], [2]], 100));
  await writeFile(join(c10, 'batches.meta.txt'), `${CIFAR10_CLASSES.join('\n')}\n\n`);
  await writeFile(join(c10, 'readme.html'), '<html></html>');
  const c100 = join(root, 'cifar-100-binary');
  await mkdir(c100, { recursive: true });
  // [coarse, fine] per record: the fine label is the class.
  await writeFile(join(c100, 'train.bin'), cifarBytes([[4, 30], [4, 99], [19, 0], [4, 30]]));
  await writeFile(join(c100, 'test.bin'), cifarBytes([[1, 2]]));
  await writeFile(join(c100, 'coarse_label_names.txt'), 'a\nb\n');
  await writeFile(join(c100, 'fine_label_names.txt'), `${CIFAR100_FINE_CLASSES.join('\n')}\n`);
  execFileSync('tar', ['czf', join(root, 'cifar-10-binary.tar.gz'), '-C', root, 'cifar-10-batches-bin']);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('CIFAR binary batches', () => {
  it('turns planar records into channel-last RGB images with the right labels', () => {
    const { images, labels } = parseCifarBatch(cifarBytes([[3], [9]]), 'cifar10', 'b.bin');
    expect(labels).toEqual([3, 9]);
    const im = images[1];
    expect(im).toMatchObject({ width: 32, height: 32, channels: 3 });
    for (const [y, x] of [[0, 0], [5, 17], [31, 31]]) {
      expect([...im.data.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3)]).toEqual([0, 1, 2].map((c) => pixel(1, c, y, x)));
    }
    expect(() => parseCifarBatch(new Uint8Array(3074 * 2), 'cifar10', 'x.bin')).toThrow(/6148 bytes is not a whole number of 3073-byte CIFAR-10 records \(it would fit CIFAR-100 records/);
  });

  it('has the 100 fine class names in order', () => {
    expect(CIFAR100_FINE_CLASSES.length).toBe(100);
    expect(new Set(CIFAR100_FINE_CLASSES).size).toBe(100);
    // The official list is in alphabetical order.
    expect([...CIFAR100_FINE_CLASSES].sort()).toEqual(CIFAR100_FINE_CLASSES);
    expect(CIFAR100_FINE_CLASSES[30]).toBe('dolphin');
    expect(CIFAR100_FINE_CLASSES[99]).toBe('worm');
  });

  it('loads the CIFAR-10 training batches of a folder with batches.meta.txt names, flagging a truncated batch', async () => {
    const src = new NodeFolderSource(join(root, 'cifar-10-batches-bin'));
    expect(await detectDatasetLayout(src)).toBe('cifar');
    const ds = await loadImageDataset(src, { decode });
    expect(ds.classNames).toEqual(CIFAR10_CLASSES);
    expect([...ds.labels]).toEqual([3, 9, 0, 3, 1]);
    expect(ds.images[4].data[0]).toBe(pixel(4, 0, 0, 0));
    expect(ds.skipped).toEqual([{ file: 'data_batch_3.bin', reason: expect.stringMatching(/3173 bytes is not a whole number of 3073-byte CIFAR-10 records/) }]);
    expect(ds.source).toMatch(/CIFAR-10, train/);
    const test = await loadImageDataset(src, { decode, split: 'test' });
    expect([...test.labels]).toEqual([7, 2]);
  });

  it('loads CIFAR-100 with its fine labels and fine_label_names.txt', async () => {
    const ds = await loadImageDataset(new NodeFolderSource(join(root, 'cifar-100-binary')), { decode });
    expect(ds.classNames.length).toBe(100);
    expect([...ds.labels]).toEqual([30, 99, 0, 30]);
    expect(classCounts(ds)[30]).toBe(2);
    expect(ds.classNames[30]).toBe('dolphin');
    expect(ds.skipped).toEqual([]);
  });

  it('reads batch files dropped loose, and the cifar-10-binary.tar.gz a person downloads', async () => {
    const names = ['test_batch.bin', 'batches.meta.txt'];
    const dropped = new DroppedFilesSource(
      await Promise.all(names.map(async (n) => ({ file: new Blob([await readFile(join(root, 'cifar-10-batches-bin', n))]), path: n }))),
    );
    const loose = await loadImageDataset(dropped, { decode });
    // Only the test batch was dropped: it is what loads.
    expect([...loose.labels]).toEqual([7, 2]);

    const tgz = new Uint8Array(await readFile(join(root, 'cifar-10-binary.tar.gz')));
    const tar = new TarSource(tgz, 'cifar-10-binary.tar.gz');
    expect(await tar.list()).toEqual(['batches.meta.txt', 'data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'readme.html', 'test_batch.bin']);
    const fromTar = await loadImageDataset(new DroppedFilesSource([{ file: new Blob([tgz]), path: 'cifar-10-binary.tar.gz' }]), { decode });
    expect([...fromTar.labels]).toEqual([3, 9, 0, 3, 1]);
    expect(fromTar.skipped.map((s) => s.file)).toEqual(['data_batch_3.bin']);
  });

  it('finds batches in listings, in numeric order', () => {
    expect(findCifarFiles(['x/data_batch_10.bin', 'x/data_batch_2.bin', 'x/test_batch.bin'])).toMatchObject({
      kind: 'cifar10',
      train: ['x/data_batch_2.bin', 'x/data_batch_10.bin'],
      test: ['x/test_batch.bin'],
    });
    expect(findCifarFiles(['a.png'])).toBeNull();
  });
});
