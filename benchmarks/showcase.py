"""Before/after grid of real low-light captures: input | gamma baseline | uptflow.

Writes one image (default ``docs/images/lowlight_real_grid.jpg``, JPEG) for the README and the model
card, so a person can judge colour, noise and halos at a glance.  Images come from
``../shared/data/lowlight_real`` (LOL eval15 low, DICM, LIME): real captures, no ground truth.

    python benchmarks/showcase.py [--model M] [--out PNG] [--width 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from uptflow.shared_data import shared_path

ROOT = Path(__file__).resolve().parents[1]
REAL = shared_path("data", "lowlight_real", default=ROOT.parent / "shared")  # $UPTFLOW_SHARED first
#: A spread of real captures: indoor LOL scenes, DICM outdoor/indoor, LIME night scenes.
DEFAULT_IMAGES = [
    "lol_eval15_low_396x600/1.png", "lol_eval15_low_396x600/146.png", "lol_eval15_low_396x600/780.png",
    "lol_eval15_low_396x600/493.png", "dicm/03.jpg", "dicm/08.jpg", "lime/3.bmp", "lime/7.bmp",
]


def _thumb(rgb: np.ndarray, width: int) -> Image.Image:
    img = Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
    return img.resize((width, max(1, round(img.height * width / img.width))), Image.LANCZOS)


def build_grid(model, paths: list[Path], width: int, name: str = "bundled model") -> Image.Image:
    """Rows of (input, gamma, uptflow) thumbnails ``width`` px wide, with a header row."""
    import uptflow
    from uptflow.evaluation.baselines import gamma_correction
    from uptflow.io.read import read_rgb

    rows = []
    for p in paths:
        low = read_rgb(p)  # (H, W, 3) float32 in [0, 1]
        t0 = time.perf_counter()
        out = uptflow.enhance(low, model=model, device="cpu")
        print(f"{p.parent.name}/{p.name}: {low.shape[1]}x{low.shape[0]} in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        rows.append([_thumb(low, width), _thumb(gamma_correction(low), width), _thumb(out, width)])
    pad, head = 4, 22
    height = head + sum(r[0].height + pad for r in rows)
    grid = Image.new("RGB", (3 * width + 4 * pad, height), "white")
    draw = ImageDraw.Draw(grid)
    for j, label in enumerate(("low-light input", "gamma (baseline)", f"uptflow ({name})")):
        draw.text((pad + j * (width + pad) + 4, 5), label, fill="black")
    y = head
    for r in rows:
        for j, im in enumerate(r):
            grid.paste(im, (pad + j * (width + pad), y))
        y += r[0].height + pad
    return grid


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="checkpoint path (default: the bundled model)")
    ap.add_argument("--images", nargs="*", default=None, help=f"paths (default: {len(DEFAULT_IMAGES)} under {REAL})")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "lowlight_real_grid.jpg")
    ap.add_argument("--width", type=int, default=300, help="thumbnail width in pixels")
    args = ap.parse_args(argv)
    paths = [Path(p) for p in args.images] if args.images else [REAL / p for p in DEFAULT_IMAGES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"error: missing image(s): {', '.join(missing)}", file=sys.stderr)
        return 2
    grid = build_grid(args.model, paths, args.width, Path(args.model).stem if args.model else "bundled model")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(args.out, quality=88, optimize=True)  # JPEG by default: a photo grid, ~0.5 MB
    print(f"wrote {args.out} ({grid.width}x{grid.height})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
