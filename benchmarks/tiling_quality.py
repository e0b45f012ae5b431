"""How much does tiled enhancement differ from a whole-image pass?

UPT-Flow's channel attention, ECA and CBAM pool over the whole input, so a tile that pools only
over itself is not the same region of a whole-image output.  ``uptflow`` therefore shares the
whole image's statistics between tiles (:mod:`uptflow.inference.shared_stats`: a sub-sampled pass, then
``refine`` passes over the tiles).  This script enhances images whole and tiled and prints, per
tile size, for independent tiles (each pooling over itself: the naive approach) and for shared
statistics with 0, 1, 2 refinement passes:

- PSNR(tiled, whole) in dB (8-bit quantised, as saved outputs);
- for Kodak images, whose low-light input is synthesised (uptflow.data.synthesis.synthesize,
  seed 0) so the original is a ground truth: PSNR(tiled, GT) - PSNR(whole, GT), the figure the
  acceptance criterion (|.| < 0.5 dB) is about, meaningful only with a trained model;
- seconds.

Default model: a seeded random ``small`` model (:func:`uptflow.inference.models.random_model`),
which is NOT an enhancer; re-run with ``--model src/uptflow/weights/default.safetensors``.

Usage:  python benchmarks/tiling_quality.py [--model PATH_OR_PRESET] [--tiles 128 256]
            [--overlap 32] [--refine 0 1 2] [--images ...]
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
KODAK = SHARED / "photos" / "kodak24"
LOL = SHARED / "lowlight_real" / "lol_eval15_low_400x600"
DEFAULT_IMAGES = [KODAK / f"kodim{i:02d}.png" for i in (1, 5, 13, 23)] + [LOL / f"{i}.png" for i in (1, 22, 780)]


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
    ap.add_argument("--overlap", type=int, default=32)
    ap.add_argument("--refine", nargs="+", type=int, default=[0, 1, 2], help="refinement passes to compare")
    ap.add_argument("--images", nargs="+", type=Path, default=DEFAULT_IMAGES)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from uptflow.data.synthesis import synthesize
    from uptflow.inference.models import load_cached, random_model
    from uptflow.inference.shared_stats import enhance_tiled
    from uptflow.inference.tiles import run_tiled
    from uptflow.io.read import read_rgb
    from uptflow.io.tensors import to_numpy, to_tensor

    if args.model is None:
        model = random_model("small", seed=0)
        print("model: seeded random 'small' preset (random_model('small', seed=0)): RANDOM weights, "
              "not an enhancer; these numbers only measure tiling, re-run with --model TRAINED")
    else:
        model = load_cached(args.model, "cpu")
        print(f"model: {args.model}")
    print(f"torch threads: {torch.get_num_threads()}, overlap {args.overlap}")
    methods = ["independent"] + [f"refine {r}" for r in args.refine]
    print("cells: PSNR(tiled, whole) dB / PSNR(tiled, GT) - PSNR(whole, GT) dB (Kodak only) / seconds")
    header = f"{'image':<14}{'whole vs GT':>12}{'tile':>6}" + "".join(f"{m:>24}" for m in methods)
    print(header)
    print("-" * len(header))
    to_whole: dict[tuple[int, str], list[float]] = {}
    to_gt: dict[tuple[int, str], list[float]] = {}
    for path in args.images:
        if not path.is_file():
            print(f"missing image {path}; skipped", file=sys.stderr)
            continue
        img = read_rgb(path)
        gt = None
        if "kodak" in str(path):
            gt = img
            img = synthesize(gt, np.random.default_rng(0), global_prob=1.0)  # as in the published numbers
        x = to_tensor(img)
        with torch.no_grad():
            whole = to_numpy(model.enhance(x))
        name = f"{path.parent.name[:4]}/{path.stem}"
        ref = f"{psnr(whole, gt):.2f}" if gt is not None else "-"
        for tile in args.tiles:
            cells = []
            for m in methods:
                t0 = time.perf_counter()
                with torch.no_grad():
                    if m == "independent":
                        out = run_tiled(model.enhance, x, tile, args.overlap)
                    else:
                        out = enhance_tiled(model, x, tile, args.overlap, refine=int(m.split()[1]))
                dt = time.perf_counter() - t0
                out = to_numpy(out)
                p = psnr(out, whole)
                to_whole.setdefault((tile, m), []).append(p)
                cell = f"{p:.1f}"
                if gt is not None:
                    d = psnr(out, gt) - psnr(whole, gt)
                    to_gt.setdefault((tile, m), []).append(d)
                    cell += f" / {d:+.2f}"
                cells.append(f"{cell} / {dt:.1f}s")
            print(f"{name:<14}{ref:>12}{tile:>6}" + "".join(f"{c:>24}" for c in cells), flush=True)
    print()
    print("summary per tile size and method: PSNR(tiled, whole) mean (min) | max |PSNR(tiled, GT) - PSNR(whole, GT)|")
    for (tile, m), vals in sorted(to_whole.items()):
        gts = to_gt.get((tile, m), [])
        gt_note = f" | {max(abs(v) for v in gts):.2f} dB" if gts else ""
        print(f"  tile {tile:4d} {m:>12}: {np.mean(vals):6.2f} dB ({np.min(vals):.2f}){gt_note}")


if __name__ == "__main__":
    main()
