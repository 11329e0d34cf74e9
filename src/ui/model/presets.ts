/**
 * Small pretrained vision models on the Hugging Face Hub that Rankscope can fine-tune in a
 * browser. Sizes are approximate (float32 weights; the download is the safetensors file).
 */
export interface HubPreset {
  id: string;
  family: 'ViT' | 'DeiT' | 'CLIP';
  /** Approximate parameters of the part Rankscope trains (for CLIP, the vision tower). */
  params: string;
  /** Approximate download. */
  download: string;
  note: string;
}

export const HUB_PRESETS: readonly HubPreset[] = [
  {
    id: 'WinKawaks/vit-tiny-patch16-224',
    family: 'ViT',
    params: '≈5.7M',
    download: '≈23 MB',
    note: 'ViT-Ti/16 pretrained on ImageNet-21k, fine-tuned on ImageNet-1k: the quickest real model to try.',
  },
  {
    id: 'facebook/deit-tiny-patch16-224',
    family: 'DeiT',
    params: '≈5.7M',
    download: '≈23 MB',
    note: 'DeiT-Ti, trained on ImageNet-1k only.',
  },
  {
    id: 'WinKawaks/vit-small-patch16-224',
    family: 'ViT',
    params: '≈22M',
    download: '≈88 MB',
    note: 'ViT-S/16: four times the tiny model, still fine on a laptop GPU.',
  },
  {
    id: 'google/vit-base-patch16-224',
    family: 'ViT',
    params: '≈86M',
    download: '≈346 MB',
    note: 'ViT-B/16, the model the RandLoRA paper fine-tunes; needs a discrete GPU to train at a useful pace.',
  },
  {
    id: 'openai/clip-vit-base-patch32',
    family: 'CLIP',
    params: '≈88M (vision tower)',
    download: '≈605 MB (whole CLIP, text tower included)',
    note: "CLIP ViT-B/32's image encoder; the checkpoint also holds the text tower, so the download is larger.",
  },
];
