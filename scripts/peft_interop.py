#!/usr/bin/env python3
"""Load a Rankscope export with the real libraries and print the logits they compute, as JSON.

    python3 scripts/peft_interop.py BASE_DIR ADAPTER_DIR MERGED_DIR PIXELS.safetensors [REFERENCE_DIR]

BASE_DIR is the base model folder, ADAPTER_DIR a PEFT adapter export (adapter_config.json +
adapter_model.safetensors), MERGED_DIR the merged export, and PIXELS a safetensors file with one
tensor "pixel_values" (B, C, H, W), already normalised. Needs torch, transformers and peft; used
by src/io/peft/interop.test.ts when RANKSCOPE_PYTHON names a Python that has them.

Prints {"peft": logits via PeftModel.from_pretrained, "merged": logits of the merged checkpoint
via from_pretrained alone, "versions": {...}}. With REFERENCE_DIR, PEFT itself also saves a fresh
adapter with the same adapter_config.json there, and the output adds "reference_config" (its
adapter_config.json with target_modules sorted, as text) and "reference_tensors" ([key, shape] of
its adapter_model.safetensors), to compare with the export.
"""
import json
import sys
import warnings

import peft
import torch
import transformers
from peft import PeftConfig, PeftModel, get_peft_model
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import AutoConfig


def classifier_class(folder):
    arch = AutoConfig.from_pretrained(folder).architectures[0]
    return getattr(transformers, arch)


def main(base_dir, adapter_dir, merged_dir, pixels_file, reference_dir=None):
    warnings.simplefilter("ignore")
    pixels = load_file(pixels_file)["pixel_values"]
    merged_cls = classifier_class(merged_dir)
    labels = len(AutoConfig.from_pretrained(merged_dir).id2label)
    out = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__}}
    with torch.no_grad():
        merged = merged_cls.from_pretrained(merged_dir).eval()
        out["merged"] = merged(pixel_values=pixels).logits.flatten().tolist()
        base = merged_cls.from_pretrained(base_dir, num_labels=labels, ignore_mismatched_sizes=True)
        model = PeftModel.from_pretrained(base, adapter_dir).eval()
        out["peft"] = model(pixel_values=pixels).logits.flatten().tolist()
    if reference_dir:
        config = PeftConfig.from_pretrained(adapter_dir)
        config.base_model_name_or_path = None
        config.inference_mode = False
        fresh = merged_cls.from_pretrained(base_dir, num_labels=labels, ignore_mismatched_sizes=True)
        # The export names its base by the path it was given; PEFT takes name_or_path from the model.
        get_peft_model(fresh, config).save_pretrained(reference_dir)
        with open(f"{reference_dir}/adapter_config.json", encoding="utf-8") as f:
            ref = json.load(f)
        ref["target_modules"] = sorted(ref["target_modules"])
        out["reference_config"] = json.dumps(ref, indent=2, sort_keys=True)
        with safe_open(f"{reference_dir}/adapter_model.safetensors", "pt") as f:
            out["reference_tensors"] = sorted([k, list(f.get_slice(k).get_shape())] for k in f.keys())
            out["reference_metadata"] = f.metadata()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    main(*sys.argv[1:])
