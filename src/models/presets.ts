/**
 * Sizes of the small models Rankscope generates for tests, the correctness suite and demos.
 * A preset fixes the shapes only; the family (ViT, DeiT, CLIP) decides activation, norms and
 * names (see makeModel.ts).
 */
export type PresetName = 'micro' | 'tiny' | 'small';

export interface PresetDims {
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  imageSize: number;
  patchSize: number;
  channels: number;
  /** Classes of the generated classification head. */
  labels: number;
}

export const PRESETS: Readonly<Record<PresetName, Readonly<PresetDims>>> = {
  /** For fast float64 checks (finite differences over the whole network): 4 patches, 5 tokens. */
  micro: { hidden: 16, layers: 2, heads: 2, intermediate: 32, imageSize: 16, patchSize: 8, channels: 3, labels: 3 },
  /** The default for GPU-vs-reference tests: 16 patches, 17 tokens. */
  tiny: { hidden: 32, layers: 2, heads: 4, intermediate: 64, imageSize: 32, patchSize: 8, channels: 3, labels: 10 },
  /** Big enough to learn Fashion-MNIST reasonably in a CI run: 64 patches, 65 tokens. */
  small: { hidden: 64, layers: 4, heads: 4, intermediate: 128, imageSize: 32, patchSize: 4, channels: 3, labels: 10 },
};

export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

export function isPresetName(s: string): s is PresetName {
  return (PRESET_NAMES as string[]).includes(s);
}
