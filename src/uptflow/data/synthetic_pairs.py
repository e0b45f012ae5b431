"""On-the-fly synthetic low/normal pairs from normal-light photos.

Item ``i``: take photo ``i % n_photos``, crop (+ flip/rotate) it with the item generator
``default_rng([seed, epoch, i])``, then darken the crop with
:func:`uptflow.data.synthesis.synthesize` using the *same* generator.  So an item is bit-exactly
reproducible from ``(seed, epoch, i)``, and every epoch sees new crops and new degradations.
With the default :class:`~uptflow.data.synthesis.SynthParams` 70 % of the crops are also re-lit
(lamps, windows, vignetting: :mod:`uptflow.data.illumination`) and 30 % only darkened globally.

Decoding dominates the cost (a 2560x1600 JPEG takes ~0.1 s to decode, a 160 px crop ~nothing), so
photos are downscaled on load to at most ``max_side`` px on the long side (area averaging, which
keeps values in [0, 1] and acts like a camera with fewer, cleaner pixels — appropriate for
the normal-light side) and the last ``cache_size`` decoded photos are kept in memory per process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from uptflow.data.augment import augment_image
from uptflow.data.paired import EpochDataset, LRUCache, _check_crop, crop_to_multiple, to_chw
from uptflow.io.listing import list_images
from uptflow.io.read import read_rgb

__all__ = ["SyntheticPairDataset", "downscale_max_side"]


def downscale_max_side(img: np.ndarray, max_side: int | None) -> np.ndarray:
    """Area-downscale ``(H, W, 3)`` float32 so that ``max(H, W) <= max_side`` (None: unchanged)."""
    h, w = img.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return img
    s = max_side / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    chans = [np.asarray(Image.fromarray(np.ascontiguousarray(img[..., c], dtype=np.float32), mode="F")
                        .resize((nw, nh), Image.Resampling.BOX)) for c in range(img.shape[2])]
    return np.clip(np.stack(chans, axis=-1), 0.0, 1.0).astype(np.float32)


class SyntheticPairDataset(EpochDataset):
    """Synthetic pairs made from normal-light photos.

    Args:
        photo_dirs: folders, files or glob patterns of normal-light photos (expanded with
            :func:`uptflow.io.listing.list_images`; sorted, duplicates removed).
        crop: square random-crop side (photos smaller than it are reflect-padded), or None for
            whole (downscaled) photos, e.g. for a fixed synthetic validation set.
        augment: random flips and quarter turns of the crop.
        seed: base seed of the per-item generators.
        params: :class:`uptflow.data.synthesis.SynthParams` (None: its calibrated defaults).
        length: items per epoch (default: one per photo); item ``i`` uses photo ``i % n``.
        max_side: downscale photos on load so their long side is at most this (None: never).
        cache_size: decoded photos kept per process (LRU).
        recursive: also list photos in sub-folders (needed e.g. for ``debian_plasma/<name>/``).
        multiple: drop bottom/right pixels so H and W are multiples of this (for ``crop=None``).

    Item: ``{"low": (3, h, w) float32 [0, 1], "normal": (3, h, w), "name": "<folder>_<stem>"}``.
    """

    def __init__(self, photo_dirs: Sequence[str | os.PathLike[str]], crop: int | None, augment: bool = True,
                 seed: int = 0, params: Any | None = None, *, length: int | None = None,
                 max_side: int | None = 1024, cache_size: int = 8, recursive: bool = True,
                 multiple: int = 1) -> None:
        super().__init__(seed)
        if isinstance(photo_dirs, (str, os.PathLike)):
            photo_dirs = [photo_dirs]
        self.photos: list[Path] = list_images(list(photo_dirs), recursive=recursive)
        if not self.photos:
            raise ValueError(f"no photos found in {list(map(str, photo_dirs))}")
        self.crop = _check_crop(crop)
        self.augment = bool(augment)
        if params is None:
            from uptflow.data.synthesis import SynthParams

            params = SynthParams()
        self.params = params
        if length is not None and int(length) < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        self.length = int(length) if length is not None else len(self.photos)
        if max_side is not None and int(max_side) < 1:
            raise ValueError(f"max_side must be >= 1 or None, got {max_side}")
        self.max_side = None if max_side is None else int(max_side)
        if multiple < 1:
            raise ValueError(f"multiple must be >= 1, got {multiple}")
        self.multiple = int(multiple)
        self._cache = LRUCache(cache_size)

    def __len__(self) -> int:
        return self.length

    def photo(self, k: int) -> np.ndarray:
        """Photo ``k`` decoded and downscaled: ``(H, W, 3)`` float32 in [0, 1] (cached; do not modify)."""
        return self._cache.get(k, lambda: downscale_max_side(read_rgb(self.photos[k]), self.max_side))

    def load(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        """Item ``index`` with randomness from ``rng`` (used by :class:`~uptflow.data.paired.MixedDataset`)."""
        from uptflow.data.synthesis import synthesize

        k = index % len(self.photos)
        normal = augment_image(self.photo(k), rng, self.crop, flips=self.augment, rot90=self.augment)
        normal = np.ascontiguousarray(crop_to_multiple(normal, self.multiple))
        low = synthesize(normal, rng, self.params)
        p = self.photos[k]
        return {"low": to_chw(low), "normal": to_chw(normal), "name": f"{p.parent.name}_{p.stem}"}
