/**
 * Fuzz targets for every parser a person's files reach: each pairs intact seed files with
 * fast-check generators that damage them (flipped bits, cut ends, inserted bytes, header fields
 * overwritten with boundary values) or replace them with noise, and a run that must either give a
 * result that holds together or throw one of the typed errors whose message names the file.
 * Vitest runs a few thousand cases (src/io/fuzz/parsers.test.ts); `npm run fuzz -- --minutes N`
 * runs the same targets for as long as asked.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { gzipSync, strToU8, zipSync } from 'fflate';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { makeModel } from '../../models/makeModel';
import { ConfigError, parseConfig } from '../../models/spec';
import { loadCheckpoint } from '../checkpoint';
import { parseCifarBatch } from '../datasets/cifar';
import { idxDataset, parseIdx } from '../datasets/idx';
import { loadImageDataset } from '../datasets/load';
import { TarSource } from '../datasets/tar';
import { ZipSource } from '../datasets/zip';
import { crc32 } from '../crc32';
import { IoError } from '../errors';
import { AdapterImportError, readAdapterZip } from '../peft';
import { readSafetensors, writeSafetensors } from '../safetensors';
import { DroppedFilesSource } from '../sources/droppedFiles';
import { MemorySource } from '../sources/memory';
import type { ImageDecoder } from '../datasets/imageFolder';
import type { ImageDataset } from '../datasets/types';

export interface FuzzTarget {
  name: string;
  /** The file name the parser is given; every error message must name it. */
  file: string;
  inputs: fc.Arbitrary<Uint8Array>;
  /** Parses, and throws an Error (not a typed one) when a result does not hold together. */
  run(bytes: Uint8Array): Promise<void>;
  /** Error types this parser may throw for bad input (besides IoError). */
  typed?: Array<new (...args: never[]) => Error>;
}

/** Thrown by a target's own checks on a returned result: always a finding. */
export class InconsistentResult extends Error {
  override name = 'InconsistentResult';
}

function expectThat(ok: boolean, what: string): void {
  if (!ok) throw new InconsistentResult(what);
}

const BOUNDARY = [0, 1, 0x7f, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 1 << 20, 1 << 30];

/** Damaged copies of the seeds, and plain noise. */
export function mutated(seeds: Uint8Array[], maxNoise = 4096): fc.Arbitrary<Uint8Array> {
  const seed = fc.constantFrom(...seeds);
  const flips = fc.tuple(seed, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 12 })).map(([s, fl]) => {
    const out = s.slice();
    for (const [at, x] of fl) if (out.length) out[at % out.length] ^= x;
    return out;
  });
  const cut = fc.tuple(seed, fc.nat()).map(([s, n]) => s.slice(0, s.length ? n % s.length : 0));
  const insert = fc.tuple(seed, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([s, at, b]) => {
    const p = s.length ? at % s.length : 0;
    return new Uint8Array([...s.subarray(0, p), ...b, ...s.subarray(p)]);
  });
  const field = fc.tuple(seed, fc.array(fc.tuple(fc.nat(), fc.constantFrom(...BOUNDARY)), { minLength: 1, maxLength: 4 })).map(([s, fields]) => {
    const out = s.slice();
    const v = new DataView(out.buffer);
    for (const [at, value] of fields) {
      if (out.length < 4) break;
      const p = at % (out.length - 3);
      // Both byte orders: IDX and CIFAR are big-endian, zip, tar sizes and safetensors little.
      if (at & 1) v.setUint32(p, value >>> 0, true);
      else v.setUint32(p, value >>> 0, false);
    }
    return out;
  });
  const noise = fc.uint8Array({ maxLength: maxNoise });
  return fc.oneof({ weight: 4, arbitrary: flips }, { weight: 2, arbitrary: cut }, { weight: 1, arbitrary: insert }, { weight: 3, arbitrary: field }, { weight: 1, arbitrary: noise }, { weight: 1, arbitrary: seed });
}

