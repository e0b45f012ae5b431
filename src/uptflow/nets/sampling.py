"""Resolution changes of MSFormer: a 3x3 conv then pixel-(un)shuffle, no bias.

The same modules (same weights) also carry the UP-map features down and up (SPEC §2).
"""

from __future__ import annotations

from torch import nn


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
