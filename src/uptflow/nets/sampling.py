"""Resolution changes of MSFormer: a 3x3 conv then pixel-(un)shuffle, no bias.

The same modules (same weights) also carry the UP-map features down and up (SPEC §2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from uptflow.nets.strips import conv3x3_rows


class Downsample(nn.Module):
    """(B, C, H, W) -> (B, 2C, H/2, W/2): conv C -> C/2, pixel-unshuffle by 2."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels // 2, 3, padding=1, bias=False),
                                  nn.PixelUnshuffle(2))

    def forward(self, x):
        return self.body(x)


class Upsample(nn.Module):
    """(B, C, H, W) -> (B, C/2, 2H, 2W): conv C -> 2C, pixel-shuffle by 2."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels * 2, 3, padding=1, bias=False),
                                  nn.PixelShuffle(2))

    def forward(self, x):
        return self.body(x)


class UpsampledRows:
    """``pixel_shuffle(conv3x3(src, weight), 2)`` evaluated row band by row band, on demand.

    The window branch of the last (full-resolution) decoder stage reads its UP-map features
    only one band of window rows at a time; building that 2C-channel full-resolution map whole
    would cost one more full-size map at the encoder's memory peak.  This object stands in for
    it: :meth:`rows` computes output rows ``r0:r1`` from the half-resolution rows they need
    (plus one halo row each side, zero padding at the borders: exactly the whole-map numbers).
    Inference only; :meth:`full` gives the whole map where a caller needs it.

    ``src`` (B, Cin, h, w); ``weight`` (4*Cout, Cin, 3, 3) -> a virtual (B, Cout, 2h, 2w) map.
    """

    #: Output rows computed at once and kept for the next reads (the window bands read
    #: consecutive rows); amortises the conv's halo rows over a chunk of at least 64 rows.
    CHUNK_ROWS = 64

    def __init__(self, src: torch.Tensor, weight: torch.Tensor) -> None:
        self.src, self.weight = src, weight
        b, _, h, w = src.shape
        self.shape = torch.Size((b, weight.shape[0] // 4, 2 * h, 2 * w))
        self._chunk: tuple[int, int, torch.Tensor] | None = None

    def rows(self, r0: int, r1: int) -> torch.Tensor:
        """Output rows ``r0:r1`` as a (B, Cout, r1 - r0, 2w) tensor.

        A new chunk spans a whole number of reads of this read's height (at least
        :data:`CHUNK_ROWS` rows), so reads of equal bands that follow fall inside it instead of
        straddling its end and recomputing the overlap; a read *above* the kept chunk (the
        shifted windows' band wrapping round to the top rows) gets just its rows."""
        if self._chunk is None or not (self._chunk[0] <= r0 and r1 <= self._chunk[1]):
            n = max(r1 - r0, 1)
            wraps = self._chunk is not None and r1 <= self._chunk[0]
            c1 = r1 if wraps else min(r0 + -(-max(n, self.CHUNK_ROWS) // n) * n, self.shape[-2])
            self._chunk = (r0, c1, self._compute(r0, c1))
        c0, _, chunk = self._chunk
        return chunk[:, :, r0 - c0: r1 - c0]

    def _compute(self, r0: int, r1: int) -> torch.Tensor:
        h = self.src.shape[-2]
        h0, h1 = r0 // 2, (r1 + 1) // 2
        a0, a1 = max(h0 - 1, 0), min(h1 + 1, h)
        y = conv3x3_rows(self.src[:, :, a0:a1], self.weight, None, h0 - a0, h1 - a0)
        return F.pixel_shuffle(y, 2)[:, :, r0 - 2 * h0: r1 - 2 * h0]

    def full(self) -> torch.Tensor:
        return self._compute(0, self.shape[-2])
