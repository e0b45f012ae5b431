"""Training speed and peak memory per preset: images/s of the real training step.

Usage::

    python benchmarks/train_speed.py                       # paper + small, crop 160, CPU (+ CUDA if present)
    python benchmarks/train_speed.py --presets small --crop 96 --cpu-batch 4 --iters 5
    python benchmarks/train_speed.py ... --channels-last auto,false     # memory layouts side by side

Each (device, preset) runs in its own subprocess so the peak memory is that configuration's:
CPU reports the peak resident set size of the process (``VmHWM``), CUDA
``torch.cuda.max_memory_allocated``.  The step timed is :meth:`uptflow.training.Trainer._step`
(forward, backward, gradient norm, Adam) on random images, after ``--warmup`` untimed steps
(the first also initialises ActNorm).  Content does not change the cost of this network.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine_info import describe, peak_rss_bytes  # noqa: E402  (benchmarks/ is not a package)


def _worker(args: argparse.Namespace) -> dict:
    import torch
    from torch.utils.data import Dataset

    from uptflow.training.config import TrainConfig, merge, preset_dict
    from uptflow.training.loop import Trainer

    if args.threads:
        torch.set_num_threads(args.threads)

    class RandomPairs(Dataset):
        def __init__(self, n: int, crop: int) -> None:
            g = torch.Generator().manual_seed(0)
            self.normal = torch.rand(n, 3, crop, crop, generator=g)

        def __len__(self) -> int:
            return len(self.normal)

        def __getitem__(self, i: int) -> dict:
            return {"low": self.normal[i] * 0.1, "normal": self.normal[i], "name": str(i)}

    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig.from_dict(merge(preset_dict(args.preset), {
            "data": {"low_dir": "unused", "normal_dir": "unused", "crop": args.crop},
            "train": {"batch_size": args.batch, "device": args.device, "amp": args.amp, "progress": False,
                      "channels_last": {"auto": "auto", "true": True, "false": False}[args.layout],
                      "cpu_amp": bool(args.worker_cpu_amp),
                      "iters": args.warmup + args.iters},
            "out": tmp,
        }), where="benchmark")
        trainer = Trainer(cfg, train_dataset=RandomPairs(args.batch, args.crop), val_dataset=False,
                          tensorboard=False, echo=lambda m: None)
        ds = trainer.train_dataset
        batch = {"low": torch.stack([ds[i]["low"] for i in range(args.batch)]),
                 "normal": torch.stack([ds[i]["normal"] for i in range(args.batch)])}
        from uptflow.training.sampler import EpochIndexed, GlobalBatchSampler

        trainer._initialize_actnorm(GlobalBatchSampler(len(ds), args.batch, 0), EpochIndexed(ds))
        cuda = trainer.device.type == "cuda"
        for it in range(args.warmup):
            trainer._step(batch, it)
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        times = []
        for it in range(args.warmup, args.warmup + args.iters):
            t0 = time.perf_counter()
            trainer._step(batch, it)  # synchronises (reads the loss) every step
            times.append(time.perf_counter() - t0)
        if cuda:
            peak = torch.cuda.max_memory_allocated() / 2**20
            device_name = torch.cuda.get_device_name()
        else:
            peak = peak_rss_bytes() / 2**20  # VmHWM (ru_maxrss includes the parent's peak)
            device_name = f"CPU, {torch.get_num_threads()} threads"
        times.sort()
        median = times[len(times) // 2]
        return {"device": device_name, "preset": args.preset, "params": trainer.model.num_parameters(),
                "crop": args.crop, "batch": args.batch, "amp": trainer.amp_mode, "s_per_iter": median,
                "layout": "NHWC" if trainer.channels_last else "NCHW",
                "images_per_s": args.batch / median, "peak_mib": peak,
                "memory": "max_memory_allocated" if cuda else "peak RSS"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", default=["paper", "small"])
    p.add_argument("--crop", type=int, default=160)
    p.add_argument("--cpu-batch", type=int, default=2)
    p.add_argument("--gpu-batch", type=int, default=8)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=3, help="timed iterations (the median is reported)")
    p.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    p.add_argument("--amp", default="bf16", help="CUDA autocast mode (bf16, fp16, off)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    p.add_argument("--cpu-amp", action="store_true",
                   help="CPU rows also with train.cpu_amp (bf16 encoder where the CPU has native bf16)")
    p.add_argument("--channels-last", default="auto",
                   help="train.channels_last values to run, comma-separated: auto (default: NHWC on CPU), true, false")
    p.add_argument("--worker-cpu-amp", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--layout", default="auto", help=argparse.SUPPRESS)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--preset", help=argparse.SUPPRESS)
    p.add_argument("--device", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(_worker(args)))
        return

    import torch

    devices = [d for d in args.devices if d == "cpu" or (d == "cuda" and torch.cuda.is_available())]
    rows = []
    layouts = [v.strip().lower() for v in args.channels_last.split(",") if v.strip()]
    if not layouts or any(v not in ("auto", "true", "false") for v in layouts):
        p.error(f"--channels-last takes auto, true, false (comma-separated), got {args.channels_last!r}")
    runs = [(d, p, False, lay) for lay in layouts for d in devices for p in args.presets]
    if args.cpu_amp and "cpu" in devices:
        runs += [("cpu", p, True, lay) for lay in layouts for p in args.presets]
    for device, preset, cpu_amp, layout in runs:
        batch = args.gpu_batch if device == "cuda" else args.cpu_batch
        cmd = [sys.executable, __file__, "--worker", "--preset", preset, "--device", device, "--batch", str(batch),
               "--crop", str(args.crop), "--warmup", str(args.warmup), "--iters", str(args.iters),
               "--amp", args.amp, "--threads", str(args.threads), "--layout", layout] + \
            (["--worker-cpu-amp"] if cpu_amp else [])
        out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        if out.returncode:
            print(f"{device} {preset}: failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"done: {device} {preset}", file=sys.stderr)
    print(describe(args.threads or torch.get_num_threads()))
    header = "| device | preset | params | crop | batch | amp | layout | s/iter | images/s | peak memory (MiB) |"
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for r in rows:
        print(f"| {r['device']} | {r['preset']} | {r['params'] / 1e6:.2f} M | {r['crop']} | {r['batch']} | {r['amp']} "
              f"| {r['layout']} "
              f"| {r['s_per_iter']:.3f} | {r['images_per_s']:.2f} | {r['peak_mib']:.0f} ({r['memory']}) |")


if __name__ == "__main__":
    main()
