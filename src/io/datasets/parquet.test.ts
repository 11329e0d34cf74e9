import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import pngjs from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DroppedFilesSource } from '../sources/droppedFiles';
import { NodeFolderSource } from '../sources/nodeFolder';
import { decodeImageNode } from './decodeNode';
import { detectDatasetLayout, loadImageDataset } from './load';
import { findParquetColumns, findParquetFiles } from './parquet';
import { datasetImage } from './types';

function png(width: number, height: number, rgb: [number, number, number]): Uint8Array {
  const img = new pngjs.PNG({ width, height });
  for (let i = 0; i < width * height; i++) img.data.set([...rgb, 255], 4 * i);
  return new Uint8Array(pngjs.PNG.sync.write(img));
}

const decode = (bytes: Uint8Array) => decodeImageNode(bytes);

type ImageCell = { bytes: Uint8Array | null; path: string | null } | null;

/**
 * A parquet file laid out as Hugging Face `datasets` writes an image classification set: an
 * image column of structs {bytes, path}, int64 label columns, and the features (Image,
 * ClassLabel with names) as JSON under the `huggingface` key of the file's metadata.
 */
function hfParquet(opts: {
  imageColumn?: string;
  images: ImageCell[];
  labels: Record<string, Array<bigint | string | null>>;
  features?: Record<string, unknown>;
}): Uint8Array {
  const imageColumn = opts.imageColumn ?? 'image';
  const labelNames = Object.keys(opts.labels);
  const schema = [
    { name: 'schema', num_children: 1 + labelNames.length },
    { name: imageColumn, repetition_type: 'OPTIONAL' as const, num_children: 2 },
    { name: 'bytes', type: 'BYTE_ARRAY' as const, repetition_type: 'OPTIONAL' as const },
    { name: 'path', type: 'BYTE_ARRAY' as const, converted_type: 'UTF8' as const, repetition_type: 'OPTIONAL' as const },
    ...labelNames.map((n) =>
      typeof opts.labels[n].find((v) => v !== null) === 'string'
        ? { name: n, type: 'BYTE_ARRAY' as const, converted_type: 'UTF8' as const, repetition_type: 'OPTIONAL' as const }
        : { name: n, type: 'INT64' as const, repetition_type: 'OPTIONAL' as const },
    ),
  ];
  const buffer = parquetWriteBuffer({
    columnData: [{ name: imageColumn, data: opts.images }, ...labelNames.map((n) => ({ name: n, data: opts.labels[n] }))],
    schema,
    kvMetadata: opts.features ? [{ key: 'huggingface', value: JSON.stringify({ info: { features: opts.features } }) }] : [],
  });
  return new Uint8Array(buffer);
}

