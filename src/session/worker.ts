/// <reference lib="webworker" />
/**
 * The lab in a dedicated Web Worker: the GPU device, the loaded model and data, and the run queue
 * live here, so training never blocks the page. The page talks to it through comlink (client.ts).
 */
import * as Comlink from 'comlink';
import { acquireGpu } from '../gpu/device';
import { GpuContext } from '../gpu/context';
import { loadCheckpoint, type Checkpoint } from '../io/checkpoint';
import { IndexedDbBlobCache } from '../io/cache/indexedDbBlobCache';
import { HubSource, clearCachedHubModel, listCachedHubModels } from '../io/sources/hub';
import { DroppedFilesSource } from '../io/sources/droppedFiles';
import { UrlFolderSource } from '../io/sources/urlFolder';
import { FingerprintingSource, type Fingerprint } from '../io/sources/fingerprinting';
import { loadImageDataset } from '../io/datasets/load';
import { DecodePool } from '../io/datasets/decodePool';
import { blobImageCache, imageCacheTag } from '../io/datasets/imageCache';
import { OpfsImageStore } from '../io/datasets/opfsImageStore';
import { RESAMPLE } from '../train/resample';
import { workingEdge } from '../train/data';
import { classCounts, type ImageDataset } from '../io/datasets/types';
import { datasetThumbnails } from '../io/datasets/thumbnails';
import type { FileSource } from '../io/source';
import { ALL_TARGETS, DEFAULT_TARGETS, linearSites } from '../models/names';
import { Lab } from './lab';
import { IndexedDbCheckpointStore } from './idbCheckpointStore';
import { IndexedDbTuningStore } from './idbTuningStore';
import { disableAutotune, enableAutotune, tuningSummary } from '../engine/tuning/matmulTuner';
import { reductionPath } from '../engine/ops/reductionPath';
import { estimateRun } from './estimate';
import { prepareData, type DataPlan } from './prepare';
import type { DatasetInfo, DatasetRequest, LabApi, LoadProgressEvent, ModelInfo, ModelRequest } from './protocol';
import { textTowerInfo } from './zeroShot';
import type { RunEvent, RunSpec } from './run';
import { ensembleOnLab } from './ensembleRuns';
import { composeEstimateOnLab, composeOnLab } from './composeOnLab';

const cache = new IndexedDbBlobCache();
/** Working-size images of dropped photos by file fingerprint, so reopening a folder decodes nothing. */
const imageCache = new IndexedDbBlobCache('rankscope-images');
/**
 * Photos are kept at the loaded model's resize size; with no model yet, at 256 (DeiT's resize,
 * above ViT's and CLIP's 224), with bicubic shrinking.
 */
const DEFAULT_WORKING = { edge: 256, resample: RESAMPLE.bicubic };
/** Stores of held images opened so far; the first clears what earlier sessions left in OPFS. */
let storesOpened = 0;
let lab: Lab | undefined;
// Model and data set loads cancel separately: the demo loads both at once.
const loading: Record<'model' | 'dataset', AbortController | undefined> = { model: undefined, dataset: undefined };

function startLoading(what: 'model' | 'dataset'): AbortSignal {
  loading[what]?.abort();
  loading[what] = new AbortController();
  return loading[what].signal;
}
let numLabels = 0;
/** The loaded data set and its sample thumbnails, kept so a new split needs no second read. */
let dataset: { ds: ImageDataset; samples: DatasetInfo['samples']; held?: DatasetInfo['held']; fingerprint?: Fingerprint } | undefined;
const listeners: Array<(e: RunEvent) => void> = [];

function requireLab(): Lab {
  if (!lab) throw new Error('The GPU is not ready yet: wait for the GPU panel to show your adapter.');
  return lab;
}

/** What an exported adapter records as its base model: the Hub id, or the folder's name. */
function baseModelName(req: ModelRequest): string {
  if (req.kind === 'hub') return req.id;
  if (req.kind === 'url') return req.base.replace(/\/+$/, '').split('/').pop() || req.base;
  const path = (req.files[0] as (File & { webkitRelativePath?: string }) | undefined)?.webkitRelativePath;
  return path?.includes('/') ? path.split('/')[0] : 'local-model';
}

