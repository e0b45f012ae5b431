"""Tiny image / .npy files for data tests (written into a test's tmp_path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from uptflow.data.layouts import PairRecord


def png(path: Path, h: int = 6, w: int = 8, value: int | None = None, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8) if value is None else np.full((h, w, 3), value, np.uint8)
    Image.fromarray(a).save(path)
    return path


def npy(path: Path, h: int = 4, w: int = 5, dtype: str = "uint8", seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    np.save(path, a if dtype == "uint8" else (a / 255.0).astype(dtype))
    return path


def make_lol(root: Path) -> Path:
    """A tiny LOL v1 tree: our485 pairs 1, 2, 10 (natural order matters) and eval15 pair 22."""
    for n in ("1", "2", "10"):
        png(root / "our485/low" / f"{n}.png")
        png(root / "our485/high" / f"{n}.png")
    png(root / "eval15/low/22.png")
    png(root / "eval15/high/22.png")
    return root


def q8(x: np.ndarray) -> np.ndarray:
    """Round to 8-bit levels (as a saved PNG would), clipping to [0, 1]."""
    return np.round(np.clip(x, 0.0, 1.0) * 255.0) / 255.0


def kodak_crops(shared_dir: Path, names: tuple[str, ...], rows: slice, cols: slice) -> list[np.ndarray]:
    """Crops of Kodak24 images from the shared data, float64 (H, W, 3) in [0, 1]."""
    kodak = shared_dir / "data" / "photos" / "kodak24"
    return [np.asarray(Image.open(kodak / n).convert("RGB"), dtype=np.float64)[rows, cols] / 255.0 for n in names]


def names(recs: list[PairRecord]) -> list[str]:
    return [r.name for r in recs]


def smooth_image(rng: np.random.Generator, side: int) -> np.ndarray:
    """A ``(side, side, 3)`` float32 image in [0.03, 0.97]: a smooth colour field, a few flat shapes
    with sharp edges, and fine texture -- photo-like structure for a model to learn from."""
    coarse = rng.uniform(0.1, 0.9, (5, 5, 3)).astype(np.float32)
    field = np.stack([np.asarray(Image.fromarray(coarse[..., c], mode="F").resize((side, side), Image.BICUBIC))
                      for c in range(3)], axis=-1)
    yy, xx = np.mgrid[0:side, 0:side]
    for _ in range(3):
        cy, cx, r = rng.uniform(0, side, 2).tolist() + [rng.uniform(side / 8, side / 3)]
        colour = rng.uniform(0.05, 0.95, 3).astype(np.float32)
        mask = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r) if rng.random() < 0.5 else \
            ((abs(yy - cy) < r) & (abs(xx - cx) < r / 2))
        field[mask] = colour
    texture = rng.normal(0.0, 0.03, (side, side, 1)).astype(np.float32)
    return np.clip(field + texture, 0.03, 0.97).astype(np.float32)


def darken(normal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A low-light version: linearise (gamma 2.2), scale by 1-4 %, add read + shot noise, re-encode."""
    linear = normal.astype(np.float32) ** 2.2 * rng.uniform(0.01, 0.04)
    noisy = linear + rng.normal(0.0, 1.0, normal.shape).astype(np.float32) * np.sqrt(1e-6 + 2e-4 * linear)
    return np.clip(noisy, 0.0, 1.0) ** (1 / 2.2)


def write_synthetic_pairs(out: Path, count: int = 4, side: int = 96, seed: int = 0) -> tuple[Path, Path]:
    """``count`` generated (low, normal) 8-bit PNG pairs of ``side`` px in ``out/low`` and ``out/normal``.

    Deterministic for a seed; needs no data outside the repository.  Returns (low_dir, normal_dir).
    """
    low_dir, normal_dir = out / "low", out / "normal"
    low_dir.mkdir(parents=True, exist_ok=True)
    normal_dir.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        normal = smooth_image(rng, side)
        low = darken(normal, rng)
        Image.fromarray(np.round(normal * 255).astype(np.uint8)).save(normal_dir / f"pair{i:02d}.png")
        Image.fromarray(np.round(low * 255).astype(np.uint8)).save(low_dir / f"pair{i:02d}.png")
    return low_dir, normal_dir
