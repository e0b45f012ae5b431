"""What ``--highlights protect`` adds to an enhancement: time and memory of
``uptflow.inference.highlights.protect_highlights`` alone, per image size.

Each size runs in a fresh subprocess (so the peak resident set is that size's): one warm-up call,
then ``--runs`` timed calls on a synthetic night scene (dark room, lamp-lit wall, result = 4x the
input, clipped); the extra memory is the peak resident set minus the resident set before the call
(input and result already allocated).

    python benchmarks/highlights_cost.py [--sizes 400x600,1080x1920,3000x4000] [--runs 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine_info import describe, peak_rss_bytes  # noqa: E402  (benchmarks/ is not a package)


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _one(h: int, w: int, runs: int, threads: int) -> dict:
    import torch

    from uptflow.inference.highlights import protect_highlights

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    low = 0.02 + 0.01 * torch.rand(1, 3, h, w, generator=g)
    low[..., h // 4: 3 * h // 4, w // 4: 3 * w // 4] = 0.6
    result = (4 * low).clamp(0, 1)
    protect_highlights(low, result)  # warm-up
    before = _rss_bytes()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        protect_highlights(low, result)
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times),
            "extra_mib": max(0, peak_rss_bytes() - before) / 2**20}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="400x600,1080x1920,3000x4000", help="HxW list")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        h, w = (int(v) for v in args.child.split("x"))
        print(json.dumps(_one(h, w, args.runs, args.threads)))
        return 0
    print(describe(args.threads))
    print("\n| size | megapixels | median s | min s | extra peak MiB |\n|---|---|---|---|---|")
    for size in args.sizes.split(","):
        h, w = (int(v) for v in size.split("x"))
        out = subprocess.run([sys.executable, __file__, "--child", size, "--runs", str(args.runs),
                              "--threads", str(args.threads)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {h}x{w} | {h * w / 1e6:.1f} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['extra_mib']:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
