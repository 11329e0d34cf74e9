/**
 * Exports a run's adapter: PEFT's folder (adapter_config.json + adapter_model.safetensors) for
 * methods PEFT has, or the method's own format (NOLA's). Every tensor is read back from the GPU,
 * so the files hold exactly the values the engine trained and used (shared bases included).
 * What is method-specific comes from the method (src/methods/<id>/peft.ts); nothing here names one.
 */
import { loadMethod, methodById, resolvedConfig } from '../../methods/registry';
import { HEAD_MODULE } from '../../models/names';
import { writeSafetensors, type TensorToWrite } from '../safetensors';
import { isPeftMethod, peftConfigJson, peftConfigObject, peftTargetModules } from './config';
import {
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
  DEFAULT_PEFT_NAMING,
  RUN_NOTE,
  ZERO_SHOT_HEAD,
  ZERO_SHOT_HEAD_FILE,
  adapterArchitecture,
  classificationArchitecture,
  classificationName,
  utf8Bytes,
  type ExportableRun,
  type ExportFiles,
  type ExportInfo,
  type PeftNaming,
} from './layout';
import { continuationFiles, continuationReadme } from './continuation';
import { pythonJson } from './pyjson';
import { adapterSlots, zeroShotHeadSlot, type AdapterFormat } from './tensors';

/** Whether this method has an adapter to export (full fine-tuning and the probe export merged weights only). */
export function hasAdapterExport(method: string): boolean {
  return methodById(method).export.kind !== 'none';
}

async function readSlots(run: ExportableRun, format: AdapterFormat, naming: PeftNaming): Promise<Map<string, TensorToWrite>> {
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
    method_config: resolvedConfig(run.config.method, run.config.methodConfig),
    targets: [...run.config.targets],
    seed: run.config.seed,
    base_model: info.baseModel,
    architecture: adapterArchitecture(run.model).name,
    ...(run.model.zeroShot ? { head: 'zero-shot', head_file: ZERO_SHOT_HEAD_FILE } : {}),
    labels: [...info.labels],
    ...(isPeftMethod(run.config.method) ? { peft_naming: info.peftNaming ?? DEFAULT_PEFT_NAMING } : {}),
  };
}

/**
 * How to load a zero-shot-head run: onto CLIPModel, whose joint embedding the head reads; the head
 * itself (logit_scale × class embeddings) is beside the adapter, since PEFT has no place for it.
 */
function zeroShotReadme(run: ExportableRun, info: ExportInfo, loader: string): string {
  const base = JSON.stringify(info.baseModel);
  return (
    `Trained on ${base} under a zero-shot head (${info.labels.length} classes from CLIP's text tower), which is saved beside the adapter in ` +
    `${ZERO_SHOT_HEAD_FILE} as \`${ZERO_SHOT_HEAD}\` (classes × projection_dim, logit_scale already folded in). ` +
    'It classifies through the joint embedding, so load onto CLIPModel:\n\n' +
    '```python\n' +
    'import torch\nfrom safetensors.torch import load_file\nfrom transformers import CLIPModel\n' +
    `base = CLIPModel.from_pretrained(${base})\n` +
    `${loader}\n` +
    `head = load_file("path/to/this/folder/${ZERO_SHOT_HEAD_FILE}")["${ZERO_SHOT_HEAD}"]\n` +
    'features = model.get_image_features(pixel_values=pixel_values)\n' +
    'logits = torch.nn.functional.normalize(features, dim=-1) @ head.T\n' +
    '```\n\n' +
    `Classes (label ids in order): ${info.labels.map((l) => JSON.stringify(l)).join(', ')}.\n`
  );
}

