"""Inference speed and memory of ``UPTFlow.enhance`` (encoder + reverse flow at z = 0).

Every (preset, size) configuration runs in a FRESH subprocess so peak-memory figures do not
mix: on CPU the peak is the process's maximum resident set (``VmHWM``, not ``ru_maxrss``, which
Linux carries over from the parent), on CUDA
``torch.cuda.max_memory_allocated``.  One un-timed warm-up run, then ``--runs`` timed runs give
the median and min wall time (and the process CPU time, which is less disturbed by other jobs
sharing the cores) and the peak memory; only then is one more run made under
``torch.utils.flop_counter.FlopCounterMode`` to count FLOPs (2 per multiply-add) — its dispatch
wrapper holds extra memory, so it must not be part of the peak.  The "ceiling" column is a measured ``--threads``
sgemm (2048^3) rate on the same machine: the practical maximum for this conv/matmul network.

Weights are random (seed 0): the work does not depend on their values.

Usage::

    python benchmarks/speed.py --presets paper-lol,small --sizes 256x256,400x600,1920x1080 \
        --runs 2 --threads 2 --tile auto [--profile 15]

Prints a Markdown table and the machine it ran on (CPU model, AVX2/AVX-512/AMX flags, torch,
oneDNN/MKL versions, threads: ``machine_info.describe``); ``--profile`` adds each configuration's
top ops by self CPU time.  ``--tile auto`` tiles only when the whole-image estimate exceeds
``--budget`` (default 2 GiB); ``--tile none`` never tiles; ``--tile N`` always uses N-pixel tiles.
Tiled runs are what users get (``uptflow.inference.shared_stats.enhance_tiled``: a sub-sampled
statistics pass plus ``--tile-refine`` + 1 passes over the tiles, default 1 as in the CLI).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine_info import describe, peak_rss_bytes  # noqa: E402  (benchmarks/ is not a package)


def _parse_size(text: str) -> tuple[int, int]:
    """'AxB' -> (H, W): read as H x W (the issue's "400x600" is the 400-high LOL image), except
    that a first number >= 1000 and larger than the second is a width (e.g. "1920x1080")."""
    try:
        a, b = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"bad size {text!r}; expected e.g. 256x256 or 1920x1080") from None
    if a > b and a >= 1000:
        return b, a
    return a, b


def sgemm_gflops(threads: int, n: int = 2048, repeats: int = 5) -> float:
    """Best-of-``repeats`` float32 (n x n) @ (n x n) rate in GFLOP/s with ``threads`` threads."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def _current_rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _extra_flop_formulas() -> dict:
    """FLOP formulas for ops ``FlopCounterMode`` does not know: oneDNN's convolution, which
    ``uptflow.nets.pointwise`` calls directly for 1x1 kernels (its ``onednn`` backend)."""
    import torch
    from torch.utils.flop_counter import conv_flop_count

    def mkldnn_convolution(x_shape, w_shape, *args, out_shape=None, **kwargs) -> int:
        return conv_flop_count(x_shape, w_shape, out_shape)

    op = getattr(torch.ops.aten, "mkldnn_convolution", None)
    return {} if op is None else {op: mkldnn_convolution}


def worker(args: argparse.Namespace) -> dict:
    """Run one configuration in this (fresh) process and return its measurements."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from uptflow.model import UPTFlow
    from uptflow.nets import pointwise

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.malloc_tune:
        from uptflow.inference import limit_allocator_caching

        limit_allocator_caching()
    device = torch.device(args.device)
    h, w = _parse_size(args.size)
    model = UPTFlow.from_preset(args.preset).eval().to(device)
    image = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(1)).to(device)
    tile = _choose_tile(args, model, h, w)

    from uptflow.nets.strips import DEFAULT_STRIP_PIXELS, strip_size

    strip = DEFAULT_STRIP_PIXELS if args.strip is None else (None if args.strip == 0 else args.strip)

    def run() -> torch.Tensor:
        with strip_size(strip):
            if tile is None:
                return model.enhance(image)
            from uptflow.inference.shared_stats import enhance_tiled

            with torch.inference_mode():
                return enhance_tiled(model, image, tile, args.overlap, refine=args.tile_refine)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    base_rss = _current_rss_bytes()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    run()  # warm-up (ActNorm/inverse caches, allocator)
    sync()
    walls, cpus = [], []
    for _ in range(args.runs):
        c0, t0 = time.process_time(), time.perf_counter()
        run()
        sync()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    peak = (torch.cuda.max_memory_allocated() if device.type == "cuda" else peak_rss_bytes())  # VmHWM, not the parent's
    # FLOPs last: FlopCounterMode's dispatch wrapper holds extra memory, which is not enhance's.
    counter = FlopCounterMode(display=False, custom_mapping=_extra_flop_formulas())
    with counter:
        run()
    sync()
    flops = counter.get_total_flops()
    profile = None
    if args.profile:
        from machine_info import top_ops

        profile = top_ops(lambda: (run(), sync()), rows=args.profile)
    return {
        "profile": profile,
        "preset": args.preset, "size": f"{h}x{w}", "device": args.device, "tile": tile,
        "tile_refine": args.tile_refine,
        "median_s": statistics.median(walls), "min_s": min(walls),
        "cpu_median_s": statistics.median(cpus), "gflop": flops / 1e9,
        "peak_bytes": peak, "base_bytes": base_rss if device.type == "cpu" else 0,
        "pixels": h * w, "pointwise": pointwise.backend(), "strip": strip,
    }


def pointwise_line(threads: int, mode: str) -> str:
    """The 1x1-convolution backend the workers use, with this machine's probe timings."""
    import torch

    from uptflow.nets import pointwise

    torch.set_num_threads(threads)
    times = pointwise.measure()
    chosen = pointwise.choose(times) if mode == "auto" else mode
    onednn = f", oneDNN op {times['onednn'] * 1e3:.2f} ms" if "onednn" in times else ""
    return (f"1x1 convolutions ({threads} threads): {chosen} ({mode}); probe 48->127 ch on a "
            f"4096-px strip: F.conv2d {times['conv'] * 1e3:.2f} ms, GEMM {times['gemm'] * 1e3:.2f} ms{onednn}")


def _choose_tile(args: argparse.Namespace, model, h: int, w: int) -> int | None:
    if args.tile == "none":
        return None
    if args.tile != "auto":
        return int(args.tile)
    from uptflow.inference import EnhanceOptions, make_plan

    budget = int(args.budget * 1024**3) - _current_rss_bytes()  # what the activations may use
    options = EnhanceOptions(overlap=args.overlap, budget_bytes=max(budget, 1))
    return make_plan(h, w, model.config, args.device, options).tile  # the CLI's decision


def _row(r: dict, ceiling: float) -> str:
    gfs = r["gflop"] / r["min_s"]
    extra = (r["peak_bytes"] - r["base_bytes"]) / r["pixels"]
    tile = "-" if r["tile"] is None else f"{r['tile']} (refine {r.get('tile_refine', 1)})"
    strips = "" if "strip" not in r else f", strips {r['strip'] or 'off'}"
    device = r["device"] + (f" ({r['pointwise']} 1x1{strips})" if r.get("pointwise") else "")
    return (f"| {r['preset']} | {r['size']} | {device} | {tile} | {r['median_s']:.2f} | "
            f"{r['min_s']:.2f} | {r['cpu_median_s']:.2f} | {r['peak_bytes'] / 2**20:.0f} | "
            f"{extra / 1024:.2f} | {r['gflop']:.0f} | {gfs:.1f} | {100 * gfs / ceiling:.0f} % |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", default="paper-lol,small")
    p.add_argument("--sizes", default="256x256,400x600,1920x1080")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tile", default="auto", help="auto | none | tile side in pixels")
    p.add_argument("--overlap", type=int, default=32)
    p.add_argument("--tile-refine", type=int, default=1, help="refinement passes of tiled runs (CLI default 1)")
    p.add_argument("--budget", type=float, default=2.0, help="memory budget for --tile auto, GiB")
    p.add_argument("--malloc-tune", action="store_true",
                   help="call uptflow.inference.limit_allocator_caching(): glibc returns freed blocks to the OS "
                        "(lower peak RSS, but ~2x slower on CPU from page faults; off by default, as in the CLI)")
    p.add_argument("--profile", type=int, nargs="?", const=15, default=0, metavar="ROWS",
                   help="after the timed runs, profile one more run with torch.profiler and print the ROWS "
                        "(default 15) ops with the most self CPU time")
    p.add_argument("--pointwise", default="auto", choices=["auto", "conv", "gemm"],
                   help="1x1 convolutions of strip-wise inference: measured choice (auto, what users get), "
                        "oneDNN convolution or GEMM (sets UPTFLOW_POINTWISE for the workers)")
    p.add_argument("--strip", type=int, default=None, metavar="PIXELS",
                   help="pixels per strip of the strip-wise layers (default: uptflow.nets.strips' default, "
                        "4096; 0 = whole maps, no strips)")
    p.add_argument("--json", type=Path, help="also write the raw rows to this file")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--preset", help=argparse.SUPPRESS)
    p.add_argument("--size", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.runs < 1:
        raise SystemExit("speed.py: error: --runs must be >= 1")
    if args.worker:
        print("RESULT " + json.dumps(worker(args)), flush=True)
        return 0

    ceiling = sgemm_gflops(args.threads)
    print(f"sgemm ceiling ({args.threads} threads, 2048^3): {ceiling:.1f} GFLOP/s", file=sys.stderr)
    rows = []
    for preset in args.presets.split(","):
        for size in args.sizes.split(","):
            cmd = [sys.executable, __file__, "--worker", "--preset", preset, "--size", size,
                   "--runs", str(args.runs), "--device", args.device, "--threads", str(args.threads),
                   "--tile", args.tile, "--overlap", str(args.overlap), "--budget", str(args.budget),
                   "--tile-refine", str(args.tile_refine)] + ([] if args.strip is None else ["--strip", str(args.strip)])
            if args.malloc_tune:
                cmd.append("--malloc-tune")
            if args.profile:
                cmd += ["--profile", str(args.profile)]
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  env=dict(os.environ, UPTFLOW_POINTWISE=args.pointwise))
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode != 0 or not lines:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
                print(f"{preset} {size}: failed (rc {proc.returncode}): {tail[0]}", file=sys.stderr)
                continue
            row = json.loads(lines[-1][len("RESULT "):])
            rows.append(row)
            print(_row(row, ceiling), file=sys.stderr, flush=True)
    print(f"\n{describe(args.threads)}")
    print(f"sgemm ceiling ({args.threads} threads): {ceiling:.1f} GFLOP/s")
    print(f"{pointwise_line(args.threads, args.pointwise)}\n")
    print("| preset | size (HxW) | device | tile | median s | min s | CPU s (median) | peak MiB | "
          "KiB/px over base | GFLOP | GFLOP/s (min) | of sgemm |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(_row(r, ceiling))
    for r in rows:
        if r.get("profile"):
            print(f"\nTop ops, {r['preset']} {r['size']} (self CPU time, one run):\n{r['profile']}")
    if args.json:
        args.json.write_text(json.dumps({"machine": describe(args.threads), "ceiling_gflops": ceiling,
                                         "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
