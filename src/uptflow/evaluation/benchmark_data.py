"""The project benchmark: deterministic low/normal pairs nobody trains on.

Subsets (each written as ``OUT/<subset>/{low,normal}/NAME.png``, the two-folder layout every
``uptflow`` command reads):

* ``kodak24`` — the 24 Kodak images (768x512) as ground truth, each darkened by the calibrated
  synthesiser (:func:`uptflow.data.synthesis.synthesize`) with the seed ``seed + index``.
* ``sice_val`` — the verified SICE validation pairs (real exposure stacks, held-out scenes).
* ``sice_benchmark`` — the 40 official SICE benchmark scenes (never trained or validated on).

A ``MANIFEST.json`` records seeds, sources and a checksum of every written image so two runs
can be compared byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from uptflow.io.listing import list_images
from uptflow.io.read import read_rgb
from uptflow.io.write import atomic_write, save_image
from uptflow.shared_data import shared_path

SUBSETS = ("kodak24", "sice_val", "sice_benchmark")
DEFAULT_SEED = 20251125


def default_data_root() -> Path:
    """``$UPTFLOW_SHARED/data`` (see :mod:`uptflow.shared_data`); a one-line error when it is not set."""
    return shared_path("data")


def _write(out: Path, name: str, low: np.ndarray, normal: np.ndarray, manifest: list[dict]) -> None:
    for side, img in (("low", low), ("normal", normal)):
        path = out / side / f"{name}.png"
        save_image(path, img)
        manifest.append({"file": f"{out.name}/{side}/{name}.png",
                         "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})


def write_benchmark_data(out: str | Path, data_root: str | Path | None = None, seed: int = DEFAULT_SEED,
                         subsets: tuple[str, ...] = SUBSETS,
                         progress: Callable[[str], None] | None = None, limit: int | None = None) -> dict:
    """Write the benchmark under ``out``; returns the manifest (also saved as MANIFEST.json).

    ``limit`` keeps the first N pairs of each subset (quick checks; the benchmark is all of them).

    ``data_root`` is the folder holding ``photos/kodak24`` and ``sice_part1`` (default
    :func:`default_data_root`).  Raises ``FileNotFoundError`` with a one-line message if the
    source data is missing or its location is not set.
    """
    from uptflow.data.sice import load_pairs
    from uptflow.data.synthesis import synthesize

    out = Path(out)
    root = Path(data_root) if data_root is not None else default_data_root()
    unknown = sorted(set(subsets) - set(SUBSETS))
    if unknown:
        raise ValueError(f"unknown benchmark subset(s): {', '.join(unknown)}; choose from {', '.join(SUBSETS)}")
    manifest: dict = {"seed": seed, "data_root": str(root), "subsets": {}}
    files: list[dict] = []
    if "kodak24" in subsets:
        kodak = root / "photos" / "kodak24"
        if not kodak.is_dir():
            raise FileNotFoundError(f"Kodak24 not found at {kodak} (pass --data-root)")
        images = list_images([kodak])[:limit]
        for i, path in enumerate(images):
            normal = read_rgb(path)
            # global-only darkening: the set stays bit-identical to the one all numbers were measured on
            low = synthesize(normal, np.random.default_rng(seed + i), global_prob=1.0)
            _write(out / "kodak24", path.stem, low, normal, files)
            if progress:
                progress(f"kodak24/{path.stem}")
        manifest["subsets"]["kodak24"] = {"pairs": len(images), "source": "photos/kodak24 + synthesize(seed+index)"}
    sice_root = root / "sice_part1"
    for subset, split in (("sice_val", "val"), ("sice_benchmark", "benchmark")):
        if subset not in subsets:
            continue
        if not sice_root.is_dir():
            raise FileNotFoundError(f"SICE Part 1 not found at {sice_root} (pass --data-root)")
        pairs = load_pairs(split)[:limit]
        for pair in pairs:
            low_path, ref_path = pair.paths(sice_root)
            name = f"{pair.scene}_{Path(pair.low).stem}"
            _write(out / subset, name, read_rgb(low_path), read_rgb(ref_path), files)
            if progress:
                progress(f"{subset}/{name}")
        manifest["subsets"][subset] = {"pairs": len(pairs), "source": f"sice_part1, verified pairs, split {split}"}
    manifest["files"] = files
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "MANIFEST.json", lambda tmp: tmp.write_text(json.dumps(manifest, indent=1)), what="manifest")
    return manifest
