"""PairedDataset / MixedDataset determinism and DataConfig -> datasets, on generated fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import ConcatDataset, DataLoader, Subset

from uptflow.data.config import DataConfig, build_dataset, build_val_pairs, evenly_spaced
from uptflow.data.layouts import discover_pairs
from uptflow.data.paired import MixedDataset, PairedDataset, set_dataset_epoch


def make_lol(root: Path, n_train: int = 4, n_val: int = 3, h: int = 24, w: int = 40) -> Path:
    """LOL-v1 layout whose low image is exactly ``normal // 4`` (so alignment is checkable)."""
    rng = np.random.default_rng(0)
    for sub, n in (("our485", n_train), ("eval15", n_val)):
        (root / sub / "low").mkdir(parents=True)
        (root / sub / "high").mkdir(parents=True)
        for i in range(n):
            normal = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            Image.fromarray(normal).save(root / sub / "high" / f"{sub}{i}.png")
            Image.fromarray(normal // 4).save(root / sub / "low" / f"{sub}{i}.png")
    return root


@pytest.fixture()
def lol(tmp_path: Path) -> Path:
    return make_lol(tmp_path / "LOL")


def test_items_shapes_ranges_and_alignment(lol: Path) -> None:
    ds = PairedDataset(discover_pairs(lol), crop=16, augment=True, seed=1)
    assert len(ds) == 4
    for i in range(len(ds)):
        item = ds[i]
        assert item["low"].shape == item["normal"].shape == (3, 16, 16)
        assert item["low"].dtype == torch.float32
        assert 0.0 <= float(item["normal"].min()) and float(item["normal"].max()) <= 1.0
        assert item["name"] == f"our485{i}"
        # the low crop is exactly the normal crop // 4: same window, same flips
        expect = torch.floor(item["normal"] * 255 / 4 + 1e-4) / 255
        torch.testing.assert_close(item["low"], expect, rtol=0, atol=1e-6)


def test_validation_items_are_whole_images(lol: Path) -> None:
    ds = PairedDataset(discover_pairs(lol, split="val"), crop=None, augment=False)
    item = ds[0]
    ref = np.asarray(Image.open(lol / "eval15/high/eval150.png"), dtype=np.float32) / 255
    torch.testing.assert_close(item["normal"], torch.from_numpy(ref).permute(2, 0, 1))
    assert PairedDataset(discover_pairs(lol, split="val"), multiple=16)[0]["low"].shape == (3, 16, 32)


def test_determinism_across_instances_epochs_and_seeds(lol: Path) -> None:
    recs = discover_pairs(lol)
    a, b = PairedDataset(recs, 12, True, seed=3), PairedDataset(recs, 12, True, seed=3)
    a.set_epoch(5)
    b.set_epoch(5)
    for i in range(len(a)):
        assert torch.equal(a[i]["low"], b[i]["low"]) and torch.equal(a[i]["normal"], b[i]["normal"])
    first = [a[i]["normal"] for i in range(len(a))]
    a.set_epoch(6)
    assert any(not torch.equal(x, a[i]["normal"]) for i, x in enumerate(first))
    c = PairedDataset(recs, 12, True, seed=4)
    c.set_epoch(5)
    assert any(not torch.equal(x, c[i]["normal"]) for i, x in enumerate(first))
    a.set_epoch(5)  # back to epoch 5: bit-exact again (resume)
    assert all(torch.equal(x, a[i]["normal"]) for i, x in enumerate(first))
    assert torch.equal(a[-1]["normal"], a[len(a) - 1]["normal"])
    with pytest.raises(IndexError):
        a[len(a)]


def test_global_rng_state_is_not_used_or_changed(lol: Path) -> None:
    ds = PairedDataset(discover_pairs(lol), 12, True)
    np.random.seed(0)
    torch.manual_seed(0)
    x = ds[1]["low"]
    state_np, state_t = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    np.random.seed(123)
    torch.manual_seed(123)
    assert torch.equal(ds[1]["low"], x)
    np.random.seed(0)
    torch.manual_seed(0)
    ds[2]
    assert np.array_equal(np.random.get_state()[1], state_np) and torch.equal(torch.get_rng_state(), state_t)


def test_dataloader_workers_match_main_process(lol: Path) -> None:
    ds = PairedDataset(discover_pairs(lol), 8, True, seed=2)
    ds.set_epoch(1)
    main = next(iter(DataLoader(ds, batch_size=4, num_workers=0)))
    worker = next(iter(DataLoader(ds, batch_size=4, num_workers=1)))
    assert main["low"].shape == (4, 3, 8, 8)
    assert torch.equal(main["low"], worker["low"]) and main["name"] == worker["name"]


def test_set_dataset_epoch_reaches_nested_datasets(lol: Path) -> None:
    a = PairedDataset(discover_pairs(lol), 8, True)
    b = PairedDataset(discover_pairs(lol, split="val"), 8, True)
    mixed = MixedDataset([a, b], [0.5, 0.5], length=6)
    wrapped = ConcatDataset([Subset(mixed, [0, 1]), b])
    set_dataset_epoch(wrapped, 7)
    assert a.epoch == b.epoch == mixed.epoch == 7
    with pytest.raises(ValueError, match="epoch"):
        a.set_epoch(-1)


def test_mixed_dataset_weights_and_determinism(lol: Path) -> None:
    a = PairedDataset(discover_pairs(lol), 8, True)
    b = PairedDataset(discover_pairs(lol, split="val"), 8, True)
    only_b = MixedDataset([a, b], [0.0, 1.0], length=10, seed=1)
    assert all(only_b[i]["name"].startswith("eval15") for i in range(10))
    m1, m2 = MixedDataset([a, b], [1, 1], length=20, seed=1), MixedDataset([a, b], [1, 1], length=20, seed=1)
    names = [m1[i]["name"] for i in range(20)]
    assert names == [m2[i]["name"] for i in range(20)]
    assert {n[:6] for n in names} == {"our485", "eval15"}
    assert torch.equal(m1[3]["low"], m2[3]["low"])
    assert len(MixedDataset([a, b], [1, 1])) == len(a) + len(b)
    with pytest.raises(ValueError, match="weights"):
        MixedDataset([a, b], [0, 0])
    with pytest.raises(ValueError, match="2 datasets"):
        MixedDataset([a, b], [1.0])


def test_constructor_errors(lol: Path) -> None:
    recs = discover_pairs(lol)
    with pytest.raises(ValueError, match="at least one"):
        PairedDataset([], 8, True)
    with pytest.raises(ValueError, match="crop"):
        PairedDataset(recs, 0, True)
    with pytest.raises(ValueError, match="seed"):
        PairedDataset(recs, 8, True, seed=-1)
    with pytest.raises(TypeError, match="PairRecord"):
        PairedDataset(["a.png"], 8, True)  # type: ignore[list-item]


def test_size_mismatch_at_load_names_both_files(tmp_path: Path) -> None:
    (tmp_path / "low").mkdir()
    (tmp_path / "high").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "low/a.png")
    Image.new("RGB", (9, 8)).save(tmp_path / "high/a.png")
    ds = PairedDataset(discover_pairs(tmp_path, layout="folders"), 4, False)
    with pytest.raises(ValueError, match=r"low/a\.png.*high/a\.png.*differ in size"):
        ds[0]