/** Checks that an error is one a person may see: typed, and naming the file. */
export function acceptable(target: FuzzTarget, e: unknown): string | undefined {
  if (e instanceof InconsistentResult) return `inconsistent result: ${e.message}`;
  const types = [IoError, ...(target.typed ?? [])];
  if (!types.some((T) => e instanceof T)) return `untyped ${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message ?? String(e)}`;
  const message = (e as Error).message;
  const base = target.file.split('/').pop()!;
  if (!message.includes(base)) return `message does not name ${base}: ${message}`;
  return undefined;
}

// ---------------------------------------------------------------- seeds

function png(width: number, height: number, seed: number): Uint8Array {
  // A real, minimal PNG (8-bit greyscale), zlib-compressed rows with filter byte 0.
  const raw = new Uint8Array(height * (width + 1));
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw[y * (width + 1) + 1 + x] = (x * 31 + y * 17 + seed) & 0xff;
  const chunk = (type: string, data: Uint8Array) => {
    const body = new Uint8Array([...strToU8(type), ...data]);
    const out = new Uint8Array(12 + data.length);
    const v = new DataView(out.buffer);
    v.setUint32(0, data.length);
    out.set(body, 4);
    v.setUint32(8 + data.length, crc32(body));
    return out;
  };
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 0, 0, 0, 0], 8);
  // zlib wrapper around a stored deflate block keeps this free of a compressor.
  const zlib = new Uint8Array([0x78, 0x01, 1, raw.length & 0xff, raw.length >> 8, ~raw.length & 0xff, (~raw.length >> 8) & 0xff, ...raw, 0, 0, 0, 0]);
  let a = 1;
  let b = 0;
  for (const x of raw) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  new DataView(zlib.buffer).setUint32(zlib.length - 4, ((b << 16) | a) >>> 0);
  return new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...chunk('IHDR', ihdr), ...chunk('IDAT', zlib), ...chunk('IEND', new Uint8Array(0))]);
}

function idxFile(type: number, dims: number[], data: Uint8Array): Uint8Array {
  const head = new Uint8Array(4 + 4 * dims.length);
  const v = new DataView(head.buffer);
  head.set([0, 0, type, dims.length]);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
  return new Uint8Array([...head, ...data]);
}

function cifarBatch(records: number, kind: 'cifar10' | 'cifar100'): Uint8Array {
  const per = kind === 'cifar10' ? 3073 : 3074;
  const out = new Uint8Array(records * per);
  for (let r = 0; r < records; r++) {
    out[r * per] = r % 10;
    if (kind === 'cifar100') out[r * per + 1] = (r * 7) % 100;
    for (let i = kind === 'cifar10' ? 1 : 2; i < per; i++) out[r * per + i] = (r + i) & 0xff;
  }
  return out;
}

