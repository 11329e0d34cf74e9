/**
 * Adapter and merged-model export in the formats Python tools load (PEFT, transformers), NOLA's
 * own format, and import of an exported adapter back onto its base model.
 *
 * For a page's Export button (a Trainer is an ExportableRun):
 *   const zip = await exportAdapterZip(trainer, { baseModel, labels });   // PEFT or NOLA files
 *   const merged = await exportMergedZip(trainer, { baseModel, labels, preprocessor });
 */
import { exportAdapterFiles } from './exportAdapter';
import { exportMergedFiles } from './exportMerged';
import type { ExportableRun, ExportInfo } from './layout';
import { zipFiles } from './zip';

export * from './layout';
export { AdapterImportError, peftConfigObject, peftTargetModules, runConfigFromPeft, type AdapterRunConfig } from './config';
export { exportAdapterFiles, hasAdapterExport, runNote } from './exportAdapter';
export { exportMergedFiles, mergedConfig, mergedTensors } from './exportMerged';
export { readAdapter, readAdapterZip, loadAdapterInto, type LoadedAdapter, type ImportOptions, type ImportReport } from './importAdapter';
export { type AdapterFormat } from './tensors';
export { pythonJson } from './pyjson';
export { zipFiles, unzipToSource } from './zip';

/** A file name for a download, e.g. "vit-tiny-lora-adapter". */
function folderName(info: ExportInfo, run: ExportableRun, what: string): string {
  const base = info.baseModel.split(/[\\/]/).filter(Boolean).pop() ?? 'model';
  return `${base}-${run.config.method}-${what}`.replace(/[^A-Za-z0-9._-]+/g, '-');
}

/** The adapter (PEFT's files, or NOLA's format) as one zip, its files inside one folder. */
export async function exportAdapterZip(run: ExportableRun, info: ExportInfo): Promise<Uint8Array> {
  return zipFiles(await exportAdapterFiles(run, info), folderName(info, run, 'adapter'));
}

/** The merged Hugging Face checkpoint as one zip, its files inside one folder. */
export async function exportMergedZip(run: ExportableRun, info: ExportInfo): Promise<Uint8Array> {
  return zipFiles(await exportMergedFiles(run, info), folderName(info, run, 'merged'));
}
