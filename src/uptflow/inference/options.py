"""The options of one enhancement call, validated once into a frozen object.

Every entry point (``uptflow.enhance``, :func:`uptflow.api.enhance_tensor` /
:func:`~uptflow.api.enhance_array`, ``uptflow enhance``, ``uptflow evaluate``) builds one
:class:`EnhanceOptions`; everything below it (plan, tiles, model) trusts it.  A bad value is a
one-line ``ValueError`` / ``TypeError`` naming the option, raised before any work is done.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from uptflow.inference.highlights import check_highlights
from uptflow.inference.plan import MIN_TILE, max_overlap
from uptflow.nets.precision import check_precision

__all__ = ["DEFAULT_OVERLAP", "DEFAULT_REFINE", "MAX_REFINE", "SEED_LIMIT", "EnhanceOptions", "check_temperature"]

#: Minimum overlap of neighbouring tiles in pixels (blend ramps need >= 2; 32 hides the seams).
DEFAULT_OVERLAP = 32

#: Refinement passes over the tiles for their shared statistics (see :mod:`.shared_stats`).
DEFAULT_REFINE = 1
#: Most refinement passes accepted: each is a full pass over the image, and the statistics
#: settle after one or two (``benchmarks/tiling_quality.py``: refine 2 vs 1 moves a tiled result
#: by < 1 dB), so a larger number is a typo that would run for hours.
MAX_REFINE = 8

#: Seeds given by users live in ``[0, 2**63)`` (the CLI's ``--seed`` range); sample ``i`` uses
#: ``seed + i``, which ``torch.Generator.manual_seed`` accepts up to ``2**64 - 1``.
SEED_LIMIT = 2**63


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_temperature(temperature: object) -> None:
    """``temperature`` must be a finite real number >= 0 (0 = the deterministic z = 0 result)."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a number, got {type(temperature).__name__}")
    if not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")


@dataclass(frozen=True)
class EnhanceOptions:
    """What one enhancement call should do (immutable, valid by construction).

    Attributes:
        temperature: latent temperature; 0 = the published deterministic result (z = 0).
        seed: seeds the latent draw, ``0 <= seed < 2**63`` (sample ``i`` uses ``seed + i``);
            ``None`` = torch's global RNG.  Ignored at temperature 0.
        samples: how many samples per image (> 1 only with ``temperature > 0``).
        tile: ``None`` = tile only when the image would not fit in memory (see :mod:`.plan`);
            ``0`` = never tile; ``>= MIN_TILE`` = tile side in pixels.
        overlap: minimum overlap of neighbouring tiles in pixels; with an explicit ``tile`` the
            stride ``tile - overlap`` must be at least a quarter of the tile (a smaller stride
            multiplies the tiles: ``--tile 64 --overlap 63`` on 200x300 would be ~50,000 tiles).
        tile_refine: passes over the tiles that refine their shared statistics (tiled runs).
        budget_bytes: memory the call may use; ``None`` = a share of what is available now.
        precision: the encoder's arithmetic, ``float32`` (default: the authors' numbers),
            ``bfloat16`` or ``float16`` (faster where the hardware has it; the flow stays
            float32; see :mod:`uptflow.nets.precision`).
        highlights: ``auto`` (default), ``protect`` or ``off``: a local exposure ceiling that keeps
            regions already lit in the low image from blowing out, for photos that are not dark
            overall (auto), for every photo with lit regions (protect) or never (off); see
            :mod:`uptflow.inference.highlights`.

    Raises:
        TypeError / ValueError: one line naming the bad option.
    """

    temperature: float = 0.0
    seed: int | None = None
    samples: int = 1
    tile: int | None = None
    overlap: int = DEFAULT_OVERLAP
    tile_refine: int = DEFAULT_REFINE
    budget_bytes: int | None = None
    precision: str = "float32"
    highlights: str = "auto"

    def __post_init__(self) -> None:
        check_temperature(self.temperature)
        check_precision(self.precision)
        check_highlights(self.highlights)
        if not _is_int(self.samples) or self.samples < 1:
            raise ValueError(f"samples must be an integer >= 1, got {self.samples!r}")
        if self.seed is not None:
            if not _is_int(self.seed) or not 0 <= self.seed < SEED_LIMIT:
                raise ValueError(f"seed must be an integer in [0, 2**63), got {self.seed!r}")
        if self.samples > 1 and self.temperature == 0:
            raise ValueError("samples > 1 needs a temperature > 0 (at temperature 0 every sample is identical)")
        if not _is_int(self.tile_refine) or not 0 <= self.tile_refine <= MAX_REFINE:
            raise ValueError(f"tile refinement passes must be an integer in 0 .. {MAX_REFINE}, "
                             f"got {self.tile_refine!r}")
        if not _is_int(self.overlap) or self.overlap < 0:
            raise ValueError(f"overlap must be an integer >= 0 pixels, got {self.overlap!r}")
        if self.budget_bytes is not None and (not _is_int(self.budget_bytes) or self.budget_bytes < 1):
            raise ValueError(f"memory budget must be a positive number of bytes, got {self.budget_bytes!r}")
        self._check_tile()

    def _check_tile(self) -> None:
        tile, overlap = self.tile, self.overlap
        if tile is None:
            return
        if not _is_int(tile):
            raise TypeError(f"tile must be an integer number of pixels, got {type(tile).__name__}")
        if tile == 0:
            return
        if tile < MIN_TILE:
            raise ValueError(f"tile must be >= {MIN_TILE} pixels (or 0 for no tiling), got {tile}")
        if overlap >= tile:
            raise ValueError(f"overlap ({overlap}) must be smaller than the tile size ({tile})")
        if overlap > max_overlap(tile):
            raise ValueError(f"overlap {overlap} leaves a stride of {tile - overlap} px between {tile}-px tiles; "
                             f"use an overlap <= {max_overlap(tile)} (a stride of at least a quarter tile)")

    @property
    def sampling(self) -> bool:
        """Whether a latent is drawn (temperature > 0) rather than z = 0."""
        return self.temperature > 0

    def sample_seeds(self) -> list[int | None]:
        """The seed of each sample: ``seed + i`` (all ``None`` without a seed)."""
        return [None if self.seed is None else self.seed + i for i in range(self.samples)]
