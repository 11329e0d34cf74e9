#!/usr/bin/env python3
"""Continue a Rankscope run in Python, with PEFT and transformers' Trainer.

Rankscope writes this script into every adapter it exports. It knows nothing about the run by
itself: at start it reads, from the folder it lies in,

  rankscope_train.json  the run's labels, preprocessing, augmentation and training settings
  adapter_config.json   a PEFT adapter (LoRA, VeRA, RandLoRA, ...): loaded with PeftModel, trainable
  nola_config.json      NOLA, which PEFT lacks: training starts from the merged checkpoint (--merged)
                        with a LoRA on the same layers

and trains on an image folder (one subfolder of images per class, named after the run's classes)
with the run's learning-rate schedule (linear warmup, then cosine), AdamW, gradient clipping,
label smoothing and augmentation. Every setting can be changed on the command line (--help).

  pip install -r requirements.txt
  accelerate launch train_peft.py --data path/to/images        # one or several GPUs, or nodes
  python train_peft.py --data path/to/images                   # one GPU or the CPU

The result (the adapter, and with --merge the merged model) goes to --output.
"""
import argparse
import json
import math
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def fail(message):
    sys.exit(f"train_peft.py: {message}")


def read_settings(folder):
    path = Path(folder) / "rankscope_train.json"
    if not path.is_file():
        fail(f"{path} is missing: run this script from the adapter folder Rankscope exported, or give --adapter.")
    with open(path, encoding="utf-8") as f:
        settings = json.load(f)
    if settings.get("format") != "rankscope-train":
        fail(f"{path} is not a Rankscope training file (its format is {settings.get('format')!r}).")
    return settings


def parse_args(argv):
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--adapter", default=str(HERE))
    known, _ = pre.parse_known_args(argv)
    s = read_settings(known.adapter)
    t = s["train"]
    p = argparse.ArgumentParser(
        description=f"Continue Rankscope's {s['method_label']} run on {s['base_model']} with PEFT and transformers.",
        epilog="Defaults are the exported run's settings (rankscope_train.json).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--data", required=True, help=f"image folder with one subfolder per class: {', '.join(map(folder_name, s['labels']))}")
    p.add_argument("--val-data", help="a separate validation folder in the same layout (default: hold out --val-fraction of --data)")
    p.add_argument("--val-fraction", type=float, default=s["data"]["val_fraction"], help="share of each class held out for validation")
    p.add_argument("--adapter", default=str(HERE), help="the exported adapter folder (default: this script's folder)")
    p.add_argument("--base-model", default=s["base_model"], help="the base model's Hub id or folder")
    p.add_argument("--merged", help="NOLA: the merged checkpoint folder exported with the run, to start from")
    p.add_argument("--nola-lora-r", type=int, default=8, help="NOLA: rank of the LoRA trained on top of the merged checkpoint")
    p.add_argument("--output", default="rankscope-continued", help="where the trained adapter goes")
    p.add_argument("--merge", action="store_true", help="also save the merged model (W + dW) to OUTPUT/merged")
    p.add_argument("--steps", type=int, default=t["steps"], help="optimizer steps")
    p.add_argument("--batch-size", type=int, default=t["batch_size"], help="images per device per step")
    p.add_argument("--grad-accum", type=int, default=t["grad_accum"], help="micro-batches per optimizer step")
    p.add_argument("--lr", type=float, default=t["lr"], help="peak learning rate")
    p.add_argument("--head-lr", type=float, default=t["head_lr"], help="peak learning rate of the classification head")
    p.add_argument("--weight-decay", type=float, default=t["weight_decay"], help="AdamW decoupled weight decay on matrices")
    p.add_argument("--warmup-steps", type=int, default=t["warmup_steps"], help="linear warmup from 0, then cosine decay")
    p.add_argument("--clip-norm", type=float, default=t["clip_norm"], help="largest global gradient norm; 0 turns clipping off")
    p.add_argument("--label-smoothing", type=float, default=t["label_smoothing"], help="share of each target spread over all classes")
    p.add_argument("--seed", type=int, default=t["seed"], help="seeds the split, the batches and the augmentation")
    p.add_argument("--eval-every", type=int, default=t["eval_every"], help="steps between validation passes")
    p.add_argument("--log-every", type=int, default=t["log_every"], help="steps between logged losses")
    p.add_argument("--no-augment", action="store_true", help="train without the run's crop and flip")
    p.add_argument("--workers", type=int, default=2, help="data loader processes per device")
    return p.parse_args(argv), s


