"""Before/after strip for the README's Video section -> docs/images/video_strip.jpg.

A generated night clip (static camera, moving square, fresh sensor noise per frame; see
``uptflow.video.synthetic``).  Rows: the night input, enhanced frame by frame, enhanced by the
video path (shared statistics + temporal filter), then |frame t - frame t-1| x 8 of each output:
the moving square shows in both, the flicker of static areas only frame by frame.

    python benchmarks/video_strip.py [--model M] [--frames 8] [--show 4]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from uptflow.video.stream import FrameEnhancer, TemporalOptions  # noqa: E402
from uptflow.video.synthetic import NightClip  # noqa: E402

PHOTO = ROOT.parent / "shared" / "data" / "photos" / "kodak24" / "kodim23.png"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(ROOT / "src/uptflow/weights/default.safetensors"))
    ap.add_argument("--frames", type=int, default=8, help="frames run (the temporal state warms up)")
    ap.add_argument("--show", type=int, default=4, help="last frames shown")
    ap.add_argument("--size", default="144x216", help="HxW")
    ap.add_argument("--out", default=str(ROOT / "docs/images/video_strip.jpg"))
    args = ap.parse_args()
    h, w = (int(v) for v in args.size.split("x"))

    import torch

    from uptflow.inference.models import load_cached

    torch.set_num_threads(2)
    bg = np.asarray(Image.open(PHOTO).convert("RGB").resize((w * 2, h * 2), Image.BICUBIC))
    bg = bg[h // 2:h // 2 + h, w // 2:w // 2 + w].astype(np.float32) / 255  # a crop at half scale
    clip = NightClip(bg, frames=args.frames, size=h // 4, speed=w / 24)
    model = load_cached(args.model, "cpu")
    plain = FrameEnhancer(model, TemporalOptions(enabled=False))
    video = FrameEnhancer(model, TemporalOptions())
    rows: dict[str, list[np.ndarray]] = {"night input": [], "frame by frame": [], "video path": [],
                                         "diff a": [], "diff b": []}
    prev = None
    for t in range(args.frames):
        low = clip.low(t)
        a, b = plain(low), video(low)
        if t >= args.frames - args.show:
            rows["night input"].append(low)
            rows["frame by frame"].append(a)
            rows["video path"].append(b)
            rows["diff a"].append(np.abs(a - prev[0]) * 8)
            rows["diff b"].append(np.abs(b - prev[1]) * 8)
        prev = (a, b)
    labels = {"diff a": "|t - (t-1)| x8, frame by frame", "diff b": "|t - (t-1)| x8, video path"}
    gap, label_h = 4, 16
    width = args.show * w + (args.show - 1) * gap
    height = len(rows) * (h + label_h)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for r, (name, frames) in enumerate(rows.items()):
        y = r * (h + label_h)
        draw.text((2, y + 2), labels.get(name, name), fill=(0, 0, 0))
        for i, f in enumerate(frames):
            tile = Image.fromarray(np.rint(np.clip(f, 0, 1) * 255).astype(np.uint8))
            canvas.paste(tile, (i * (w + gap), y + label_h))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.out, quality=80)
    print(f"wrote {args.out} ({canvas.size[0]}x{canvas.size[1]})")


if __name__ == "__main__":
    main()
