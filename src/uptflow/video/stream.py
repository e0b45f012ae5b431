"""Frame-by-frame enhancement with temporal state: the engine behind every video path.

:class:`FrameEnhancer` takes one ``(H, W, 3)`` frame at a time and keeps only small state
between frames (the moving average of the pooled statistics, the previous output and a 32x18
thumbnail), so a camera stream of any length runs in constant memory.
:func:`enhance_frames` wraps it as a generator for callers with their own stream::

    for out in uptflow.enhance_frames(camera_frames(), model="small.safetensors"):
        show(out)

Per frame: scene-cut test on the input -> one forward pass that *replays* the moving average of
the pooled statistics and *records* the frame's own (:mod:`uptflow.nets.pooled_stats`) ->
temporal denoiser on the output (:mod:`uptflow.video.temporal`).  ``temporal=False`` gives
plain frame-by-frame enhancement (the baseline ``benchmarks/video_stability.py`` compares with).

Large frames are tiled like images (``uptflow.api.enhance_tensor`` picks the tile from the
memory budget).  Tiled frames share statistics across their own tiles (that path records them
itself), not across frames; the denoiser still runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np
import torch

from uptflow.io.write import quantize_as
from uptflow.video.temporal import SceneCutDetector, StatsEMA, TemporalDenoiser

__all__ = ["TemporalOptions", "FrameEnhancer", "enhance_frames"]


@dataclass(frozen=True)
class TemporalOptions:
    """Temporal-stability settings (defaults chosen with ``benchmarks/video_stability.py``).

    Attributes:
        enabled: ``False`` = independent frames (no shared statistics, no denoising).
        stats_momentum: weight of the past in the statistics' moving average (0 = off).
        denoise: weight of a new frame on static pixels in the output filter (1 = off).
        scene_cut: relative thumbnail distance that counts as a cut (resets both).
    """

    enabled: bool = True
    stats_momentum: float = 0.9
    denoise: float = 0.25
    scene_cut: float = 0.35


class FrameEnhancer:
    """Stateful per-frame enhancer.

    Args:
        model: an :class:`uptflow.UPTFlow` in eval mode (its device is used).
        temporal: :class:`TemporalOptions`.
        temperature, seed: as :func:`uptflow.enhance`; a sampled video uses the *same* seed for
            every frame (a new latent per frame would flicker).
        tile, overlap, tile_refine, budget_bytes, precision, highlights: as
            :func:`uptflow.api.enhance_tensor` (the highlight ceiling acts on each frame before the
            temporal filter; its maps come from that frame's own low image, so they are as steady
            as the input).
        exposure: EV applied to every enhanced frame as ``uptflow enhance --exposure`` does to an
            image (:func:`uptflow.inference.exposure.apply_exposure`; 0 = unchanged).  Applied after
            the temporal filter, so the statistics and the denoiser see the model's own output.
    """

    def __init__(self, model: Any, temporal: TemporalOptions = TemporalOptions(), temperature: float = 0.0,
                 seed: int | None = None, tile: int | None = None, overlap: int = 32, tile_refine: int = 1,
                 budget_bytes: int | None = None, precision: str = "float32", exposure: float = 0.0,
                 highlights: str = "auto") -> None:
        from uptflow.api import check_options
        from uptflow.inference.exposure import check_exposure

        check_options(temperature=temperature, tile=tile, overlap=overlap, seed=seed, tile_refine=tile_refine,
                      precision=precision, highlights=highlights)
        self.highlights = highlights
        self.exposure = check_exposure(exposure)
        self.precision = precision
        self.model = model
        self.options = temporal
        self.temperature, self.seed = temperature, seed
        self.tile, self.overlap, self.tile_refine, self.budget_bytes = tile, overlap, tile_refine, budget_bytes
        self.device = next(model.parameters()).device
        self.stats = StatsEMA(temporal.stats_momentum if temporal.enabled else 0.0)
        self.cuts = SceneCutDetector(temporal.scene_cut)
        self.denoiser = TemporalDenoiser(temporal.denoise if temporal.enabled else 1.0)
        self.frames = 0
        self.scene_cuts = 0

    def reset(self) -> None:
        """Forget the past (a new clip, or a known cut)."""
        self.stats.reset()
        self.cuts.reset()
        self.denoiser.reset()

    def enhance_tensor(self, low: torch.Tensor) -> torch.Tensor:
        """``(1, 3, H, W)`` float in ``[0, 1]`` on the model's device -> enhanced, same shape."""
        from uptflow.api import enhance_tensor
        from uptflow.nets.pooled_stats import PooledStats, use

        if self.options.enabled and self.cuts(low):
            self.scene_cuts += 1
            self.stats.reset()
            self.denoiser.reset()
        share = self.options.enabled and self.options.stats_momentum > 0
        recorder = PooledStats(replay=self.stats.value, record=True) if share else None
        with use(recorder), torch.no_grad():
            if recorder is not None:
                recorder.begin()
            y = enhance_tensor(self.model, low, self.temperature, self.seed, self.tile, self.overlap,
                               budget_bytes=self.budget_bytes, tile_refine=self.tile_refine,
                               precision=self.precision, highlights=self.highlights)
        if recorder is not None:
            self.stats.update(recorder.finalize())
        self.frames += 1
        y = self.denoiser(y) if self.options.enabled else y
        if self.exposure:
            from uptflow.inference.exposure import apply_exposure

            y = apply_exposure(y, self.exposure)
        return y

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """``(H, W, 3)`` float32 in ``[0, 1]`` -> enhanced ``(H, W, 3)`` float32 in ``[0, 1]``."""
        from uptflow.io.tensors import to_numpy, to_tensor

        x = to_tensor(np.clip(np.nan_to_num(rgb, nan=0.0), 0.0, 1.0)).to(self.device)
        return to_numpy(self.enhance_tensor(x))


