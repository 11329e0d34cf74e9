/**
 * `npm run bench:photos -- --count 1000`: loading a folder of generated 12-megapixel JPEGs the way
 * the CLI does (decode to working size with sharp + Pillow's filter, image cache by fingerprint,
 * images held on disk) and training one step of a ViT at 224. Reports, as a table and JSON:
 * peak resident memory of the process, images decoded per second (cold: empty cache), the time
 * from the start of the load to the end of the first training step, and the same for a warm
 * reopen (everything from the cache). A benchmark, never a test.
 *
 *   npm run bench:photos -- --count 1000 [--distinct 40] [--dir /tmp/rankscope-photos] [--edge 224] [--batch 8]
 *
 * Photos: `--distinct` different 4000×3000 / 3000×4000 JPEGs (quality 85, about 1 MB each, some
 * with EXIF orientation 6) are made once with sharp; the rest of the `--count` files are hard links
 * to them under their own names (own fingerprints), so every file is decoded, but the set costs
 * the disk of only the distinct ones. Run it in a fresh process per count: peak memory is the
 * process's own (getrusage maxrss).
 */
import { existsSync, linkSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { nodeGpu } from '../src/gpu/node';
import { loadDatasetFolder, nodeImageCache } from '../src/io/node';
import { makeModel } from '../src/models/makeModel';
import { buildModel, normalisationFor, prepareData } from '../src/session/prepare';
import { Trainer } from '../src/train/trainer';
import { workingEdge } from '../src/train/data';
import { generatedCheckpoint } from '../src/io/checkpoint';

interface Options {
  count: number;
  distinct: number;
  dir: string;
  batch: number;
}

function parse(argv: readonly string[]): Options {
  const o: Options = { count: 1000, distinct: 40, dir: join(tmpdir(), 'rankscope-photos'), batch: 8 };
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1];
    if (argv[i] === '--count') o.count = Number(v);
    else if (argv[i] === '--distinct') o.distinct = Number(v);
    else if (argv[i] === '--dir') o.dir = resolve(v);
    else if (argv[i] === '--batch') o.batch = Number(v);
    else throw new Error(`unknown option ${argv[i]}; usage: --count N [--distinct K] [--dir DIR] [--batch B]`);
  }
  return o;
}

/** A photo-like 12-MP image: a smooth colour field from a tiny random image, with fine noise. */
async function photo(i: number): Promise<Buffer> {
  const portrait = i % 3 === 1;
  const [w, h] = portrait ? [3000, 4000] : [4000, 3000];
  const small = Buffer.alloc(40 * 30 * 3);
  let s = (i + 1) * 2654435761;
  for (let k = 0; k < small.length; k++) {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    small[k] = s & 0xff;
  }
  let img = sharp(small, { raw: { width: 40, height: 30, channels: 3 } })
    .resize(4000, 3000, { kernel: 'cubic' })
    .blur(0.6);
  // Portraits are stored as phones store them: sideways, with EXIF orientation 6.
  img = sharp(await img.raw().toBuffer(), { raw: { width: 4000, height: 3000, channels: 3 } }).jpeg({ quality: 85 });
  return portrait && w < h ? img.withMetadata({ orientation: 6 }).toBuffer() : img.toBuffer();
}

async function makeSet(o: Options): Promise<string> {
  const root = join(o.dir, `set-${o.count}`);
  const marker = join(root, '.complete');
  if (existsSync(marker)) return root;
  rmSync(root, { recursive: true, force: true });
  const originals = join(o.dir, 'originals');
  mkdirSync(originals, { recursive: true });
  for (let i = 0; i < o.distinct; i++) {
    const p = join(originals, `p${i}.jpg`);
    if (!existsSync(p)) writeFileSync(p, await photo(i));
  }
  for (let i = 0; i < o.count; i++) {
    const cls = `class${i % 4}`;
    mkdirSync(join(root, cls), { recursive: true });
    linkSync(join(originals, `p${i % o.distinct}.jpg`), join(root, cls, `img${String(i).padStart(5, '0')}.jpg`));
  }
  writeFileSync(marker, '');
  return root;
}

