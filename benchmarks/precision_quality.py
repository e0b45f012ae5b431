"""Encoder precision (``--precision``): speed and how far the results move from float32.

For each ``--precisions`` entry: the median time of ``model.enhance`` (whole image, one warm-up)
for the bundled model at ``--sizes`` and for the paper-sized network (``paper-lol``, random
weights: the time does not depend on them) at ``--paper-sizes``; and, for the bundled model, the
agreement with float32 on real images (``samples/`` plus, with ``UPTFLOW_SHARED``, LOL eval15
low, LIME and DICM): PSNR of the 8-bit result against the 8-bit float32 result and the largest
difference in 8-bit levels.  Prints the machine line (``machine_info.describe``) and Markdown.

Usage::

    python benchmarks/precision_quality.py --threads 2 [--sizes 400x600] [--paper-sizes 256x256]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine_info import describe  # noqa: E402  (benchmarks/ is not a package)
from speed import _parse_size  # noqa: E402  (the size convention of every speed table)

REPO = Path(__file__).resolve().parents[1]


def time_enhance(model, h: int, w: int, name: str, runs: int) -> float:
    import torch

    from uptflow.nets.precision import encoder_precision

    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(1)) * 0.3
    with torch.inference_mode(), encoder_precision(name):
        model.enhance(x)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            model.enhance(x)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def real_images(limit: int) -> list[Path]:
    from uptflow.io.listing import list_images
    from uptflow.shared_data import optional_shared_path

    paths = sorted((REPO / "samples").glob("*.png"))
    real = optional_shared_path("data", "lowlight_real")
    if real is not None:
        for sub in ("lol_eval15_low_400x600", "lime", "dicm"):
            if (real / sub).is_dir():
                paths += list_images([real / sub])[:limit]
    return paths


def agreement(model, paths: list[Path], name: str) -> tuple[float, int]:
    """Mean PSNR (dB) of the ``name`` results against float32's, and the largest 8-bit difference."""
    import uptflow
    from uptflow.io.read import load_image

    psnrs, worst = [], 0
    for p in paths:
        rgb = np.round(load_image(p).rgb * 255).astype(np.uint8)
        ref = uptflow.enhance(rgb, model=model).astype(np.float64)
        out = uptflow.enhance(rgb, model=model, precision=name).astype(np.float64)
        mse = float(np.mean((ref - out) ** 2))
        psnrs.append(99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse))
        worst = max(worst, int(np.abs(ref - out).max()))
    return float(np.mean(psnrs)), worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--precisions", default="float32,bfloat16")
    ap.add_argument("--sizes", default="400x600", help="sizes for the bundled model (HxW, comma-separated)")
    ap.add_argument("--paper-sizes", default="256x256", help="sizes for paper-lol ('' = skip)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=8, help="images per real set for the agreement")
    args = ap.parse_args(argv)

    import torch

    from uptflow.inference.models import load_cached
    from uptflow.model import UPTFlow

    torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.precisions.split(",") if n.strip()]
    bundled = load_cached(None, torch.device("cpu"))
    paper = UPTFlow.from_preset("paper-lol").eval() if args.paper_sizes else None
    rows = []
    for size in [s for s in args.sizes.split(",") if s]:
        rows.append(("bundled (small)", size, [time_enhance(bundled, *_parse_size(size), n, args.runs) for n in names]))
    for size in [s for s in args.paper_sizes.split(",") if s]:
        rows.append(("paper-lol", size, [time_enhance(paper, *_parse_size(size), n, args.runs) for n in names]))
    paths = real_images(args.limit)
    agree = {n: agreement(bundled, paths, n) for n in names if n != "float32"}

    print(describe(args.threads))
    print("\n| model | size | " + " | ".join(f"{n} s" for n in names) + " | speed-up vs float32 |")
    print("|---|---|" + "---|" * len(names) + "---|")
    for model, size, times in rows:
        base = times[names.index("float32")] if "float32" in names else float("nan")
        ups = ", ".join(f"{n} {base / t:.2f}x" for n, t in zip(names, times) if n != "float32")
        print(f"| {model} | {size} | " + " | ".join(f"{t:.2f}" for t in times) + f" | {ups} |")
    print(f"\nAgreement with float32, bundled model, {len(paths)} real images (8-bit results):")
    print("| precision | mean PSNR vs float32 | largest difference (8-bit levels) |")
    print("|---|---|---|")
    for n, (psnr, worst) in agree.items():
        print(f"| {n} | {psnr:.1f} dB | {worst} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
