"""The "GT-mean" evaluation protocol used by several LLIE papers (LLFlow, Retinexformer, ...).

Low-light enhancement is ill-posed in global brightness: the same scene has many plausible
exposures.  Some papers therefore rescale each prediction so that its mean brightness equals the
ground truth's before computing PSNR/SSIM/LPIPS.  This uses the ground truth at test time, so
**numbers computed with it must only be reported as a separately labelled figure ("GT-mean"),
never mixed with or substituted for standard numbers.**

Here the mean is taken over all pixels and channels of each image, i.e. the mean of the
channel-mean grey image.  (Retinexformer's script uses the cv2 BT.601 grey image instead; the
two differ slightly for strongly coloured images.)
"""

from __future__ import annotations

import numpy as np

from .psnr import ImageLike, prepare_pair

__all__ = ["gt_mean_correct"]


def gt_mean_correct(pred: ImageLike, target: ImageLike) -> ImageLike:
    """Rescale ``pred`` per image so its mean matches ``target``'s, then clamp to [0, 1].

    ``pred * (target.mean() / max(pred.mean(), 1e-8))`` with means over ``(C, H, W)`` of each
    image.  Report results computed on the output only as a separately labelled "GT-mean" figure.

    Args:
        pred, target: ``(B, 3, H, W)`` / ``(3, H, W)`` tensors or ``(H, W, 3)`` numpy arrays in [0, 1].

    Returns:
        The corrected prediction, same layout as ``pred`` (numpy in, numpy float out), in [0, 1].
    """
    p, t, kind = prepare_pair(pred, target)
    dims = (1, 2, 3)
    gain = t.mean(dim=dims, keepdim=True) / p.mean(dim=dims, keepdim=True).clamp_min(1e-8)
    out = (p * gain.to(p.dtype)).clamp(0.0, 1.0)
    if kind == "batch":
        return out
    if kind == "single":
        return out[0]
    array = out[0].permute(1, 2, 0).cpu().numpy()
    return array if np.issubdtype(array.dtype, np.floating) else array.astype(np.float32)
