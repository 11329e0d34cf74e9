/**
 * Exports as one zip for a browser download, and zips back into a FileSource for import. The
 * files sit in one top folder (e.g. "vit-lora-adapter/adapter_config.json"), as a folder
 * zipped by hand would have them; reading strips a folder every file shares.
 */
import { zipSync, type Zippable } from 'fflate';
import { ZipSource } from '../datasets/zip';
import type { FileSource } from '../source';
import type { ExportFiles } from './layout';

/** A zip of the files under `folder/` (no folder when empty). Already-compressed weights are stored, not deflated. */
export function zipFiles(files: ExportFiles, folder = ''): Uint8Array {
  const entries: Zippable = {};
  const prefix = folder ? `${folder.replace(/\/+$/, '')}/` : '';
  for (const [name, bytes] of files) entries[prefix + name] = [bytes, { level: name.endsWith('.safetensors') ? 0 : 6 }];
  return zipSync(entries);
}

/**
 * The files of a zip as a FileSource, with a top folder that every file shares removed. Entries
 * inflate on demand within the io layer's limits (ZipSource), so a bomb posing as an adapter zip
 * stops at the limit.
 */
export function unzipToSource(zip: Uint8Array, name = 'zip file'): FileSource {
  return new ZipSource(zip, name);
}
