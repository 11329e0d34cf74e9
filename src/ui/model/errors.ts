/**
 * Turns a failed model load into what the panel shows: a kind (so it can offer the right next
 * step: a token field, a retry), a title and the loader's own message, which already names the
 * file and says what to do. Errors cross the worker boundary through comlink, which keeps only
 * `name` and `message`, so the kind is read from those.
 */
export type ModelErrorKind = 'cancelled' | 'not-found' | 'unauthorized' | 'pickle' | 'network' | 'format' | 'gpu' | 'other';

export interface ModelLoadError {
  kind: ModelErrorKind;
  title: string;
  message: string;
  /** One more sentence on what to do, where the message alone may not say it. */
  hint?: string;
}

const TITLES: Record<ModelErrorKind, string> = {
  cancelled: 'Loading cancelled',
  'not-found': 'Model not found',
  unauthorized: 'The Hub refused access',
  pickle: 'Only pickle weights',
  network: 'Network failure',
  format: 'Not a model Rankscope can read',
  gpu: 'The GPU is not ready',
  other: 'The model could not be loaded',
};

function kindOf(name: string, message: string): ModelErrorKind {
  if (name === 'AbortError' || /was cancelled/.test(message)) return 'cancelled';
  if (/pickle/i.test(message)) return 'pickle';
  if (/HTTP 40[13]\b|gated|private/i.test(message)) return 'unauthorized';
  if (/is not a Hugging Face model id/.test(message)) return 'format';
  if (/No model .* exists|was not found|has no revision|is not among|has no model\.safetensors|has no config\.json/i.test(message)) return 'not-found';
  if (/Could not reach|could not be fetched|Failed to fetch|NetworkError|network/i.test(message)) return 'network';
  if (/GPU is not ready/i.test(message)) return 'gpu';
  if (/config\.json|safetensors|architecture|not a JSON|unsupported|not supported|does not support/i.test(message)) return 'format';
  return 'other';
}

/** What the loader's message does not already say. */
const HINTS: Partial<Record<ModelErrorKind, string>> = {
  'not-found': 'Or pick one of the presets above.',
  unauthorized: 'Once your account has access, paste a read token in the token field under the model id and load again.',
  network: 'Models loaded before are listed under "Downloaded models" below and load without network.',
  gpu: 'Wait for the GPU panel to show your adapter, then load again.',
};

export function describeModelError(e: unknown): ModelLoadError {
  const name = e instanceof Error ? e.name : '';
  const message = e instanceof Error ? e.message : String(e);
  const kind = kindOf(name, message);
  // The Hub answers 401 both for gated or private models and for ids that do not exist.
  const title = kind === 'unauthorized' && !/is gated:|cannot read it/.test(message) ? 'Not found, or not public' : TITLES[kind];
  return { kind, title, message: kind === 'cancelled' ? 'Loading was cancelled; nothing was changed. Load the model again when you are ready.' : message, hint: HINTS[kind] };
}
