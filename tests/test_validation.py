"""uptflow.validation parser types: out-of-range numbers are refused while parsing."""

from __future__ import annotations

import argparse

import pytest
import torch

from uptflow.validation import MAX_SEED, check_seed, int_arg, seed_arg


@pytest.mark.parametrize("text", ["-1", str(2**63), str(2**64), "1.5", "abc", "", "1e3"])
def test_bad_seeds(text):
    with pytest.raises(argparse.ArgumentTypeError, match="seed must be"):
        seed_arg(text)


def test_largest_seed_works_in_torch_for_every_sample():
    assert seed_arg(str(MAX_SEED)) == MAX_SEED
    for i in range(1000):  # sample i uses seed + i
        if i in (0, 999):
            torch.Generator().manual_seed(MAX_SEED + i)
    with pytest.raises(TypeError):
        check_seed(True)
    with pytest.raises(ValueError):
        check_seed(-1)


def test_int_arg():
    parse = int_arg(1, 10, "samples")
    assert parse("10") == 10
    for bad in ("0", "11", "x"):
        with pytest.raises(argparse.ArgumentTypeError, match="samples must be"):
            parse(bad)
    assert int_arg(0)("123456") == 123456
