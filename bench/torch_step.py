#!/usr/bin/env python3
"""PyTorch fp32 eager timing of the step the step suite times: a ViT-B/16 (or ViT-S/16) training
step at 224², random weights, with LoRA (r=8, alpha=8, PEFT's init) on query and value and the
classification head trained, AdamW. The peer for `npm run bench -- --only step --torch`.

Opt-in: needs python3 with torch (Debian: apt-get install python3-torch); CI never runs it.
Prints one JSON object on the last line of stdout.

  python3 bench/torch_step.py --shape vit-b16 --batch 8 --steps 3 [--depth 12] [--method lora|full]
"""
import argparse
import json
import math
import statistics
import time

import torch
from torch import nn

SHAPES = {
    "vit-s16": dict(hidden=384, layers=12, heads=6, intermediate=1536),
    "vit-b16": dict(hidden=768, layers=12, heads=12, intermediate=3072),
}


class LoraLinear(nn.Module):
    """y = x Wᵀ + b + (α/r)·x Aᵀ Bᵀ, W and b frozen; A ~ kaiming-uniform(a=√5) and B = 0 as PEFT."""

    def __init__(self, base: nn.Linear, r: int, alpha: float):
        super().__init__()
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.A = nn.Parameter(torch.empty(r, base.in_features))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(base.out_features, r))
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.A.t() @ self.B.t()) * self.scale


class Block(nn.Module):
    def __init__(self, d, heads, inter):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d, eps=1e-12)
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)
        self.out = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d, eps=1e-12)
        self.fc1 = nn.Linear(d, inter)
        self.fc2 = nn.Linear(inter, d)

    def forward(self, x):
        b, t, d = x.shape
        h = self.ln1(x)
        split = lambda y: y.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.query(h)), split(self.key(h)), split(self.value(h))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), dim=-1) @ v
        x = x + self.out(a.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(nn.functional.gelu(self.fc1(self.ln2(x))))


class ViT(nn.Module):
    def __init__(self, hidden, layers, heads, intermediate, labels=5):
        super().__init__()
        self.patch = nn.Conv2d(3, hidden, 16, 16)
        self.cls = nn.Parameter(torch.randn(1, 1, hidden) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, 197, hidden) * 0.02)
        self.blocks = nn.ModuleList(Block(hidden, heads, intermediate) for _ in range(layers))
        self.ln = nn.LayerNorm(hidden, eps=1e-12)
        self.head = nn.Linear(hidden, labels)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x)[:, 0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=sorted(SHAPES), default="vit-b16")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--depth", type=int, default=None, help="keep only the first N blocks")
    ap.add_argument("--method", choices=["lora", "full"], default="lora")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dims = dict(SHAPES[args.shape])
    full_layers = dims["layers"]
    if args.depth:
        dims["layers"] = min(args.depth, full_layers)
    model = ViT(**dims)
    if args.method == "lora":
        for p in model.parameters():
            p.requires_grad_(False)
        for blk in model.blocks:
            blk.query = LoraLinear(blk.query, 8, 8.0)
            blk.value = LoraLinear(blk.value, 8, 8.0)
        for p in model.head.parameters():
            p.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
    x = torch.randn(args.batch, 3, 224, 224)
    y = torch.randint(0, 5, (args.batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    step()  # warm-up
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    ms = statistics.median(times)
    name = args.shape if dims["layers"] == full_layers else f"{args.shape} ({dims['layers']} of {full_layers} blocks)"
    print(json.dumps({
        "method": args.method,
        "model": name,
        "batch": args.batch,
        "ms_per_step": ms,
        "images_per_second": args.batch * 1000 / ms,
        "steps_timed": args.steps,
        "trainable_params": sum(p.numel() for p in params),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "runtime": "PyTorch fp32 eager, CPU",
    }))


if __name__ == "__main__":
    main()
