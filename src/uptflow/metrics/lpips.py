"""LPIPS v0.1 with the AlexNet backbone (Zhang et al. 2018), re-implemented without torchvision.

This is the real metric, not an approximation: the ImageNet AlexNet conv weights and the v0.1
linear heads are loaded from two safetensors files, and the forward pass follows the ``lpips``
package (0.1.4) exactly:

1. inputs in [0, 1] are mapped to [-1, 1] (``2x - 1``, what ``lpips.im2tensor`` produces),
2. scaling layer ``(x - shift) / scale`` with shift ``[-.030, -.088, -.188]`` and scale
   ``[.458, .448, .450]``,
3. AlexNet ``features`` with taps after each of the 5 ReLUs,
4. each tap unit-normalised over channels (``x / (||x||_2 + 1e-10)``),
5. squared difference, 1x1 linear head (no bias), spatial mean, sum over the 5 layers.

Weights are never downloaded.  :func:`find_lpips_weights` looks, in order, in
``$UPTFLOW_LPIPS_DIR``, ``~/.cache/uptflow/lpips`` and ``<repo>/../shared/data/lpips`` (the last
one only for a source checkout where that folder exists).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Iterable, Sequence

import torch
from torch import Tensor, nn

from uptflow.shared_data import optional_shared_path

from .psnr import ImageLike, per_image_output, prepare_pair

__all__ = [
    "LPIPS",
    "LPIPSWeightsMissing",
    "lpips",
    "find_lpips_weights",
    "require_lpips_weights",
    "default_lpips_dirs",
    "LPIPS_ENV_VAR",
    "FEATURES_FILE",
    "HEADS_FILE",
]

LPIPS_ENV_VAR = "UPTFLOW_LPIPS_DIR"
FEATURES_FILE = "alexnet_features.safetensors"
HEADS_FILE = "lpips_v0.1_alex_lin.safetensors"

_CHANNELS = (64, 192, 384, 256, 256)
_FEATURE_CONVS = (0, 3, 6, 8, 10)  # indices of the convs in torchvision's alexnet().features
_TAPS = (1, 4, 7, 9, 11)  # indices of the ReLUs whose outputs LPIPS compares
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


class LPIPSWeightsMissing(FileNotFoundError):
    """The two LPIPS weight files could not be found (they are never downloaded)."""


def default_lpips_dirs(include_shared: bool = True) -> list[Path]:
    """Folders searched for the weights, in order: ``$UPTFLOW_LPIPS_DIR``, the user cache,
    ``$UPTFLOW_SHARED/data/lpips`` (the project's shared data, only when that variable is set)."""
    dirs: list[Path] = []
    env = os.environ.get(LPIPS_ENV_VAR)
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(Path.home() / ".cache" / "uptflow" / "lpips")
    if include_shared:
        shared = optional_shared_path("data", "lpips")
        if shared is not None:
            dirs.append(shared)
    return dirs


def _has_weights(folder: Path) -> bool:
    return (folder / FEATURES_FILE).is_file() and (folder / HEADS_FILE).is_file()


def find_lpips_weights(search_dirs: Iterable[str | Path] | None = None) -> Path | None:
    """Return the first folder holding both weight files, or ``None``.

    Args:
        search_dirs: folders to search instead of :func:`default_lpips_dirs` (for tests or
            custom layouts).  A folder missing either file is skipped.
    """
    dirs = default_lpips_dirs() if search_dirs is None else [Path(d) for d in search_dirs]
    for folder in dirs:
        if _has_weights(folder):
            return folder
    return None


def _missing_message(searched: Sequence[Path]) -> str:
    where = ", ".join(str(d) for d in searched) or "nothing"
    return (
        f"LPIPS weights not found: put {FEATURES_FILE} and {HEADS_FILE} into "
        f"~/.cache/uptflow/lpips (or into a folder named by the environment variable "
        f"{LPIPS_ENV_VAR}); searched: {where}"
    )


def require_lpips_weights(search_dirs: Iterable[str | Path] | None = None) -> Path:
    """Like :func:`find_lpips_weights` but raise :class:`LPIPSWeightsMissing` when not found."""
    dirs = default_lpips_dirs() if search_dirs is None else [Path(d) for d in search_dirs]
    found = find_lpips_weights(dirs)
    if found is None:
        raise LPIPSWeightsMissing(_missing_message(dirs))
    return found


def _load_safetensors(path: Path) -> dict[str, Tensor]:
    """The tensors of one weight file; a corrupt, truncated or non-safetensors file is a one-line
    ``ValueError`` naming the file (safetensors raises its own private error types)."""
    from safetensors.torch import load_file

    from uptflow.io.formats import file_problem
    from uptflow.messages import one_line, show_path

    problem = file_problem(path)
    if problem is not None:
        raise ValueError(f"LPIPS weight file {show_path(path)}: {problem.replace('an image file', 'a weight file')}")
    try:
        return load_file(str(path), device="cpu")
    except Exception as err:  # noqa: BLE001 - SafetensorError, OSError, ...: all mean "a bad file"
        raise ValueError(f"LPIPS weight file {show_path(path)} is not a valid safetensors file "
                         f"({type(err).__name__}: {one_line(err, 120)})") from None


class LPIPS(nn.Module):
    """LPIPS v0.1 (AlexNet) distance between images in [0, 1]; lower means more similar.

    ``forward(pred, target)`` takes ``(B, 3, H, W)`` tensors in [0, 1] (any ``H, W >= 32``-ish;
    AlexNet's stride 4 and two pools shrink the maps) and returns ``Tensor[B]``.  Parameters are
    frozen; gradients still flow to the inputs so it can serve as a perceptual loss.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(),
        )
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=1, bias=False) for c in _CHANNELS)
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1))

    @classmethod
    def from_dir(cls, path: str | Path | None = None) -> "LPIPS":
        """Build the network from ``path`` (or the first folder found by :func:`find_lpips_weights`).

        Raises :class:`LPIPSWeightsMissing` when a file is absent and a one-line ``ValueError``
        when a file is corrupt or does not hold the expected, finite tensors.
        """
        folder = require_lpips_weights(None if path is None else [path])
        net = cls()
        net.load_weight_files(folder / FEATURES_FILE, folder / HEADS_FILE)
        return net.eval().requires_grad_(False)

    def load_weight_files(self, features_file: Path, heads_file: Path) -> None:
        """Load torchvision-named AlexNet convs and lpips-named heads (``lin{k}.model.1.weight``)."""
        from uptflow.messages import one_line, show_path

        state: dict[str, Tensor] = {}
        features = _load_safetensors(features_file)
        for idx in _FEATURE_CONVS:
            for part in ("weight", "bias"):
                key = f"features.{idx}.{part}"
                if key not in features:
                    raise ValueError(f"{show_path(features_file)}: missing tensor {key!r}")
                state[key] = features[key]
        heads = _load_safetensors(heads_file)
        for k in range(len(_CHANNELS)):
            key = f"lin{k}.model.1.weight"
            if key not in heads:
                raise ValueError(f"{show_path(heads_file)}: missing tensor {key!r}")
            state[f"lins.{k}.weight"] = heads[key]
        where = f"{show_path(features_file)} / {show_path(heads_file)}"
        own = self.state_dict()
        for key, value in state.items():
            if key in ("shift", "scale"):
                continue
            if tuple(value.shape) != tuple(own[key].shape):
                raise ValueError(f"{where}: {key} has shape {tuple(value.shape)}, expected {tuple(own[key].shape)} "
                                 "(not the LPIPS v0.1 AlexNet weights)")
            if not value.is_floating_point() or not bool(torch.isfinite(value).all()):
                raise ValueError(f"{where}: {key} is not finite floating-point data (a corrupt weight file)")
        state["shift"], state["scale"] = self.shift, self.scale
        try:
            self.load_state_dict(state, strict=True)
        except RuntimeError as err:  # shape mismatch: wrong files
            raise ValueError(f"{where}: unexpected tensor shapes ({one_line(err, 160)})") from None

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """LPIPS distance per image: ``(B, 3, H, W)`` x2 in [0, 1] -> ``Tensor[B]``."""
        x = (2.0 * pred - 1.0 - self.shift) / self.scale
        y = (2.0 * target - 1.0 - self.shift) / self.scale
        both = self._taps(torch.cat([x, y], dim=0))
        total = pred.new_zeros(pred.shape[0])
        for lin, feat in zip(self.lins, both):
            fx, fy = feat.chunk(2, dim=0)
            diff = (_unit_normalize(fx) - _unit_normalize(fy)) ** 2
            total = total + lin(diff).mean(dim=(1, 2, 3))
        return total

    def _taps(self, x: Tensor) -> list[Tensor]:
        taps = []
        for idx, layer in enumerate(self.features):
            x = layer(x)
            if idx in _TAPS:
                taps.append(x)
        return taps


def _unit_normalize(x: Tensor, eps: float = 1e-10) -> Tensor:
    """``lpips.normalize_tensor``: divide by the L2 norm over channels (plus ``eps``)."""
    return x / (torch.sqrt(torch.sum(x * x, dim=1, keepdim=True)) + eps)


@functools.lru_cache(maxsize=1)
def _default_net() -> LPIPS:
    return LPIPS.from_dir(None)


def lpips(pred: ImageLike, target: ImageLike, net: LPIPS | None = None) -> Tensor | float:
    """LPIPS v0.1 AlexNet distance per image (inputs in [0, 1], scaled to [-1, 1] internally).

    Args:
        pred, target: ``(B, 3, H, W)`` / ``(3, H, W)`` tensors or ``(H, W, 3)`` numpy arrays in [0, 1].
        net: a loaded :class:`LPIPS`; default: one built once from :func:`find_lpips_weights`
            (raises :class:`LPIPSWeightsMissing` if the weights are absent).

    Returns:
        ``Tensor[B]`` (float32), a 0-dim tensor, or a float (numpy input).
    """
    p, t, kind = prepare_pair(pred, target)
    if p.shape[1] != 3:
        raise ValueError(f"LPIPS needs 3-channel RGB images, got {p.shape[1]} channels")
    if net is None:
        net = _default_net()
    param = next(net.parameters())
    if param.device != p.device:
        net.to(p.device)
    values = net(p.to(param.dtype), t.to(param.dtype))
    return per_image_output(values, kind)
