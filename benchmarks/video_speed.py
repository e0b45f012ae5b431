"""Video enhancement speed and memory: frames/s and peak RSS per frame size, and peak RSS
against clip length (memory must not grow with the clip).

Every measurement runs in a fresh subprocess (peak RSS = that process's ``VmHWM``) over the
whole pipeline: PyAV decode -> FrameEnhancer (shared statistics + temporal filter) -> libx264
encode, written atomically.  Input clips are generated night clips
(``uptflow.video.synthetic.NightClip``, a Kodak photo resized to the frame size).  Frames/s
excludes the first frame (model load, first-touch allocations).

    python benchmarks/video_speed.py [--model M] [--sizes 640x360,1280x720] [--frames 12]
                                     [--lengths 10,60] [--length-fps 2]

The length rows use ``--length-fps`` frames per second of video (a 60 s clip at 2 fps has 120
frames) so they finish on a CPU; what they show is the RSS trend with length.
A GPU column is added when CUDA is available.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
PHOTO = ROOT.parent / "shared" / "data" / "photos" / "kodak24" / "kodim23.png"


def make_clip(path: Path, h: int, w: int, frames: int, rate: Fraction) -> None:
    from PIL import Image

    from uptflow.video.encode import VideoWriter
    from uptflow.video.synthetic import NightClip

    bg = np.asarray(Image.open(PHOTO).convert("RGB").resize((w, h), Image.BICUBIC), dtype=np.float32) / 255
    clip = NightClip(bg, frames=frames, size=min(h, w) // 5, speed=w / 60)
    writer = VideoWriter(path, "libx264", 18, rate, 1 / rate)
    for t in range(frames):
        writer.write(clip.low(t), t)
    writer.finish()


def child(args: argparse.Namespace) -> None:
    import torch

    from uptflow import api
    from uptflow.inference.models import load_cached
    from uptflow.video.api import open_source, transcode
    from uptflow.video.encode import VideoWriter
    from uptflow.video.stream import FrameEnhancer, TemporalOptions

    torch.set_num_threads(args.threads)
    model = load_cached(args.model, args.device)
    stamps: list[float] = []
    with open_source(args.clip) as src, tempfile.TemporaryDirectory() as tmp:
        info = src.info
        tile = api.choose_tile(info.height, info.width, model.config, model_device(model)) or 0
        enh = FrameEnhancer(model, TemporalOptions(), tile=tile)
        writer = VideoWriter(Path(tmp) / "out.mp4", "libx264", None, info.rate, info.time_base, src.audio)

        def tick(_n: int) -> None:
            if args.device == "cuda":
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())

        n = transcode(src, writer, enh, None, tick)
    fps = (n - 1) / (stamps[-1] - stamps[0]) if n > 1 else float("nan")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine_info import peak_rss_bytes  # benchmarks/ is not a package

    rss = peak_rss_bytes() / 2**20  # VmHWM (ru_maxrss includes the parent's peak)
    gpu = torch.cuda.max_memory_allocated() / 2**20 if args.device == "cuda" else None
    print(json.dumps({"frames": n, "fps": fps, "rss_mib": rss, "gpu_mib": gpu, "tile": tile}))


def model_device(model):
    return next(model.parameters()).device


def measure(clip: Path, model: str, device: str, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--child", "--clip", str(clip), "--model", model, "--device", device,
           "--threads", str(threads)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT / "src"))
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise SystemExit(f"child failed: {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(ROOT / "src/uptflow/weights/default.safetensors"))
    ap.add_argument("--sizes", default="640x360,1280x720", help="WxH list")
    ap.add_argument("--frames", type=int, default=12, help="frames per speed clip")
    ap.add_argument("--lengths", default="10,60", help="clip lengths in seconds for the memory rows")
    ap.add_argument("--length-fps", default="2", help="frame rate of the length clips")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--label", default="", help="a note printed with the tables (e.g. 'shared, busy machine')")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--clip", help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine_info import describe  # benchmarks/ is not a package

    cuda = torch.cuda.is_available()
    print(f"model {Path(args.model).name}; {describe(args.threads)}")
    if args.label:
        print(args.label)
    print()
    head = "| frame size | frames | tile | CPU frames/s | CPU s/frame | CPU peak RSS MiB |" + (
        " GPU frames/s | GPU peak MiB |" if cuda else "")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            w, h = (int(v) for v in size.lower().split("x"))
            clip = Path(tmp) / f"{w}x{h}.mp4"
            make_clip(clip, h, w, args.frames, Fraction(25))
            r = measure(clip, args.model, "cpu", args.threads)
            row = (f"| {w}x{h} | {r['frames']} | {r['tile'] or 'none'} | {r['fps']:.3g} | {1 / r['fps']:.1f} | "
                   f"{r['rss_mib']:.0f} |")
            if cuda:
                g = measure(clip, args.model, "cuda", args.threads)
                row += f" {g['fps']:.1f} | {g['gpu_mib']:.0f} |"
            print(row, flush=True)
        print()
        rate = Fraction(args.length_fps)
        print(f"| clip length (640x360, {float(rate):g} fps) | frames | CPU peak RSS MiB | CPU s/frame |")
        print("|---|---|---|---|")
        for secs in args.lengths.split(","):
            n = int(round(float(secs) * rate))
            clip = Path(tmp) / f"len{secs}.mp4"
            make_clip(clip, 360, 640, n, rate)
            r = measure(clip, args.model, "cpu", args.threads)
            print(f"| {secs} s | {r['frames']} | {r['rss_mib']:.0f} | {1 / r['fps']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
