"""No-reference naturalness of enhancements on real low-light captures (issue 14).

For every image of DICM, LIME and LOL eval15 low (``../shared/data/lowlight_real``; real captures,
no ground truth) and every method — the input itself, gamma, histogram equalisation, CLAHE
(``uptflow.evaluation.baselines``) and each ``--model`` (default: the bundled one) — computes the five
measures of :mod:`uptflow.metrics.no_reference` (mean luminance, newly blown highlights, lit-region
gain, Immerkaer noise sigma, dark pixels; 0-255 scale, BT.601 luma), prints markdown tables (per
set and all sets together; means over images, lit-region gain over the images that have lit
pixels) and writes a before/after grid.

    python benchmarks/naturalness.py [--model M ...] [--exposure EV] [--highlights auto off protect]
        [--grid docs/images/naturalness_grid.jpg] [--sets dicm lime lol] [--limit N] [--json out/naturalness.json]

Model outputs are the deterministic (temperature 0) results of ``uptflow.enhance`` on CPU, whole
images (no tiling; the largest capture is 960x1280), with each ``--highlights`` mode given (default
``auto``, as ``uptflow enhance``; other modes are labelled ``... --highlights MODE``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw

from uptflow.inference.highlights import HIGHLIGHT_MODES
from uptflow.shared_data import shared_root

ROOT = Path(__file__).resolve().parents[1]

REAL = shared_root(default=ROOT.parent / "shared") / "data" / "lowlight_real"  # $UPTFLOW_SHARED or ../shared
SETS = {"dicm": REAL / "dicm", "lime": REAL / "lime", "lol": REAL / "lol_eval15_low_396x600"}  # all 15 (the 400x600 folder holds 3)
MEASURES = (("mean_luminance", "mean luminance", "{:.0f}"), ("newly_blown", "newly blown", "{:.2f} %"),
            ("lit_region_gain", "lit-region gain", "{:.2f}"), ("noise_sigma", "noise sigma", "{:.2f}"),
            ("dark", "dark pixels", "{:.1f} %"))
#: Grid rows: the two failure cases the model card names (DICM 03, LIME 7) and a spread of others.
GRID_IMAGES = ("dicm/03.jpg", "lime/7.bmp", "dicm/08.jpg", "lime/3.bmp", "lol/1.png")


def baselines() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    from uptflow.evaluation.baselines import (
        clahe,
        gamma_correction,
        histogram_equalization,
    )

    return {"input": lambda x: x, "gamma": gamma_correction, "HE": histogram_equalization, "CLAHE": clahe}


def model_method(spec: str | None, exposure: float,
                 highlights: str = "auto") -> tuple[str, Callable[[np.ndarray], np.ndarray]]:
    """(label, float RGB -> float RGB) for a model spec (None = the bundled model)."""
    import uptflow
    from uptflow.inference.models import load_cached, resolve_device

    net = load_cached(spec, resolve_device("cpu"))
    label = "uptflow default" if spec is None else f"uptflow {Path(spec).stem}"
    if exposure:
        label += f" {exposure:+g} EV"
    if highlights != "auto":
        label += f" --highlights {highlights}"

    def run(x: np.ndarray) -> np.ndarray:
        return uptflow.enhance(x, model=net, tile=0, exposure=exposure, highlights=highlights)

    return label, run


def quantise(x: np.ndarray) -> np.ndarray:
    """Results are judged as saved 8-bit images."""
    return np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def list_set(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp"})


def summarise(rows: list[dict[str, float]]) -> dict[str, float]:
    out = {}
    for key, _, _ in MEASURES:
        vals = np.array([r[key] for r in rows], dtype=np.float64)
        vals = vals[np.isfinite(vals)]
        out[key] = float(vals.mean()) if vals.size else math.nan
    out["n"] = len(rows)
    out["n_lit"] = int(sum(np.isfinite(r["lit_region_gain"]) for r in rows))
    return out


def markdown_table(title: str, summary: dict[str, dict[str, float]], black: float | None = None) -> str:
    """The five measures per method; ``black``: the mean % of input pixels that are black (all channels 0)."""
    lines = [f"**{title}**", "", "| method | " + " | ".join(h for _, h, _ in MEASURES) + " |",
             "|---|" + "---|" * len(MEASURES)]
    for method, s in summary.items():
        cells = [fmt.format(s[k]) if np.isfinite(s[k]) else "-" for k, _, fmt in MEASURES]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    first = next(iter(summary.values()))
    lines.append(f"\n{first['n']} images; lit-region gain over the {first['n_lit']} with input pixels >= 110.")
    if black is not None:
        lines.append(f"Input pixels that are black (every channel 0): {black:.1f} % -- the floor of the dark "
                     "pixels for any method whose curve maps 0 to 0.")
    return "\n".join(lines)


def _thumb(u8: np.ndarray, width: int) -> Image.Image:
    img = Image.fromarray(u8)
    return img.resize((width, max(1, round(img.height * width / img.width))), Image.LANCZOS)


def build_grid(rows: list[tuple[str, list[np.ndarray]]], labels: list[str], width: int) -> Image.Image:
    """One row per image (its name on top), one column per method."""
    pad, head, cap = 4, 20, 14
    thumbs = [(name, [_thumb(u, width) for u in outs]) for name, outs in rows]
    height = head + sum(t[0].height + cap + pad for _, t in thumbs)
    grid = Image.new("RGB", (len(labels) * (width + pad) + pad, height), "white")
    draw = ImageDraw.Draw(grid)
    for j, label in enumerate(labels):
        draw.text((pad + j * (width + pad) + 3, 4), label, fill="black")
    y = head
    for name, t in thumbs:
        draw.text((pad + 3, y), name, fill="black")
        y += cap
        for j, im in enumerate(t):
            grid.paste(im, (pad + j * (width + pad), y))
        y += t[0].height + pad
    return grid


def save_jpeg_atomic(img: Image.Image, out: Path, quality: int = 85) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    os.close(fd)
    try:
        img.save(tmp, format="JPEG", quality=quality, optimize=True)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; this is a document
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--model", action="append", default=None, metavar="M",
                    help="model to measure (repeatable); default: the bundled model")
    ap.add_argument("--exposure", type=float, default=0.0, metavar="EV", help="--exposure for the models (default 0)")
    ap.add_argument("--highlights", nargs="+", choices=HIGHLIGHT_MODES, default=["auto"],
                    help="highlight modes to measure each model with (default auto, as uptflow enhance)")
    ap.add_argument("--sets", nargs="+", choices=sorted(SETS), default=list(SETS), help="capture sets")
    ap.add_argument("--limit", type=int, default=None, help="first N images of each set (quick checks)")
    ap.add_argument("--grid", type=Path, default=ROOT / "docs" / "images" / "naturalness_grid.jpg",
                    help="before/after grid JPEG ('' = none)")
    ap.add_argument("--width", type=int, default=220, help="grid thumbnail width in px")
    ap.add_argument("--json", type=Path, default=None, help="also write per-image scores here")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args(argv)
    if not REAL.is_dir():
        print(f"naturalness: real captures not found at {REAL}", file=sys.stderr)
        return 2
    import torch
    from tqdm import tqdm

    from uptflow.io.read import read_rgb
    from uptflow.metrics.no_reference import black_fraction, naturalness

    if args.threads:
        torch.set_num_threads(args.threads)
    methods = baselines()
    for spec in args.model or [None]:
        for mode in args.highlights:
            label, fn = model_method(spec, args.exposure, mode)
            methods[label] = fn
    files = [(s, p) for s in args.sets for p in list_set(SETS[s])[: args.limit]]
    grid_keys = {g for g in GRID_IMAGES if g.split("/")[0] in args.sets}
    per_image: dict[str, dict[str, list[dict[str, float]]]] = {m: {s: [] for s in args.sets} for m in methods}
    grid_rows: list[tuple[str, list[np.ndarray]]] = []
    seconds = {m: 0.0 for m in methods}
    black: dict[str, list[float]] = {s: [] for s in args.sets}  # % of each input's pixels that are black
    for s, path in tqdm(files, unit="img", file=sys.stderr):
        low = read_rgb(path)
        low_u8 = quantise(low)
        black[s].append(black_fraction(low_u8))
        outs = []
        for m, fn in methods.items():
            t0 = time.perf_counter()
            out = quantise(fn(low))
            seconds[m] += time.perf_counter() - t0
            scores = naturalness(low_u8, out).as_dict()
            scores["image"] = f"{s}/{path.name}"  # type: ignore[assignment]
            per_image[m][s].append(scores)
            outs.append(out)
        if f"{s}/{path.name}" in grid_keys:
            grid_rows.append((f"{s}/{path.name}", outs))

    for s in args.sets:
        print(markdown_table(f"{s} ({SETS[s].name})", {m: summarise(v[s]) for m, v in per_image.items()},
                             float(np.mean(black[s]))))
        print()
    together = {m: summarise([r for s in args.sets for r in v[s]]) for m, v in per_image.items()}
    print(markdown_table(" + ".join(args.sets), together, float(np.mean([b for s in args.sets for b in black[s]]))))
    print("\nseconds per image (CPU, shared machine): " +
          ", ".join(f"{m} {seconds[m] / max(len(files), 1):.2f}" for m in methods))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"per_image": per_image, "summary": together}, indent=1))
    if args.grid.name and grid_rows:  # --grid "" -> Path(".") has no name: no grid
        order = {g: i for i, g in enumerate(GRID_IMAGES)}
        grid_rows.sort(key=lambda r: order[r[0]])
        save_jpeg_atomic(build_grid(grid_rows, list(methods), args.width), args.grid)
        print(f"grid: {args.grid} ({args.grid.stat().st_size // 1024} kB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
