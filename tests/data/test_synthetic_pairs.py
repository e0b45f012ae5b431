"""SyntheticPairDataset on three real photos, and the synthetic/mixed configurations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from uptflow.data.config import DataConfig, build_dataset
from uptflow.data.paired import MixedDataset, PairedDataset
from uptflow.data.synthetic_pairs import SyntheticPairDataset, downscale_max_side
from uptflow.io.read import read_rgb

PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png")


@pytest.fixture(scope="module")
def photos(shared_dir: Path) -> list[Path]:
    """Three small real photos (skips only when ../shared is absent, via ``shared_dir``)."""
    folder = shared_dir / "data" / "photos" / "skimage"
    return [folder / n for n in PHOTOS]


def test_items_are_darker_aligned_crops(photos: list[Path]) -> None:
    from uptflow.data.synthesis import SynthParams

    # global darkening only: re-lit items (lamps, windows) are tested below
    ds = SyntheticPairDataset(photos, crop=64, augment=True, seed=0, max_side=256, params=SynthParams(global_prob=1.0))
    assert len(ds) == 3
    for i in range(3):
        item = ds[i]
        assert item["low"].shape == item["normal"].shape == (3, 64, 64)
        assert item["low"].dtype == item["normal"].dtype == torch.float32
        assert 0 <= float(item["low"].min()) and float(item["low"].max()) <= 1
        assert float(item["low"].mean()) < 0.6 * float(item["normal"].mean())
        assert float(item["low"].mean()) < 40 / 255
        assert item["name"] == f"skimage_{Path(PHOTOS[i]).stem}"
        # the low side is the same scene: strongly correlated with the normal crop
        lo, no = item["low"].mean(0).flatten(), item["normal"].mean(0).flatten()
        assert float(torch.corrcoef(torch.stack([lo, no]))[0, 1]) > 0.5


def test_default_params_relight_a_share_of_the_items(photos: list[Path]) -> None:
    """With the default SynthParams some items carry lit regions (>= 110/255) and some are
    globally dark: the mix of the illumination model and the global model reaches training."""
    from uptflow.data.synthesis import SynthParams

    ds = SyntheticPairDataset(photos, crop=64, augment=True, seed=0, max_side=256, length=24)
    assert ds.params == SynthParams() and 0.0 < SynthParams().global_prob < 1.0
    luma = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
    lit = [bool(((ds[i]["low"] * luma).sum(0) * 255 >= 110).any()) for i in range(len(ds))]
    assert 0 < sum(lit) < len(lit), lit


def test_determinism_epochs_and_length(photos: list[Path]) -> None:
    a = SyntheticPairDataset(photos, crop=32, augment=True, seed=5, max_side=256, length=7)
    b = SyntheticPairDataset(photos, crop=32, augment=True, seed=5, max_side=256, length=7)
    assert len(a) == 7 and a[4]["name"] == a[1]["name"]  # item i uses photo i % 3
    a.set_epoch(2)
    b.set_epoch(2)
    x = a[1]
    assert torch.equal(x["low"], b[1]["low"]) and torch.equal(x["normal"], b[1]["normal"])
    assert not torch.equal(x["normal"], a[4]["normal"])  # same photo, other crop
    a.set_epoch(3)
    y = a[1]
    assert not torch.equal(x["normal"], y["normal"]) and not torch.equal(x["low"], y["low"])
    a.set_epoch(2)
    assert torch.equal(a[1]["low"], x["low"])


def test_whole_photo_mode_downscales_and_caches(photos: list[Path]) -> None:
    ds = SyntheticPairDataset(photos, crop=None, augment=False, max_side=200, cache_size=2, multiple=8)
    src = read_rgb(photos[2])  # coffee, 400x600
    item = ds[2]
    assert item["normal"].shape == (3, 128, 200)  # 133x200 cropped down to multiples of 8
    assert torch.equal(ds[2]["low"], item["low"])  # fixed validation items
    small = ds.photo(2)
    assert max(small.shape[:2]) == 200
    assert abs(float(small.mean()) - float(src.mean())) < 0.01  # area average keeps brightness
    assert len(ds._cache) <= 2


def test_downscale_keeps_small_images_and_range() -> None:
    x = np.random.default_rng(0).random((30, 50, 3), dtype=np.float32)
    assert downscale_max_side(x, 64) is x
    y = downscale_max_side(x, 10)
    assert y.shape == (6, 10, 3) and y.min() >= 0 and y.max() <= 1


def test_errors(tmp_path: Path, photos: list[Path]) -> None:
    with pytest.raises(ValueError, match="no images found"):
        SyntheticPairDataset([tmp_path], crop=32)
    with pytest.raises(ValueError, match="length"):
        SyntheticPairDataset(photos, crop=32, length=0)


def test_synthetic_and_mixed_configs_with_real_sice(photos: list[Path], shared_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPTFLOW_SHARED", str(shared_dir))  # mixed: SICE frames from the shared setting
    folder = str(photos[0].parent)
    cfg = DataConfig(layout="synthetic", photo_dirs=(folder,), crop=48, length=10, max_side=256,
                     val_photo_dirs=(folder,), val_max_images=2, synth={"jpeg_prob": 0.0})
    train = build_dataset(cfg)
    assert isinstance(train, SyntheticPairDataset) and len(train) == 10
    assert train.params.jpeg_prob == 0.0 and train[0]["low"].shape == (3, 48, 48)
    val = build_dataset(cfg, "val")
    assert isinstance(val, SyntheticPairDataset) and len(val) == 2
    assert val[0]["normal"].shape[1:] == (256, 256)  # astronaut 512 -> 256, whole photo

    mixed = build_dataset(DataConfig(layout="mixed", photo_dirs=(folder,), crop=32, sice_weight=0.5,
                                     length=40, max_side=256))
    assert isinstance(mixed, MixedDataset) and len(mixed) == 40
    names = [mixed[i]["name"] for i in range(40)]
    assert any(n.startswith("sice-") for n in names) and any(n.startswith("skimage_") for n in names)
    sval = build_dataset(DataConfig(layout="mixed", photo_dirs=(folder,), val_max_images=3), "val")
    assert isinstance(sval, PairedDataset) and len(sval) == 3
    assert sval[0]["low"].shape == (3, 512, 512) and sval[0]["name"].startswith("sice-")
