"""DDP: 2 gloo processes under torchrun train exactly what one process with the same global batch does."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from uptflow.cli import main
from uptflow.training.checkpointing import load_checkpoint


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _args(low: Path, normal: Path, out: Path) -> list[str]:
    return ["train", "--preset", "tiny", "--low-dir", str(low), "--normal-dir", str(normal), "--iters", "3",
            "--batch-size", "4", "--crop", "32", "--out", str(out), "--device", "cpu", "--workers", "0",
            "--log-every", "1", "--val-every", "0", "--no-progress", "--set", "schedule.warmup_iters=1",
            "--set", "data.verify=false"]


@pytest.mark.slow
def test_two_gloo_processes_match_one(pair_dirs, tmp_path: Path) -> None:
    low, normal = pair_dirs
    # Same thread count as each DDP worker: a different count changes float summation order, and
    # Adam turns rounding noise in the near-zero gradients of freshly initialised ActNorm biases
    # into +-lr steps -- a difference of arithmetic, not of what is trained.
    torch.set_num_threads(1)
    assert main(_args(low, normal, tmp_path / "single")) == 0

    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
           f"--master_addr=127.0.0.1", f"--master_port={_free_port()}", "-m", "uptflow.cli",
           *_args(low, normal, tmp_path / "ddp")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("trained 3 iterations") == 1  # only rank 0 reports

    one = load_checkpoint(tmp_path / "single" / "last.pt")
    two = load_checkpoint(tmp_path / "ddp" / "last.pt")
    assert one["iteration"] == two["iteration"] == 3
    floats = [k for k, v in one["model"].items() if v.is_floating_point()]
    for k, a in one["model"].items():
        if k not in floats:
            assert torch.equal(a, two["model"][k]), k
    va = torch.cat([one["model"][k].flatten() for k in floats])
    vb = torch.cat([two["model"][k].flatten() for k in floats])
    assert float((va - vb).norm() / va.norm()) < 2e-5
    # Adam maps rounding noise in exactly-zero-expected gradients (zero-initialised coupling
    # outputs, ActNorm right after its data init) to +-lr steps, so a few elements may differ
    # by ~lr; all but 0.1 % agree to 1e-5.
    assert float((va - vb).abs().gt(1e-5).float().mean()) < 1e-3
    lines_one = (tmp_path / "single" / "metrics.jsonl").read_text().splitlines()
    lines_two = (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()
    assert len(lines_one) == len(lines_two) == 3  # rank 0 writes alone
    # Same loss at every step: same samples and noise.  To 1e-5 relative, not bit for bit: oneDNN's
    # channels-last convolutions (train.channels_last, on by default on CPU) sum in an order that depends
    # on the batch size, which is 2 here and 1 per rank there (4e-6 seen).
    for x, y in zip(lines_one, lines_two):
        assert abs(json.loads(x)["nll"] - json.loads(y)["nll"]) < 1e-5 * abs(json.loads(x)["nll"])