function rssMiB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

export async function main(argv: readonly string[]): Promise<Record<string, unknown>> {
  const o = parse(argv);
  const t0 = performance.now();
  const root = await makeSet(o);
  console.error(`photos: ${o.count} files in ${root} (${o.distinct} distinct; made in ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  const ckpt = generatedCheckpoint(makeModel({ arch: 'vit', preset: 'tiny', seed: 0, labels: 4, dims: { imageSize: 224, patchSize: 16 } }), 'generated vit-tiny-224');
  const gpu = await nodeGpu();
  const cacheDir = await mkdtemp(join(tmpdir(), 'rankscope-photo-cache-'));
  const rows: Array<Record<string, number | string>> = [];
  try {
    for (const phase of ['cold', 'warm'] as const) {
      const baseRss = rssMiB();
      let peakRss = baseRss;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMiB())), 50);
      const start = performance.now();
      const cpu0 = process.cpuUsage();
      let shown = start;
      const spec = buildModel(gpu.ctx, ckpt, 4, 0);
      const norm = normalisationFor(spec.spec, ckpt);
      const edge = workingEdge(norm.processor);
      const ds = await loadDatasetFolder(root, {
        decode: { edge, resample: norm.processor.resample },
        cache: nodeImageCache(edge, norm.processor.resample, { dir: cacheDir, onDisk: true }),
        onProgress: (p) => {
          if (performance.now() - shown < 15_000) return;
          shown = performance.now();
          console.error(`  ${phase}: ${p.done}/${p.total} after ${((shown - start) / 1000).toFixed(0)} s, RSS ${Math.round(rssMiB())} MiB`);
        },
      });
      const loaded = performance.now();
      const cpu = process.cpuUsage(cpu0);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      const data = prepareData(ds, { valFraction: 0.1, seed: 0 });
      const trainer = new Trainer(spec, data, norm, { method: 'lora', targets: ['query', 'value'], steps: 1, batchSize: o.batch, evalEvery: 1000, logEvery: 1 });
      await trainer.trainStep();
      await gpu.ctx.device.queue.onSubmittedWorkDone();
      const firstStep = performance.now();
      clearInterval(sampler);
      peakRss = Math.max(peakRss, rssMiB());
      trainer.release();
      spec.release();
      rows.push({
        phase,
        images: ds.images.length,
        load_s: +((loaded - start) / 1000).toFixed(2),
        images_per_s: +(ds.images.length / ((loaded - start) / 1000)).toFixed(1),
        // Wall-clock rates depend on what else the machine runs; per CPU-second they do less so.
        images_per_cpu_s: +(ds.images.length / cpuSeconds).toFixed(1),
        first_step_s: +((firstStep - start) / 1000).toFixed(2),
        peak_rss_mib: Math.round(peakRss),
        rss_before_mib: Math.round(baseRss),
      });
      console.error(JSON.stringify(rows.at(-1)));
    }
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
    gpu.ctx.destroy();
  }
  const result = {
    bench: 'photos',
    count: o.count,
    distinct: o.distinct,
    batch: o.batch,
    cpus: (await import('node:os')).cpus().length,
    adapter: gpu.summary.description || gpu.summary.vendor,
    process_peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
    rows,
  };
  console.log('phase  images  load s  images/s  images/CPU-s  first step s  peak RSS MiB');
  for (const r of rows)
    console.log(
      `${String(r.phase).padEnd(6)} ${String(r.images).padStart(6)}  ${String(r.load_s).padStart(6)}  ${String(r.images_per_s).padStart(8)}  ${String(r.images_per_cpu_s).padStart(12)}  ${String(r.first_step_s).padStart(12)}  ${String(r.peak_rss_mib).padStart(12)}`,
    );
  console.log(JSON.stringify(result));
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main(process.argv.slice(2));
}