function tarFile(entries: Array<[string, Uint8Array]>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [name, data] of entries) {
    const h = new Uint8Array(512);
    h.set(strToU8(name), 0);
    h.set(strToU8('0000644\0'), 100);
    h.set(strToU8(`${data.length.toString(8).padStart(11, '0')}\0`), 124);
    h[156] = 48;
    h.set(strToU8('ustar\0'), 257);
    h.fill(32, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.set(strToU8(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    parts.push(h, data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  parts.push(new Uint8Array(1024));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const decodeTiny: ImageDecoder = async (bytes: Uint8Array) => {
  // The image decoders have their own target; here only the archive and table readers are under test.
  const { decodeImageNode } = await import('../datasets/decodeNode');
  return decodeImageNode(bytes);
};

function adapterZip(): Uint8Array {
  const config = {
    peft_type: 'LORA',
    base_model_name_or_path: 'google/vit-base-patch16-224',
    r: 2,
    lora_alpha: 2,
    target_modules: ['query', 'value'],
    modules_to_save: ['classifier'],
    lora_dropout: 0,
    bias: 'none',
    task_type: null,
  };
  const t = (shape: number[]) => ({ dtype: 'F32' as const, shape, data: Float32Array.from({ length: shape[0] * shape[1] }, (_, i) => i / 100) });
  const tensors = writeSafetensors({
    'base_model.model.vit.layers.0.attention.q_proj.lora_A.weight': t([2, 8]),
    'base_model.model.vit.layers.0.attention.q_proj.lora_B.weight': t([8, 2]),
  });
  return zipSync({ 'adapter_config.json': strToU8(JSON.stringify(config)), 'adapter_model.safetensors': tensors });
}

// ---------------------------------------------------------------- targets

export function fuzzTargets(): FuzzTarget[] {
  const made = makeModel({ arch: 'vit', preset: 'tiny', seed: 0, labels: 2 });
  const weights = writeSafetensors(new Map([...made.tensors].map(([k, v]) => [k, { dtype: 'F32' as const, shape: v.shape, data: v.data }])));
  const smallTensors = writeSafetensors({ a: { dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }, b: { dtype: 'F16', shape: [4], data: Float32Array.of(1, 2, 3, 4) } });
  const configText = strToU8(JSON.stringify(made.config));
  const preprocessorText = strToU8(JSON.stringify(made.preprocessorConfig));
  const idxImages = idxFile(0x08, [3, 4, 4], Uint8Array.from({ length: 48 }, (_, i) => i * 5));
  const idxLabels = idxFile(0x08, [3], Uint8Array.of(0, 1, 1));
  const images = [png(3, 2, 1), png(1, 1, 2), png(5, 4, 3)];
  const zip = zipSync({ 'set/cats/a.png': images[0], 'set/cats/b.png': images[1], 'set/dogs/c.png': images[2] });
  const tar = tarFile([['cats/a.png', images[0]], ['dogs/c.png', images[2]], ['dogs/d.png', images[1]]]);
  const parquet = new Uint8Array(
    parquetWriteBuffer({
      columnData: [
        { name: 'image', data: images.map((bytes) => ({ bytes, path: null })) },
        { name: 'label', data: [0n, 1n, 1n] },
      ],
      schema: [
        { name: 'schema', num_children: 2 },
        { name: 'image', repetition_type: 'OPTIONAL', num_children: 2 },
        { name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
        { name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
        { name: 'label', type: 'INT64', repetition_type: 'OPTIONAL' },
      ],
      kvMetadata: [{ key: 'huggingface', value: JSON.stringify({ info: { features: { image: { _type: 'Image' }, label: { names: ['cat', 'dog'], _type: 'ClassLabel' } } } }) }],
    }),
  );
  const adapter = adapterZip();
  // A real JPEG from the preprocessing fixtures (made with Pillow); paths are from the repository root.
  const jpegSeed = new Uint8Array(readFileSync('src/io/datasets/fixtures/preprocess/grey.jpg'));

  const datasetHolds = (ds: ImageDataset) => {
    expectThat(ds.images.length === ds.labels.length, `${ds.images.length} images but ${ds.labels.length} labels`);
    for (const l of ds.labels) expectThat(l >= 0 && l < ds.classNames.length, `label ${l} outside ${ds.classNames.length} classes`);
    for (const im of ds.images) expectThat(im.data.length === im.width * im.height * im.channels, `image ${im.width}×${im.height}×${im.channels} holds ${im.data.length} values`);
  };

  return [
    {
      name: 'safetensors',
      file: 'model.safetensors',
      inputs: mutated([smallTensors, weights.subarray(0, Math.min(weights.length, 4096)), weights]),
      async run(bytes) {
        const f = readSafetensors(bytes, { fileName: 'model.safetensors' });
        for (const [name, t] of f.tensors) expectThat(t.data.length === t.shape.reduce((a, b) => a * b, 1), `${name}: ${t.data.length} values for shape [${t.shape}]`);
      },
    },
    {
      name: 'config.json (text, through the checkpoint loader and the model config parser)',
      file: 'config.json',
      typed: [ConfigError],
      inputs: mutated([configText], 512),
      async run(bytes) {
        const ckpt = await loadCheckpoint(new MemorySource([['config.json', bytes], ['model.safetensors', weights]], 'fuzzed model'));
        const spec = parseConfig(ckpt.config, 'config.json', ckpt.tensors.keys());
        for (const k of ['hidden', 'layers', 'heads', 'intermediate', 'imageSize', 'patchSize', 'channels'] as const) {
          expectThat(Number.isInteger(spec[k]) && spec[k] >= 1, `${k} = ${spec[k]}`);
        }
      },
    },
    {
      name: 'config.json (values)',
      file: 'config.json',
      typed: [ConfigError],
      inputs: fc
        .record({
          key: fc.constantFrom('hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'image_size', 'patch_size', 'num_channels', 'hidden_act', 'architectures', 'model_type', 'layer_norm_eps', 'id2label'),
          value: fc.oneof(fc.integer({ min: -5, max: 5000 }), fc.double(), fc.constantFrom(0, -1, 1e9, 2.5, null, '', 'gelu', [], {}), fc.string({ maxLength: 12 })),
        })
        .map(({ key, value }) => strToU8(JSON.stringify({ ...made.config, [key]: value }))),
      async run(bytes) {
        const spec = parseConfig(JSON.parse(new TextDecoder().decode(bytes)), 'config.json');
        expectThat(spec.hidden % spec.heads === 0, 'hidden not divisible by heads');
        expectThat(spec.patchSize <= spec.imageSize, 'patch larger than image');
      },
    },
    {
      name: 'preprocessor_config.json (text, through the checkpoint loader)',
      file: 'preprocessor_config.json',
      inputs: fc.oneof(
        mutated([preprocessorText, strToU8(JSON.stringify({ size: { shortest_edge: 16 }, crop_size: 16, do_center_crop: true, image_std: 0.5 }))], 512),
        fc
          .record({
            key: fc.constantFrom('size', 'crop_size', 'image_mean', 'image_std', 'rescale_factor', 'resample', 'do_resize', 'do_center_crop', 'do_normalize', 'do_rescale'),
            value: fc.oneof(
              fc.integer({ min: -5, max: 5000 }),
              fc.double(),
              fc.constantFrom(0, -1, 1e9, 2.5, null, '', true, false, [], {}, [0, 0, 0], [0.5, 0, 0.5], [1, 2], { height: 0, width: 5 }, { shortest_edge: -3 }),
              fc.array(fc.double(), { maxLength: 4 }),
            ),
          })
          .map(({ key, value }) => strToU8(JSON.stringify({ ...made.preprocessorConfig, [key]: value }))),
      ),
      async run(bytes) {
        const ckpt = await loadCheckpoint(
          new MemorySource([['config.json', configText], ['model.safetensors', weights], ['preprocessor_config.json', bytes]], 'fuzzed model'),
        );
        const p = ckpt.preprocessor;
        // What the batch code relies on: a whole, positive input size and statistics that divide cleanly.
        for (const [k, v] of Object.entries(p.inputSize)) expectThat(Number.isInteger(v) && v >= 1, `input ${k} = ${v}`);
        if (p.std) expectThat(p.std.every((v) => Number.isFinite(v) && v > 0), `image_std ${JSON.stringify(p.std)}`);
        if (p.mean) expectThat(p.mean.every(Number.isFinite), `image_mean ${JSON.stringify(p.mean)}`);
        if (p.rescaleFactor !== null) expectThat(Number.isFinite(p.rescaleFactor), `rescale_factor ${p.rescaleFactor}`);
      },
    },
    {
      name: 'IDX images',
      file: 'train-images-idx3-ubyte',
      inputs: mutated([idxImages, gzipSync(idxImages)], 512),
      async run(bytes) {
        const ds = idxDataset(parseIdx(bytes, 'train-images-idx3-ubyte'), parseIdx(idxLabels, 'labels'), {
          classNames: ['a', 'b'],
          imagesFile: 'train-images-idx3-ubyte',
          labelsFile: 'labels',
        });
        datasetHolds(ds);
      },
    },
    {
      name: 'IDX labels',
      file: 'train-labels-idx1-ubyte',
      inputs: mutated([idxLabels, gzipSync(idxLabels)], 256),
      async run(bytes) {
        datasetHolds(
          idxDataset(parseIdx(idxImages, 'images'), parseIdx(bytes, 'train-labels-idx1-ubyte'), {
            classNames: ['a', 'b'],
            imagesFile: 'images',
            labelsFile: 'train-labels-idx1-ubyte',
          }),
        );
      },
    },
    {
      name: 'CIFAR-10 and CIFAR-100 batches',
      file: 'data_batch_1.bin',
      inputs: mutated([cifarBatch(2, 'cifar10'), cifarBatch(1, 'cifar100')], 8192),
      async run(bytes) {
        for (const kind of ['cifar10', 'cifar100'] as const) {
          try {
            const b = parseCifarBatch(bytes, kind, 'data_batch_1.bin');
            expectThat(b.images.length === b.labels.length, 'images and labels differ');
            for (const l of b.labels) expectThat(l >= 0 && l < (kind === 'cifar10' ? 10 : 100), `label ${l}`);
          } catch (e) {
            if (!(e instanceof IoError)) throw e;
            if (kind === 'cifar100') throw e;
          }
        }
      },
    },
    {
      name: 'zip',
      file: 'photos.zip',
      inputs: mutated([zip], 2048),
      async run(bytes) {
        const src = new ZipSource(bytes, 'photos.zip');
        for (const name of await src.list()) {
          try {
            await src.readBytes(name);
          } catch (e) {
            // A damaged entry is named by its own path inside the zip.
            if (!(e instanceof IoError) || !e.message.includes(name)) throw new InconsistentResult(`entry ${name}: ${(e as Error).message}`);
          }
        }
      },
    },
    {
      name: 'tar and tar.gz',
      file: 'photos.tar',
      inputs: mutated([tar, gzipSync(tar)], 2048),
      async run(bytes) {
        const src = new TarSource(bytes, 'photos.tar');
        for (const name of await src.list()) await src.readBytes(name);
      },
    },
    {
      name: 'parquet (Hugging Face image set)',
      file: 'train.parquet',
      inputs: mutated([parquet], 2048),
      async run(bytes) {
        const ds = await loadImageDataset(new DroppedFilesSource([{ file: new Blob([bytes as Uint8Array<ArrayBuffer>]), path: 'train.parquet' }]), { decode: decodeTiny });
        datasetHolds(ds);
      },
    },
    {
      name: 'PNG and JPEG headers (in a class folder)',
      file: 'cats/photo.png',
      inputs: mutated([images[0], images[2], jpegSeed], 1024),
      async run(bytes) {
        // A damaged image is skipped with a reason; the rest of the folder loads.
        const ds = await loadImageDataset(new MemorySource([['cats/photo.png', bytes], ['cats/ok.png', images[1]], ['dogs/ok.png', images[1]]], 'photos'), { decode: decodeTiny });
        datasetHolds(ds);
        const read = ds.labels.length === 3;
        const skipped = ds.skipped.some((x) => x.file === 'cats/photo.png' && x.reason.length > 0);
        expectThat(read !== skipped, `cats/photo.png neither loaded nor skipped with a reason (${ds.labels.length} images)`);
      },
    },
    {
      name: 'adapter import (zip)',
      file: 'adapter.zip',
      typed: [AdapterImportError],
      inputs: mutated([adapter], 2048),
      async run(bytes) {
        const a = await readAdapterZip(bytes, 'adapter.zip');
        expectThat(typeof a.method === 'string', 'no method');
      },
    },
  ];
}
