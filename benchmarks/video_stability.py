"""Temporal stability of video enhancement on generated night clips with ground truth.

A static camera (a normal-light photo) with a moving textured square, darkened per frame by
``uptflow.data.synthesize`` with the same illumination and fresh sensor noise
(``uptflow.video.synthetic.NightClip``).  Compared: enhancing the frames one by one, sharing the
pooled statistics across frames (moving average), the output denoiser, and both.

Columns: PSNR (dB, mean over frames, against the ground truth), PSNR on the moving square only
(ghosting shows here), flicker = mean |out_t - out_t-1| over pixels the square touches in
neither frame (0-255 scale; the ground truth's is 0), and flicker relative to frame by frame.
Also: scene cuts detected on a clip that switches photo half-way (should be exactly 1) and on
the moving-square clip (should be 0).

    python benchmarks/video_stability.py [--model M] [--size 256x384] [--frames 24]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from uptflow.io.read import read_rgb  # noqa: E402
from uptflow.video.stream import FrameEnhancer, TemporalOptions  # noqa: E402
from uptflow.video.synthetic import NightClip, flicker, psnr  # noqa: E402
from uptflow.video.temporal import SceneCutDetector, TemporalDenoiser  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "data" / "photos" / "kodak24"


def crop(path: Path, h: int, w: int) -> np.ndarray:
    rgb = read_rgb(path)
    H, W = rgb.shape[:2]
    y0, x0 = max(0, (H - h) // 2), max(0, (W - w) // 2)
    return np.ascontiguousarray(rgb[y0:y0 + h, x0:x0 + w])


def run(model, clip: NightClip, options: TemporalOptions) -> list[np.ndarray]:
    enh = FrameEnhancer(model, options, tile=0)
    return [enh(low) for low, _ in clip]


def score(clip: NightClip, outs: list[np.ndarray]) -> tuple[float, float, float]:
    """(mean PSNR, mean PSNR on the moving square, mean flicker on static pixels)."""
    p, pm, f = [], [], []
    for t, out in enumerate(outs):
        gt = clip.ground_truth(t)
        p.append(psnr(out, gt))
        y0, y1, x0, x1 = clip.box(t)
        pm.append(psnr(out[y0:y1, x0:x1], gt[y0:y1, x0:x1]))
        if t:
            f.append(flicker(outs[t - 1], out, clip.static_mask(t)))
    return float(np.mean(p)), float(np.mean(pm)), float(np.mean(f))


def denoised(outs: list[np.ndarray], weight: float) -> list[np.ndarray]:
    den = TemporalDenoiser(weight)
    res = []
    for y in outs:
        t = torch.from_numpy(np.ascontiguousarray(y.transpose(2, 0, 1)))[None]
        res.append(den(t)[0].numpy().transpose(1, 2, 0))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(ROOT / "src/uptflow/weights/default.safetensors"))
    ap.add_argument("--size", default="256x384", help="HxW crop of the photo")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--photo", default=str(PHOTOS / "kodim23.png"))
    ap.add_argument("--cut-photo", default=str(PHOTOS / "kodim03.png"))
    ap.add_argument("--momentum", default="0.5,0.8,0.9", help="statistics momenta to try")
    ap.add_argument("--denoise", default="0.5,0.35,0.25,0.15", help="denoiser weights to try")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    h, w = (int(v) for v in args.size.lower().split("x"))

    from uptflow.inference.models import load_cached

    model = load_cached(args.model, "cpu")
    clip = NightClip(crop(Path(args.photo), h, w), frames=args.frames, size=min(h, w) // 5, speed=w / 40)
    t0 = time.perf_counter()
    plain = run(model, clip, TemporalOptions(enabled=False))
    rows = [("frame by frame", plain)]
    momenta = [float(m) for m in args.momentum.split(",") if m]
    shared = {}
    for m in momenta:
        shared[m] = run(model, clip, TemporalOptions(stats_momentum=m, denoise=1.0))
        rows.append((f"shared statistics m={m}", shared[m]))
    for d in (float(v) for v in args.denoise.split(",") if v):
        rows.append((f"denoise w={d}", denoised(plain, d)))
        for m in momenta:
            rows.append((f"shared m={m} + denoise w={d}", denoised(shared[m], d)))
    elapsed = time.perf_counter() - t0

    low_f = np.mean([flicker(clip.low(t - 1), clip.low(t), clip.static_mask(t)) for t in range(1, clip.frames)])
    print(f"clip: {Path(args.photo).name} {h}x{w}, {clip.frames} frames, square {clip.size} px at "
          f"{clip.speed:.1f} px/frame, exposure {clip.exposure:.4f}; input flicker {low_f:.2f}/255; "
          f"model {Path(args.model).name}; {elapsed:.0f} s")
    print()
    print("| method | PSNR dB | PSNR moving square | flicker (0-255) | flicker / frame-by-frame | dPSNR |")
    print("|---|---|---|---|---|---|")
    base_p, _, base_f = score(clip, plain)
    for name, outs in rows:
        p, pm, f = score(clip, outs)
        print(f"| {name} | {p:.2f} | {pm:.2f} | {f:.3f} | {f / base_f:.2f} | {p - base_p:+.2f} |")

    # scene cuts: half the clip on another photo
    other = NightClip(crop(Path(args.cut_photo), h, w), frames=args.frames, size=clip.size, speed=clip.speed)
    det_a, det_b = SceneCutDetector(), SceneCutDetector()
    cut_at = args.frames // 2
    found = [t for t in range(args.frames)
             if det_a(torch.from_numpy((clip.low(t) if t < cut_at else other.low(t)).transpose(2, 0, 1))[None])]
    false = [t for t in range(args.frames) if det_b(torch.from_numpy(clip.low(t).transpose(2, 0, 1))[None])]
    print()
    print(f"scene cuts: clip switching photo at frame {cut_at}: detected at {found}; "
          f"moving-square clip: {len(false)} false cuts {false}")


if __name__ == "__main__":
    main()
