"""Full-reference image-quality metrics with an explicit evaluation protocol.

Images are float tensors ``(B, 3, H, W)`` / ``(3, H, W)`` in [0, 1] (numpy ``(H, W, 3)`` is also
accepted); every metric returns one value per image.

Note: the functions ``psnr``, ``ssim`` and ``lpips`` re-exported here shadow the submodules of the
same name as package attributes; import module contents with
``from uptflow.metrics.lpips import LPIPS`` (which always works).
"""

from __future__ import annotations

from .gt_mean import gt_mean_correct
from .lpips import (
    LPIPS,
    LPIPSWeightsMissing,
    default_lpips_dirs,
    find_lpips_weights,
    lpips,
    require_lpips_weights,
)
from .protocol import EvalProtocol, evaluate_pair, summarize
from .psnr import psnr
from .ssim import SSIM_MODES, ssim

__all__ = [
    "psnr",
    "ssim",
    "SSIM_MODES",
    "lpips",
    "LPIPS",
    "LPIPSWeightsMissing",
    "find_lpips_weights",
    "require_lpips_weights",
    "default_lpips_dirs",
    "gt_mean_correct",
    "EvalProtocol",
    "evaluate_pair",
    "summarize",
]