function modelSource(req: ModelRequest): FileSource {
  if (req.kind === 'hub') return new HubSource(req.id, { endpoint: req.endpoint, revision: req.revision, token: req.token, cache });
  if (req.kind === 'url') return new UrlFolderSource(req.base, ['config.json', 'model.safetensors', 'preprocessor_config.json']);
  return new DroppedFilesSource(req.files);
}

/** Splits the data set by the plan, hands the split to the lab, and describes it for the page. */
function describeDataset(ds: ImageDataset, samples: DatasetInfo['samples'], plan: DataPlan, held?: DatasetInfo['held']): DatasetInfo {
  const data = prepareData(ds, plan);
  requireLab().setData(data);
  numLabels = data.classNames.length;
  const count = (labels: Int32Array) => classCounts({ labels, classNames: ds.classNames });
  return {
    source: ds.source,
    classNames: ds.classNames,
    counts: ds.validation ? classCounts(ds).map((n, i) => n + classCounts(ds.validation!.set)[i]) : classCounts(ds),
    trainCounts: count(data.train.labels),
    valCounts: count(data.val.labels),
    skipped: ds.skipped,
    samples,
    validationSplit: ds.validation?.split,
    held,
  };
}

let autotune = true;
let subgroups = true;
/** The page's ?mixed= choice; undefined leaves the device's default (on where shader-f16 is). */
let mixedPrecision: boolean | undefined;
const tuningStore = new IndexedDbTuningStore();

/**
 * A context for a new device, with GEMM autotuning on (winners kept per adapter in IndexedDB;
 * trainers tune after their first step) unless the page switched it off.
 */
function labContext(device: GPUDevice): GpuContext {
  const ctx = new GpuContext(device, { subgroups, mixedPrecision });
  if (autotune) enableAutotune(ctx, { store: tuningStore });
  else disableAutotune(ctx, 'switched off in the page (?autotune=0)');
  return ctx;
}

