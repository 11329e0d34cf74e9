/**
 * Where files come from: the Hugging Face Hub, a folder on disk (Node), or a folder a person
 * dropped on the page. Checkpoint and data set loaders are written once against this interface,
 * so every origin loads the same way.
 */
import { IoError } from './errors';

export interface LoadProgress {
  /** Relative file name, as passed to readBytes. */
  file: string;
  loaded: number;
  /** Undefined when the origin does not say (a server without content-length). */
  total: number | undefined;
  /** True when the bytes came from the local cache instead of the network. */
  cached?: boolean;
}

export interface ReadOptions {
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
}

export interface FileSource {
  /** For messages: 'hub:google/vit-base-patch16-224@main', 'folder /data/vit', 'dropped folder vit-tiny'. */
  readonly description: string;
  /** `file` is relative, with '/' separators (e.g. 'config.json', 'cats/001.png'). */
  readBytes(file: string, options?: ReadOptions): Promise<Uint8Array>;
  readText(file: string, options?: ReadOptions): Promise<string>;
  exists(file: string, options?: { signal?: AbortSignal }): Promise<boolean>;
  /**
   * Every file's relative path, or null where this origin cannot list (then use `exists`).
   * Folders list recursively.
   */
  list(options?: { signal?: AbortSignal }): Promise<string[] | null>;
  /**
   * What identifies this file's content without reading it (its name, size and modification
   * time), for caches of decoded images; absent or null where the origin cannot say.
   */
  fingerprint?(file: string): Promise<string | null>;
}

/** A model folder is just a file source; the name says what it is for at call sites. */
export type ModelSource = FileSource;

/** Configs and indexes are kilobytes; a JSON file past this is damaged or hostile, not parsed. */
export const MAX_JSON_BYTES = 64 * 2 ** 20;

export async function readJson(source: FileSource, file: string, options?: ReadOptions): Promise<unknown> {
  const bytes = await source.readBytes(file, options);
  if (bytes.length > MAX_JSON_BYTES) {
    throw new IoError('format', `${file} in ${source.description} is ${bytes.length} bytes long; a JSON settings file is far smaller, so it is damaged. Download or export it again.`, file);
  }
  const text = utf8.decode(bytes);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new IoError(
      'format',
      `${file} in ${source.description} is not valid JSON (${(e as Error).message}). Download or export it again.`,
      file,
    );
  }
}

/**
 * Normalises a relative path and refuses ones that could leave the source's root, since file
 * names can come from downloaded files (a shard index's weight_map).
 */
export function safeRelativePath(file: string, where: string): string {
  const parts = file.replace(/\\/g, '/').split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.some((p) => p === '..') || file.startsWith('/') || /^[a-zA-Z]:/.test(file)) {
    throw new IoError('format', `"${file}" is not a relative file name inside ${where}; file names must stay inside the model or data folder.`, file);
  }
  return parts.join('/');
}

export const utf8 = new TextDecoder('utf-8');
