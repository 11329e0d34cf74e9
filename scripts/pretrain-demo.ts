/**
 * Pretrains the demo backbone that ships in public/: a small ViT trained from scratch, with the
 * project's own engine, on half of Fashion-MNIST's classes (Debian's dataset-fashion-mnist), and
 * writes the held-out classes as a few-shot downstream data set. Seeded and reproducible:
 *
 *   node scripts/run-ts.mjs scripts/pretrain-demo.ts [--steps N] [--out-model DIR] [--out-data DIR]
 *
 * The backbone never sees the held-out classes, so fine-tuning on them is a real downstream task.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { nodeGpu } from '../src/gpu/node';
import { loadDatasetFolder } from '../src/io/node';
import { writeSafetensors } from '../src/io/safetensors';
import { generatedCheckpoint } from '../src/io/checkpoint';
import { kShotPerClass } from '../src/io/datasets/split';
import type { ImageDataset } from '../src/io/datasets/types';
import { hfJson, makeModel } from '../src/models/makeModel';
import { buildModel, normalisationFor, prepareData } from '../src/session/prepare';
import { loadMethod } from '../src/methods/registry';
import { Trainer } from '../src/train/trainer';

const FMNIST = '/usr/share/datasets/fashion-mnist';
/** Pretraining classes, and the held-out ones that make the downstream task. */
export const PRETRAIN_CLASSES = [0, 1, 3, 5, 8]; // T-shirt/top, Trouser, Dress, Sandal, Bag
export const HELDOUT_CLASSES = [2, 4, 6, 7, 9]; // Pullover, Coat, Shirt, Sneaker, Ankle boot
const SEED = 20261122;
const DIMS = { hidden: 48, layers: 3, heads: 4, intermediate: 96, imageSize: 28, patchSize: 7, channels: 3 };

function onlyClasses(ds: ImageDataset, classes: number[]): ImageDataset {
  const keep: number[] = [];
  ds.labels.forEach((l, i) => classes.includes(l) && keep.push(i));
  return {
    images: keep.map((i) => ds.images[i]),
    labels: Int32Array.from(keep, (i) => classes.indexOf(ds.labels[i])),
    classNames: classes.map((c) => ds.classNames[c]),
    source: `${ds.source}, classes ${classes.join(',')}`,
    skipped: [],
  };
}

function idxImages(ds: ImageDataset, idx: ArrayLike<number>): Uint8Array {
  const { width: w, height: h } = ds.images[0];
  const out = new Uint8Array(16 + idx.length * w * h);
  new DataView(out.buffer).setUint32(0, 0x803);
  new DataView(out.buffer).setUint32(4, idx.length);
  new DataView(out.buffer).setUint32(8, h);
  new DataView(out.buffer).setUint32(12, w);
  Array.from(idx).forEach((i, k) => out.set(ds.images[i].data as Uint8Array, 16 + k * w * h));
  return out;
}

