/**
 * A run checkpoint as one safetensors file: every tensor of the trainer's state (trainables,
 * AdamW moments, GPU counters) under its name, and the rest of TrainerState plus the caller's own
 * JSON (the run's settings and metrics so far) in `__metadata__`. The same bytes go to IndexedDB in
 * the page and to DIR/checkpoint/state.safetensors in the CLI.
 */
import { IoError } from '../io/errors';
import { readSafetensors, writeSafetensors } from '../io/safetensors';
import type { TrainerState } from '../train/trainer';

export const CHECKPOINT_FORMAT = 'rankscope-run-checkpoint';
export const CHECKPOINT_VERSION = 1;

export function encodeCheckpoint(state: TrainerState, extra: Record<string, unknown> = {}): Uint8Array {
  const { tensors, ...rest } = state;
  return writeSafetensors(
    new Map([...tensors].map(([name, data]) => [name, { dtype: 'F32' as const, shape: [data.length], data }])),
    { metadata: { format: CHECKPOINT_FORMAT, version: String(CHECKPOINT_VERSION), state: JSON.stringify(rest), extra: JSON.stringify(extra) } },
  );
}

export interface DecodedCheckpoint {
  state: TrainerState;
  extra: Record<string, unknown>;
}

export function decodeCheckpoint(bytes: Uint8Array, file = 'checkpoint'): DecodedCheckpoint {
  const f = readSafetensors(bytes, { fileName: file });
  const bad = (what: string) => new IoError('format', `${file} is not a Rankscope run checkpoint: ${what}. Start the run again.`, file);
  if (f.metadata.format !== CHECKPOINT_FORMAT) throw bad(`its format is ${JSON.stringify(f.metadata.format ?? null)}`);
  if (f.metadata.version !== String(CHECKPOINT_VERSION)) throw bad(`it is version ${f.metadata.version}, this Rankscope reads version ${CHECKPOINT_VERSION}`);
  let rest: Omit<TrainerState, 'tensors'>;
  let extra: Record<string, unknown>;
  try {
    rest = JSON.parse(f.metadata.state ?? '');
    extra = JSON.parse(f.metadata.extra ?? '{}');
  } catch (e) {
    throw bad(`its metadata is not JSON (${(e as Error).message})`);
  }
  const tensors = new Map<string, Float32Array>();
  for (const [name, t] of f.tensors) {
    // Weights and moments must be finite; the GPU counters (names starting with #) may hold a NaN loss.
    for (let i = 0; !name.startsWith('#') && i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) throw bad(`tensor "${name}" holds ${t.data[i]} at element ${i}`);
    }
    tensors.set(name, t.data);
  }
  return { state: { ...rest, tensors }, extra };
}