# --------------------------------------------------------------------------- DataConfig
def test_data_config_round_trip_and_validation() -> None:
    cfg = DataConfig(layout="synthetic", photo_dirs=["a", "b"], synth={"jpeg_prob": 0.0}, crop=96)
    assert cfg.photo_dirs == ("a", "b") and cfg.synth == (("jpeg_prob", 0.0),)
    d = cfg.to_dict()
    assert d["photo_dirs"] == ["a", "b"] and d["synth"] == {"jpeg_prob": 0.0}
    assert DataConfig.from_dict(d) == cfg
    assert hash(cfg) == hash(DataConfig.from_dict(d))
    assert cfg.synth_params().jpeg_prob == 0.0
    with pytest.raises(ValueError, match="unknown data config field"):
        DataConfig.from_dict({"layuot": "lol"})
    with pytest.raises(ValueError, match="layout"):
        DataConfig(layout="coco", root="x")
    with pytest.raises(ValueError, match="photo_dirs"):
        DataConfig(layout="synthetic")
    with pytest.raises(ValueError, match="needs data.root"):
        DataConfig(layout="lol")
    with pytest.raises(ValueError, match="crop"):
        DataConfig(root="x", crop=0)
    with pytest.raises(ValueError, match="sice_weight"):
        DataConfig(layout="mixed", photo_dirs=("a",), sice_weight=1.5)
    with pytest.raises(ValueError, match="data.synth"):
        DataConfig(layout="synthetic", photo_dirs=("a",), synth={"brightnes": 0.1})


def test_build_dataset_from_lol_config(lol: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(lol.parent)  # paths in configs are relative to the current directory
    cfg = DataConfig(root="LOL", crop=16, val_max_images=2, val_multiple=8)
    train = build_dataset(cfg, "train")
    assert isinstance(train, PairedDataset) and len(train) == 4 and train[0]["low"].shape == (3, 16, 16)
    val_pairs = build_val_pairs(cfg)
    assert val_pairs is not None and [r.name for r in val_pairs] == ["eval150", "eval152"]
    val = build_dataset(cfg, "val")
    assert val is not None and len(val) == 2 and val[0]["low"].shape == (3, 24, 40)
    assert torch.equal(val[1]["low"], val[1]["low"])
    with pytest.raises(ValueError, match="split"):
        build_dataset(cfg, "test")


def test_build_val_explicit_folders_and_none(lol: Path) -> None:
    cfg = DataConfig(layout="folders", low_dir=str(lol / "our485/low"), normal_dir=str(lol / "our485/high"))
    assert build_val_pairs(cfg) is None and build_dataset(cfg, "val") is None
    cfg = cfg.replace(val_low_dir=str(lol / "eval15/low"), val_normal_dir=str(lol / "eval15/high"), val_max_images=0)
    assert len(build_val_pairs(cfg) or []) == 3
    cfg = DataConfig(layout="folders", low_dir="our485/low", normal_dir="our485/high", root=str(lol),
                     val_root=str(lol), val_max_images=1)
    assert [r.name for r in build_val_pairs(cfg) or []] == ["eval150"]


def test_build_dataset_reports_bad_files_before_training(lol: Path) -> None:
    (lol / "our485/high/our4851.png").write_bytes(b"\x89PNG broken")
    cfg = DataConfig(root=str(lol), crop=8)
    with pytest.raises(ValueError, match="our4851.png"):
        build_dataset(cfg)
    assert len(build_dataset(cfg.replace(skip_bad=True))) == 3


def test_evenly_spaced() -> None:
    assert evenly_spaced(list(range(10)), 3) == [0, 4, 9]  # round(4.5) -> 4 (banker's rounding)
    assert evenly_spaced([1, 2], 5) == [1, 2] and evenly_spaced([1, 2, 3], 0) == [1, 2, 3]