function idxLabels(ds: ImageDataset, idx: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(8 + idx.length);
  new DataView(out.buffer).setUint32(0, 0x801);
  new DataView(out.buffer).setUint32(4, idx.length);
  Array.from(idx).forEach((i, k) => (out[8 + k] = ds.labels[i]));
  return out;
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string, fallback: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : fallback;
  };
  const steps = Number(arg('--steps', '1500'));
  const outModel = arg('--out-model', 'public/models/rankscope-vit-fmnist5');
  const outData = arg('--out-data', 'public/datasets/fashion-mnist-heldout');
  const train = await loadDatasetFolder(FMNIST, { split: 'train' });
  const test = await loadDatasetFolder(FMNIST, { split: 'test' });
  const pre = onlyClasses(train, PRETRAIN_CLASSES);
  const preTest = onlyClasses(test, PRETRAIN_CLASSES);

  const made = makeModel({ arch: 'vit', preset: 'tiny', dims: { ...DIMS, labels: PRETRAIN_CLASSES.length }, labels: pre.classNames, seed: SEED });
  const ckpt = generatedCheckpoint(made, 'fresh ViT');
  const data = prepareData(pre, { valFraction: 0, seed: SEED }, preTest);
  const gpu = await nodeGpu();
  console.log(`GPU: ${gpu.summary.description || gpu.summary.architecture}; ${data.train.count} training and ${data.val.count} test images of ${pre.classNames.join(', ')}`);
  const model = buildModel(gpu.ctx, ckpt, PRETRAIN_CLASSES.length, SEED);
  await loadMethod('full');
  const trainer = new Trainer(model, data, normalisationFor(model.spec, ckpt), {
    method: 'full',
    targets: [],
    steps,
    batchSize: 64,
    lr: 2e-3,
    weightDecay: 0.05,
    warmupSteps: Math.round(steps / 20),
    clipNorm: 1,
    labelSmoothing: 0.1,
    seed: SEED,
    logEvery: 50,
    evalEvery: Math.max(steps, 1),
  });
  const t0 = performance.now();
  const summary = await trainer.run({
    onMetric: (m) =>
      console.log(m.kind === 'train' ? `step ${m.step} loss ${m.loss.toFixed(4)} acc ${(100 * m.accuracy).toFixed(1)}%` : `test accuracy ${(100 * m.val_accuracy).toFixed(2)}%`),
  });
  const minutes = (performance.now() - t0) / 60000;

  await mkdir(outModel, { recursive: true });
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of model.params) tensors.set(name, { shape: [...t.shape], data: await t.read() });
  await writeFile(join(outModel, 'model.safetensors'), writeSafetensors(tensors, { metadata: { format: 'pt' } }));
  await writeFile(join(outModel, 'config.json'), hfJson(made.config));
  await writeFile(join(outModel, 'preprocessor_config.json'), hfJson(made.preprocessorConfig));
  let params = 0;
  for (const t of tensors.values()) params += t.data.length;
  await writeFile(
    join(outModel, 'README.md'),
    `# rankscope-vit-fmnist5

A small Vision Transformer (ViTForImageClassification layout, ${params.toLocaleString('en-US')} parameters: hidden ${DIMS.hidden},
${DIMS.layers} layers, ${DIMS.heads} heads, MLP ${DIMS.intermediate}, 28×28 input, 7×7 patches) that Rankscope pretrained
from scratch with its own WebGPU engine, so the playground has a backbone to fine-tune without a network.

- Data: Fashion-MNIST (Zalando Research, MIT licence) training split, only the classes
  ${pre.classNames.join(', ')} (${data.train.count} images). The other five classes are held out for the demo's downstream task.
- Recipe: full training, ${summary.steps} steps of batch 64, AdamW (lr 2e-3, weight decay 0.05, warmup + cosine),
  label smoothing 0.1, gradient clipping at 1, seed ${SEED}.
- Result: ${(100 * summary.final_val_accuracy).toFixed(2)}% accuracy on the ${data.val.count} test images of those five classes
  (${minutes.toFixed(1)} minutes on ${gpu.summary.description || gpu.summary.architecture}).
- Reproduce: \`node scripts/run-ts.mjs scripts/pretrain-demo.ts --steps ${steps}\` (needs Debian's dataset-fashion-mnist).
`,
  );
  console.log(`wrote ${outModel}: test accuracy ${(100 * summary.final_val_accuracy).toFixed(2)}% after ${summary.steps} steps, ${minutes.toFixed(1)} min`);

  // Downstream: the held-out classes, few-shot for training and a fixed validation set.
  const held = onlyClasses(train, HELDOUT_CLASSES);
  const heldTest = onlyClasses(test, HELDOUT_CLASSES);
  const shots = kShotPerClass(held.labels, 40, { seed: SEED }).indices;
  const val = kShotPerClass(heldTest.labels, 60, { seed: SEED }).indices;
  await mkdir(outData, { recursive: true });
  await writeFile(join(outData, 'train-images-idx3-ubyte.gz'), gzipSync(idxImages(held, shots), { level: 9 }));
  await writeFile(join(outData, 'train-labels-idx1-ubyte.gz'), gzipSync(idxLabels(held, shots), { level: 9 }));
  await writeFile(join(outData, 't10k-images-idx3-ubyte.gz'), gzipSync(idxImages(heldTest, val), { level: 9 }));
  await writeFile(join(outData, 't10k-labels-idx1-ubyte.gz'), gzipSync(idxLabels(heldTest, val), { level: 9 }));
  await writeFile(join(outData, 'classes.txt'), `${held.classNames.join('\n')}\n`);
  await writeFile(
    join(outData, 'README.md'),
    `# Fashion-MNIST held-out classes (few-shot)

The five Fashion-MNIST classes the demo backbone never saw (${held.classNames.join(', ')}): 40 training images per class
from the training split and 60 validation images per class from the test split, chosen with seed ${SEED} by
scripts/pretrain-demo.ts. IDX format, gzipped, labels 0–4 in the order of classes.txt.

Fashion-MNIST is © Zalando SE, released under the MIT licence (https://github.com/zalandoresearch/fashion-mnist).
`,
  );
  console.log(`wrote ${outData}: ${shots.length} training and ${val.length} validation images`);
  trainer.release();
  model.release();
  gpu.ctx.destroy();
}

await main(process.argv.slice(2));