const red = png(4, 3, [220, 0, 0]);
const blue = png(2, 2, [0, 0, 230]);

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rankscope-parquet-'));
  const data = join(root, 'beans', 'data');
  await mkdir(data, { recursive: true });
  const features = { image: { _type: 'Image' }, label: { names: ['angular_leaf_spot', 'bean_rust', 'healthy'], _type: 'ClassLabel' } };
  await writeFile(
    join(data, 'train-00000-of-00002.parquet'),
    hfParquet({
      images: [
        { bytes: red, path: 'red.png' },
        { bytes: png(1, 1, [1, 1, 1]).subarray(0, 30), path: 'cut.png' }, // a damaged image
        { bytes: blue, path: null },
      ],
      labels: { label: [0n, 1n, 2n] },
      features,
    }),
  );
  await writeFile(
    join(data, 'train-00001-of-00002.parquet'),
    hfParquet({ images: [null, { bytes: blue, path: 'b2.png' }], labels: { label: [1n, 2n] }, features }),
  );
  await writeFile(join(data, 'test-00000-of-00001.parquet'), hfParquet({ images: [{ bytes: red, path: 't.png' }], labels: { label: [0n] }, features }));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('Hugging Face parquet image sets', () => {
  it('reads every shard of the training split, names classes from ClassLabel, and flags rows it cannot use', async () => {
    const src = new NodeFolderSource(join(root, 'beans'));
    expect(await detectDatasetLayout(src)).toBe('parquet');
    const ds = await loadImageDataset(src, { decode });
    expect(ds.classNames).toEqual(['angular_leaf_spot', 'bean_rust', 'healthy']);
    expect([...ds.labels]).toEqual([0, 2, 2]);
    expect(ds.images.map((im) => [im.width, im.height, im.channels])).toEqual([[4, 3, 3], [2, 2, 3], [2, 2, 3]]);
    expect([...ds.images[0].data.subarray(0, 3)]).toEqual([220, 0, 0]);
    expect(ds.skipped).toEqual([
      { file: 'data/train-00000-of-00002.parquet row 1', reason: expect.stringMatching(/damaged PNG/) },
      { file: 'data/train-00001-of-00002.parquet row 0', reason: 'the image cell is empty' },
    ]);
    const test = await loadImageDataset(src, { decode, split: 'test' });
    expect(test.labels.length).toBe(1);
  });

  it('takes the fine label of a CIFAR-100-style file, and string labels as sorted class names', async () => {
    const cifar100 = hfParquet({
      imageColumn: 'img',
      images: [{ bytes: red, path: null }, { bytes: blue, path: null }],
      labels: { coarse_label: [3n, 3n], fine_label: [5n, 1n] },
      features: {
        img: { _type: 'Image' },
        fine_label: { names: ['a', 'b', 'c', 'd', 'e', 'f'], _type: 'ClassLabel' },
        coarse_label: { names: ['w', 'x', 'y', 'z'], _type: 'ClassLabel' },
      },
    });
    expect(findParquetColumns(cifar100, 'c.parquet')).toEqual({ image: 'img', label: 'fine_label', classNames: ['a', 'b', 'c', 'd', 'e', 'f'] });
    const ds = await loadImageDataset(new DroppedFilesSource([{ file: new Blob([cifar100 as Uint8Array<ArrayBuffer>]), path: 'train.parquet' }]), { decode });
    expect([...ds.labels]).toEqual([5, 1]);
    expect(ds.classNames[5]).toBe('f');

    // No metadata at all: a string label column, classes sorted by name.
    const strings = hfParquet({ images: [{ bytes: red, path: null }, { bytes: blue, path: null }, { bytes: red, path: null }], labels: { label: ['zebra', 'ant', 'zebra'] } });
    const byName = await loadImageDataset(new DroppedFilesSource([{ file: new Blob([strings as Uint8Array<ArrayBuffer>]), path: 'x.parquet' }]), { decode });
    expect(byName.classNames).toEqual(['ant', 'zebra']);
    expect([...byName.labels]).toEqual([1, 0, 1]);
  });

  it('opens a lone parquet file by its magic bytes and says what is missing from files that are not image sets', async () => {
    const file = hfParquet({ images: [{ bytes: red, path: null }], labels: { label: [0n] }, features: { label: { names: ['only'], _type: 'ClassLabel' } } });
    const ds = await loadImageDataset(new DroppedFilesSource([{ file: new Blob([file as Uint8Array<ArrayBuffer>]), path: 'download' }]), { decode });
    expect(ds.classNames).toEqual(['only']);

    const noLabel = new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'caption', data: ['a', 'b'], type: 'STRING' }] }));
    expect(() => findParquetColumns(noLabel, 'captions.parquet')).toThrow(/captions.parquet has no image column .* its columns are caption/);
    const unlabelled = hfParquet({ images: [{ bytes: red, path: null }], labels: { caption_id: [0n] } });
    expect(() => findParquetColumns(unlabelled, 'u.parquet')).toThrow(/u.parquet has an image column \(image\) but no label column/);
    expect(() => findParquetColumns(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), 'bad.parquet')).toThrow(/bad.parquet is not a readable parquet file/);
  });

  it('refuses labels past the ClassLabel names or absurdly large, and reads 160k rows without overflowing the stack', async () => {
    const load = (file: Uint8Array) =>
      loadImageDataset(new DroppedFilesSource([{ file: new Blob([file as Uint8Array<ArrayBuffer>]), path: 'train.parquet' }]), { decode });
    const past = hfParquet({
      images: [{ bytes: red, path: null }, { bytes: blue, path: null }],
      labels: { label: [0n, 7n] },
      features: { label: { names: ['a', 'b'], _type: 'ClassLabel' } },
    });
    await expect(load(past)).rejects.toThrow(/label 7 is past the 2 class names of its ClassLabel feature \(a, b\)/);
    const huge = hfParquet({ images: [{ bytes: red, path: null }, { bytes: blue, path: null }], labels: { label: [0n, 1_000_000_000n] } });
    await expect(load(huge)).rejects.toThrow(/label 1000000000 would make 1000000001 classes; Rankscope reads up to 100000 unnamed classes/);
    // One tiny image repeated: the reader's own loops, not the decoder, are what this exercises.
    const n = 160_000;
    const tiny = png(1, 1, [9, 9, 9]);
    const many = hfParquet({
      images: Array.from({ length: n }, () => ({ bytes: tiny, path: null })),
      labels: { label: Array.from({ length: n }, (_, i) => BigInt(i % 2)) },
    });
    // The reader's own loops over rows and labels are what this exercises, not 160k image
    // decodes (seconds each thousand): a decoder that returns one grey pixel per row.
    const ds = await loadImageDataset(new DroppedFilesSource([{ file: new Blob([many as Uint8Array<ArrayBuffer>]), path: 'train.parquet' }]), {
      decode: () => datasetImage(Uint8Array.of(9), 1, 1, 1),
    });
    expect(ds.labels.length).toBe(n);
    expect(ds.classNames).toEqual(['class 0', 'class 1']);
  }, 120_000);

  it('groups shards by the split their paths name', () => {
    expect(findParquetFiles(['plain_text/train/0000.parquet', 'plain_text/test/0000.parquet', 'data/validation-00000-of-00001.parquet', 'x.parquet', 'README.md'])).toEqual({
      train: ['plain_text/train/0000.parquet'],
      test: ['plain_text/test/0000.parquet'],
      validation: ['data/validation-00000-of-00001.parquet'],
      other: ['x.parquet'],
    });
  });
});
