"""UP-guided window attention: the U-branch of MSFormer (SPEC §2, §2b).

A Uformer-style LeWin block whose attention takes its *queries and keys from the UP-map
features* and its values from the image features: pixels are mixed according to where the
colour balance is broken, not according to their (dark, noisy) content.  Windows are ``w x w``;
every second block shifts them by ``w // 2`` (Swin) with the usual -100 cross-region mask.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from uptflow.derived import cached
from uptflow.nets.activations import gelu_owned
from uptflow.nets.pointwise import linear_tokens, pointwise
from uptflow.nets.pooled_stats import pooled_mean, pooled_mean_rows
from uptflow.nets.strips import conv3x3_rows, strip_bounds, strip_map, strip_pixels, strip_results
from uptflow.nets.windows import (add_to, padded, relative_position_index, shift_mask, take_rows,
                                  window_partition, window_reverse, wrapped_rows)


class WindowProjection(nn.Module):
    """Per-window 3x3 depth-wise convs: q and k from the UP-map window, v from the features.

    The convs see one window at a time (zero padding at the window border), as in Uformer's
    "conv" token projection.  Keys ``to_q``, ``to_k``, ``to_v`` match the authors' names.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.to_q = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.to_k = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.to_v = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)


class UPWindowAttention(nn.Module):
    """Window attention with UP-map queries/keys and a relative-position bias.

    ``softmax(q k^T d^-1/2 * temperature + bias [+ mask]) v`` then a linear projection.
    Inputs are windows (B*nW, w, w, C); output tokens (B*nW, w*w, C).
    """

    def __init__(self, dim: int, heads: int, window: int) -> None:
        super().__init__()
        self.heads = heads
        self.window = window
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.register_buffer("relative_position_index", relative_position_index(window))
        self.qkv = WindowProjection(dim)
        self.proj = nn.Linear(dim, dim)

    def position_bias(self) -> torch.Tensor:
        """(heads, N, N) relative-position bias gathered from the table.

        Without autograd the gathered bias is kept (dense) until the table changes: every band
        of every enhancement adds the same one (a gather and a strided add per band before)."""
        n = self.window * self.window

        def gather(table: torch.Tensor) -> torch.Tensor:
            return table[self.relative_position_index.view(-1)].view(n, n, -1).permute(2, 0, 1)

        table = self.relative_position_bias_table
        if torch.is_grad_enabled():
            return gather(table)
        return cached(self, "_bias_cache", table, lambda t: gather(t).contiguous())

    def forward(self, x_win: torch.Tensor, m_win: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        bn, ws, _, c = x_win.shape
        n = ws * ws
        d = c // self.heads
        # Channels-last windows: the partitions of a band are strided views (and the level-1 UP
        # features a channel-broadcast map); oneDNN's depth-wise kernel runs ~5x faster on a dense
        # channels-last map than on a strided one it first copies to NCHW (issue 18).
        x_img = x_win.contiguous().permute(0, 3, 1, 2)
        m_img = m_win.contiguous().permute(0, 3, 1, 2)

        def tokens(y: torch.Tensor) -> torch.Tensor:
            """(B*nW, C, w, w) channels-last -> (B*nW, heads, N, d); channels split head-major."""
            return y.permute(0, 2, 3, 1).reshape(bn, n, self.heads, d).transpose(1, 2)

        q = tokens(self.qkv.to_q(m_img))
        # k and v made dense (heads, N, d) first: the batched products on the head-strided views
        # ran slower than the copy plus the product on dense ones (v: ~7x for a two-head band
        # in a one-off timing; issue 18)
        k = tokens(self.qkv.to_k(m_img)).contiguous()
        v = tokens(self.qkv.to_v(x_img)).contiguous()
        # inference in the parameters' dtype (not under autocast, where the sums promote to
        # float32): one scaling pass that also makes q dense, and the bias and mask added in
        # place into the fresh scores (issue 18)
        owned = not torch.is_grad_enabled() and q.dtype == self.temperature.dtype
        if owned:
            q = torch.mul(q, self.scale * self.temperature, out=q.new_empty(bn, self.heads, n, d))
            attn = (q @ k.transpose(-2, -1)).add_(self.position_bias())
        else:
            q = q * self.scale * self.temperature
            attn = q @ k.transpose(-2, -1) + self.position_bias().unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            scores = attn.view(bn // nw, nw, self.heads, n, n)
            attn = (scores.add_(mask[None, :, None]) if owned else scores + mask[None, :, None]).view(bn, self.heads, n, n)
        out = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(bn, n, c)
        return linear_tokens(out, self.proj.weight, self.proj.bias)


class ECA(nn.Module):
    """Efficient channel attention: global average pool, 1-D conv (k=3, no bias) over channels,
    sigmoid, multiply.  (B, C, H, W) -> (B, C, H, W).

    Without autograd the input is scaled in place (it is always the feed-forward's fresh output),
    which saves one full-resolution map at the encoder's memory peak.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 1, 3, padding=1, bias=False)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The per-channel scale of ``x`` (B, C, H, W): (B, C, 1, 1) in (0, 1)."""
        return self._gate(pooled_mean(self, "mean", x))  # shared across tiles if recorded

    def gate_of_rows(self, rows: list[tuple[int, int, torch.Tensor]], h: int, w: int) -> torch.Tensor:
        """:meth:`gate` of the (B, C, h, w) map given as row strips ``(r0, r1, y)``
        (:func:`~uptflow.nets.pooled_stats.pooled_mean_rows`)."""
        return self._gate(pooled_mean_rows(self, "mean", rows, h, w))

    def _gate(self, mean: torch.Tensor) -> torch.Tensor:
        """(B, C) channel means -> (B, C, 1, 1) scale."""
        return torch.sigmoid(self.conv(mean.unsqueeze(1))).transpose(1, 2).unsqueeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.gate(x)
        return x * y if torch.is_grad_enabled() else x.mul_(y)  # in place: one map less in inference


class LocallyEnhancedFeedForward(nn.Module):
    """1x1 conv (x mlp_ratio, no activation) -> 3x3 depth-wise + GELU -> 1x1 conv -> ECA."""

    def __init__(self, dim: int, ratio: int) -> None:
        super().__init__()
        hidden = dim * ratio
        self.conv1 = nn.Conv2d(dim, hidden, 1)
        self.dwconv = nn.Sequential(nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden), nn.GELU())
        self.conv2 = nn.Conv2d(hidden, dim, 1)
        self.eca = ECA()

    def forward(self, x: torch.Tensor, norm: nn.Module | None = None) -> torch.Tensor:
        """``ffn(norm(x))`` for (B, C, H, W) ``x``; ``norm`` (an ``nn.LayerNorm`` over channels, or
        None) runs inside the strips in inference, so the normalised map never exists whole."""
        return self.eca(self._unscaled(x, norm))

    def add_into(self, x: torch.Tensor, norm: nn.Module | None = None) -> torch.Tensor:
        """``x += ffn(norm(x))`` in place (inference; ``x`` a map the caller owns), returning ``x``.
        The channel attention's scale goes into the sum (one ``addcmul_``): one full-size pass
        less than scaling the feed-forward's output first (issue 18)."""
        h, w = x.shape[-2:]
        bounds = strip_bounds(h, w, radius=1)
        if bounds is None:
            out = self._unscaled(x, norm)
            return x.addcmul_(out, self.eca.gate(out))
        # every strip first (they read x's halo rows), then each added with the scale: no
        # full-size output map to copy the strips into (fresh pages at large sizes; issue 18)
        rows = list(strip_results(self._normed(norm), x, bounds))
        gate = self.eca.gate_of_rows(rows, h, w)
        for r0, r1, y in rows:
            x[:, :, r0:r1].addcmul_(y, gate)
        return x

    def _unscaled(self, x: torch.Tensor, norm: nn.Module | None) -> torch.Tensor:
        """The feed-forward up to ECA, strip by strip (strips.strip_map): (B, C, H, W), fresh."""
        return strip_map(self._normed(norm), x, radius=1)

    def _normed(self, norm: nn.Module | None) -> Callable[[torch.Tensor, int, int], torch.Tensor]:
        """:meth:`_local` preceded by ``norm`` (over channels, per pixel): a strip function."""
        def local(s: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
            if norm is not None:
                s = norm(s.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            return self._local(s, lo, hi)

        return local

    def _local(self, x: torch.Tensor, lo: int = 0, hi: int | None = None) -> torch.Tensor:
        """Rows ``lo:hi`` of the feed-forward on ``x``: the halo rows end after the depth-wise conv."""
        conv = self.dwconv[0]  # dwconv[1] is the GELU, applied in place on the fresh strip in inference
        hidden = gelu_owned(conv3x3_rows(pointwise(x, self.conv1.weight, self.conv1.bias), conv.weight, conv.bias,
                                         lo, hi, groups=conv.groups))
        return pointwise(hidden, self.conv2.weight, self.conv2.bias)


class UPWindowBlock(nn.Module):
    """One LeWin block with UP-guided attention.

    Order (each step changes numbers, SPEC §2b): pad features and UP features bottom/right to a
    multiple of the window, LayerNorm the features only (padded tokens become the LayerNorm
    bias), cyclic shift, partition, attend, merge, un-shift, crop; residual with the un-padded
    input; then ``x + ffn(norm2(x))``.
    """

    def __init__(self, dim: int, heads: int, window: int, shift: int, mlp_ratio: int) -> None:
        super().__init__()
        self.window = window
        self.shift = shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = UPWindowAttention(dim, heads, window)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = LocallyEnhancedFeedForward(dim, mlp_ratio)
        self._mask_cache: dict[tuple, torch.Tensor] = {}

    def _mask(self, h: int, w: int, ref: torch.Tensor) -> torch.Tensor | None:
        if self.shift == 0:
            return None
        key = (h, w, ref.device, ref.dtype)
        mask = self._mask_cache.get(key)
        if mask is None:
            mask = shift_mask(h, w, self.window, self.shift, ref.device, ref.dtype)
            self._mask_cache = {key: mask}  # keep one size: bounded memory
        return mask

    def _attend(self, xt: torch.Tensor, mt, hp: int, wp: int, mask: torch.Tensor | None,
                into: torch.Tensor | None = None, base: torch.Tensor | None = None) -> torch.Tensor:
        """norm1 + shifted-window attention -> (B, H, W, C), un-shifted and cropped to ``xt``'s size.

        ``xt`` (B, H, W, C) and ``mt`` (the same, or an UpsampledRows of (B, C, H, W)) stand for
        their zero-padded (bottom / right) versions of size (Hp, Wp), multiples of the window.
        With ``into`` (a (B, H, W, C) tensor; inference) the result is *added* into it and
        ``into`` is returned: no full-size output map.  ``into`` may be ``xt`` itself, since a
        band reads exactly the rows it writes, and reads them first.  With ``base`` (a (B, H, W, C)
        tensor) ``into`` receives ``base + attention`` instead, its old contents never read: the
        bands together write every element once.

        Windows are independent, so in inference they are processed in bands of whole window
        rows (about :func:`~uptflow.nets.strips.strip_pixels` pixels each): the same numbers,
        but the normalised and cyclically shifted copies, the partitions, q/k/v and the
        (windows, heads, N, N) scores exist for one band at a time only.  A band of the shifted
        map is gathered directly from the rows it comes from (``(i + shift) mod Hp``), and its
        output is written back to them, so no whole rolled copy is ever made.
        """
        h, w, c = xt.shape[1], xt.shape[2], xt.shape[3]
        ws, s = self.window, self.shift
        n_rows, n_cols = hp // ws, wp // ws
        budget = strip_pixels()
        if budget is None or torch.is_grad_enabled():
            band = n_rows
        else:
            band = max(1, budget // (ws * ws * n_cols))
        if band >= n_rows:  # whole map at once: the reference path (also the training path)
            xr = self.norm1(padded(xt, hp, wp))
            mr = padded(mt if isinstance(mt, torch.Tensor) else mt.full().permute(0, 2, 3, 1), hp, wp)
            if s:
                xr = torch.roll(xr, shifts=(-s, -s), dims=(1, 2))
                mr = torch.roll(mr, shifts=(-s, -s), dims=(1, 2))
            o = self.attn(window_partition(xr, ws), window_partition(mr, ws), mask)
            o = window_reverse(o.view(-1, ws, ws, c), ws, hp, wp)
            o = (torch.roll(o, shifts=(s, s), dims=(1, 2)) if s else o)[:, :h, :w]
            return o if into is None else add_to(into, o, base)
        if into is None:
            into = torch.zeros_like(xt)
        for i0 in range(0, n_rows, band):
            i1 = min(i0 + band, n_rows)
            segs = wrapped_rows((i0 * ws + s) % hp, (i1 - i0) * ws, hp)  # rows of the shifted band
            xb = self.norm1(take_rows(xt, segs, wp))
            mb = take_rows(mt, segs, wp)
            if s:
                xb, mb = torch.roll(xb, -s, dims=2), torch.roll(mb, -s, dims=2)
            band_mask = None if mask is None else mask[i0 * n_cols: i1 * n_cols]
            o = self.attn(window_partition(xb, ws), window_partition(mb, ws), band_mask)
            o = window_reverse(o.view(-1, ws, ws, c), ws, (i1 - i0) * ws, wp)
            if s:
                o = torch.roll(o, s, dims=2)
            k = 0
            for a, e in segs:  # back to the rows the band came from; padding rows dropped
                if a < h:
                    rows = slice(a, min(e, h))
                    add_to(into[:, rows], o[:, k: k + min(e, h) - a, :w], None if base is None else base[:, rows])
                k += e - a
        return into

    def forward(self, x: torch.Tensor, m: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        """x: (B, C, H, W) features; m: (B, C, H, W) UP-map features (or an
        :class:`~uptflow.nets.sampling.UpsampledRows` standing in for them). Returns (B, C, H, W).

        ``inplace`` (honoured only without autograd, for a map the caller owns) writes the
        result into ``x``'s storage: one full-size map less at the inference peak.
        """
        b, c, h, w = x.shape
        ws = self.window
        hp, wp = h + (-h) % ws, w + (-w) % ws
        xt = x.permute(0, 2, 3, 1)
        mt = m.permute(0, 2, 3, 1) if isinstance(m, torch.Tensor) else m
        # padding happens band by band in inference (no whole padded copies of x and m)
        mask = self._mask(hp, wp, xt)
        if not torch.is_grad_enabled():
            # the attention's bands are added into x itself, or (a block not owning x) written as
            # x + attention into a fresh map: no full-size attention output, no copy of x and no
            # separate sum (issue 18)
            y = x if inplace else torch.empty_like(x)
            self._attend(xt, mt, hp, wp, mask, into=y.permute(0, 2, 3, 1), base=None if inplace else xt)
            del xt, mt
            return self.mlp.add_into(y, self.norm2)
        out = self._attend(xt, mt, hp, wp, mask)
        del xt, mt
        x = x + out.permute(0, 3, 1, 2)
        del out
        return self.mlp(x, self.norm2).add_(x)  # in place into the feed-forward's fresh output


class UPWindowStage(nn.Module):
    """``depth`` UP-guided window blocks, every second one shifted by ``window // 2``."""

    def __init__(self, dim: int, heads: int, window: int, depth: int, mlp_ratio: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            UPWindowBlock(dim, heads, window, 0 if i % 2 == 0 else window // 2, mlp_ratio)
            for i in range(depth)
        )

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """In inference every block after the first updates its (stage-owned) input in place."""
        for i, block in enumerate(self.blocks):
            x = block(x, m, inplace=i > 0)
        return x
