"""Argument checks that turn user mistakes into one-line ``ValueError``/``TypeError``s.

Deep inside the network a wrong channel count surfaces as an obscure conv shape error; these
checks run at the API boundary and name the argument and the problem instead.  The ``*_arg``
functions are ``argparse`` types: a bad value is refused while the command line is parsed (one
line, exit 2) rather than deep inside torch ("Overflow when unpacking long long" for
``--seed 2**64``).  torch is imported lazily so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import torch

#: Largest accepted seed.  torch generators take unsigned 64-bit seeds and sample ``i`` of a call
#: uses ``seed + i``, so seeds stay below 2**63 to leave room for the sample index.
MAX_SEED = 2**63 - 1
#: Largest ``--samples``: each sample is a full enhancement and an output file; a typo such as
#: ``-n 1000000`` would otherwise plan a million outputs before the first is written.
MAX_SAMPLES = 1000


def check_seed(seed: object, name: str = "seed") -> int:
    """Return ``seed`` if it is an integer in ``0 .. MAX_SEED``, else raise a one-line error."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"{name} must be an integer, got {type(seed).__name__}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{name} must be in 0 .. 2**63-1 ({MAX_SEED}), got {seed}")
    return seed


def int_arg(low: int, high: int | None = None, what: str = "value") -> Callable[[str], int]:
    """An ``argparse`` type: an integer in ``low .. high`` (``high=None``: no upper bound)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            upper = f" .. {high}" if high is not None else " or more"
            raise argparse.ArgumentTypeError(f"{what} must be {low}{upper}, got {value}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


def seed_arg(text: str) -> int:
    """``argparse`` type for ``--seed``: an integer in ``0 .. 2**63-1``."""
    try:
        return check_seed(int(text))
    except (TypeError, ValueError) as err:
        msg = str(err) if "must be in" in str(err) else f"seed must be an integer, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def check_image(x: object, name: str, *, channels: int = 3, multiple: int | None = None,
                finite: bool = True) -> torch.Tensor:
    """Validate a (B, C, H, W) floating tensor; return it unchanged.

    Raises ``TypeError`` for non-tensors / non-float dtypes and ``ValueError`` for wrong rank,
    channel count, empty or non-finite tensors and (if ``multiple``) sizes that are not
    multiples of ``multiple``.
    """
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, {channels}, H, W), got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor with values in [0, 1], got dtype {x.dtype}")
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape (B, {channels}, H, W), got {tuple(x.shape)}")
    if x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels, got {x.shape[1]} (shape {tuple(x.shape)})")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)})")
    if multiple is not None and (x.shape[2] % multiple or x.shape[3] % multiple):
        raise ValueError(f"{name} height and width must be multiples of {multiple}, got {x.shape[2]}x{x.shape[3]}"
                         " (use enhance(), which pads, or pad the image yourself)")
    if finite and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def check_same_size(a: "torch.Tensor", b: "torch.Tensor", name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` share batch size and spatial size."""
    if a.shape[0] != b.shape[0] or a.shape[2:] != b.shape[2:]:
        raise ValueError(f"{name_a} {tuple(a.shape)} and {name_b} {tuple(b.shape)} must have the same batch and spatial size")

