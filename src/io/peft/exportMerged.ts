/**
 * Exports any run as a plain Hugging Face checkpoint: W + ΔW for every adapted layer, the
 * trained head, every other tensor as the run holds it (trained, for full fine-tuning), under the
 * names of the family's …ForImageClassification, with config.json carrying the new labels and
 * the base model's preprocessor_config.json. transformers loads it with from_pretrained alone.
 */
import { hfJson, preprocessorConfig } from '../../models/makeModel';
import { HEAD_MODULE } from '../../models/names';
import type { ModelSpec } from '../../models/spec';

export { ZERO_SHOT_HEAD } from './layout';
import { writeSafetensors, type TensorToWrite } from '../safetensors';
import { classificationArchitecture, classificationName, utf8Bytes, ZERO_SHOT_HEAD, type ExportableRun, type ExportFiles, type ExportInfo } from './layout';

/** CLIPVisionConfig fields that live at the top of a CLIPConfig, not inside vision_config. */
const CLIP_TOP_LEVEL = ['architectures', 'torch_dtype', 'dtype', 'transformers_version', 'id2label', 'label2id', 'num_labels', '_name_or_path'];

/**
 * config.json for the merged classifier: the base model's own config (so every setting it had
 * stays), with the classification architecture, the new id2label/label2id and float32 weights.
 * A flat CLIPVisionConfig (from CLIPVisionModel) is wrapped into the CLIPConfig that
 * CLIPForImageClassification is built from, as transformers itself saves one.
 */
export function mergedConfig(spec: ModelSpec, labels: readonly string[], zeroShot = false): Record<string, unknown> {
  if (new Set(labels).size !== labels.length) throw new Error('Export: class names must be distinct (label2id maps each name to one id).');
  let c = structuredClone(spec.raw) as Record<string, unknown>;
  if (spec.family === 'clip' && (typeof c.vision_config !== 'object' || c.vision_config === null)) {
    const vision: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(c)) if (!CLIP_TOP_LEVEL.includes(k)) vision[k] = v;
    vision.model_type = 'clip_vision_model';
    c = {
      initializer_factor: vision.initializer_factor ?? 1.0,
      logit_scale_init_value: 2.6592,
      model_type: 'clip',
      projection_dim: vision.projection_dim ?? 512,
      text_config: { model_type: 'clip_text_model' },
      ...(c.transformers_version !== undefined ? { transformers_version: c.transformers_version } : {}),
      vision_config: vision,
    };
  }
  delete c.num_labels;
  // A zero-shot head classifies through the joint embedding, which only CLIPModel has; its
  // (classes × projection_dim) weight is kept as zero_shot_head.weight (see mergedTensors).
  c.architectures = [zeroShot ? 'CLIPModel' : classificationArchitecture(spec).name];
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  labels.forEach((name, i) => {
    id2label[String(i)] = name;
    label2id[name] = i;
  });
  c.id2label = id2label;
  c.label2id = label2id;
  // model.safetensors is written in float32.
  if ('dtype' in c) c.dtype = 'float32';
  else c.torch_dtype = 'float32';
  return c;
}

/** The merged weights under the classification model's names, read back from the GPU. */
export async function mergedTensors(run: ExportableRun): Promise<Map<string, TensorToWrite>> {
  const spec = run.model.spec;
  const out = new Map<string, TensorToWrite>();
  for (const [name, W] of run.model.params) {
    const adapter = name.endsWith('.weight') ? run.adapters.layers.get(name.slice(0, -'.weight'.length)) : undefined;
    let data: Float32Array;
    // A frozen weight stored in f16 (mixed precision) merges from the checkpoint's f32 values.
    if (adapter) {
      data = await run.model.withF32Weight(name, async (W32) => {
        const merged = adapter.merge(W32);
        const values = await merged.read();
        merged.release();
        return values;
      });
    } else data = await run.model.readF32(name);
    if (run.model.zeroShot && name.startsWith(`${HEAD_MODULE}.`)) {
      // The bias of a zero-shot head is 0 by construction; the weight goes under a name no transformers class claims.
      if (name.endsWith('.weight')) out.set(ZERO_SHOT_HEAD, { shape: [...W.shape], data });
      continue;
    }
    out.set(classificationName(spec, name), { shape: [...W.shape], data });
  }
  // A full CLIP keeps its text tower, projections and logit_scale as loaded, so CLIPModel loads the export whole.
  for (const [name, w] of run.model.extras) if (!out.has(name)) out.set(name, { shape: [...w.shape], data: w.data });
  return out;
}

/** config.json, model.safetensors and preprocessor_config.json of the merged model. */
export async function exportMergedFiles(run: ExportableRun, info: ExportInfo): Promise<ExportFiles> {
  const spec = run.model.spec;
  if (info.labels.length !== run.model.numLabels) {
    throw new Error(`Export: ${info.labels.length} class names were given but the model's head has ${run.model.numLabels} classes.`);
  }
  const files: ExportFiles = new Map();
  files.set('config.json', utf8Bytes(hfJson(mergedConfig(spec, info.labels, run.model.zeroShot))));
  files.set('model.safetensors', writeSafetensors(await mergedTensors(run), { metadata: { format: 'pt' } }));
  const pre = info.preprocessor ?? preprocessorConfig(spec.family, spec.imageSize, spec.channels);
  files.set('preprocessor_config.json', utf8Bytes(hfJson(pre)));
  if (run.model.extras.size && info.tokenizer?.json) {
    files.set('tokenizer.json', utf8Bytes(`${JSON.stringify(info.tokenizer.json, null, 2)}\n`));
    if (info.tokenizer.config) files.set('tokenizer_config.json', utf8Bytes(`${JSON.stringify(info.tokenizer.config, null, 2)}\n`));
  }
  return files;
}
