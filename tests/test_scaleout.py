"""``uptflow.scaleout``: sharding (exactly once, balanced, deterministic) and torchrun runs of
``uptflow enhance`` / ``uptflow evaluate --model`` equal to one process."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from uptflow.scaleout import Share, file_pixels, shard

REPO = Path(__file__).resolve().parents[1]


def _loads(weights, parts):
    return [sum(weights[i] for i in p) for p in parts]


@pytest.mark.parametrize("world", [1, 2, 3, 5])
def test_every_index_exactly_once_in_order(world):
    rng = np.random.default_rng(world)
    weights = [int(v) for v in rng.integers(1, 10_000, size=23)]
    parts = shard(weights, world)
    assert len(parts) == world
    assert sorted(i for p in parts for i in p) == list(range(23))
    assert all(p == sorted(p) for p in parts)


def test_deterministic_and_ties_broken_by_index():
    weights = [5, 5, 5, 5, 1, 1]
    assert shard(weights, 2) == shard(list(weights), 2) == [[0, 2, 4], [1, 3, 5]]


def test_balanced_by_pixels_not_by_count():
    # one huge image and nine small ones: a count split (5/5) would put the big one with 4 more
    weights = [9_000_000] + [1_000_000] * 9
    loads = _loads(weights, shard(weights, 2))
    assert sorted(loads) == [9_000_000, 9_000_000]


def test_within_four_thirds_of_the_optimum():
    rng = np.random.default_rng(0)
    for trial in range(20):
        weights = [int(v) for v in rng.integers(1, 100, size=8)]
        world = 3
        best = min(max(_loads(weights, [[i for i in range(8) if a[i] == r] for r in range(world)]))
                   for a in itertools.product(range(world), repeat=8))
        assert max(_loads(weights, shard(weights, world))) <= 4 / 3 * best + 1e-9


def test_more_ranks_than_items_gives_empty_shares_and_a_note(capsys):
    parts = shard([3, 1], 4)
    assert parts[0] == [0] and parts[1] == [1] and parts[2:] == [[], []]
    share = Share(rank=3, world_size=4)
    assert share.take(["a", "b"], [3, 1], "uptflow enhance") == []
    assert capsys.readouterr().err == "uptflow enhance: rank 3 of 4 has nothing to work on (2 input(s) for 4 ranks)\n"


def test_single_process_share_is_the_identity():
    share = Share()
    assert share.take(list("abc")) == [0, 1, 2]
    assert share.total(2, 3) == (2, 3)
    assert share.gather("x") == ["x"]


def test_cpu_threads_are_a_share_of_the_cores(monkeypatch):
    monkeypatch.delenv("UPTFLOW_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert Share(rank=0, world_size=8, local_world=4).cpu_threads() == 4
    assert Share(rank=0, world_size=64, local_world=32).cpu_threads() == 1
    monkeypatch.setenv("UPTFLOW_THREADS", "3")
    assert Share(rank=0, world_size=8, local_world=4).cpu_threads() == 3


def test_file_pixels_reads_the_header(tmp_path: Path):
    Image.fromarray(np.zeros((37, 53, 3), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "b.bin").write_bytes(b"x" * 300)
    assert file_pixels(tmp_path / "a.png") == 37 * 53
    assert file_pixels(tmp_path / "b.bin") == 100  # not an image: bytes / 3
    assert file_pixels(tmp_path / "missing.png") == 1


# -- torchrun ------------------------------------------------------------------------------------
def _run(args: list[str], nproc: int, tmp: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1", UPTFLOW_THREADS="1")
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    if nproc == 1:
        cmd = [sys.executable, "-m", "uptflow", *args]
    else:  # what `torchrun --nproc_per_node=N` runs; --standalone picks a free port
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "uptflow", *args]
    return subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scaleout_in")
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(37, 53), (64, 48), (21, 90), (50, 50), (17, 33)]):
        Image.fromarray((rng.random((h, w, 3)) * 80).astype(np.uint8)).save(folder / f"img{i}.png")
    return folder


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from uptflow.inference import models as reg
    from uptflow.checkpoints import save_model

    path = tmp_path_factory.mktemp("scaleout_model") / "tiny.safetensors"
    save_model(reg.random_model("tiny", seed=0), path)
    return path


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.slow  # three Python processes importing torch
def test_torchrun_enhance_writes_the_files_of_one_process(images: Path, tiny_model: Path, tmp_path: Path):
    one = _run(["enhance", str(images), "-o", str(tmp_path / "one"), "--model", str(tiny_model), "-q"], 1, tmp_path)
    two = _run(["enhance", str(images), "-o", str(tmp_path / "two"), "--model", str(tiny_model), "-q"], 2, tmp_path)
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    ref = _files(tmp_path / "one")
    assert len(ref) == 5 and _files(tmp_path / "two") == ref
    assert two.stdout.count("enhanced 5 images") == 1  # rank 0 reports the whole job once


@pytest.mark.slow  # three Python processes importing torch
def test_torchrun_failure_on_any_rank_fails_the_job(images: Path, tiny_model: Path, tmp_path: Path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.png").write_bytes((images / "img0.png").read_bytes())
    (src / "broken.png").write_bytes(b"not an image")
    res = _run(["enhance", str(src), "-o", str(tmp_path / "out"), "--model", str(tiny_model), "-q"], 3, tmp_path)
    assert res.returncode != 0
    assert "enhanced 1 image (1 failed)" in res.stdout
    assert "rank 2 of 3 has nothing to work on (2 input(s) for 3 ranks)" in res.stderr
    assert "skipped" in res.stderr and "broken.png" in res.stderr
    assert _files(tmp_path / "out").keys() == {"a.png"}


@pytest.mark.slow  # three Python processes importing torch
def test_torchrun_evaluate_reports_like_one_process(images: Path, tiny_model: Path, tmp_path: Path):
    args = ["evaluate", "--model", str(tiny_model), "--low-dir", str(images), "--normal-dir", str(images),
            "--no-lpips"]
    one = _run([*args, "--out", str(tmp_path / "one")], 1, tmp_path)
    two = _run([*args, "--out", str(tmp_path / "two")], 2, tmp_path)
    assert one.returncode == 0 and two.returncode == 0, two.stderr
    assert (tmp_path / "one/metrics.csv").read_bytes() == (tmp_path / "two/metrics.csv").read_bytes()
    assert one.stdout.replace("/one/", "/two/") == two.stdout
