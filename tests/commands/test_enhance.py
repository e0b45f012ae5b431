"""``uptflow enhance`` / ``uptflow sample`` driven through the real CLI on real low-light images."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from uptflow.inference import models as reg
from uptflow.cli import main
from uptflow.io.read import load_image

REPO = Path(__file__).resolve().parents[2]
LOL = REPO.parent / "shared" / "data" / "lowlight_real" / "lol_eval15_low_400x600"
SUMMARY = re.compile(r"^enhanced (\d+) images?(, \d+ samples each)?( \((\d+) failed\))? in [\d.]+ s -> (.+)$")


@pytest.fixture(scope="module")
def lol_dir(tmp_path_factory) -> Path:
    """The three real 400x600 LOL captures, downscaled to 75x50 to keep the tests fast."""
    if not LOL.is_dir():
        pytest.skip("../shared (reference data) is not beside the repository")
    out = tmp_path_factory.mktemp("lol")
    for p in sorted(LOL.glob("*.png")):
        Image.open(p).convert("RGB").resize((75, 50), Image.BICUBIC).save(out / p.name)
    return out


def run_cli(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


def one_error_line(err: str, command: str = "enhance") -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"uptflow {command}: error: "), lines[0]
    return lines[0]


def test_enhance_a_folder_of_real_images(capsys, tiny, lol_dir, tmp_path):
    code, out, err = run_cli(capsys, "enhance", lol_dir, "-o", tmp_path / "out", "--model", tiny)
    assert code == 0, err
    m = SUMMARY.match(out.strip().splitlines()[-1])
    assert m and m.group(1) == "3" and m.group(3) is None
    for src in lol_dir.glob("*.png"):
        res = load_image(tmp_path / "out" / src.name)
        assert res.rgb.shape == (50, 75, 3) and res.bit_depth == 8
        assert np.isfinite(res.rgb).all()


def test_suffix_format_and_glob(capsys, tiny, lol_dir, tmp_path):
    code, out, err = run_cli(capsys, "enhance", str(lol_dir / "[12]*.png"), "-o", tmp_path, "--model", tiny,
                             "--suffix", "_enh", "--format", "jpg", "--quality", "90")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1_enh.jpg", "22_enh.jpg"]
    assert Image.open(tmp_path / "1_enh.jpg").format == "JPEG"


def test_same_output_as_the_python_api(capsys, tiny, lol_dir, tmp_path):
    import uptflow

    code, _, err = run_cli(capsys, "enhance", lol_dir / "1.png", "-o", tmp_path, "--model", tiny)
    assert code == 0, err
    api_out = np.asarray(uptflow.enhance(lol_dir / "1.png", model=tiny, device="cpu"))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "1.png")), api_out)


def test_samples_with_a_seed_are_reproducible(capsys, tiny, lol_dir, tmp_path):
    args = ["enhance", lol_dir / "22.png", "--model", tiny, "--temperature", "0.7", "--samples", "2", "--seed", "4"]
    assert run_cli(capsys, *args, "-o", tmp_path / "a")[0] == 0
    assert run_cli(capsys, *args, "-o", tmp_path / "b")[0] == 0
    a0, a1 = (np.asarray(Image.open(tmp_path / "a" / f"22_s{i}.png")) for i in (0, 1))
    assert not np.array_equal(a0, a1)
    assert np.array_equal(a0, np.asarray(Image.open(tmp_path / "b" / "22_s0.png")))


def test_sample_command_defaults_and_printed_seed(capsys, tiny, lol_dir, tmp_path):
    code, out, err = run_cli(capsys, "sample", "--low", lol_dir / "780.png", "-o", tmp_path, "--model", tiny,
                             "--samples", "2")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["780_s0.png", "780_s1.png"]
    assert re.search(r"--seed \d+", err)  # so the result can be reproduced
    assert "2 samples each" in out


def test_tiled_cli_run_matches_the_image_size(capsys, tiny, tmp_path):
    if not LOL.is_dir():
        pytest.skip("../shared (reference data) is not beside the repository")
    src = tmp_path / "in" / "big.png"
    src.parent.mkdir()
    Image.open(LOL / "780.png").convert("RGB").resize((200, 150), Image.BICUBIC).save(src)
    code, _, err = run_cli(capsys, "enhance", src, "-o", tmp_path / "out", "--model", tiny,
                           "--tile", "64", "--overlap", "16")
    assert code == 0, err
    out = load_image(tmp_path / "out" / "big.png").rgb
    assert out.shape == (150, 200, 3) and np.isfinite(out).all()
    code, _, err = run_cli(capsys, "enhance", src, "-o", tmp_path / "fast", "--model", tiny,
                           "--tile", "64", "--overlap", "16", "--tile-refine", "0")
    assert code == 0, err
    fast = load_image(tmp_path / "fast" / "big.png").rgb
    assert fast.shape == out.shape and not np.array_equal(fast, out)  # the option reaches the tiler


def test_tile_refine_default_is_the_library_default():
    import argparse

    from uptflow.commands.enhance import add_common_arguments
    from uptflow.inference.shared_stats import DEFAULT_REFINE

    p = argparse.ArgumentParser()
    add_common_arguments(p, temperature=0.0, samples=1)
    assert p.parse_args(["-o", "x"]).tile_refine == DEFAULT_REFINE


def test_output_path_that_is_a_file(capsys, tiny, lol_dir, tmp_path):
    target = tmp_path / "a_file.txt"
    target.write_text("x")
    code, _, err = run_cli(capsys, "enhance", lol_dir, "-o", target, "--model", tiny)
    assert code == 1
    assert "not a folder" in one_error_line(err)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permissions")
def test_output_folder_without_write_permission(capsys, tiny, lol_dir, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        code, _, err = run_cli(capsys, "enhance", lol_dir, "-o", locked, "--model", tiny)
    finally:
        locked.chmod(0o700)
    assert code == 1 and "permission denied" in one_error_line(err)


def test_output_would_overwrite_input(capsys, tiny, lol_dir, tmp_path):
    work = tmp_path / "w"
    shutil.copytree(lol_dir, work)
    before = (work / "1.png").read_bytes()
    code, out, err = run_cli(capsys, "enhance", work / "1.png", "-o", work, "--model", tiny)
    assert code == 1 and "would overwrite the input" in err
    assert (work / "1.png").read_bytes() == before


@pytest.mark.parametrize("extra, text", [
    (["--temperature", "-1"], "temperature"),
    (["--temperature", "inf"], "temperature"),
    (["--tile", "32"], "tile must be >= 64"),
    (["--tile", "64", "--overlap", "64"], "overlap"),
    (["--overlap", "-2"], "overlap"),
    (["--tile-refine", "-1"], "tile refinement passes"),
    (["--samples", "3"], "needs --temperature > 0"),
    (["--quality", "0"], "quality"),
    (["--device", "tpu"], "device"),
])
def test_bad_option_values(capsys, tiny, lol_dir, tmp_path, extra, text):
    code, _, err = run_cli(capsys, "enhance", lol_dir, "-o", tmp_path, "--model", tiny, *extra)
    assert code == 1
    assert text in one_error_line(err)
    assert not any(tmp_path.iterdir())  # failed before doing any work


@pytest.mark.parametrize("command", ["enhance", "sample"])
@pytest.mark.parametrize("extra, text", [
    (["--samples", "0"], "samples must be 1 .. 1000, got 0"),
    (["--samples", str(10**9)], "samples must be 1 .. 1000"),
    (["--seed", "-1"], "seed must be in 0 .. 2**63-1"),
    (["--seed", str(2**64)], "seed must be in 0 .. 2**63-1"),
    (["--seed", str(2**63)], "seed must be in 0 .. 2**63-1"),
    (["--seed", "1.5"], "seed must be an integer"),
])
def test_out_of_range_numbers_are_refused_by_the_parser(capsys, tmp_path, command, extra, text):
    """--seed 2**64 used to reach torch ("Overflow when unpacking long long"); now argparse refuses
    it: exit 2 and a one-line error after the usage, before any work."""
    with pytest.raises(SystemExit) as ei:
        main([command, str(tmp_path), "-o", str(tmp_path / "o"), "--model", "tiny", *extra])
    _, err = capsys.readouterr()
    assert ei.value.code == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"uptflow {command}: error: argument") and text in last, err
    assert "Traceback" not in err and not (tmp_path / "o").exists()


def test_largest_seed_is_accepted(capsys, tiny, tmp_path):
    Image.new("RGB", (20, 12), (30, 20, 10)).save(tmp_path / "1.png")
    code, _, err = run_cli(capsys, "enhance", tmp_path / "1.png", "-o", tmp_path / "o", "--model", tiny,
                           "--temperature", "0.5", "--samples", "2", "--seed", str(2**63 - 1))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["1_s0.png", "1_s1.png"]


def test_model_problems(capsys, lol_dir, tmp_path, monkeypatch):
    code, _, err = run_cli(capsys, "enhance", lol_dir, "-o", tmp_path, "--model", tmp_path / "none.safetensors")
    assert code == 1 and "model file not found" in one_error_line(err)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    code, _, err = run_cli(capsys, "enhance", lol_dir, "-o", tmp_path / "o", "--model", junk)
    assert code == 1 and "junk.safetensors" in one_error_line(err)
    monkeypatch.setattr(reg, "BUNDLED_MODEL", tmp_path / "absent.safetensors")
    code, _, err = run_cli(capsys, "enhance", lol_dir, "-o", tmp_path / "o")
    assert code == 1 and "bundled model" in one_error_line(err) and "is missing" in one_error_line(err)


def test_preset_model_warns(capsys, lol_dir, tmp_path):
    reg.clear_cache()
    code, _, err = run_cli(capsys, "enhance", lol_dir / "1.png", "-o", tmp_path, "--model", "tiny")
    assert code == 0 and "RANDOM weights: output is not an enhancement" in err


def test_missing_input(capsys, tiny, tmp_path):
    code, _, err = run_cli(capsys, "enhance", tmp_path / "nope.png", "-o", tmp_path / "o", "--model", tiny)
    assert code == 1 and "no such file or folder" in one_error_line(err)


@pytest.mark.parametrize("command", ["enhance", "sample", "evaluate", "likelihood"])
def test_help(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert f"usage: uptflow {command}" in capsys.readouterr().out


def test_console_script_entry_point(tiny, lol_dir, tmp_path):
    """The installed ``uptflow`` script (one subprocess): a good image is enhanced, a bad one skipped."""
    exe = Path(sys.executable).parent / "uptflow"
    exe = str(exe) if exe.exists() else shutil.which("uptflow")
    if exe is None:
        pytest.skip("the uptflow console script is not installed")
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(lol_dir / "1.png", src / "1.png")
    (src / "broken.jpg").write_bytes(b"not a jpeg")
    proc = subprocess.run([exe, "enhance", str(src), "-o", str(tmp_path / "out"), "--model", str(tiny), "-q"],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})  # tiny work: threads only add overhead
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"uptflow enhance: skipped {src / 'broken.jpg'}: "
                                                "not an image (unrecognised file format)"]
    m = SUMMARY.match(proc.stdout.strip())
    assert m and m.group(1) == "1" and m.group(4) == "1"
    assert load_image(tmp_path / "out" / "1.png").rgb.shape == (50, 75, 3)