const api: LabApi = {
  async init(options) {
    if (lab) return (await acquireGpu(navigator.gpu)).summary;
    autotune = options?.autotune ?? true;
    subgroups = options?.subgroups ?? true;
    mixedPrecision = options?.mixedPrecision;
    const gpu = await acquireGpu(navigator.gpu);
    lab = new Lab(labContext(gpu.device), (e) => listeners.forEach((l) => l(e)), {
      // Checkpoints go to IndexedDB, so a run survives a reload or a crashed tab.
      checkpoints: new IndexedDbCheckpointStore(),
      // After a device loss (driver reset, GPU switched, too much memory), a new device.
      recover: async () => labContext((await acquireGpu(navigator.gpu)).device),
    });
    return gpu.summary;
  },

  async precision() {
    if (!lab) return undefined;
    const device = lab.ctx.device;
    return { mixed: lab.ctx.mixedPrecision, shaderF16: device.features.has('shader-f16'), chosen: mixedPrecision !== undefined };
  },

  async reductions() {
    return lab ? reductionPath(lab.ctx) : undefined;
  },

  async tuning() {
    return lab ? tuningSummary(lab.ctx) : undefined;
  },

  async loadModel(req, onProgress) {
    const signal = startLoading('model');
    const source = new FingerprintingSource(modelSource(req));
    const ckpt: Checkpoint = await loadCheckpoint(source, {
      signal,
      onProgress: (p) => onProgress?.({ what: 'model', file: p.file, done: p.loaded, total: p.total } satisfies LoadProgressEvent),
    });
    const spec = requireLab().setModel(ckpt, baseModelName(req));
    let parameters = 0;
    for (const t of ckpt.tensors.values()) parameters += t.data.length;
    const info: ModelInfo = {
      source: ckpt.source,
      family: spec.family,
      architecture: spec.architecture,
      parameters,
      layers: spec.layers,
      hidden: spec.hidden,
      heads: spec.heads,
      imageSize: spec.imageSize,
      patchSize: spec.patchSize,
      linearLayers: linearSites(spec).map((s) => ({ module: s.module, out: s.out, in: s.in })),
      defaultTargets: DEFAULT_TARGETS[spec.family],
      allTargets: ALL_TARGETS[spec.family],
      fingerprint: await source.setFingerprint(),
    };
    const text = textTowerInfo(ckpt);
    if (text) info.text = text;
    return info;
  },

  cancelLoad(what = 'model') {
    loading[what]?.abort();
  },

  async listCachedModels() {
    return (await listCachedHubModels(cache)).map((m) => ({ repoId: m.repoId, revision: m.revision, bytes: m.bytes, files: m.files.length }));
  },

  async clearCachedModel(repoId) {
    if (repoId) await clearCachedHubModel(cache, repoId);
    else await cache.clear();
  },

  async loadDataset(req: DatasetRequest, plan: DataPlan, onProgress) {
    const signal = startLoading('dataset');
    const source = new FingerprintingSource(req.kind === 'files' ? new DroppedFilesSource(req.files) : new UrlFolderSource(req.base, req.files));
    const processor = lab?.normalisation?.processor;
    const working = processor ? { edge: workingEdge(processor), resample: processor.resample } : DEFAULT_WORKING;
    // Decoding runs in a pool of workers beside this one, which keeps training.
    const pool = new DecodePool(working);
    // Working-size images go to a file in OPFS as they arrive and are read back per batch, so the
    // tab's memory does not grow with the folder; in memory where OPFS is not available.
    const store = await OpfsImageStore.open(`set-${++storesOpened}.bin`, storesOpened === 1);
    let ds: ImageDataset;
    try {
      ds = await loadImageDataset(source, {
        decode: pool.decode,
        concurrency: 2 * pool.size,
        cache: blobImageCache(imageCache, imageCacheTag(working.edge, working.resample)),
        hold: store && ((img) => store.add(img)),
        signal,
        onProgress: (p) => onProgress?.({ what: 'dataset', file: p.file, done: p.done, total: p.total }),
      });
    } finally {
      pool.close();
    }
    if (ds.images.length === 0) {
      throw new Error(`${ds.source}: no readable images found. Drop a folder with one subfolder of images per class, IDX files, or a zip of either.`);
    }
    const samples = datasetThumbnails(ds, 6);
    const onDisk = !!store && store.bytes > 0;
    const held: DatasetInfo['held'] = { where: onDisk ? 'disk' : 'memory', bytes: onDisk ? store!.bytes : 0, edge: onDisk ? working.edge : undefined };
    const info = { ...describeDataset(ds, samples, plan, held), fingerprint: await source.setFingerprint() };
    // Kept only once split: a set whose split failed leaves the previous one in place, page and lab alike.
    dataset = { ds, samples, held, fingerprint: info.fingerprint };
    return info;
  },

  async replanDataset(plan: DataPlan) {
    if (!dataset) throw new Error('No data set is loaded yet: pick the built-in set or drop your images first.');
    return { ...describeDataset(dataset.ds, dataset.samples, plan, dataset.held), fingerprint: dataset.fingerprint };
  },

  async estimate(specs: RunSpec[]) {
    const spec = requireLab().modelSpec;
    if (!spec) throw new Error('Load a model to see what each method costs.');
    return specs.map((s) => estimateRun(spec, s, numLabels || spec.labels?.length || 10));
  },

  enqueue(specs) {
    requireLab().enqueue(...specs);
  },
  resumeRuns: (specs) => requireLab().resumeRuns(specs),
  discardCheckpoint: (id) => requireLab().discardCheckpoint(id),
  setCheckpointPolicy: (policy) => requireLab().setCheckpointPolicy(policy),
  destroyDeviceForTest() {
    // What a driver reset looks like to the run: the device is gone mid-step.
    requireLab().ctx.device.destroy();
  },
  pause: (id) => requireLab().pause(id),
  resume: (id) => requireLab().resume(id),
  stop: (id) => requireLab().stop(id),
  subscribe(listener) {
    listeners.push(listener);
  },
  ensembleRuns: (req, onProgress) => requireLab().exclusive((inputs) => ensembleOnLab(inputs, req, onProgress)),
  async composeEstimate(req) {
    const base = requireLab().checkpoint;
    if (!base) throw new Error('Load the base model the runs were trained from to compose them.');
    return composeEstimateOnLab(base, req);
  },
  composeRuns: (req, onProgress) => requireLab().exclusive((inputs) => composeOnLab(inputs, req, onProgress)),
};

Comlink.expose(api);
