/**
 * One entry point for "a data set folder": MNIST-style IDX files when the folder has them,
 * otherwise one subfolder of images per class. The CLI's --data and a dropped folder both go
 * through here; issue 4's zip, CIFAR and parquet readers slot in as further cases.
 */
import type { FileSource } from '../source';
import { findIdxFiles, loadIdx, type IdxSplit } from './idx';
import { readImageFolder, type ImageDecoder, type ImageFolderProgress } from './imageFolder';
import type { ImageDataset } from './types';

export interface LoadImageDatasetOptions {
  decode: ImageDecoder;
  /** For IDX folders: which split; default 'train'. Class folders have no splits. */
  split?: IdxSplit;
  signal?: AbortSignal;
  onProgress?: (p: ImageFolderProgress) => void;
}

export type DatasetLayout = 'idx' | 'class-folders';

export async function detectDatasetLayout(source: FileSource, signal?: AbortSignal): Promise<DatasetLayout> {
  const names = (await source.list({ signal })) ?? [];
  const idx = findIdxFiles(names.filter((n) => !n.includes('/')));
  return idx.train || idx.test ? 'idx' : 'class-folders';
}

export async function loadImageDataset(source: FileSource, options: LoadImageDatasetOptions): Promise<ImageDataset> {
  if ((await detectDatasetLayout(source, options.signal)) === 'idx') {
    return loadIdx(source, { split: options.split, signal: options.signal });
  }
  return readImageFolder(source, options);
}
