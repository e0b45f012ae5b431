"""One enhancement pipeline: a low-light batch and validated options in, the result out.

    options (EnhanceOptions, validated once)
        -> plan (uptflow.inference.plan: whole image or tiles of which size, from memory)
        -> whole:  UPTFlow.enhance (pad, condition, decode the latent, crop)
           tiled:  uptflow.inference.shared_stats.enhance_tiled (tiles sharing pooled
                   statistics, blended by uptflow.inference.tiles.run_tiled)
        -> check: finite values, or NonFiniteOutputError
        -> highlights (auto / protect): the lit-region ceiling of uptflow.inference.highlights
           (whole image, after tiling, so tiles share one illumination map)

All state is per call (the plan, the generator, the pooled statistics of a tiled run, which
live in a ContextVar of :mod:`uptflow.nets.pooled_stats`), so threads may enhance concurrently.
The type-preserving conversions (PIL, numpy, paths) are :mod:`uptflow.api`'s business.
"""

from __future__ import annotations

from typing import Callable

import torch

from uptflow.inference.errors import NonFiniteOutputError
from uptflow.inference.highlights import protect_highlights
from uptflow.inference.options import EnhanceOptions
from uptflow.inference.plan import Plan, make_plan
from uptflow.inference.shared_stats import enhance_tiled
from uptflow.model import UPTFlow
from uptflow.nets.precision import encoder_precision
from uptflow.validation import check_image

__all__ = ["Progress", "plan_for", "generator_for", "enhance_batch", "enhance_samples"]

#: ``progress(done, total)``: called after each pass step (the statistics pass, each tile).
Progress = Callable[[int, int], None]


def plan_for(model: UPTFlow, low: torch.Tensor, options: EnhanceOptions) -> Plan:
    """The plan for ``low`` (B, 3, H, W) on its device (see :func:`uptflow.inference.plan.make_plan`)."""
    b, _, h, w = low.shape
    return make_plan(h, w, model.config, low.device, options, batch=b)


def generator_for(seed: int | None) -> torch.Generator | None:
    """A CPU generator seeded with ``seed`` (None: torch's global RNG).

    On the CPU, so the same seed gives the same sample on CPU and CUDA.
    """
    return None if seed is None else torch.Generator().manual_seed(int(seed))


def enhance_batch(model: UPTFlow, low: torch.Tensor, options: EnhanceOptions, seed: int | None = None,
                  progress: Progress | None = None, plan: Plan | None = None) -> torch.Tensor:
    """Enhance ``low`` (B, 3, H, W) float in [0, 1] on the model's device -> float32 (B, 3, H, W) in [0, 1].

    Args:
        model: the network, eval mode.
        low: low-light images; any ``H, W >= 1`` (padding to multiples of 8 is internal).
        options: temperature, tiling, budget, encoder precision, highlight protection
            (``options.samples`` is the caller's loop).
        seed: seed of this draw (default ``options.seed``); ignored at temperature 0.
        progress: ``progress(done, total)`` after each pass step.
        plan: a plan made before (the CLI reports it); default: made here from ``options``.

    Raises:
        ValueError / TypeError: a bad ``low``; :class:`NonFiniteOutputError` if the model
            produced NaN or infinite values.
    """
    check_image(low, "low")
    low = low.to(torch.float32)
    plan = plan_for(model, low, options) if plan is None else plan
    gen = generator_for(options.seed if seed is None else seed)
    t = options.temperature
    with torch.no_grad(), encoder_precision(options.precision):
        if plan.tile is None:
            out = model.enhance(low, temperature=t, generator=gen)
            if progress is not None:
                progress(1, 1)
        else:
            out = enhance_tiled(model, low, plan.tile, plan.overlap, t, gen, options.tile_refine, progress)
    if not bool(torch.isfinite(out).all()):
        raise NonFiniteOutputError()
    if options.highlights != "off":
        with torch.no_grad():
            out = protect_highlights(low, out, options.highlights)
    return out


def enhance_samples(model: UPTFlow, low: torch.Tensor, options: EnhanceOptions,
                    progress: Progress | None = None, plan: Plan | None = None) -> list[torch.Tensor]:
    """``options.samples`` results for ``low`` (sample ``i`` uses seed ``options.seed + i``),
    planned once."""
    plan = plan_for(model, low, options) if plan is None else plan
    return [enhance_batch(model, low, options, seed, progress, plan) for seed in options.sample_seeds()]
