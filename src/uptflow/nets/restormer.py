"""Restormer-style transformer blocks: the R-branch of MSFormer (SPEC §2).

Multi-Dconv head transposed attention attends across *channels* (a C/heads x C/heads map per
head), so its cost is linear in the number of pixels — that is what lets the R-branch run at full
resolution.  Note that it pools over the whole image: a tiled run is not identical to a
whole-image run.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from uptflow.nets.strips import strip_map


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of a (B, C, H, W) map, biased variance, with bias.

    Keys ``body.weight`` / ``body.bias`` match the authors' ``WithBias_LayerNorm``.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.body = _Affine(channels)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # One fused kernel over the channel axis: a permuted view to (B, H, W, C) is free for a
        # channels-last map (the encoder runs in that layout), and F.layer_norm normalises with
        # the biased variance, like the authors' WithBias_LayerNorm.
        y = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), self.body.weight, self.body.bias, self.eps)
        return y.permute(0, 3, 1, 2)


class _Affine(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))


class ChannelAttention(nn.Module):
    """Multi-Dconv head transposed attention.

    q, k, v come from a 1x1 conv then a 3x3 depth-wise conv; q and k are L2-normalised over the
    pixels, so ``q k^T`` is a cosine similarity scaled by a learned per-head temperature.
    Input and output (B, C, H, W).
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=False)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, 3, padding=1, groups=dim * 3, bias=False)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        shape = (b, self.heads, c // self.heads, h * w)
        q = F.normalize(q.reshape(shape), dim=-1)
        k = F.normalize(k.reshape(shape), dim=-1)
        attn = (q @ k.transpose(-2, -1)) * self.temperature
        out = attn.softmax(dim=-1) @ v.reshape(shape)
        return self.project_out(out.reshape(b, c, h, w))


class GatedFeedForward(nn.Module):
    """Gated depth-wise feed-forward: ``W_out(GELU(a) * b)`` with ``a, b`` from a 3x3 dw-conv."""

    def __init__(self, dim: int, expansion: float) -> None:
        super().__init__()
        hidden = int(dim * expansion)
        self.project_in = nn.Conv2d(dim, hidden * 2, 1, bias=False)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * 2, bias=False)
        self.project_out = nn.Conv2d(hidden, dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return strip_map(self._local, x, radius=1)

    def _local(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(a) * b)


class RestormerBlock(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))`` then ``x + ffn(norm2(x))``."""

    def __init__(self, dim: int, heads: int, expansion: float) -> None:
        super().__init__()
        self.norm1 = ChannelLayerNorm(dim)
        self.attn = ChannelAttention(dim, heads)
        self.norm2 = ChannelLayerNorm(dim)
        self.ffn = GatedFeedForward(dim, expansion)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class RestormerStage(nn.Sequential):
    """``depth`` Restormer blocks in sequence; (B, dim, H, W) -> (B, dim, H, W)."""

    def __init__(self, dim: int, heads: int, depth: int, expansion: float) -> None:
        super().__init__(*[RestormerBlock(dim, heads, expansion) for _ in range(depth)])
