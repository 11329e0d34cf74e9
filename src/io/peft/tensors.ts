/**
 * Which GPU tensor of a run goes under which key of an exported adapter file. Export reads them
 * in this order; import checks a file against the same list and uploads into the same tensors,
 * so the two cannot drift apart.
 *
 * PEFT (get_peft_model_state_dict, adapter name removed): per layer
 *   base_model.model.<module>.lora_A.weight / lora_B.weight       (nn.Linear inside a ModuleDict)
 *   base_model.model.<module>.vera_lambda_b / vera_lambda_d       (ParameterDict entries)
 *   base_model.model.<module>.randlora_lambda / randlora_gamma
 * shared bases, saved once at tuner level with save_projection:
 *   base_model.vera_A, base_model.vera_B, base_model.randlora_A, base_model.randlora_B
 * and the head, from ModulesToSaveWrapper.adapter_state_dict (modules_to_save.<name>. dropped):
 *   base_model.model.classifier.weight / .bias
 * PEFT 0.21.0 also wrote a copy of the shared bases under every layer (<module>.randlora_A …);
 * huggingface/peft#3714 dropped those, and every version loads files without them.
 * <module> is named as the chosen transformers version names it (PeftNaming).
 * A method's own format (NOLA's, docs/nola-format.md): <module>.<trainable key> and classifier.*,
 * with modules under the checkpoint's (transformers 4) names. Which shared tensors a method saves
 * is its PeftSpec's `sharedKeys` (src/methods/<id>/peft.ts).
 */
import type { Tensor } from '../../engine/tensor';
import { HEAD_MODULE } from '../../models/names';
import { peftSpecOf } from './config';
import { classificationName, peftModuleName, PEFT_MODEL_PREFIX, PEFT_TUNER_PREFIX, ZERO_SHOT_HEAD, type ExportableRun, type PeftNaming } from './layout';

export interface TensorSlot {
  key: string;
  tensor: Tensor;
  role: 'trainable' | 'shared' | 'head';
  /** The layer's module path in the loaded model (trainables only). */
  module?: string;
}

/** PEFT's format, or the method's own (tensors under the checkpoint's module names, no shared bases). */
export type AdapterFormat = 'peft' | 'own';

/** Every tensor an adapter file of this run holds, under its key. */
export function adapterSlots(run: ExportableRun, format: AdapterFormat, naming: PeftNaming = 'transformers4'): TensorSlot[] {
  const spec = run.model.spec;
  const prefix = format === 'peft' ? PEFT_MODEL_PREFIX : '';
  const slots: TensorSlot[] = [];
  for (const [module, layer] of run.adapters.layers) {
    const path = format === 'peft' ? peftModuleName(spec, module, naming) : classificationName(spec, module);
    for (const t of layer.trainables) slots.push({ key: `${prefix}${path}.${t.key}`, tensor: t.tensor, role: 'trainable', module });
  }
  if (format === 'peft') {
    for (const name of peftSpecOf(run.config.method)?.sharedKeys ?? []) {
      const t = run.adapters.shared.get(name);
      if (!t) throw new Error(`the ${run.config.method} adapters hold no shared tensor "${name}" to export`);
      slots.push({ key: `${PEFT_TUNER_PREFIX}${name}`, tensor: t, role: 'shared' });
    }
  }
  // A zero-shot head has no place in PEFT's file: it goes to zero_shot_head.safetensors (zeroShotHeadSlot).
  if (!run.model.zeroShot) for (const p of ['weight', 'bias']) {
    slots.push({ key: `${prefix}${HEAD_MODULE}.${p}`, tensor: run.model.param(`${HEAD_MODULE}.${p}`), role: 'head' });
  }
  return slots;
}

/** A zero-shot head's weight (classes × projection_dim; its bias is 0 by construction), as the merged export names it. */
export function zeroShotHeadSlot(run: ExportableRun): TensorSlot | undefined {
  return run.model.zeroShot ? { key: ZERO_SHOT_HEAD, tensor: run.model.param(`${HEAD_MODULE}.weight`), role: 'head' } : undefined;
}
