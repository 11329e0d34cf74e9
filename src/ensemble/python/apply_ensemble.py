"""Applies a Rankscope adaptive ensemble (ensemble.json + controller.safetensors) in Python.

Each member is a run's merged model (a Hugging Face checkpoint folder). A member's features are
what its head reads: the input of `classifier` for ...ForImageClassification models, or CLIP's
normalised image embedding for a zero-shot head (zero_shot_head.weight in the checkpoint). The
controller (an MLP on the standardised, concatenated features) gives one temperature per member
per image, and the ensemble's logits are sum_m logits_m / T_m.

    python apply_ensemble.py ENSEMBLE_DIR image.jpg [image2.png ...]

needs torch, transformers, safetensors and Pillow. `ensemble_logits` alone needs only numpy.
"""
import json
import os
import sys

import numpy as np


def softplus(z):
    return np.where(z > 30, z, np.log1p(np.exp(np.minimum(z, 30))))


def ensemble_logits(controller, features, logits, t_min):
    """features: list of (N, F_m) arrays; logits: list of (N, C) arrays. Returns (logits, temperatures)."""
    x = np.concatenate([np.asarray(f, dtype=np.float64) for f in features], axis=1)
    x = (x - controller["mean"]) / controller["std"]
    h = np.maximum(x @ controller["W1"].T + controller["b1"], 0)
    t = softplus(h @ controller["W2"].T + controller["b2"]) + t_min
    out = sum(np.asarray(l, dtype=np.float64) / t[:, m : m + 1] for m, l in enumerate(logits))
    return out, t


def load_controller(folder):
    from safetensors.numpy import load_file

    raw = load_file(os.path.join(folder, "controller.safetensors"))
    return {k: v.astype(np.float64) for k, v in raw.items()}


def member_outputs(member_dir, images, head_file=None):
    """Features and logits of one member for a list of PIL images, as Rankscope computes them.

    head_file: a safetensors file with zero_shot_head.weight, for a member whose checkpoint has
    none (a loaded CLIP whose zero-shot head the ensemble made from the class names)."""
    import torch
    from safetensors import safe_open
    from transformers import AutoImageProcessor, CLIPModel, AutoModelForImageClassification

    processor = AutoImageProcessor.from_pretrained(member_dir)
    pixels = processor(images=images, return_tensors="pt")["pixel_values"]
    with safe_open(head_file or os.path.join(member_dir, "model.safetensors"), "pt") as f:
        head = f.get_tensor("zero_shot_head.weight") if "zero_shot_head.weight" in f.keys() else None
    with torch.no_grad():
        if head is not None:
            model = CLIPModel.from_pretrained(member_dir).eval()
            feats = torch.nn.functional.normalize(model.get_image_features(pixel_values=pixels), dim=-1)
            return feats.numpy(), (feats @ head.T).numpy()
        model = AutoModelForImageClassification.from_pretrained(member_dir).eval()
        seen = {}
        hook = model.classifier.register_forward_pre_hook(lambda mod, args: seen.__setitem__("x", args[0]))
        logits = model(pixel_values=pixels).logits
        hook.remove()
        return seen["x"].numpy(), logits.numpy()


def main(argv):
    from PIL import Image

    folder, paths = argv[0], argv[1:]
    spec = json.load(open(os.path.join(folder, "ensemble.json")))
    images = [Image.open(p).convert("RGB") for p in paths]
    outs = [
        member_outputs(
            os.path.join(folder, m["merged"]),
            images,
            os.path.join(folder, m["zero_shot_head"]) if m.get("zero_shot_head") else None,
        )
        for m in spec["members"]
    ]
    logits, temps = ensemble_logits(load_controller(folder), [o[0] for o in outs], [o[1] for o in outs], spec["t_min"])
    for p, row, t in zip(paths, logits, temps):
        print(json.dumps({"image": p, "class": spec["classes"][int(row.argmax())], "temperatures": t.tolist()}))


if __name__ == "__main__":
    main(sys.argv[1:])
