#!/usr/bin/env python3
"""Rebuild the weight updates of a Rankscope NOLA export with NumPy alone.

A NOLA export (docs/nola-format.md) holds nola_config.json (shapes, seed, generator) and
nola_coefficients.safetensors (the trained alpha, beta per layer and the classification head).
The frozen random bases are not stored: this script regenerates them with Rankscope's
counter-based generator, checks them against the values recorded at export, and forms

    A = sum_i alpha_i A_i   (I x rank)     B = sum_j beta_j B_j   (rank x O)
    delta_W = (c / rank) * (A @ B).T      (O x I, add to the layer's weight)

Usage:
    python3 scripts/nola_delta.py EXPORT_DIR                 # every layer: shape and norm of delta_W
    python3 scripts/nola_delta.py EXPORT_DIR --layer MODULE --out delta.npy
    python3 scripts/nola_delta.py EXPORT_DIR --layer MODULE --json   # delta_W as JSON (for tests)

In Python: `from nola_delta import load_export, delta_w` and `delta_w(export, module)`.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

GENERATOR = "rankscope-lowbias32-v1"
M32 = 0xFFFFFFFF
_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def hash32(x):
    """Chris Wellons' lowbias32 on uint32 values held in uint64 (wrapping mod 2**32)."""
    x = np.asarray(x, dtype=np.uint64)
    x = x ^ (x >> np.uint64(16))
    x = (x * np.uint64(0x7FEB352D)) & np.uint64(M32)
    x = x ^ (x >> np.uint64(15))
    x = (x * np.uint64(0x846CA68B)) & np.uint64(M32)
    return x ^ (x >> np.uint64(16))


def rand_u32(seed, stream, i):
    a = (hash32(i) + np.uint64((seed * 0x9E3779B9) & M32)) & np.uint64(M32)
    b = np.uint64((stream * 0x85EBCA6B + 0x632BE5AB) & M32)
    return hash32(hash32(a) ^ b)


def rand_unit(seed, stream, i):
    """Uniform in [0, 1) with 24 random bits, exact in float32."""
    return (rand_u32(seed, stream, i) >> np.uint64(8)).astype(np.float64) / 16777216.0


def uniform(n, seed, stream, lo, hi):
    return lo + (hi - lo) * rand_unit(seed, stream, np.arange(n, dtype=np.uint64))


def read_safetensors(path):
    """{name: ndarray} from a safetensors file, without the safetensors package."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, which this script does not read")
        start, end = info["data_offsets"]
        arr = np.frombuffer(data[base + start : base + end], dtype=np.dtype(dtype).newbyteorder("<"))
        out[name] = arr.reshape(info["shape"]).astype(np.float64)
    return out


def load_export(folder):
    with open(os.path.join(folder, "nola_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    if config.get("format") != "rankscope-nola" or config.get("format_version") != 1:
        raise ValueError(f"{folder}: not a Rankscope NOLA export of format version 1")
    if config.get("generator") != GENERATOR or config.get("distribution") != "uniform":
        raise ValueError(f"{folder}: generator {config.get('generator')!r} is not {GENERATOR!r}; this script cannot rebuild its bases")
    tensors = read_safetensors(os.path.join(folder, "nola_coefficients.safetensors"))
    return {"config": config, "tensors": tensors}


def bases(export, module, check=True):
    """The frozen stacks of one layer: A (ka, I, rank) and B (kb, rank, O), checked against the export."""
    c = export["config"]
    layer = c["layers"][module]
    I, O, rank = layer["in_features"], layer["out_features"], c["rank"]
    a, b = 1.0 / np.sqrt(I * rank), 1.0 / np.sqrt(rank * O)
    A = uniform(c["ka"] * I * rank, c["seed"], c["stream_a"], -a, a)
    B = uniform(c["kb"] * rank * O, c["seed"], c["stream_b"], -b, b)
    if check:
        for name, stack, rec in (("A", A, layer["check_a"]), ("B", B, layer["check_b"])):
            rec = np.asarray(rec, dtype=np.float64)
            got = stack[: len(rec)]
            # The engine evaluates lo + (hi - lo) * u in float32: allow a few float32 roundings.
            if not np.allclose(got, rec, rtol=0, atol=4e-7 * max(1.0, np.abs(rec).max())):
                raise ValueError(f"{module}: rebuilt {name} bases {got[:3]} differ from the recorded {rec[:3]}")
    return A.reshape(c["ka"], I, rank), B.reshape(c["kb"], rank, O)


def delta_w(export, module, check=True):
    """delta_W (O x I) of one layer, float64."""
    c = export["config"]
    t = export["tensors"]
    alpha, beta = t[f"{module}.nola_alpha"], t[f"{module}.nola_beta"]
    A_bases, B_bases = bases(export, module, check)
    A = np.einsum("i,ipr->pr", alpha, A_bases)
    B = np.einsum("j,jro->ro", beta, B_bases)
    return (c["c"] / c["rank"]) * (A @ B).T


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("export", help="folder holding nola_config.json and nola_coefficients.safetensors")
    p.add_argument("--layer", help="module path of one layer, e.g. vit.encoder.layer.0.attention.attention.query")
    p.add_argument("--out", help="write that layer's delta_W to this .npy file")
    p.add_argument("--json", action="store_true", help="print that layer's delta_W as JSON")
    args = p.parse_args(argv)
    export = load_export(args.export)
    layers = export["config"]["layers"]
    if args.layer:
        if args.layer not in layers:
            p.error(f"no layer {args.layer!r}; the export has: {', '.join(layers)}")
        d = delta_w(export, args.layer)
        if args.out:
            np.save(args.out, d)
        if args.json:
            json.dump({"module": args.layer, "shape": list(d.shape), "delta": d.ravel().tolist()}, sys.stdout)
            sys.stdout.write("\n")
        elif not args.out:
            print(f"{args.layer}: delta_W {d.shape[0]}x{d.shape[1]}, Frobenius norm {np.linalg.norm(d):.6g}")
        return 0
    for module in layers:
        d = delta_w(export, module)
        print(f"{module}: delta_W {d.shape[0]}x{d.shape[1]}, Frobenius norm {np.linalg.norm(d):.6g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
