"""Validation during training, under the SAME protocol ``uptflow evaluate`` reports.

Each validation image is enhanced whole (z = 0), then scored by
:func:`uptflow.metrics.evaluate_pair` with :data:`VALIDATION_PROTOCOL`: the prediction is clamped
to [0, 1] and rounded to 8 bit before PSNR / SSIM (RGB, scikit-image recipe), exactly as the
published tables.  So ``best.pt`` is the checkpoint that is best under the protocol its numbers
are reported in (a float-precision PSNR ranks checkpoints slightly differently).  LPIPS is off:
it needs weights that may be absent and is slow on the CPU.

Also reported: the NLL (bits/dim) on the top-left crop to multiples of ``size_multiple`` with
fixed dequantisation noise, so numbers are comparable between validations.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from uptflow.metrics import EvalProtocol, evaluate_pair
from uptflow.model import UPTFlow

from .objective import dequantize

__all__ = ["VALIDATION_PROTOCOL", "validate_model"]

VALIDATION_PROTOCOL = EvalProtocol(gt_mean=False, ssim_mode="rgb", lpips=False, quantize_8bit=True)
"""``uptflow evaluate``'s default protocol without LPIPS."""

NOISE_SEED_OFFSET = 1_000_003
"""Validation noise seed = run seed + this (the same noise at every validation)."""


@torch.no_grad()
def validate_model(model: UPTFlow, dataset: Dataset, device: torch.device, seed: int, *,
                   protocol: EvalProtocol = VALIDATION_PROTOCOL,
                   on_image: Callable[[int, dict[str, Any], torch.Tensor], None] | None = None) -> dict[str, Any]:
    """Score ``model`` on every item of ``dataset``; the model's train/eval mode is restored after.

    Args:
        model: the network to validate (the EMA copy when the run keeps one).
        dataset: items ``{"low", "normal": (3, H, W) float32 [0, 1], "name"}``, whole images.
        device: where to run.
        seed: the run seed (the NLL noise is drawn from ``seed + NOISE_SEED_OFFSET``).
        protocol: metric protocol (default :data:`VALIDATION_PROTOCOL`).
        on_image: called as ``on_image(index, item, prediction (1, 3, H, W))`` for each image
            (e.g. to log the first few to TensorBoard).

    Returns:
        ``{"val_psnr", "val_ssim", "val_nll" (None if no image is large enough), "val_images"}``.
    """
    was_training = model.training
    model.eval()
    g = torch.Generator(device="cpu")
    g.manual_seed(seed + NOISE_SEED_OFFSET)
    q, m = model.config.quantization, model.config.size_multiple
    psnrs, ssims, nlls = [], [], []
    set_epoch = getattr(dataset, "set_epoch", None)
    if callable(set_epoch):
        set_epoch(0)
    try:
        for i in range(len(dataset)):
            item = dataset[i]
            low = item["low"][None].to(device)
            normal = item["normal"][None].to(device)
            out = model.enhance(low)
            row = evaluate_pair(out, normal, protocol)
            psnrs.append(row["psnr"])
            ssims.append(row["ssim"])
            h, w = (low.shape[-2] // m) * m, (low.shape[-1] // m) * m
            if h and w:
                n_crop, l_crop = normal[..., :h, :w], low[..., :h, :w]
                noise = torch.rand(n_crop.shape, generator=g).to(device)
                nlls.append(float(model.nll(dequantize(n_crop, noise, q), l_crop, dequantize=False)[0]))
            if on_image is not None:
                on_image(i, item, out)
    finally:
        model.train(was_training)
    return {"val_psnr": float(np.mean(psnrs)) if psnrs else float("nan"),
            "val_ssim": float(np.mean(ssims)) if ssims else float("nan"),
            "val_nll": float(np.mean(nlls)) if nlls else None, "val_images": len(psnrs)}
