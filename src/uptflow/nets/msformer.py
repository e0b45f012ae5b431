"""MSFormer: the multi-scale transformer encoder that conditions the flow (SPEC §2).

A 4-level U-Net.  Every level adds a Restormer branch (``r*``, channel attention) and an
UP-guided window-attention branch (``u*``).  The UP map enters repeated to ``C`` channels and is
moved between scales by the very same down/up-sampling modules as the features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from uptflow.config import UPTFlowConfig
from uptflow.nets.pointwise import pointwise, pointwise_pair
from uptflow.nets.restormer import RestormerStage
from uptflow.nets.sampling import Downsample, Upsample, UpsampledRows
from uptflow.nets.strips import strip_pixels
from uptflow.nets.window_attention import UPWindowStage


class MSFormer(nn.Module):
    """Encoder ``(x, m) -> (cond_1, cond_2, cond_3)``.

    Input ``x`` (B, 3, H, W) in [0, 1] with H, W multiples of 8, ``m`` its UP map (B, 1, H, W).
    Output: conditioning for flow levels 1, 2, 3 at H/2, H/4, H/8, each with ``6C`` channels
    (decoder features ``fea_up2, fea_up1, fea_up0`` concatenated with the bilinearly resized
    full-resolution ``cat_f``).
    """

    def __init__(self, config: UPTFlowConfig) -> None:
        super().__init__()
        c = config.width
        hr, hu = config.heads_r, config.heads_u
        d, e, win, mr = config.encoder_depth, config.ffn_expansion, config.window, config.mlp_ratio

        def rstage(dim: int, heads: int, depth: int = d) -> RestormerStage:
            return RestormerStage(dim, heads, depth, e)

        def ustage(dim: int, heads: int) -> UPWindowStage:
            return UPWindowStage(dim, heads, win, d, mr)

        self.embed = nn.Conv2d(3, c, 3, padding=1, bias=False)
        self.r1, self.u1 = rstage(c, hr[0]), ustage(c, hu[0])
        self.down12 = Downsample(c)
        self.r2, self.u2 = rstage(2 * c, hr[1]), ustage(2 * c, hu[1])
        self.down23 = Downsample(2 * c)
        self.r3, self.u3 = rstage(4 * c, hr[2]), ustage(4 * c, hu[2])
        self.down34 = Downsample(4 * c)
        self.r4, self.u4 = rstage(8 * c, hr[3]), ustage(8 * c, hu[3])
        self.reduce0 = nn.Conv2d(8 * c, 4 * c, 1, bias=False)
        self.up43 = Upsample(8 * c)
        self.reduce3 = nn.Conv2d(8 * c, 4 * c, 1, bias=False)
        self.r5, self.u5 = rstage(4 * c, hr[2]), ustage(4 * c, hu[4])
        self.up32 = Upsample(4 * c)
        self.reduce2 = nn.Conv2d(4 * c, 4 * c, 1, bias=False)
        self.r6, self.u6 = rstage(4 * c, hr[1]), ustage(4 * c, hu[5])
        self.up21 = Upsample(4 * c)
        self.reduce1 = nn.Conv2d(3 * c, 2 * c, 1, bias=False)
        self.r7, self.u7 = rstage(2 * c, hr[0]), ustage(2 * c, hu[6])
        self.refine = rstage(2 * c, hr[0], config.refine_depth)

    def features(self, x: torch.Tensor, m: torch.Tensor) -> dict[str, torch.Tensor]:
        """Raw decoder outputs ``fea_up0`` (4C @ H/8), ``fea_up1`` (4C @ H/4),
        ``fea_up2`` (4C @ H/2) and ``cat_f`` (2C @ H).

        Runs in channels-last layout (depth-wise convs, LayerNorms and the window branch's
        (B, H, W, C) views are faster in it); the outputs are channels-last too.  Intermediates
        are released as soon as they are last used, to lower the inference peak memory.
        """
        c = self.embed.out_channels
        x = x.contiguous(memory_format=torch.channels_last)
        f1 = self.embed(x)
        m1 = m.expand(-1, c, -1, -1)
        r1 = self.r1(f1)
        e1 = r1 + self.u1(f1, m1)
        del f1

        e2in, m2 = self.down12(e1), _down_repeated(self.down12, m, c)
        del e1, m1
        r2 = self.r2(e2in)
        del e2in
        e2 = r2 + self.u2(r2, m2)  # the level-2 window branch takes the R-branch output

        e3in, m3 = self.down23(e2), self.down23(m2)
        del e2, m2
        r3 = self.r3(e3in)
        e3 = r3 + self.u3(e3in, m3)
        del e3in

        l4, m4 = self.down34(e3), self.down34(m3)
        del e3, m3
        lat = self.r4(l4) + self.u4(l4, m4)
        del l4
        fea_up0 = pointwise(lat, self.reduce0.weight)

        d3 = _reduce(self.reduce3, self.up43(lat), r3)
        del lat, r3
        m5 = self.up43(m4)
        del m4
        fea_up1 = self.r5(d3) + self.u5(d3, m5)
        del d3

        d2 = _reduce(self.reduce2, self.up32(fea_up1), r2)
        del r2
        m6_half = self.up32(m5)
        del m5
        m6 = torch.cat([m6_half, m6_half], dim=1)  # = repeat(1, 2, 1, 1), in m6_half's layout
        fea_up2 = self.r6(d2) + self.u6(d2, m6)
        del d2, m6

        d1 = _reduce(self.reduce1, self.up21(fea_up2), r1)
        del r1
        m7 = _up_repeated(self.up21, m6_half)  # in inference: computed band by band when read
        del m6_half
        x7 = self.u7(d1, m7)  # window branch first: then d1 is the R-branch's to refine in place
        del m7
        x7 += self.r7(d1, owned=True)
        del d1
        cat_f = self.refine(x7, owned=True)  # x7 is handed over: refined in place in inference
        return {"fea_up0": fea_up0, "fea_up1": fea_up1, "fea_up2": fea_up2, "cat_f": cat_f}

    @staticmethod
    def conditions(feats: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """Concatenate each decoder output with ``cat_f`` resized to its size.

        Returns ``[cond_level1 (H/2), cond_level2 (H/4), cond_level3 (H/8)]``, 6C channels each.
        """
        cat_f = feats["cat_f"]
        out = []
        for name in ("fea_up2", "fea_up1", "fea_up0"):
            fea = feats[name]
            resized = F.interpolate(cat_f, size=fea.shape[-2:], mode="bilinear", align_corners=False)
            out.append(torch.cat([fea, resized], dim=1))
        return out

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> list[torch.Tensor]:
        return self.conditions(self.features(x, m))


def _reduce(conv: nn.Conv2d, up: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """``conv(cat([up, skip], dim=1))`` for a decoder's 1x1 channel reduction; in inference
    without building the concatenation (:func:`~uptflow.nets.pointwise.pointwise_pair`: at a
    1160-px tile the level-1 one was a fresh 246 MiB map)."""
    if torch.is_grad_enabled():
        return pointwise(torch.cat([up, skip], dim=1), conv.weight, conv.bias)
    return pointwise_pair(up, skip, conv.weight, conv.bias)


def _down_repeated(down: Downsample, m: torch.Tensor, c: int) -> torch.Tensor:
    """``down(m.expand(-1, c, -1, -1))`` from the one-channel UP map ``m`` (B, 1, H, W) directly.

    Every input channel is the same map, so in inference the conv runs on ``m`` with its weight
    summed over the input axis (the same map to rounding, ``c`` times fewer FLOPs) and its output
    is made channels-last.  Why: a conv on the channel-broadcast map returned an NCHW map, so every
    UP feature map below it was NCHW and each window-attention band transposed its rows while
    padding them (~30 ms of a 256x256 paper-lol enhancement, issue 18).  Returns
    (B, 2c, H/2, W/2), channels-last in inference.
    """
    conv, unshuffle = down.body[0], down.body[1]
    if torch.is_grad_enabled() or conv.weight.shape[1] != c:
        return down(m.expand(-1, c, -1, -1))
    y = F.conv2d(m, conv.weight.sum(1, keepdim=True), conv.bias, conv.stride, conv.padding)
    return unshuffle(y.contiguous(memory_format=torch.channels_last))


def _up_repeated(up: Upsample, half: torch.Tensor) -> torch.Tensor:
    """``up(half.repeat(1, 2, 1, 1))`` at half the cost.

    The conv sees every channel twice, so summing the two halves of its weight's input axis
    gives the same map (to rounding) from ``half`` (B, C/2, H, W) directly.  In inference with
    strips enabled the result is an :class:`UpsampledRows` (the map is built band by band
    where it is read), else a tensor.
    """
    conv, shuffle = up.body[0], up.body[1]
    k = half.shape[1]
    if torch.is_grad_enabled() or conv.weight.shape[1] != 2 * k:
        return up(half.repeat(1, 2, 1, 1))
    weight = conv.weight[:, :k] + conv.weight[:, k:]
    if strip_pixels() is not None and conv.bias is None:
        return UpsampledRows(half, weight)  # the window branch reads it one band at a time
    return shuffle(F.conv2d(half, weight, conv.bias, conv.stride, conv.padding))
