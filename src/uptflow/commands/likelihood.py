"""``uptflow likelihood --low L --normal N``: exact negative log-likelihood of a pair in bits/dim.

UPT-Flow is a normalising flow, so ``-log2 p(normal | low)`` is exact (change of variables), up
to the uniform dequantisation noise added to the 8-bit ``normal`` image: that noise is drawn with a
fixed seed (``--seed``) and ``--samples K`` averages K draws.  The network needs sides that are
multiples of 8, so both images are cropped (top-left) to the largest such size, and the output
says so.  Bits/dim here is per colour value (3 H W dimensions); the authors' code reports a
per-pixel figure, ``authors = 3 x ours - 2 log2(q)``, also printed.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from uptflow.messages import show_path
from uptflow.validation import MAX_SAMPLES, int_arg, seed_arg


def add_parser(sub) -> None:
    p = sub.add_parser(
        "likelihood", help="exact NLL (bits/dim) of a normal-light image given its low-light version",
        description="Compute -log2 p(normal | low) per dimension with uniform dequantisation "
                    "(fixed seed), averaged over --samples draws.",
        epilog="example:\n  uptflow likelihood --low low/1.png --normal high/1.png --model m.safetensors",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--low", required=True, metavar="L", help="low-light image")
    p.add_argument("--normal", required=True, metavar="N", help="normal-light image (same size)")
    p.add_argument("--model", metavar="M", help="checkpoint path or preset name (random weights!); "
                                                 "default: the bundled model")
    p.add_argument("--samples", "-k", type=int_arg(1, MAX_SAMPLES, "samples"), default=1, metavar="K",
                   help=f"dequantisation draws to average, 1..{MAX_SAMPLES} (default 1)")
    p.add_argument("--seed", type=seed_arg, default=0,
                   help="seed of the dequantisation noise, 0 .. 2**63-1 (default 0)")
    p.add_argument("--no-dequantize", action="store_true",
                   help="evaluate the density at the 8-bit values themselves (no noise)")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(run=run)


def crop_to_multiple(a: np.ndarray, multiple: int) -> np.ndarray:
    """Top-left crop of ``(H, W, C)`` to the largest multiple of ``multiple`` on both sides."""
    h, w = a.shape[:2]
    return a[: h - h % multiple, : w - w % multiple]


def run(args: argparse.Namespace) -> int:
    import torch

    from uptflow import api
    from uptflow.inference.memory import available_memory_bytes
    from uptflow.inference.models import load_cached, resolve_device
    from uptflow.io.read import read_rgb
    from uptflow.io.tensors import to_tensor

    if args.samples < 1:
        raise ValueError(f"--samples must be >= 1, got {args.samples}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    low = read_rgb(args.low)
    normal = read_rgb(args.normal)
    if low.shape != normal.shape:
        raise ValueError(f"{show_path(args.low)} is {low.shape[1]}x{low.shape[0]} but {show_path(args.normal)} is "
                         f"{normal.shape[1]}x{normal.shape[0]}; the pair must have the same size")
    device = resolve_device(args.device)
    model = load_cached(args.model, device)
    m = model.config.size_multiple
    h, w = low.shape[:2]
    if h < m or w < m:
        raise ValueError(f"images are {w}x{h}; the likelihood needs at least {m}x{m} pixels")
    ch, cw = h - h % m, w - w % m
    need = api.inference_bytes_per_pixel(model.config) * ch * cw
    budget = available_memory_bytes(device)
    if need > budget:
        raise ValueError(f"a {cw}x{ch} pair needs about {need / 2**30:.1f} GiB for an exact likelihood but only "
                         f"{budget / 2**30:.1f} GiB is free; crop the images (the likelihood cannot be tiled)")
    lo = to_tensor(crop_to_multiple(low, m)).to(device)
    no = to_tensor(crop_to_multiple(normal, m)).to(device)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    values = []
    with torch.no_grad():
        for _ in range(args.samples if not args.no_dequantize else 1):
            values.append(float(model.nll(no, lo, generator=gen, dequantize=not args.no_dequantize)[0]))
    if not all(math.isfinite(v) for v in values):
        raise ValueError("the likelihood is not finite for this pair (a broken or diverged model?)")
    bpd = float(np.mean(values))
    q = model.config.quantization
    authors = 3 * bpd - 2 * math.log2(q)
    cropped = (ch, cw) != (h, w)
    record = {
        "bits_per_dim": bpd,
        "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
        "samples": len(values),
        "seed": args.seed,
        "dequantize": not args.no_dequantize,
        "size": [cw, ch],
        "original_size": [w, h],
        "cropped": cropped,
        "authors_bits_per_pixel": authors,
        "quantization": q,
    }
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    if cropped:
        print(f"note: cropped both images from {w}x{h} to {cw}x{ch} (top-left; sides must be multiples of {m})")
    spread = f" (std {record['std']:.4f} over {len(values)} dequantisation draws)" if len(values) > 1 else ""
    deq = f"dequantised, seed {args.seed}" if not args.no_dequantize else "no dequantisation"
    print(f"bits/dim: {bpd:.4f}{spread}  [{deq}, {cw}x{ch}x3 dimensions]")
    print(f"authors' convention (per pixel, 1-channel dequantisation, q={q}): {authors:.4f}")
    return 0
