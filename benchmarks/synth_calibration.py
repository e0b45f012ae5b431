"""Real vs synthetic low-light statistics: the calibration of ``uptflow.data.synthesis``.

Usage::

    python benchmarks/synth_calibration.py [--n N] [--out PNG] [--seed S]

Measures on the real low-light captures in ``../shared/data/lowlight_real`` (LOL eval15 low,
LIME, DICM) and on ``synthesize`` outputs made from N *training* photos (BSDS500 train + Sun-Hays
80; never Kodak24, which is the test set):

1. mean brightness (mean RGB, 0-255): mean / min / p10 / p90 / max over images,
2. dark flat-region noise: median high-pass (5x5) residual std of the flattest patches,
   per brightness bin (see ``benchmarks/noise_stats.py``),
3. colour shift: channel-mean ratios R/G and B/G (mean and [min, max]),
4. local statistics (where the light is; ``noise_stats.local_stats``): % of pixels with luma
   >= 110/255 (lit), the 99th luma percentile, the spread (std) of 32x32 block means and the %
   of blown pixels (max channel >= 250).

Synthetic rows: the global model alone (``global_prob=1``), the illumination model alone
(``global_prob=0``: vignetting + lamps/windows, ``uptflow.data.illumination``) and the defaults
(a mix of both).  Prints the tables, saves a brightness histogram + noise-vs-brightness plot
(matplotlib if it is importable, else drawn with PIL) to ``--out`` and a side-by-side JPEG of
real and synthetic low-light images to ``--side-by-side``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

import noise_stats as ns  # benchmarks/noise_stats.py (calibration-only; this folder is on sys.path)
from uptflow.data.synthesis import SynthParams, synthesize_with_info
from uptflow.shared_data import shared_root

REPO = Path(__file__).resolve().parents[1]
DATA = shared_root(default=REPO.parent / "shared") / "data"  # $UPTFLOW_SHARED or ../shared
REAL_SETS = {
    "LOL eval15 low": DATA / "lowlight_real" / "lol_eval15_low_396x600",
    "LIME": DATA / "lowlight_real" / "lime",
    "DICM": DATA / "lowlight_real" / "dicm",
}
TRAIN_DIRS = [DATA / "photos" / "bsds500" / "train", DATA / "photos" / "sun_hays80"]
MAX_SIDE = 640  # training photos are resized to LOL-like size before synthesis
NOISE_BINS = (0.0, 5.0, 10.0, 20.0, 40.0, 80.0)
IMAGE_EXT = {".png", ".jpg", ".jpeg", ".bmp"}


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXT)


def training_photos(n: int, seed: int) -> list[Path]:
    """A deterministic sample of n training photos (never Kodak24)."""
    pool = [p for d in TRAIN_DIRS for p in list_images(d)]
    rng = np.random.default_rng(seed)
    return [pool[i] for i in sorted(rng.choice(len(pool), size=min(n, len(pool)), replace=False))]


def load_resized(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        s = MAX_SIDE / max(im.size)
        if s < 1:
            im = im.resize((round(im.width * s), round(im.height * s)), Image.BICUBIC)
        return np.asarray(im)


def stats(images: list[np.ndarray]) -> dict[str, object]:
    b = np.array([ns.mean_brightness(i) for i in images])
    r = np.array([ns.channel_ratios(i) for i in images])
    local = [ns.local_stats(i) for i in images]
    return {
        "n": len(images), "bright": b, "ratios": r,
        "noise": ns.noise_by_brightness(images, NOISE_BINS),
        "dark_noise": float(np.nanmedian([ns.dark_noise(i) for i in images])),
        "local": {k: np.array([d[k] for d in local]) for k in local[0]},
    }


def print_local_table(rows: dict[str, dict[str, object]]) -> None:
    """Markdown table of the local statistics: mean over images (median in brackets where skewed)."""
    print("| set | n | lit % (>= 110) mean [median] | images with lit px | p99 luma | std of 32x32 block means "
          "| blown % (max >= 250) mean [median] |")
    print("|---|---|---|---|---|---|---|")
    for name, s in rows.items():
        loc = s["local"]
        assert isinstance(loc, dict)
        lit, blown = loc["lit"], loc["blown"]
        print(f"| {name} | {s['n']} | {lit.mean():.2f} [{np.median(lit):.2f}] | {100 * np.mean(lit > 0):.0f} % | "
              f"{loc['p99'].mean():.1f} | {loc['block_std'].mean():.1f} | {blown.mean():.2f} [{np.median(blown):.2f}] |")
    print("0-255 scale, BT.601 luma; means over images.")


SIDE_REAL = ("lime/7.bmp", "lime/3.bmp", "dicm/03.jpg", "lol_eval15_low_396x600/1.png")


def side_by_side(real: list[np.ndarray], relit: list[np.ndarray], flat: list[np.ndarray], out: Path,
                 width: int = 200) -> None:
    """Rows: real captures, synthetic (illumination model), synthetic (global model); JPEG, atomically."""
    rows = [("real low-light captures (LIME 7, LIME 3, DICM 03, LOL eval15 1)", real),
            ("synthetic, illumination model (lamps, windows, vignetting)", relit),
            ("synthetic, global model (one exposure)", flat)]
    size = (width, width * 3 // 4)  # centre crops of one aspect, so portrait photos do not stretch a row
    thumbs = [[ImageOps.fit(Image.fromarray(i), size, Image.LANCZOS) for i in imgs] for _, imgs in rows]
    pad, cap = 4, 16
    row_h = [max(t.height for t in ts) for ts in thumbs]
    grid = Image.new("RGB", (4 * (width + pad) + pad, sum(h + cap + pad for h in row_h) + pad), "white")
    d = ImageDraw.Draw(grid)
    y = pad
    for (label, _), ts, h in zip(rows, thumbs, row_h):
        d.text((pad + 2, y), label, fill="black")
        y += cap
        for j, t in enumerate(ts):
            grid.paste(t, (pad + j * (width + pad), y))
        y += h + pad
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    os.close(fd)
    try:
        grid.save(tmp, format="JPEG", quality=85, optimize=True)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; this is a document
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def print_table(rows: dict[str, dict[str, object]]) -> None:
    bins = [f"{lo:.0f}-{hi:.0f}" for lo, hi in zip(NOISE_BINS[:-1], NOISE_BINS[1:])]
    head = (f"{'set':<30}{'n':>4} | {'bright mean':>11}{'min':>6}{'p10':>6}{'p90':>6}{'max':>6} | "
            f"{'dark noise':>10} | " + "".join(f"{'nz ' + b:>9}" for b in bins) +
            f" | {'R/G mean [min,max]':>21} | {'B/G mean [min,max]':>21}")
    print(head)
    print("-" * len(head))
    for name, s in rows.items():
        b, r = s["bright"], s["ratios"]
        assert isinstance(b, np.ndarray) and isinstance(r, np.ndarray)
        nz = "".join(f"{m:9.2f}" if c >= 20 else f"{'-':>9}" for _, _, m, c in s["noise"])  # type: ignore[union-attr]
        print(f"{name:<30}{s['n']:>4} | {b.mean():11.1f}{b.min():6.1f}{np.percentile(b, 10):6.1f}"
              f"{np.percentile(b, 90):6.1f}{b.max():6.1f} | {s['dark_noise']:10.2f} | {nz} | "
              f"{r[:, 0].mean():7.3f} [{r[:, 0].min():.2f},{r[:, 0].max():.2f}] | "
              f"{r[:, 1].mean():7.3f} [{r[:, 1].min():.2f},{r[:, 1].max():.2f}]")
    print("brightness and noise on the 0-255 scale; noise = median 5x5 high-pass residual std in the "
          "25% flattest 16x16 patches of each image, per patch-brightness bin ('-': < 20 patches).")


# --------------------------------------------------------------------------- plotting
_COLOURS = {"LOL eval15 low": (214, 39, 40), "LIME": (255, 127, 14), "DICM": (148, 103, 189),
            "synthetic": (31, 119, 180), "synthetic (global only)": (44, 160, 44),
            "synthetic (illumination only)": (23, 190, 207)}


def _colour(name: str) -> tuple[int, int, int]:
    return _COLOURS.get(name, _COLOURS["synthetic"] if name.startswith("synthetic") else (90, 90, 90))


def plot(rows: dict[str, dict[str, object]], out: Path) -> str:
    out.parent.mkdir(parents=True, exist_ok=True)
    edges = np.arange(0, 64.1, 2.0)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        _plot_pil(rows, out, edges)
        return "PIL"
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, s in rows.items():
        b = np.asarray(s["bright"])
        ax[0].hist(b, bins=edges, weights=np.full(b.size, 1.0 / b.size), histtype="step", lw=2,
                   label=f"{name} ({int(np.sum(b >= edges[-1]))} > {edges[-1]:.0f} not shown)",
                   color=np.array(_colour(name)) / 255)
        nz = [(0.5 * (lo + hi), m) for lo, hi, m, c in s["noise"] if c >= 20]  # type: ignore[union-attr]
        ax[1].plot(*zip(*nz), "o-", label=name, color=np.array(_colour(name)) / 255)
    ax[0].set(xlabel="mean brightness (0-255)", ylabel="fraction of images", title="brightness")
    ax[1].set(xlabel="patch brightness (0-255)", ylabel="high-pass residual std (0-255)", title="flat-region noise")
    for a in ax:
        a.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    return "matplotlib"


def _plot_pil(rows: dict[str, dict[str, object]], out: Path, edges: np.ndarray) -> None:
    """Two panels drawn with ImageDraw: brightness histograms and noise vs brightness."""
    W, H, M = 1200, 480, 60
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    pw = W // 2 - 2 * M
    ph = H - 2 * M

    def axes(x0: int, title: str, xlabel: str, xmax: float, ymax: float, ticks: int = 8) -> None:
        d.rectangle([x0, M, x0 + pw, M + ph], outline="black")
        d.text((x0 + pw // 2 - 60, M - 30), title, fill="black")
        d.text((x0 + pw // 2 - 100, M + ph + 28), xlabel, fill="black")
        for k in range(ticks + 1):
            d.text((x0 + pw * k / ticks - 8, M + ph + 6), f"{xmax * k / ticks:.0f}", fill="black")
        for k in range(6):
            d.text((x0 - 45, M + ph - ph * k / 5 - 6), f"{ymax * k / 5:.2g}", fill="black")

    # fraction of each set's images per bin; images brighter than the last edge are not drawn
    hists = {n: np.histogram(s["bright"], bins=edges)[0] / max(1, len(s["bright"]))  # type: ignore[arg-type]
             for n, s in rows.items()}
    ymax = max(h.max() for h in hists.values()) * 1.1
    axes(M, "mean brightness histogram (fraction of images)", f"mean brightness, 0-255", edges[-1], ymax)
    for k, (name, h) in enumerate(hists.items()):
        pts = []
        for i, v in enumerate(h):
            x0 = M + pw * edges[i] / edges[-1]
            x1 = M + pw * edges[i + 1] / edges[-1]
            y = M + ph - ph * v / ymax
            pts += [(x0, y), (x1, y)]
        d.line(pts, fill=_colour(name), width=3)
        over = int(np.sum(np.asarray(rows[name]["bright"]) >= edges[-1]))
        label = name + (f" ({over} > {edges[-1]:.0f} not shown)" if over else "")
        d.text((M + pw - 230, M + 10 + 16 * k), label, fill=_colour(name))

    x0 = W // 2 + M
    nzs = {n: [(0.5 * (lo + hi), m) for lo, hi, m, c in s["noise"] if c >= 20] for n, s in rows.items()}  # type: ignore[union-attr]
    ymax = max(m for v in nzs.values() for _, m in v) * 1.2
    xmax = NOISE_BINS[-1]
    axes(x0, "flat-region noise vs brightness", "patch brightness, 0-255", xmax, ymax)
    for k, (name, v) in enumerate(nzs.items()):
        pts = [(x0 + pw * b / xmax, M + ph - ph * m / ymax) for b, m in v]
        if len(pts) > 1:
            d.line(pts, fill=_colour(name), width=3)
        for px, py in pts:
            d.ellipse([px - 4, py - 4, px + 4, py + 4], fill=_colour(name))
        d.text((x0 + pw - 150, M + 10 + 16 * k), name, fill=_colour(name))
    img.save(out)


def parse_overrides(items: list[str]) -> dict[str, object]:
    """``["brightness=[0.0275,0.25]", ...]`` -> SynthParams overrides (values read as YAML),
    checked by building the parameters once.  Raises ``ValueError`` (one line) for a bad item."""
    import yaml

    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects FIELD=VALUE, got {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    if out:
        from uptflow.data.synthesis import with_overrides

        try:
            with_overrides(SynthParams(), **out)
        except (TypeError, ValueError) as err:
            raise ValueError(str(err).splitlines()[0]) from None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60, help="number of training photos to synthesise from")
    ap.add_argument("--out", type=Path, default=REPO / "out" / "synth_calibration.png", help="histogram PNG")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--side-by-side", type=Path, default=REPO / "docs" / "images" / "synth_vs_real.jpg",
                    help="real vs synthetic JPEG grid")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="also measure the defaults with these SynthParams overrides (a training recipe's "
                         "data.synth), e.g. --set brightness=[0.0275,0.25]; repeatable")
    args = ap.parse_args(argv)
    try:
        recipe = parse_overrides(args.set)
    except ValueError as err:
        print(f"synth_calibration.py: error: {err}", file=sys.stderr)
        return 2
    if not DATA.is_dir():
        print(f"shared data not found: {DATA}", file=sys.stderr)
        return 2
    t0 = time.time()
    rows: dict[str, dict[str, object]] = {}
    for name, folder in REAL_SETS.items():
        rows[name] = stats([ns.read_rgb(p) for p in list_images(folder)])
    photos = training_photos(args.n, args.seed)
    normal = [load_resized(p) for p in photos]
    synth: dict[str, list[np.ndarray]] = {}
    relit_flags: list[bool] = []
    variants = [("synthetic (global only)", {"global_prob": 1.0}),
                ("synthetic (illumination only)", {"global_prob": 0.0}), ("synthetic (defaults)", {})]
    if recipe:
        variants.append((f"synthetic ({', '.join(args.set)})", recipe))
    for name, override in variants:
        rng = np.random.default_rng(args.seed)
        outs = []
        for img in normal:
            low, info = synthesize_with_info(img, rng, **override)
            outs.append(np.round(low * 255).astype(np.uint8))
            if not override:
                relit_flags.append(info["illumination"] is not None)
        synth[name] = outs
        rows[name] = stats(outs)
    print(f"real: {', '.join(f'{k} ({len(list_images(v))})' for k, v in REAL_SETS.items())}; synthetic from "
          f"{len(photos)} training photos (BSDS500 train + Sun-Hays 80, long side <= {MAX_SIDE}), seed {args.seed}")
    print(f"defaults: {SynthParams()}")
    print_table(rows)
    print()
    print_local_table(rows)
    print(f"defaults: {100 * np.mean(relit_flags):.0f} % of the images re-lit (global_prob {SynthParams().global_prob})")
    lol = rows["LOL eval15 low"]["bright"]
    syn = rows["synthetic (global only)"]["bright"]
    assert isinstance(lol, np.ndarray) and isinstance(syn, np.ndarray)
    inside = np.mean((syn >= lol.min()) & (syn <= lol.max()))
    print(f"global-only synthetic brightness inside the LOL range [{lol.min():.1f}, {lol.max():.1f}]: {100 * inside:.0f}%")
    how = plot(rows, args.out)
    print(f"saved {args.out} ({how})")
    real = [ns.read_rgb(DATA / "lowlight_real" / r) for r in SIDE_REAL]
    side_by_side(real, synth["synthetic (illumination only)"][:4], synth["synthetic (global only)"][4:8],
                 args.side_by_side)
    print(f"saved {args.side_by_side} ({args.side_by_side.stat().st_size // 1024} kB); {time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
