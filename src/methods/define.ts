import type { MethodConfig, MethodRuntime } from './types';

/**
 * Declares a method with its config type checked everywhere inside it (fields, knobs, runtime):
 * `defineMethod<LoraConfig>()({ id: 'lora', … })`. Curried so the id stays a literal type.
 */
export function defineMethod<Config extends object>() {
  return <Id extends string>(m: MethodConfig<Config, Id>): MethodConfig<Config, Id> => m;
}

/** Declares a method's GPU half with its config type (the default export of `runtime.ts`). */
export function defineRuntime<Config extends object>(r: MethodRuntime<Config>): MethodRuntime<Config> {
  return r;
}

/** Releases every trainable of a set's layers (what each method's AdapterSet.release starts with). */
export function releaseTrainables(layers: Iterable<{ trainables: ReadonlyArray<{ tensor: { release(): void } }> }>): void {
  for (const a of layers) for (const t of a.trainables) t.tensor.release();
}