def _as_float(frame: Any) -> tuple[np.ndarray, np.dtype]:
    """A frame ``(H, W, 3)`` uint8 / uint16 / float -> float32 ``[0, 1]`` and its dtype."""
    if isinstance(frame, torch.Tensor):
        frame = frame.detach().cpu().numpy()
    a = np.asarray(frame)
    if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"frames must be (H, W, 3) RGB arrays, got shape {a.shape}")
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255.0), a.dtype
    if a.dtype == np.uint16:
        return a.astype(np.float32) / np.float32(65535.0), a.dtype
    if np.issubdtype(a.dtype, np.floating):
        return np.clip(np.nan_to_num(a.astype(np.float32), nan=0.0), 0.0, 1.0), a.dtype
    raise TypeError(f"frames must be uint8, uint16 or float arrays, got dtype {a.dtype}")


def enhance_frames(frames: Iterable[Any], model: Any = None, device: str = "auto", temporal: bool = True,
                   **options: Any) -> Iterator[np.ndarray]:
    """Enhance a stream of frames lazily, keeping them steady over time.

    Args:
        frames: any iterable of ``(H, W, 3)`` RGB arrays (uint8, uint16 or float in ``[0, 1]``);
            it is consumed one frame at a time (a camera generator is fine).
        model: ``None`` (bundled model), a checkpoint path, a preset name or an ``UPTFlow``.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        temporal: ``True`` (default): shared statistics + denoising; ``False``: frame by frame.
        **options: ``stats_momentum``, ``denoise``, ``scene_cut`` (:class:`TemporalOptions`) and
            ``temperature``, ``seed``, ``tile``, ``overlap``, ``tile_refine``, ``budget_bytes``,
            ``precision``, ``exposure``, ``highlights`` (:class:`FrameEnhancer`).

    Yields:
        Enhanced frames, same shape and dtype as each input frame.
    """
    from uptflow.model import UPTFlow
    from uptflow.inference.models import load_cached, resolve_device

    t_keys = {"stats_momentum", "denoise", "scene_cut"}
    t_opts = {k: options.pop(k) for k in list(options) if k in t_keys}
    net = load_cached(model, device if isinstance(model, UPTFlow) else resolve_device(device))
    enhancer = FrameEnhancer(net, TemporalOptions(enabled=temporal, **t_opts), **options)
    for frame in frames:
        rgb, dtype = _as_float(frame)
        yield quantize_as(enhancer(rgb), dtype)  # the image writer's rounding: a frame equals its still
