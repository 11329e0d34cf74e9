/**
 * "Continue in Python": the files every adapter export carries so a person can keep training on
 * a GPU cluster with PEFT and transformers' Trainer: `train_peft.py` (one script for every
 * method, src/io/peft/python/), `rankscope_train.json` (everything the script needs to know
 * about the run: labels, preprocessing, augmentation, the training settings and which trainables
 * skip weight decay), `requirements.txt` (the versions the exports were checked with), and a
 * README section with the one command. The script reads adapter_config.json and
 * rankscope_train.json at run time, so it holds no knowledge of any method; NOLA, which PEFT
 * lacks, starts from the merged checkpoint with a LoRA on top.
 */
import { methodById } from '../../methods/registry';
import type { Normalisation } from '../../engine/ops/preprocess';
import { HEAD_MODULE } from '../../models/names';
import { TRAIN_DEFAULTS, type TrainConfig } from '../../train/trainer';
import { isPeftMethod } from './config';
import { classificationArchitecture, DEFAULT_PEFT_NAMING, utf8Bytes, type ExportableRun, type ExportFiles, type ExportInfo } from './layout';
import trainPeftPy from './python/train_peft.py';

export const TRAIN_SCRIPT = 'train_peft.py';
export const TRAIN_SETTINGS = 'rankscope_train.json';
export const REQUIREMENTS = 'requirements.txt';

/** A run as the exporters see it, with what a Trainer also knows (its full config and input normalisation). */
type ContinuableRun = ExportableRun & { config: Partial<TrainConfig>; norm?: Normalisation };

/** Validation share the script holds out when given one folder (the page's default split). */
const VAL_FRACTION = 0.2;

/** Versions the exports were checked with (docs/peft-export.md, scripts/peft_interop.py). */
const PINNED = {
  torch: '2.13.0',
  transformers5: '5.18.0',
  transformers4: '4.57.6',
  peft: '0.21.0',
  accelerate: '1.15.0',
  pillow: '12.3.0',
  numpy: '2.4.6',
};

function settingsOf(run: ContinuableRun, info: ExportInfo): Record<string, unknown> {
  const c = { ...TRAIN_DEFAULTS, ...run.config };
  const raw = (info.preprocessor ?? {}) as Record<string, unknown>;
  const triple = (v: unknown, fallback: readonly number[]): number[] => (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number') ? [...v] : [...fallback]);
  const norm = run.norm ?? { size: run.model.spec.imageSize, mean: triple(raw.image_mean, [0, 0, 0]), std: triple(raw.image_std, [1, 1, 1]) };
  const noDecay = new Set<string>();
  for (const layer of run.adapters.layers.values()) for (const t of layer.trainables) if (!t.decay) noDecay.add(t.key);
  const method = run.config.method;
  return {
    format: 'rankscope-train',
    format_version: 1,
    method,
    method_label: methodById(method).label,
    // 'own': the method's own documented format (NOLA's), which PEFT cannot load.
    adapter_format: isPeftMethod(method) ? 'peft' : 'own',
    ...(isPeftMethod(method) ? { peft_naming: info.peftNaming ?? DEFAULT_PEFT_NAMING } : {}),
    base_model: info.baseModel,
    architecture: classificationArchitecture(run.model.spec).name,
    head_module: HEAD_MODULE,
    labels: [...info.labels],
    preprocessing: {
      size: norm.size,
      mean: [...norm.mean],
      std: [...norm.std],
      resize: 'bilinear, half-pixel centres, no antialiasing; then x/255, (x - mean) / std',
    },
    augment: c.augment ? { crop: c.augment.crop ? { scale: [...c.augment.crop.scale], ratio: [...c.augment.crop.ratio] } : null, flip: !!c.augment.flip } : null,
    train: {
      steps: c.steps,
      batch_size: c.batchSize,
      grad_accum: c.accumulation,
      lr: c.lr,
      head_lr: c.headLr ?? c.lr,
      schedule: 'linear warmup from 0, then cosine decay to 0',
      warmup_steps: c.warmupSteps,
      weight_decay: c.weightDecay,
      clip_norm: c.clipNorm,
      label_smoothing: c.labelSmoothing,
      seed: c.seed,
      eval_every: c.evalEvery,
      log_every: c.logEvery,
    },
    no_decay: [...noDecay].sort(),
    data: { val_fraction: VAL_FRACTION },
  };
}

function requirements(run: ExportableRun, info: ExportInfo): string {
  const t4 = isPeftMethod(run.config.method) && info.peftNaming === 'transformers4' && run.model.spec.family !== 'clip';
  return (
    '# What train_peft.py needs, pinned to the versions Rankscope\'s exports were checked with\n' +
    '# (docs/peft-export.md). For a CUDA build of torch, install it first as pytorch.org says.\n' +
    `torch==${PINNED.torch}\n` +
    (t4
      ? `# This adapter carries transformers 4 module names (exported with --peft-naming transformers4); not checked here.\ntransformers==${PINNED.transformers4}\n`
      : `transformers==${PINNED.transformers5}\n`) +
    `peft==${PINNED.peft}\n` +
    `accelerate==${PINNED.accelerate}\n` +
    `pillow==${PINNED.pillow}\n` +
    `numpy==${PINNED.numpy}\n`
  );
}

/** The README section: the one command, and what it starts from. */
export function continuationReadme(run: ExportableRun, info: ExportInfo): string {
  const peft = isPeftMethod(run.config.method);
  const label = methodById(run.config.method).label;
  const start = peft
    ? `It loads \`${info.baseModel}\` (give \`--base-model\` if it lives elsewhere) with this adapter through\n\`PeftModel.from_pretrained(..., is_trainable=True)\` and keeps training the same ${label} settings.\n`
    : `PEFT has no ${label}, so the script starts from the merged checkpoint exported with this run\n(\`--merged path/to/merged\`: W + ΔW and the trained head) and trains a LoRA of rank \`--nola-lora-r\` on\nits linear layers, with the run's learning-rate schedule and data settings.\n`;
  const extra = peft ? '' : ' --merged path/to/merged';
  return (
    '\n## Continue training in Python\n\n' +
    '```sh\n' +
    'pip install -r requirements.txt\n' +
    `accelerate launch train_peft.py --data path/to/images${extra}\n` +
    '```\n\n' +
    start +
    'The image folder holds one subfolder per class, named after the classes above (a "/" in a name becomes "_").\n' +
    `\`${TRAIN_SETTINGS}\` keeps the run's labels, preprocessing (resize, mean, std), augmentation and training\n` +
    'settings (steps, batch, AdamW, warmup + cosine, clipping, label smoothing, seed); each is a command-line\n' +
    'option (`python train_peft.py --help`). `accelerate launch` spreads it over every GPU, or several nodes\n' +
    '(`accelerate config`); plain `python train_peft.py` runs on one GPU or the CPU. Rankscope\'s own train /\n' +
    'validation split is not reproduced: the script holds out the same share of each class with its own seed.\n'
  );
}

/** train_peft.py, rankscope_train.json and requirements.txt for this run's adapter folder. */
export function continuationFiles(run: ExportableRun, info: ExportInfo): ExportFiles {
  return new Map([
    [TRAIN_SCRIPT, utf8Bytes(trainPeftPy)],
    [TRAIN_SETTINGS, utf8Bytes(`${JSON.stringify(settingsOf(run as ContinuableRun, info), null, 2)}\n`)],
    [REQUIREMENTS, utf8Bytes(requirements(run, info))],
  ]);
}