def folder_name(label):
    """Class names may hold characters a folder name cannot ("T-shirt/top"): those become "_"."""
    return "".join("_" if c in '/\\:*?"<>|' else c for c in label)


def scan(folder, labels):
    root = Path(folder)
    if not root.is_dir():
        fail(f"{folder} is not a folder. Give a folder with one subfolder of images per class: {', '.join(map(folder_name, labels))}.")
    ids = {}
    for i, label in enumerate(labels):
        ids[label] = i
        ids[folder_name(label)] = i
    items, unknown = [], []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        if sub.name not in ids:
            unknown.append(sub.name)
            continue
        items += [(str(f), ids[sub.name]) for f in sorted(sub.rglob("*")) if f.suffix.lower() in IMAGE_SUFFIXES]
    if unknown:
        fail(f"{folder}: the folders {unknown} are not classes of this run ({', '.join(map(folder_name, labels))}); "
             "the head was trained on those classes, in that order. Rename or remove the other folders.")
    if not items:
        fail(f"{folder} holds no images in class folders named {', '.join(map(folder_name, labels))}.")
    return items


def split(items, fraction, seed):
    """Stratified, seeded: the same share of every class goes to validation."""
    rng = random.Random(seed)
    by_class = {}
    for item in items:
        by_class.setdefault(item[1], []).append(item)
    train, val = [], []
    for label in sorted(by_class):
        group = by_class[label][:]
        rng.shuffle(group)
        n = min(len(group) - 1, max(1, round(fraction * len(group)))) if fraction > 0 and len(group) > 1 else 0
        val += group[:n]
        train += group[n:]
    return train, val


def crop_box(width, height, scale, ratio, torch):
    """torchvision's RandomResizedCrop sampling: ten tries at a drawn area and aspect ratio, then a central crop."""
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * (scale[0] + (scale[1] - scale[0]) * torch.rand(1).item())
        aspect = math.exp(log_ratio[0] + (log_ratio[1] - log_ratio[0]) * torch.rand(1).item())
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(torch.randint(0, width - w + 1, (1,)).item()), int(torch.randint(0, height - h + 1, (1,)).item()), w, h
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        w, h = int(round(height * ratio[1])), height
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h


def make_dataset(items, prep, augment):
    import torch
    import torch.nn.functional as F
    from PIL import Image

    size = prep["size"]
    mean = torch.tensor(prep["mean"]).view(3, 1, 1)
    std = torch.tensor(prep["std"]).view(3, 1, 1)

    class ImageFolderSet(torch.utils.data.Dataset):
        def __len__(self):
            return len(items)

        def __getitem__(self, i):
            path, label = items[i]
            with Image.open(path) as img:
                rgb = img.convert("RGB")
            w, h = rgb.size
            x = torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8).view(h, w, 3).permute(2, 0, 1).float()
            if augment and augment.get("crop"):
                left, top, cw, ch = crop_box(w, h, augment["crop"]["scale"], augment["crop"]["ratio"], torch)
                x = x[:, top:top + ch, left:left + cw]
            if augment and augment.get("flip") and torch.rand(1).item() < 0.5:
                x = torch.flip(x, dims=[2])
            # As Rankscope's kernel: bilinear with half-pixel centres and no antialiasing, then 1/255 and the model's mean and std.
            x = F.interpolate(x[None], size=(size, size), mode="bilinear", align_corners=False, antialias=False)[0] / 255.0
            return {"pixel_values": (x - mean) / std, "labels": label}

    return ImageFolderSet()


