/**
 * Reading a checkpoint folder a person drops or picks. A Hugging Face model folder keeps its files
 * at the top level (config.json, model.safetensors or its shards, preprocessor_config.json), so
 * a dropped folder contributes its top-level files; files dropped on their own are taken as they are.
 */

function readAll(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => {
    const out: FileSystemEntry[] = [];
    // readEntries returns the listing in batches until it returns an empty one.
    const next = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0) resolve(out);
        else {
          out.push(...batch);
          next();
        }
      }, reject);
    next();
  });
}

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

/** The files of a drop: the top-level files of each dropped folder, and loose files. */
export async function filesFromDrop(dt: DataTransfer): Promise<{ files: File[]; folder?: string }> {
  const entries = [...dt.items].map((i) => (i.kind === 'file' ? i.webkitGetAsEntry() : null)).filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0) return { files: [...dt.files] };
  const files: File[] = [];
  let folder: string | undefined;
  for (const entry of entries) {
    if (entry.isDirectory) {
      folder ??= entry.name;
      for (const child of await readAll((entry as FileSystemDirectoryEntry).createReader())) {
        if (child.isFile) files.push(await fileOf(child as FileSystemFileEntry));
      }
    } else if (entry.isFile) {
      files.push(await fileOf(entry as FileSystemFileEntry));
    }
  }
  return { files, folder };
}

/** Files from `<input webkitdirectory>`: keep the picked folder's top level (paths are folder/file). */
export function filesFromPicker(list: FileList | null): File[] {
  const files = [...(list ?? [])];
  return files.filter((f) => f.webkitRelativePath.split('/').length <= 2);
}
