"""Measure the peak CPU memory of ``UPTFlow.enhance`` per input pixel, per preset.

Why: ``uptflow enhance`` tiles an image automatically when one forward pass would not fit in
memory; :func:`uptflow.inference.memory.bytes_per_pixel` needs a bytes-per-pixel constant for that.
Each (preset, size) runs in a fresh subprocess and reports its peak resident set size
(``ru_maxrss``); the slope between two sizes removes the constant part (Python, torch, weights),
leaving the activations' per-pixel cost.  Divided by the width ``C`` it gives the constant used in
``uptflow/inference/memory.py`` (``BYTES_PER_PIXEL_PER_WIDTH``; memory of this network is dominated by ``C``-proportional feature maps).

Usage:  python benchmarks/inference_memory.py [--presets tiny small paper] [--sizes 128 256]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_CHILD = r"""
import resource, sys, torch
from uptflow.model import UPTFlow
torch.set_num_threads(2)
name, side = sys.argv[1], int(sys.argv[2])
torch.manual_seed(0)
m = UPTFlow.from_preset(name).eval()
x = torch.rand(1, 3, side, side)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
m.enhance(x)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(base * 1024, peak * 1024)
"""


def measure(name: str, side: int) -> tuple[int, int]:
    """(RSS before, peak RSS after) in bytes for one enhance of a ``side x side`` image."""
    out = subprocess.run([sys.executable, "-c", _CHILD, name, str(side)], check=True,
                         capture_output=True, text=True).stdout.split()
    return int(out[0]), int(out[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["tiny", "small", "paper"])
    ap.add_argument("--sizes", nargs=2, type=int, default=[128, 256])
    args = ap.parse_args()
    from uptflow.config import get_preset

    results = {}
    for name in args.presets:
        (b1, p1), (b2, p2) = (measure(name, s) for s in args.sizes)
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