function peftReadme(run: ExportableRun, info: ExportInfo, savesBases: boolean): string {
  if (run.model.zeroShot) {
    const bases = savesBases ? 'The frozen random bases are saved in the file (save_projection).\n' : '';
    return zeroShotReadme(run, info, 'from peft import PeftModel\nmodel = PeftModel.from_pretrained(base, "path/to/this/folder")') + bases;
  }
  const arch = classificationArchitecture(run.model.spec).name;
  const n = info.labels.length;
  const base = JSON.stringify(info.baseModel);
  const naming = info.peftNaming ?? DEFAULT_PEFT_NAMING;
  const renamed = run.model.spec.family !== 'clip';
  const namingNote = !renamed
    ? ''
    : naming === 'transformers5'
      ? 'Module names are transformers 5\'s (vit.layers.0.attention.q_proj …), so load it with transformers 5;\n' +
        'for transformers 4 export again with transformers 4 names (`--peft-naming transformers4`).\n'
      : 'Module names are transformers 4\'s (vit.encoder.layer.0.attention.attention.query …), so load it with\n' +
        'transformers 4; for transformers 5 export again with transformers 5 names (the default).\n';
  const bases = savesBases ? 'The frozen random bases are saved in the file (save_projection), so nothing depends on torch\'s generator.\n' : '';
  return (
    `Trained on ${base} with a new ${n}-class head (saved under modules_to_save). Load with PEFT:\n\n` +
    '```python\n' +
    `from transformers import ${arch}\n` +
    `base = ${arch}.from_pretrained(${base}, num_labels=${n}, ignore_mismatched_sizes=True)\n` +
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
 * The adapter's files (PEFT's, or the method's own format), plus README.md and rankscope_run.json, and
 * what continues the run in Python (train_peft.py, rankscope_train.json, requirements.txt).
 */
export async function exportAdapterFiles(run: ExportableRun, info: ExportInfo): Promise<ExportFiles> {
  const method = methodById(run.config.method);
  const ex = method.export;
  if (ex.kind === 'none') {
    throw new Error(`${method.label} trains no adapter, so there is none to export; export the merged model instead.`);
  }
  if (info.labels.length !== run.model.numLabels) {
    throw new Error(`Export: ${info.labels.length} class names were given but the model's head has ${run.model.numLabels} classes.`);
  }
  const runtime = await loadMethod(method.id);
  const config = resolvedConfig(method.id, run.config.methodConfig);
  const files: ExportFiles = new Map();
  let readme: string;
  if (ex.kind === 'peft') {
    const spec = runtime.peft;
    if (!spec) throw new Error(`${method.label} declares a PEFT export but its runtime has no PEFT format`);
    files.set(ADAPTER_CONFIG, utf8Bytes(peftConfigJson(peftConfigObject(run, info, config), spec.floatFields)));
    files.set(ADAPTER_WEIGHTS, writeSafetensors(await readSlots(run, 'peft', info.peftNaming ?? DEFAULT_PEFT_NAMING), { metadata: { format: 'pt' } }));
    readme = peftReadme(run, info, spec.sharedKeys.length > 0);
  } else {
    const own = runtime.own;
    if (!own) throw new Error(`${method.label} declares its own export format but its runtime has none`);
    const arch = adapterArchitecture(run.model);
    const common = {
      base_model_name_or_path: info.baseModel,
      auto_mapping: { base_model_class: arch.name, parent_library: arch.library },
      target_modules: peftTargetModules(run, 'transformers4'),
      modules_to_save: run.model.zeroShot ? null : [HEAD_MODULE],
    };
    const object = await own.configObject(run.adapters, config, run.config.seed, (m) => classificationName(run.model.spec, m), common);
    files.set(ex.configFile, utf8Bytes(`${pythonJson(object, [...own.floatFields])}\n`));
    files.set(ex.weightsFile, writeSafetensors(await readSlots(run, 'own', 'transformers4'), { metadata: { format: 'pt' } }));
    readme = own.readme({ arch: arch.name, labels: info.labels });
    if (run.model.zeroShot) readme += `\nThe zero-shot head is not in ${ex.weightsFile} but beside it, in ${ZERO_SHOT_HEAD_FILE} (\`${ZERO_SHOT_HEAD}\`, classes × projection_dim): logits = normalize(CLIPModel.get_image_features(x)) @ head.T.\n`;
  }
  const head = zeroShotHeadSlot(run);
  if (head) files.set(ZERO_SHOT_HEAD_FILE, writeSafetensors(new Map([[head.key, { shape: [...head.tensor.shape], data: await head.tensor.read() }]]), { metadata: { format: 'pt' } }));
  files.set('README.md', utf8Bytes(`# ${method.label} adapter exported by Rankscope\n\n${readme}` + continuationReadme(run, info)));
  for (const [name, bytes] of continuationFiles(run, info)) files.set(name, bytes);
  files.set(RUN_NOTE, utf8Bytes(`${JSON.stringify(runNote(run, info), null, 2)}\n`));
  return files;
}
