"""Typed data configuration and the one function that turns it into datasets.

A :class:`DataConfig` is part of a run configuration (YAML); :func:`build_dataset` gives the
training or validation dataset, :func:`build_val_pairs` the validation pairs (for evaluation code
that wants files, not tensors).  Paths are stored exactly as written and resolved against the
current directory when datasets are built, so configs never carry absolute paths.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from torch.utils.data import Dataset

from uptflow.data.layouts import LAYOUTS, PairRecord, discover_pairs, verify_pairs
from uptflow.data.paired import MixedDataset, PairedDataset
from uptflow.validation import MAX_SEED

__all__ = ["DataConfig", "DATA_LAYOUTS", "build_dataset", "build_val_pairs", "evenly_spaced"]

#: Values of :attr:`DataConfig.layout`.
DATA_LAYOUTS: tuple[str, ...] = ("auto",) + LAYOUTS + ("synthetic", "mixed")


def _freeze(v: Any) -> Any:
    """Lists (from YAML) -> tuples, recursively, so the frozen config stays hashable."""
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    return v


def _thaw(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_thaw(x) for x in v]
    return v


@dataclass(frozen=True)
class DataConfig:
    """Where training/validation data comes from and how items are cut.

    Attributes:
        layout: ``auto`` (detect from ``root``), a folder layout of
            :func:`~uptflow.data.layouts.discover_pairs` (``lol``, ``lolv2``, ``folders``, ``sice``,
            ``smid``, ``sdsd``), ``synthetic`` (pairs synthesised from ``photo_dirs``) or
            ``mixed`` (synthetic photos + real SICE train pairs, see ``sice_weight``).
        root: dataset folder (``sice``/``mixed``: the SICE folder, default
            ``$UPTFLOW_SHARED/data/sice_part1``).
        low_dir, normal_dir: the two folders of the ``folders`` layout (relative to ``root`` if set).
        photo_dirs: normal-light photo folders/files/globs for ``synthetic``/``mixed``.
        val_root, val_layout: an explicit validation dataset (its ``val`` split).
        val_low_dir, val_normal_dir: an explicit validation set as two folders.
        val_photo_dirs: photos for a fixed synthetic validation set (whole photos, epoch 0).
        crop: training crop side (None: whole images, batch size 1 only).
        augment: random flips and quarter turns.
        skip_bad: skip unmatched/unreadable files with a warning instead of failing.
        verify: open every file header before training (cheap; catches broken files early).
        seed: base seed of all per-item generators.
        val_max_images: at most this many validation items, evenly spaced over the sorted list
            (0: all).
        val_multiple: crop validation images down to multiples of this (8 for likelihoods).
        sice_weight: probability that a ``mixed`` item is a real SICE pair.
        length: items per epoch for ``synthetic``/``mixed`` (default: number of photos
            [+ SICE pairs]).
        max_side: synthetic photos are downscaled to this long side on load.
        synth: overrides of :class:`~uptflow.data.synthesis.SynthParams` fields, e.g.
            ``{"jpeg_prob": 0.0}``.
    """

    layout: str = "auto"
    root: str | None = None
    low_dir: str | None = None
    normal_dir: str | None = None
    photo_dirs: tuple[str, ...] = ()
    val_root: str | None = None
    val_layout: str = "auto"
    val_low_dir: str | None = None
    val_normal_dir: str | None = None
    val_photo_dirs: tuple[str, ...] = ()
    crop: int | None = 160
    augment: bool = True
    skip_bad: bool = False
    verify: bool = True
    seed: int = 0
    val_max_images: int = 8
    val_multiple: int = 1
    sice_weight: float = 0.5
    length: int | None = None
    max_side: int | None = 1024
    synth: tuple[tuple[str, Any], ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("root", "low_dir", "normal_dir", "val_root", "val_low_dir", "val_normal_dir"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, str(v))
        for name in ("photo_dirs", "val_photo_dirs"):
            v = getattr(self, name)
            if isinstance(v, (str, Path)):
                v = (v,)
            object.__setattr__(self, name, tuple(str(p) for p in v))
        if isinstance(self.crop, float) and self.crop.is_integer():  # 160.0 from a JSON/YAML float
            object.__setattr__(self, "crop", int(self.crop))
        synth = self.synth
        if isinstance(synth, Mapping):
            synth = tuple(sorted(synth.items()))
        object.__setattr__(self, "synth", tuple((str(k), _freeze(v)) for k, v in synth))
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first inconsistent field."""
        if self.layout not in DATA_LAYOUTS:
            raise ValueError(f"data.layout must be one of {', '.join(DATA_LAYOUTS)}, got {self.layout!r}")
        if self.val_layout not in ("auto",) + LAYOUTS:
            raise ValueError(f"data.val_layout must be auto or one of {', '.join(LAYOUTS)}, got {self.val_layout!r}")
        if self.crop is not None and (isinstance(self.crop, bool) or int(self.crop) != self.crop or self.crop < 1):
            raise ValueError(f"data.crop must be a positive integer or null, got {self.crop!r}")
        if not 0.0 <= float(self.sice_weight) <= 1.0:
            raise ValueError(f"data.sice_weight must lie in [0, 1], got {self.sice_weight}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"data.seed must be an integer in 0 .. 2**63-1, got {self.seed!r}")
        if int(self.val_max_images) < 0:
            raise ValueError(f"data.val_max_images must be >= 0 (0 = all), got {self.val_max_images}")
        if int(self.val_multiple) < 1:
            raise ValueError(f"data.val_multiple must be >= 1, got {self.val_multiple}")
        if self.length is not None and int(self.length) < 1:
            raise ValueError(f"data.length must be >= 1 or null, got {self.length}")
        if self.max_side is not None and int(self.max_side) < 1:
            raise ValueError(f"data.max_side must be >= 1 or null, got {self.max_side}")
        if self.layout in ("synthetic", "mixed") and not self.photo_dirs:
            raise ValueError(f"data.layout {self.layout!r} needs data.photo_dirs (normal-light photos)")
        if self.layout in ("lol", "lolv2", "smid", "sdsd") and self.root is None:
            raise ValueError(f"data.layout {self.layout!r} needs data.root")
        if self.layout in ("auto", "folders") and self.root is None and (self.low_dir is None or self.normal_dir is None):
            raise ValueError(f"data.layout {self.layout!r} needs data.root or both data.low_dir and data.normal_dir")
        if (self.val_low_dir is None) != (self.val_normal_dir is None):
            raise ValueError("data.val_low_dir and data.val_normal_dir must be given together")
        if self.synth:
            self.synth_params()  # unknown fields / bad ranges fail now, not in a worker

    def synth_params(self) -> Any:
        """:class:`~uptflow.data.synthesis.SynthParams` with :attr:`synth` applied."""
        from uptflow.data.synthesis import SynthParams, with_overrides

        try:
            return with_overrides(SynthParams(), **dict(self.synth)) if self.synth else SynthParams()
        except TypeError as e:
            raise ValueError(f"data.synth: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["photo_dirs"] = list(self.photo_dirs)
        d["val_photo_dirs"] = list(self.val_photo_dirs)
        d["synth"] = {k: _thaw(v) for k, v in self.synth}
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DataConfig":
        from uptflow.config import reject_unknown_fields

        reject_unknown_fields(cls, data, "data config")
        return cls(**dict(data))

    def replace(self, **changes: Any) -> "DataConfig":
        return dataclasses.replace(self, **changes)


def evenly_spaced(items: list[Any], k: int) -> list[Any]:
    """``k`` items spread evenly over ``items`` (first and last included); all if ``k`` is 0 or >= len."""
    n = len(items)
    if k <= 0 or k >= n:
        return list(items)
    idx = sorted(set(int(round(x)) for x in np.linspace(0, n - 1, k)))
    return [items[i] for i in idx]


def _path(p: str | None) -> Path | None:
    return Path(p) if p is not None else None


def _checked(records: list[PairRecord], cfg: DataConfig) -> list[PairRecord]:
    return verify_pairs(records, skip_bad=cfg.skip_bad) if cfg.verify else records


def build_val_pairs(cfg: DataConfig) -> list[PairRecord] | None:
    """Validation pairs, or None when the configuration has no paired validation set.

    Order of precedence: ``val_low_dir``/``val_normal_dir``; ``val_root`` (its ``val`` split);
    the held-out split of the training data (LOL eval15, LOL-v2 Test, SICE val scenes — also for
    ``mixed`` — and the SMID/SDSD test scenes).  ``folders`` and ``synthetic`` training data have
    no built-in validation split.  At most ``val_max_images`` pairs, evenly spaced.
    """
    if cfg.val_low_dir is not None:
        recs = discover_pairs(low_dir=cfg.val_low_dir, normal_dir=cfg.val_normal_dir, layout="folders",
                              split="val", skip_bad=cfg.skip_bad)
    elif cfg.val_root is not None:
        recs = discover_pairs(cfg.val_root, layout=cfg.val_layout, split="val", skip_bad=cfg.skip_bad)
    elif cfg.layout in ("synthetic", "folders"):
        return None
    elif cfg.layout == "mixed":
        recs = discover_pairs(_path(cfg.root), layout="sice", split="val", skip_bad=cfg.skip_bad)
    elif cfg.layout == "auto" and (cfg.root is None or cfg.low_dir is not None):
        return None  # two explicit folders: no split
    else:
        layout = cfg.layout
        if layout == "auto":
            from uptflow.data.layouts import detect_layout

            layout = detect_layout(cfg.root)  # type: ignore[arg-type]
            if layout == "folders":
                return None
        recs = discover_pairs(_path(cfg.root), low_dir=cfg.low_dir, normal_dir=cfg.normal_dir,
                              layout=layout, split="val", skip_bad=cfg.skip_bad)
    return _checked(evenly_spaced(recs, int(cfg.val_max_images)), cfg)


def _synthetic(cfg: DataConfig, length: int | None = None) -> Dataset:
    from uptflow.data.synthetic_pairs import SyntheticPairDataset

    return SyntheticPairDataset(list(cfg.photo_dirs), cfg.crop, cfg.augment, cfg.seed, cfg.synth_params(),
                                length=length, max_side=cfg.max_side)


def build_dataset(cfg: DataConfig, split: str = "train") -> Dataset | None:
    """The training (``split="train"``) or validation (``"val"``) dataset of ``cfg``.

    Training: random ``crop`` (+ flips/rotations if ``augment``), items per
    :class:`~uptflow.data.paired.PairedDataset` / ``SyntheticPairDataset`` /
    :class:`~uptflow.data.paired.MixedDataset`.  Validation: whole images, no augmentation, epoch 0,
    from :func:`build_val_pairs`, else from ``val_photo_dirs`` (a fixed synthetic set); ``None``
    when neither exists.  All file problems raise ``ValueError`` here, before training starts.
    """
    if split == "val":
        recs = build_val_pairs(cfg)
        if recs is not None:
            return PairedDataset(recs, crop=None, augment=False, seed=cfg.seed, multiple=cfg.val_multiple)
        if cfg.val_photo_dirs:
            from uptflow.data.synthetic_pairs import SyntheticPairDataset
            from uptflow.io.listing import list_images

            photos = evenly_spaced(list_images(list(cfg.val_photo_dirs), recursive=True), int(cfg.val_max_images))
            return SyntheticPairDataset(photos, None, False, cfg.seed, cfg.synth_params(), max_side=cfg.max_side,
                                        recursive=False, multiple=cfg.val_multiple)
        return None
    if split != "train":
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")

    if cfg.layout == "synthetic":
        return _synthetic(cfg, cfg.length)
    if cfg.layout == "mixed":
        synth = _synthetic(cfg)
        sice = PairedDataset(_checked(discover_pairs(_path(cfg.root), layout="sice", split="train",
                                                     skip_bad=cfg.skip_bad), cfg),
                             crop=cfg.crop, augment=cfg.augment, seed=cfg.seed)
        w = float(cfg.sice_weight)
        return MixedDataset([synth, sice], [1.0 - w, w], length=cfg.length, seed=cfg.seed)
    recs = discover_pairs(_path(cfg.root), low_dir=cfg.low_dir, normal_dir=cfg.normal_dir,
                          layout=cfg.layout, split="train", skip_bad=cfg.skip_bad)
    return PairedDataset(_checked(recs, cfg), crop=cfg.crop, augment=cfg.augment, seed=cfg.seed)
