"""``uptflow convert`` and ``uptflow info``: a training checkpoint becomes a self-describing
safetensors file (config + training record + extra metadata) that loads to the same weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pair_files import write_synthetic_pairs
from uptflow.checkpoints import load_model, read_metadata
from uptflow.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-iteration ``tiny`` training run on two generated pairs (no data outside the repository)."""
    root = tmp_path_factory.mktemp("convert")
    low, normal = write_synthetic_pairs(root, count=2, side=48)
    run = root / "run"
    assert main(["train", "--low-dir", str(low), "--normal-dir", str(normal), "--preset", "tiny", "--iters", "2",
                 "--batch-size", "1", "--crop", "32", "--out", str(run), "--no-progress"]) == 0
    return run


def test_convert_training_checkpoint_records_run_and_meta(run_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "m.safetensors"
    rc = main(["convert", str(run_dir / "last.pt"), str(out), "--meta", 'benchmark={"kodak24_psnr": 1.5}',
               "--meta", "note=hello"])
    assert rc == 0 and out.is_file()
    meta = read_metadata(out)
    assert meta["training"]["iteration"] == 2
    assert meta["training"]["run_config"]["data"]["crop"] == 32
    assert meta["training"]["weights"] == {"kind": "last step"}  # no EMA in this run
    assert meta["benchmark"] == {"kodak24_psnr": 1.5} and meta["note"] == "hello"
    a, b = load_model(run_dir / "last.pt"), load_model(out)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)

    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["training"]["iteration"] == 2 and info["config"]["width"] == 8


def test_convert_of_an_ema_run_records_and_takes_the_average(tmp_path: Path) -> None:
    low, normal = write_synthetic_pairs(tmp_path, count=2, side=48)
    run = tmp_path / "run"
    assert main(["train", "--low-dir", str(low), "--normal-dir", str(normal), "--preset", "tiny", "--iters", "3",
                 "--batch-size", "1", "--crop", "32", "--out", str(run), "--no-progress",
                 "--set", "train.ema_decay=0.5"]) == 0
    out = tmp_path / "m.safetensors"
    assert main(["convert", str(run / "last.pt"), str(out)]) == 0
    assert read_metadata(out)["training"]["weights"] == {"kind": "ema", "decay": 0.5, "updates": 3}
    ckpt = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    model = load_model(out)
    for key, value in model.state_dict().items():
        assert torch.equal(value, ckpt["params_ema"][key].float()), key


def test_convert_records_a_json_file_given_as_at_file(run_dir: Path, tmp_path: Path, capsys) -> None:
    record = {"highlights": "off", "kodak24": {"psnr": 22.1432, "ssim": 0.8045}}
    (tmp_path / "q.json").write_text(json.dumps(record))
    out = tmp_path / "m.safetensors"
    assert main(["convert", str(run_dir / "last.pt"), str(out), "--meta", f"benchmark=@{tmp_path / 'q.json'}"]) == 0
    assert read_metadata(out)["benchmark"] == record
    for bad, words in (("missing.json", "cannot read"), ("bad.json", "is not JSON")):
        (tmp_path / "bad.json").write_text("{not json")
        rc = main(["convert", str(run_dir / "last.pt"), str(tmp_path / "n.safetensors"), "--meta",
                   f"benchmark=@{tmp_path / bad}"])
        err = capsys.readouterr().err
        assert rc != 0 and words in err and "Traceback" not in err and err.count("\n") == 1
        assert not (tmp_path / "n.safetensors").exists()


def test_convert_rejects_malformed_meta_in_one_line(run_dir: Path, tmp_path: Path, capsys) -> None:
    rc = main(["convert", str(run_dir / "last.pt"), str(tmp_path / "m.safetensors"), "--meta", "no-equals-sign"])
    err = capsys.readouterr().err
    assert rc != 0 and "KEY=JSON" in err and "Traceback" not in err and err.count("\n") == 1
