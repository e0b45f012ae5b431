"""An explicit, printable evaluation protocol, so every reported number says how it was computed.

LLIE papers differ silently in 8-bit quantisation, SSIM recipe, LPIPS input range and whether the
ground-truth mean was used ("GT-mean"); :class:`EvalProtocol` fixes all of these and
:meth:`EvalProtocol.describe` states them in words for reports.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from .gt_mean import gt_mean_correct
from .lpips import LPIPS, lpips as lpips_distance
from .psnr import ImageLike, psnr, to_batch
from .ssim import SSIM_MODES, ssim

__all__ = ["EvalProtocol", "evaluate_pair", "summarize"]

_SSIM_TEXT = {
    "rgb": (
        "SSIM on RGB with the scikit-image recipe (structural_similarity, channel_axis=-1, "
        "data_range=1.0: 7x7 uniform window, K1=0.01, K2=0.03, sample covariance, mean over the "
        "valid region and the three channels)"
    ),
    "gray": (
        "SSIM on ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B) with the scikit-image recipe "
        "(7x7 uniform window, K1=0.01, K2=0.03, sample covariance, data_range=1.0)"
    ),
    "y": (
        "SSIM on the YCbCr Y channel ((65.481 R + 128.553 G + 24.966 B + 16) / 255) with the "
        "BasicSR/Wang et al. recipe (11x11 Gaussian window, sigma 1.5, K1=0.01, K2=0.03, "
        "population covariance, no border crop)"
    ),
}


@dataclass(frozen=True)
class EvalProtocol:
    """How metrics are computed for one reported table.

    Attributes:
        gt_mean: rescale each prediction to the ground truth's mean before metrics (a separately
            labelled "GT-mean" figure; see :mod:`uptflow.metrics.gt_mean`).
        ssim_mode: ``"rgb"`` (paper default, scikit-image), ``"gray"`` or ``"y"`` (BasicSR).
        lpips: also compute LPIPS v0.1 AlexNet.
        quantize_8bit: round the prediction to 8 bit (``round(255 x) / 255``) first, as if it had
            been saved as a PNG; papers evaluate saved images.
    """

    gt_mean: bool = False
    ssim_mode: str = "rgb"
    lpips: bool = True
    quantize_8bit: bool = True

    def __post_init__(self) -> None:
        if self.ssim_mode not in SSIM_MODES:
            raise ValueError(f"EvalProtocol: unknown ssim_mode {self.ssim_mode!r}; expected one of {SSIM_MODES}")

    def describe(self) -> str:
        """One paragraph stating exactly how the numbers were computed."""
        parts = ["The prediction is clamped to [0, 1]"]
        if self.quantize_8bit:
            parts.append("and quantised to 8 bit (round(255 x) / 255) before any metric")
        else:
            parts.append("and kept at full float precision (no 8-bit quantisation)")
        first = " ".join(parts) + "; the ground truth is used as given."
        if self.gt_mean:
            gt = (
                "GT-mean is ON: after that, each prediction is multiplied by mean(GT) / mean(prediction) "
                "(means over all pixels and channels) and clamped to [0, 1]; these numbers use the "
                "ground truth at test time and are reported as a separately labelled GT-mean figure."
            )
        else:
            gt = "GT-mean correction is OFF."
        metrics = [
            "PSNR is computed on RGB in [0, 1] (data_range 1, MSE over all pixels and channels).",
            _SSIM_TEXT[self.ssim_mode] + ".",
        ]
        if self.lpips:
            metrics.append(
                "LPIPS is v0.1 with the AlexNet backbone and linear heads, inputs scaled from [0, 1] "
                "to [-1, 1] (as lpips.im2tensor does)."
            )
        else:
            metrics.append("LPIPS is not computed.")
        return " ".join([first, gt, *metrics, "Reported values are means over images."])

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the settings (for JSON/YAML result files)."""
        return asdict(self)


def _single(image: ImageLike, name: str) -> Tensor:
    """Accept one image ``(3, H, W)`` / ``(1, 3, H, W)`` tensor or ``(H, W, 3)`` array -> ``(1, 3, H, W)``."""
    batch, _ = to_batch(image, name)
    if batch.shape[0] != 1:
        raise ValueError(f"evaluate_pair: {name} must be a single image, got batch shape {tuple(batch.shape)}")
    if batch.shape[1] != 3:
        raise ValueError(f"evaluate_pair: {name} must have 3 RGB channels, got shape {tuple(batch.shape)}")
    return batch


def evaluate_pair(
    pred: ImageLike,
    target: ImageLike,
    protocol: EvalProtocol | None = None,
    lpips_net: LPIPS | None = None,
) -> dict[str, float]:
    """Metrics for one image pair under ``protocol``.

    Args:
        pred, target: one image each, ``(3, H, W)`` or ``(1, 3, H, W)`` tensors (or ``(H, W, 3)``
            numpy arrays) in [0, 1].
        protocol: defaults to ``EvalProtocol()``.
        lpips_net: a loaded :class:`LPIPS`; default: the shared network found on disk.

    Returns:
        ``{"psnr": dB, "ssim": ..., "lpips": ...}`` (``"lpips"`` only when enabled).
    """
    protocol = EvalProtocol() if protocol is None else protocol
    p = _single(pred, "pred")
    t = _single(target, "target")
    if p.shape != t.shape:
        raise ValueError(
            f"evaluate_pair: pred shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}"
        )
    t = t.to(p.device)
    with torch.no_grad():
        p = p.clamp(0.0, 1.0)
        if protocol.quantize_8bit:
            p = torch.round(p * 255.0) / 255.0
        if protocol.gt_mean:
            p = gt_mean_correct(p, t)
        row = {
            "psnr": float(psnr(p, t)[0]),
            "ssim": float(ssim(p, t, mode=protocol.ssim_mode)[0]),
        }
        if protocol.lpips:
            row["lpips"] = float(lpips_distance(p, t, net=lpips_net)[0])
    return row


def summarize(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Mean of each metric over ``rows`` (as returned by :func:`evaluate_pair`).

    All rows must have the same keys.  An ``inf`` PSNR (identical images) makes the mean ``inf``.
    """
    if len(rows) == 0:
        raise ValueError("summarize: no rows to average")
    keys = list(rows[0].keys())
    for i, row in enumerate(rows):
        if set(row.keys()) != set(keys):
            raise ValueError(f"summarize: row {i} has keys {sorted(row)}, expected {sorted(keys)}")
    return {k: math.fsum(float(r[k]) for r in rows) / len(rows) for k in keys}
