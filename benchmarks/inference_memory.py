"""Measure the peak CPU memory of ``UPTFlow.enhance`` per input pixel, per preset.

Why: ``uptflow enhance`` tiles an image automatically when one forward pass would not fit in
memory; :func:`uptflow.inference.memory.bytes_per_pixel` needs a bytes-per-pixel constant for that.
Each (preset, size) runs in a fresh subprocess and reports its peak resident set size
(``ru_maxrss``); the slope between two sizes removes the constant part (Python, torch, weights),
leaving the activations' per-pixel cost.  Divided by the width ``C`` it gives the constant used in
``uptflow/inference/memory.py`` (``BYTES_PER_PIXEL_PER_WIDTH``; memory of this network is dominated by ``C``-proportional feature maps).

With ``--tile N`` both sizes run tiled in N-px tiles (the CLI's path from a decoded array to a
quantised one): the slope is then the cost of the image-sized buffers of a tiled run per pixel,
which ``uptflow.inference.plan.IMAGE_BYTES_PER_PIXEL`` bounds.

Usage:  python benchmarks/inference_memory.py [--presets tiny small paper] [--sizes 128 256] [--tile N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_CHILD = r"""
import resource, sys, numpy as np, torch
from uptflow.model import UPTFlow
torch.set_num_threads(2)
name, side, tile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
m = UPTFlow.from_preset(name).eval()
if tile:  # the CLI's way: a decoded float32 array in, forced tiles, a quantised array out
    from uptflow import api
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rgb = np.random.default_rng(0).random((side, side, 3), dtype=np.float32) * 0.3
    out = np.rint(api.enhance_array(m, rgb, tile=tile, tile_refine=0)[0] * 255).astype(np.uint8)
else:
    x = torch.rand(1, 3, side, side)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    m.enhance(x)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(base * 1024, peak * 1024)
"""


def measure(name: str, side: int, tile: int = 0) -> tuple[int, int]:
    """(RSS before, peak RSS after) in bytes for one enhance of a ``side x side`` image."""
    out = subprocess.run([sys.executable, "-c", _CHILD, name, str(side), str(tile)], check=True,
                         capture_output=True, text=True).stdout.split()
    return int(out[0]), int(out[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["tiny", "small", "paper"])
    ap.add_argument("--sizes", nargs=2, type=int, default=[128, 256])
    ap.add_argument("--tile", type=int, default=0,
                    help="run tiled in TILE-px tiles (both sizes): the slope is then the image-sized buffers' "
                         "cost per pixel (uptflow.inference.plan.IMAGE_BYTES_PER_PIXEL), the tile's part is constant")
    args = ap.parse_args()
    from uptflow.config import get_preset

    results = {}
    for name in args.presets:
        (b1, p1), (b2, p2) = (measure(name, s, args.tile) for s in args.sizes)
        a, b = args.sizes
        slope = ((p2 - b2) - (p1 - b1)) / (b * b - a * a)
        width = get_preset(name).width
        results[name] = {"width": width, "bytes_per_pixel": round(slope), "per_width": round(slope / width, 1),
                         "peak_extra_bytes": {a: p1 - b1, b: p2 - b2}}
        print(f"{name:6s} C={width:3d}  {slope:10.0f} B/pixel  = {slope / width:7.1f} x C   "
              f"(extra peak {(p1 - b1) / 2**20:.0f} MiB @ {a}^2, {(p2 - b2) / 2**20:.0f} MiB @ {b}^2)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