def load_model(args, s):
    import transformers
    from peft import LoraConfig, PeftModel, get_peft_model

    labels = s["labels"]
    id2label = {i: l for i, l in enumerate(labels)}
    label2id = {l: i for i, l in enumerate(labels)}
    cls = getattr(transformers, s["architecture"], None) or transformers.AutoModelForImageClassification
    adapter = Path(args.adapter)
    if (adapter / "adapter_config.json").is_file():
        base = cls.from_pretrained(args.base_model, num_labels=len(labels), id2label=id2label, label2id=label2id, ignore_mismatched_sizes=True)
        return PeftModel.from_pretrained(base, str(adapter), is_trainable=True)
    if not args.merged:
        fail(f"{adapter} holds no adapter_config.json: PEFT cannot load {s['method_label']}. Give --merged path/to/merged "
             "(the merged checkpoint exported with this run); training then continues from it with a LoRA of rank --nola-lora-r.")
    base = cls.from_pretrained(args.merged)
    if base.config.num_labels != len(labels):
        fail(f"{args.merged} has {base.config.num_labels} classes, this run {len(labels)}: give the merged checkpoint of the same run.")
    import torch
    # Every linear layer of the backbone; the head trains in full (modules_to_save).
    targets = sorted({name for name, m in base.named_modules() if isinstance(m, torch.nn.Linear) and not name.startswith(s["head_module"])})
    config = LoraConfig(r=args.nola_lora_r, lora_alpha=args.nola_lora_r, target_modules=targets, modules_to_save=[s["head_module"]])
    return get_peft_model(base, config)


def optimizer_for(model, args, s):
    """AdamW in four groups, as Rankscope trains: the head at its own rate; no decay on vectors, embeddings and the method's scalings."""
    import torch

    no_decay = tuple(s["no_decay"])
    groups = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        head = s["head_module"] in name.split(".")
        decay = p.ndim >= 2 and "embedding" not in name and not any(k in name for k in no_decay)
        key = (head, decay)
        groups.setdefault(key, []).append(p)
    params = [{"params": ps, "lr": args.head_lr if head else args.lr, "weight_decay": args.weight_decay if decay else 0.0} for (head, decay), ps in groups.items()]
    return torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.999), eps=1e-8)


def main(argv=None):
    args, s = parse_args(sys.argv[1:] if argv is None else argv)
    import numpy as np
    import torch
    from transformers import Trainer, TrainingArguments

    items = scan(args.data, s["labels"])
    if args.val_data:
        train_items, val_items = items, scan(args.val_data, s["labels"])
    else:
        train_items, val_items = split(items, args.val_fraction, args.seed)
    augment = None if args.no_augment else s.get("augment")
    train_set = make_dataset(train_items, s["preprocessing"], augment)
    val_set = make_dataset(val_items, s["preprocessing"], None) if val_items else None

    torch.manual_seed(args.seed)
    model = load_model(args, s)
    optimizer = optimizer_for(model, args, s)

    def accuracy(pred):
        logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
        return {"accuracy": float((np.argmax(logits, axis=-1) == pred.label_ids).mean())}

    training = TrainingArguments(
        output_dir=args.output,
        max_steps=args.steps,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=max(args.batch_size, 32),
        gradient_accumulation_steps=args.grad_accum,
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        lr_scheduler_type="cosine",
        warmup_steps=args.warmup_steps,
        max_grad_norm=args.clip_norm,
        label_smoothing_factor=args.label_smoothing,
        seed=args.seed,
        data_seed=args.seed,
        logging_steps=args.log_every,
        eval_strategy="steps" if val_set is not None else "no",
        eval_steps=args.eval_every,
        save_strategy="no",
        report_to="none",
        remove_unused_columns=False,
        dataloader_num_workers=args.workers,
    )
    trainer = Trainer(model=model, args=training, train_dataset=train_set, eval_dataset=val_set, compute_metrics=accuracy, optimizers=(optimizer, None))
    trainer.train()
    metrics = trainer.evaluate() if val_set is not None else {}
    if trainer.is_world_process_zero():
        out = Path(args.output)
        model.save_pretrained(out)
        if args.merge:
            model.merge_and_unload().save_pretrained(out / "merged")
        summary = {"train_images": len(train_items), "val_images": len(val_items), "steps": args.steps, **metrics}
        (out / "continued.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
