/**
 * Turning what a person drops or picks into files with their paths, for the worker. A File's
 * webkitRelativePath does not survive postMessage, and files dragged from a folder have none at
 * all, so each one travels as { file, path }.
 */
import type { DroppedFile } from '../../io/sources/droppedFiles';

export interface PickedFiles {
  files: DroppedFile[];
  /** How the panel names them: the folder's or the file's name, or a count. */
  label: string;
}

function labelFor(paths: string[]): string {
  const tops = new Set(paths.map((p) => (p.includes('/') ? p.slice(0, p.indexOf('/')) : p)));
  if (tops.size === 1) return [...tops][0];
  return `${paths.length} files`;
}

/** Files from <input type="file"> (with or without webkitdirectory). */
export function fromFileList(list: FileList | File[]): PickedFiles {
  const files = [...list].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
  return { files, label: labelFor(files.map((f) => f.path)) };
}

function readEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

async function walk(entry: FileSystemEntry, out: DroppedFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ file, path: entry.fullPath.replace(/^\/+/, '') || file.name });
  } else if (entry.isDirectory) {
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    // readEntries hands out a folder's entries in batches (100 in Chrome) until it returns none.
    for (let batch = await readEntries(reader); batch.length > 0; batch = await readEntries(reader)) {
      for (const e of batch) await walk(e, out);
    }
  }
}

/**
 * Files (and whole folders) dropped on the page. Entries must be taken from the DataTransfer
 * before the first await: the browser empties it once the drop handler returns.
 */
export async function fromDrop(dt: DataTransfer): Promise<PickedFiles> {
  const entries = [...dt.items].map((item) => (item.kind === 'file' ? item.webkitGetAsEntry?.() : null)).filter((e): e is FileSystemEntry => !!e);
  const loose = [...dt.files];
  if (entries.length === 0) return fromFileList(loose);
  const files: DroppedFile[] = [];
  for (const e of entries) await walk(e, files);
  return { files, label: labelFor(files.map((f) => f.path!)) };
}
