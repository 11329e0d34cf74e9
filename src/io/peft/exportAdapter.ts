/**
 * Exports a run's adapter: PEFT's folder (adapter_config.json + adapter_model.safetensors) for
 * LoRA, VeRA and RandLoRA; Rankscope's NOLA format for NOLA. Every tensor is read back from the
 * GPU, so the files hold exactly the values the engine trained and used (shared bases included).
 */
import { methodById } from '../../adapters';
import { writeSafetensors, type TensorToWrite } from '../safetensors';
import { isPeftMethod, peftConfigJson, peftConfigObject, resolvedMethodConfig } from './config';
import {
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
  DEFAULT_PEFT_NAMING,
  NOLA_CONFIG,
  NOLA_WEIGHTS,
  RUN_NOTE,
  classificationArchitecture,
  utf8Bytes,
  type ExportableRun,
  type ExportFiles,
  type ExportInfo,
  type PeftNaming,
} from './layout';
import { nolaConfigJson, nolaConfigObject } from './nola';
import { continuationFiles, continuationReadme } from './continuation';
import { adapterSlots } from './tensors';

/** Whether this method has an adapter to export (full fine-tuning and the probe export merged weights only). */
export function hasAdapterExport(method: string): boolean {
  return isPeftMethod(method) || method === 'nola';
}

async function readSlots(run: ExportableRun, format: 'peft' | 'nola', naming: PeftNaming): Promise<Map<string, TensorToWrite>> {
  const out = new Map<string, TensorToWrite>();
  for (const s of adapterSlots(run, format, naming)) out.set(s.key, { shape: [...s.tensor.shape], data: await s.tensor.read() });
  return out;
}

/** rankscope_run.json: what PEFT's files cannot say (class names, the run's settings). */
export function runNote(run: ExportableRun, info: ExportInfo): Record<string, unknown> {
  return {
    format: 'rankscope-run',
    format_version: 1,
    method: run.config.method,
    method_config: resolvedMethodConfig(run, methodById(run.config.method).defaults),
    targets: [...run.config.targets],
    seed: run.config.seed,
    base_model: info.baseModel,
    architecture: classificationArchitecture(run.model.spec).name,
    labels: [...info.labels],
    ...(isPeftMethod(run.config.method) ? { peft_naming: info.peftNaming ?? DEFAULT_PEFT_NAMING } : {}),
  };
}

function readme(run: ExportableRun, info: ExportInfo): string {
  const arch = classificationArchitecture(run.model.spec).name;
  const n = info.labels.length;
  const base = JSON.stringify(info.baseModel);
  const label = methodById(run.config.method).label;
  const load =
    `from transformers import ${arch}\n` +
    `base = ${arch}.from_pretrained(${base}, num_labels=${n}, ignore_mismatched_sizes=True)\n`;
  if (run.config.method === 'nola') {
    return (
      `# ${label} adapter exported by Rankscope\n\n` +
      'NOLA is not part of PEFT. This folder uses Rankscope\'s documented format (docs/nola-format.md):\n' +
      `\`${NOLA_CONFIG}\` records the seed and generator that rebuild the frozen bases, \`${NOLA_WEIGHTS}\`\n` +
      'holds the trained coefficients and the classification head. `scripts/nola_delta.py` (NumPy only)\n' +
      'rebuilds each layer\'s ΔW; the merged export next to this folder needs nothing at all:\n\n' +
      '```python\n' +
      `from transformers import ${arch}\n` +
      `model = ${arch}.from_pretrained("path/to/merged")\n` +
      '```\n\n' +
      `Classes (label ids in order): ${info.labels.map((l) => JSON.stringify(l)).join(', ')}.\n`
    );
  }
  const naming = info.peftNaming ?? DEFAULT_PEFT_NAMING;
  const renamed = run.model.spec.family !== 'clip';
  const namingNote = !renamed
    ? ''
    : naming === 'transformers5'
      ? 'Module names are transformers 5\'s (vit.layers.0.attention.q_proj …), so load it with transformers 5;\n' +
        'for transformers 4 export again with transformers 4 names (`--peft-naming transformers4`).\n'
      : 'Module names are transformers 4\'s (vit.encoder.layer.0.attention.attention.query …), so load it with\n' +
        'transformers 4; for transformers 5 export again with transformers 5 names (the default).\n';
  const bases =
    run.config.method === 'lora'
      ? ''
      : 'The frozen random bases are saved in the file (save_projection), so nothing depends on torch\'s generator.\n';
  return (
    `# ${label} adapter exported by Rankscope\n\n` +
    `Trained on ${base} with a new ${n}-class head (saved under modules_to_save). Load with PEFT:\n\n` +
    '```python\n' +
    load +
    'from peft import PeftModel\n' +
    'model = PeftModel.from_pretrained(base, "path/to/this/folder")\n' +
    '```\n\n' +
    namingNote +
    bases +
    `Classes (label ids in order): ${info.labels.map((l) => JSON.stringify(l)).join(', ')}.\n` +
    'The merged export next to this folder loads with transformers alone.\n'
  );
}

/**
 * The adapter's files (PEFT's, or NOLA's own format), plus README.md and rankscope_run.json, and
 * what continues the run in Python (train_peft.py, rankscope_train.json, requirements.txt).
 */
export async function exportAdapterFiles(run: ExportableRun, info: ExportInfo): Promise<ExportFiles> {
  const method = run.config.method;
  if (!hasAdapterExport(method)) {
    throw new Error(`${methodById(method).label} trains no adapter, so there is none to export; export the merged model instead.`);
  }
  if (info.labels.length !== run.model.numLabels) {
    throw new Error(`Export: ${info.labels.length} class names were given but the model's head has ${run.model.numLabels} classes.`);
  }
  const files: ExportFiles = new Map();
  if (isPeftMethod(method)) {
    const cfg = peftConfigObject(run, info, resolvedMethodConfig(run, methodById(method).defaults));
    files.set(ADAPTER_CONFIG, utf8Bytes(peftConfigJson(cfg)));
    files.set(ADAPTER_WEIGHTS, writeSafetensors(await readSlots(run, 'peft', info.peftNaming ?? DEFAULT_PEFT_NAMING), { metadata: { format: 'pt' } }));
  } else {
    files.set(NOLA_CONFIG, utf8Bytes(nolaConfigJson(await nolaConfigObject(run, info))));
    files.set(NOLA_WEIGHTS, writeSafetensors(await readSlots(run, 'nola', 'transformers4'), { metadata: { format: 'pt' } }));
  }
  files.set('README.md', utf8Bytes(readme(run, info) + continuationReadme(run, info)));
  for (const [name, bytes] of continuationFiles(run, info)) files.set(name, bytes);
  files.set(RUN_NOTE, utf8Bytes(`${JSON.stringify(runNote(run, info), null, 2)}\n`));
  return files;
}
