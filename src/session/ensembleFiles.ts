/**
 * The files of an adaptive ensemble, the same from the CLI and the page: `ensemble.json` (the
 * members, where their merged models are, the classes and how temperatures are made),
 * `controller.safetensors` (the controller's weights and the feature standardisation, float32) and
 * `apply_ensemble.py`, which applies it in Python.
 */
import { writeSafetensors } from '../io/safetensors';
import applyEnsemblePy from '../ensemble/python/apply_ensemble.py';
import { T_MIN, type Controller } from '../ensemble/controller';

export interface EnsembleFileMember {
  /** The run's name (page) or folder (CLI). */
  run: string;
  /** Its merged Hugging Face checkpoint folder, relative to ensemble.json (or absolute). */
  merged: string;
  head: 'linear' | 'zeroshot';
  feature_size: number;
  /**
   * A zero-shot head kept beside ensemble.json (relative path, tensor zero_shot_head.weight) for a
   * member whose checkpoint does not carry one: a loaded CLIP whose head the ensemble made.
   */
  zero_shot_head?: string;
}

const encoder = new TextEncoder();

export function controllerSafetensors(c: Controller): Uint8Array {
  const f32 = (a: Float64Array) => Float32Array.from(a);
  const tensors = new Map([
    ['W1', { shape: [c.width, c.inputSize], data: f32(c.W1) }],
    ['b1', { shape: [c.width], data: f32(c.b1) }],
    ['W2', { shape: [c.members, c.width], data: f32(c.W2) }],
    ['b2', { shape: [c.members], data: f32(c.b2) }],
    ['mean', { shape: [c.inputSize], data: f32(c.mean) }],
    ['std', { shape: [c.inputSize], data: f32(c.std) }],
  ]);
  return writeSafetensors(tensors, { metadata: { format: 'np' } });
}

export function ensembleSpec(c: Controller, classes: readonly string[], members: readonly EnsembleFileMember[]): Record<string, unknown> {
  return {
    format: 'rankscope-ensemble',
    format_version: 1,
    t_min: T_MIN,
    classes: [...classes],
    members: [...members],
    controller: { file: 'controller.safetensors', width: c.width, activation: 'relu', temperature: 'softplus(z) + t_min' },
  };
}

/** ensemble.json, controller.safetensors and apply_ensemble.py, by file name. */
export function ensembleFiles(c: Controller, classes: readonly string[], members: readonly EnsembleFileMember[]): Map<string, Uint8Array> {
  return new Map([
    ['ensemble.json', encoder.encode(`${JSON.stringify(ensembleSpec(c, classes, members), null, 2)}\n`)],
    ['controller.safetensors', controllerSafetensors(c)],
    ['apply_ensemble.py', encoder.encode(applyEnsemblePy)],
  ]);
}
