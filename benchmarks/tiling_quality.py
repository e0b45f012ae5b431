"""How much does tiled enhancement differ from a whole-image pass?

UPT-Flow's channel attention, ECA and CBAM pool over the whole input, so a tile's output is not
exactly the same region of a whole-image output; :func:`uptflow.tiling.run_tiled` blends
overlapping tiles to hide seams.  This script enhances real images whole and tiled (tile 128 /
256, overlap 16 / 32 / 64) and prints PSNR(tiled, whole) in dB, plus the largest per-pixel
difference.  For the Kodak image it also synthesises a low-light input (uptflow.data.synthesis.synthesize,
fixed seed) so the original is a ground truth: PSNR(tiled, GT) - PSNR(whole, GT) is the figure
the acceptance criterion (< 0.5 dB) is about, meaningful only with a trained model.

Default model: a seeded random ``small`` model (:func:`uptflow.models_registry.random_model`),
which is NOT an enhancer; re-run with ``--model trained.safetensors`` for the real numbers.

Usage:  python benchmarks/tiling_quality.py [--model PATH_OR_PRESET] [--tiles 128 256]
            [--overlaps 16 32 64] [--images ...]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
DEFAULT_IMAGES = [
    SHARED / "lowlight_real" / "lol_eval15_low_400x600" / "1.png",
    SHARED / "lowlight_real" / "lol_eval15_low_400x600" / "22.png",
    SHARED / "lowlight_real" / "lol_eval15_low_400x600" / "780.png",
    SHARED / "photos" / "kodak24" / "kodim23.png",  # ground truth; its low input is synthesised
]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two ``(H, W, 3)`` arrays in [0, 1] (8-bit quantised first, as saved outputs)."""
    qa, qb = np.round(a * 255) / 255, np.round(b * 255) / 255
    mse = float(np.mean((qa.astype(np.float64) - qb) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def main() -> None:
    ap = argparse.ArgumentParser(description="PSNR of tiled vs whole-image enhancement")
    ap.add_argument("--model", default=None,
                    help="checkpoint path or preset; default: seeded random 'small' (not an enhancer)")
    ap.add_argument("--tiles", nargs="+", type=int, default=[128, 256])
    ap.add_argument("--overlaps", nargs="+", type=int, default=[16, 32, 64])
    ap.add_argument("--images", nargs="+", type=Path, default=DEFAULT_IMAGES)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from uptflow.api import enhance_array
    from uptflow.data.synthesis import synthesize
    from uptflow.imageio import read_rgb
    from uptflow.models_registry import load_cached, random_model

    if args.model is None:
        model = random_model("small", seed=0)
        print("model: seeded random 'small' preset (random_model('small', seed=0)): RANDOM weights, "
              "not an enhancer; these numbers only measure tiling, re-run with --model TRAINED")
    else:
        model = load_cached(args.model, "cpu")
        print(f"model: {args.model}")
    print(f"torch threads: {torch.get_num_threads()}")

    header = f"{'image':<14}{'tile':>5}{'ovl':>5}{'PSNR(tiled,whole)':>19}{'max|diff|':>11}{'dPSNR vs GT':>13}{'s':>7}"
    print(header)
    print("-" * len(header))
    summary: dict[tuple[int, int], list[float]] = {}
    for path in args.images:
        if not path.is_file():
            print(f"missing image {path}; skipped", file=sys.stderr)
            continue
        img = read_rgb(path)
        gt = None
        if "kodak" in str(path):
            gt = img
            img = synthesize(gt, np.random.default_rng(0))
        t0 = time.perf_counter()
        whole = enhance_array(model, img, tile=0)[0]
        t_whole = time.perf_counter() - t0
        name = f"{path.parent.name[:4]}/{path.stem}"
        gt_note = f"{psnr(whole, gt):9.2f} dB" if gt is not None else ""
        print(f"{name:<14}{'whole':>5}{'':>5}{'':>19}{'':>11}{gt_note:>13}{t_whole:7.1f}   ({img.shape[1]}x{img.shape[0]})")
        for tile in args.tiles:
            for overlap in args.overlaps:
                if overlap >= tile:
                    continue
                t0 = time.perf_counter()
                tiled = enhance_array(model, img, tile=tile, overlap=overlap)[0]
                dt = time.perf_counter() - t0
                p = psnr(tiled, whole)
                summary.setdefault((tile, overlap), []).append(p)
                d_gt = f"{psnr(tiled, gt) - psnr(whole, gt):+9.3f} dB" if gt is not None else ""
                print(f"{name:<14}{tile:>5}{overlap:>5}{p:>16.2f} dB{float(np.abs(tiled - whole).max()):>11.3f}"
                      f"{d_gt:>13}{dt:7.1f}", flush=True)
    print()
    print("mean PSNR(tiled, whole) over images:")
    for (tile, overlap), vals in sorted(summary.items()):
        print(f"  tile {tile:4d} overlap {overlap:3d}: {np.mean(vals):6.2f} dB  (min {np.min(vals):.2f})")


if __name__ == "__main__":
    main()
