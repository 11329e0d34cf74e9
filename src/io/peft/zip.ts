/**
 * Exports as one zip for a browser download, and zips back into a FileSource for import. The
 * files sit in one top folder (e.g. "vit-lora-adapter/adapter_config.json"), as a folder
 * zipped by hand would have them; reading strips a folder every file shares.
 */
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { IoError } from '../errors';
import { MemorySource } from '../sources/memory';
import type { ExportFiles } from './layout';

/** A zip of the files under `folder/` (no folder when empty). Already-compressed weights are stored, not deflated. */
export function zipFiles(files: ExportFiles, folder = ''): Uint8Array {
  const entries: Zippable = {};
  const prefix = folder ? `${folder.replace(/\/+$/, '')}/` : '';
  for (const [name, bytes] of files) entries[prefix + name] = [bytes, { level: name.endsWith('.safetensors') ? 0 : 6 }];
  return zipSync(entries);
}

/** The files of a zip as a FileSource, with a top folder that every file shares removed. */
export function unzipToSource(zip: Uint8Array, name = 'zip file'): MemorySource {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zip);
  } catch (e) {
    throw new IoError('format', `${name} is not a readable zip file (${(e as Error).message}). Export or download it again.`, name, { cause: e });
  }
  const files = Object.entries(entries).filter(([n]) => !n.endsWith('/') && !n.startsWith('__MACOSX/'));
  const tops = new Set(files.map(([n]) => (n.includes('/') ? n.slice(0, n.indexOf('/')) : '')));
  const top = tops.size === 1 ? [...tops][0] : '';
  return new MemorySource(files.map(([n, b]) => [top ? n.slice(top.length + 1) : n, b] as [string, Uint8Array]), name);
}
