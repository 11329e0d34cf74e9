/**
 * The io layer's Node-only half: folders on disk, the filesystem download cache, and PNG/JPEG
 * decoding in JavaScript. Never imported by page code (it pulls in node:fs).
 */
import { NodeFsBlobCache } from './cache/nodeBlobCache';
import { loadCheckpoint, type Checkpoint, type LoadCheckpointOptions } from './checkpoint';
import { nodeImageDecoder, type NodeDecodeOptions } from './datasets/decodeNode';
import { loadImageDataset, type LoadImageDatasetOptions } from './datasets/load';
import type { ImageDataset } from './datasets/types';
import { HubSource, type HubOptions } from './sources/hub';
import { NodeFolderSource } from './sources/nodeFolder';
import { existsSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { IoError } from './errors';
import type { FileSource } from './source';

export { NodeFsBlobCache, defaultHubCacheDir } from './cache/nodeBlobCache';
export { NodeFolderSource } from './sources/nodeFolder';
export { decodeImageNode, nodeImageDecoder } from './datasets/decodeNode';

/** Absolute, relative (./, ../, ~), Windows-style or multi-level: a Hub id is at most owner/name. */
export function looksLikePath(arg: string): boolean {
  return /^(\/|\.{1,2}(\/|\\|$)|~)/.test(arg) || arg.includes('\\') || /^[A-Za-z]:/.test(arg) || arg.split('/').filter(Boolean).length > 2;
}

/**
 * A folder path if one exists there, otherwise a Hub model id (downloads cached in
 * ~/.cache/rankscope/hub unless options.cache says otherwise): what the CLI's --model takes.
 */
export function modelSourceFor(modelArg: string, hub: HubOptions = {}): FileSource {
  if (existsSync(modelArg)) {
    if (statSync(modelArg).isDirectory()) return new NodeFolderSource(modelArg);
    throw new IoError(
      'format',
      `${modelArg} is a file. Give the folder that holds config.json and model.safetensors, or a Hugging Face model id (owner/name).`,
    );
  }
  // A path that is not there is a typo in a path, not a Hub id: say so instead of asking the Hub.
  if (looksLikePath(modelArg)) {
    throw new IoError('not-found', `No folder at ${resolve(modelArg)}. Check the path; a Hugging Face model id is written owner/name.`);
  }
  return new HubSource(modelArg, { ...hub, cache: hub.cache === undefined ? new NodeFsBlobCache() : hub.cache });
}

export function loadCheckpointFrom(modelArg: string, options: LoadCheckpointOptions & { hub?: HubOptions } = {}): Promise<Checkpoint> {
  return loadCheckpoint(modelSourceFor(modelArg, options.hub), options);
}

/**
 * IDX files or class folders at `dir`, decoded with the Node decoders; `decode.edge` keeps every
 * image at that shortest edge (the model processor's resize size) instead of full size.
 */
export function loadDatasetFolder(dir: string, options: Omit<LoadImageDatasetOptions, 'decode'> & { decode?: NodeDecodeOptions } = {}): Promise<ImageDataset> {
  const { decode, ...rest } = options;
  return loadImageDataset(new NodeFolderSource(dir), { ...rest, decode: nodeImageDecoder(decode) });
}

export { defaultImageCacheDir, nodeImageCache } from './datasets/nodeImageCache';

/** Writes files by relative name under `dir` (an export's folder), creating folders as needed. */
export async function writeFilesToFolder(dir: string, files: Iterable<[string, Uint8Array]>): Promise<string[]> {
  const written: string[] = [];
  for (const [name, bytes] of files) {
    const path = join(dir, ...name.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
    written.push(path);
  }
  return written;
}
