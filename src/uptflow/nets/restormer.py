"""Restormer-style transformer blocks: the R-branch of MSFormer (SPEC §2).

Multi-Dconv head transposed attention attends across *channels* (a C/heads x C/heads map per
head), so its cost is linear in the number of pixels — that is what lets the R-branch run at full
resolution.  It pools over the whole image, so tiles of a tiled run share the whole image's
``q k^T`` and norms through :mod:`uptflow.nets.pooled_stats`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from uptflow.nets import pooled_stats
from uptflow.nets.activations import gated_gelu_owned
from uptflow.nets.pointwise import is_channels_last, pointwise
from uptflow.nets.strips import conv3x3_rows, strip_add_, strip_bounds, strip_map, write_strips


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

    def forward(self, x: torch.Tensor, norm: nn.Module | None = None, add_to_input: bool = False) -> torch.Tensor:
        """``attn(norm(x))``; ``norm`` (a per-pixel LayerNorm or None) is applied strip by strip
        in inference, so the normalised map never exists whole.  ``add_to_input`` (inference, a
        map the caller owns): ``x += attn(norm(x))`` in place instead, returning ``x``."""
        bounds = strip_bounds(x.shape[-2], x.shape[-1], radius=1)
        if bounds is None and pooled_stats.active() is not None and not torch.is_grad_enabled():
            bounds = [(0, x.shape[-2], 0, x.shape[-2])]  # one strip: the path that shares statistics
        if bounds is not None:
            return self._two_pass(x, bounds, norm, add_to_input)
        if add_to_input:
            return x.add_(self.forward(x, norm))
        if norm is not None:
            x = norm(x)
        b, c, h, w = x.shape
        q, k, v = self.qkv_dwconv(pointwise(x, self.qkv.weight)).chunk(3, dim=1)
        shape = (b, self.heads, c // self.heads, h * w)
        q = F.normalize(q.reshape(shape), dim=-1)
        k = F.normalize(k.reshape(shape), dim=-1)
        attn = (q @ k.transpose(-2, -1)) * self.temperature
        out = attn.softmax(dim=-1) @ v.reshape(shape)
        return pointwise(out.reshape(b, c, h, w), self.project_out.weight)

    def _two_pass(self, x: torch.Tensor, bounds: list[tuple[int, int, int, int]],
                  norm: nn.Module | None, add_to_input: bool = False) -> torch.Tensor:
        """The same attention strip by strip, so the 3C-channel q/k/v maps never exist whole.

        The attention map only needs ``q k^T`` and the norms of q and k, which are sums over
        pixels: pass 1 accumulates them strip by strip (q, k are local: 1x1 then 3x3 conv, so a
        strip with one halo row each side is exact); pass 2 computes v per strip and applies
        ``W_out blockdiag(softmax(.))`` folded into one (B, C, C) matrix.  Same numbers as the
        whole-map path up to summation order; inference only (see ``strip_bounds``).  With
        ``add_to_input`` pass 2 adds its strips into ``x`` (:func:`~uptflow.nets.strips.write_strips`).
        """
        b, c, h, w = x.shape
        heads, d = self.heads, c // self.heads
        acc = torch.promote_types(x.dtype, torch.float32)
        w_qkv, w_dw = self.qkv.weight, self.qkv_dwconv.weight

        def local(s: torch.Tensor, lo: int, hi: int, r0: int, r1: int) -> torch.Tensor:
            if norm is not None:
                s = norm(s)
            return conv3x3_rows(pointwise(s, w_qkv[lo:hi]), w_dw[lo:hi], None, r0, r1, groups=hi - lo)

        st = pooled_stats.active()
        box = None if st is None or not st.record else st.core_box(h, w)
        gram = torch.zeros(b, heads, d, d, dtype=acc, device=x.device)
        sq = torch.zeros(b, 2, heads, d, dtype=acc, device=x.device)
        if box is not None:  # the same sums over the tile's core region only
            core_gram, core_sq = torch.zeros_like(gram), torch.zeros_like(sq)
        for r0, r1, a0, a1 in bounds:
            qk = local(x[:, :, a0:a1], 0, 2 * c, r0 - a0, r1 - a0).reshape(b, 2, heads, d, -1).to(acc)
            q, k = qk.unbind(1)
            gram += q @ k.transpose(-2, -1)
            sq += qk.square().sum(-1)
            if box is not None and min(r1, box[1]) > max(r0, box[0]):
                rows = slice(max(r0, box[0]) - r0, min(r1, box[1]) - r0)
                qkc = qk.reshape(b, 2, heads, d, r1 - r0, w)[..., rows, box[2]:box[3]].reshape(b, 2, heads, d, -1)
                core_gram += qkc[:, 0] @ qkc[:, 1].transpose(-2, -1)
                core_sq += qkc.square().sum(-1)
        if st is not None:
            recorded = (gram, sq, float(h * w)) if box is None else \
                (core_gram, core_sq, float((box[1] - box[0]) * (box[3] - box[2])))
            gram, sq = self._shared(st, gram, sq, recorded)
        norms = sq.sqrt().clamp_min(1e-12)  # F.normalize's eps
        attn = gram / (norms[:, 0, :, :, None] * norms[:, 1, :, None, :]) * self.temperature
        attn = attn.softmax(dim=-1)
        mix = torch.zeros(b, c, c, dtype=acc, device=x.device)  # blockdiag over heads
        for i in range(heads):
            mix[:, i * d:(i + 1) * d, i * d:(i + 1) * d] = attn[:, i]
        mix = (self.project_out.weight.view(c, c).to(acc) @ mix).to(x.dtype)

        def mixed(r0: int, r1: int, a0: int, a1: int) -> torch.Tensor:
            v = local(x[:, :, a0:a1], 2 * c, 3 * c, r0 - a0, r1 - a0)
            if is_channels_last(v):
                # the mix as a per-image 1x1 convolution of the strip as it lies in memory: no
                # transposing copies, and oneDNN / the faster GEMM of nets.pointwise (issue 18)
                ys = [pointwise(v[i:i + 1], mix[i, :, :, None, None]) for i in range(b)]
                return ys[0] if b == 1 else torch.cat(ys)
            return (mix @ v.reshape(b, c, -1)).view(b, c, r1 - r0, w)

        return write_strips(((r0, r1, mixed(r0, r1, a0, a1)) for r0, r1, a0, a1 in bounds), x, add=add_to_input)

    def _shared(self, st: pooled_stats.PooledStats, gram: torch.Tensor, sq: torch.Tensor,
                recorded: tuple[torch.Tensor, torch.Tensor, float]) -> tuple[torch.Tensor, torch.Tensor]:
        """Record ``q k^T`` (B, heads, d, d) and the squared norms of q, k (B, 2, heads, d) as
        means over the recorded pixels, and return the replayed means if there are any (the
        attention only needs their ratios, so means and sums give the same map)."""
        kg, ks = st.site(self, "gram"), st.site(self, "sq")
        if st.record:
            st.add_sum(kg, recorded[0], recorded[2])
            st.add_sum(ks, recorded[1], recorded[2])
        rg, rs = st.replayed(kg, gram), st.replayed(ks, sq)
        return (gram, sq) if rg is None or rs is None else (rg, rs)


class GatedFeedForward(nn.Module):
    """Gated depth-wise feed-forward: ``W_out(GELU(a) * b)`` with ``a, b`` from a 3x3 dw-conv."""

    def __init__(self, dim: int, expansion: float) -> None:
        super().__init__()
        hidden = int(dim * expansion)
        self.project_in = nn.Conv2d(dim, hidden * 2, 1, bias=False)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * 2, bias=False)
        self.project_out = nn.Conv2d(hidden, dim, 1, bias=False)

    def forward(self, x: torch.Tensor, norm: nn.Module | None = None, add_to_input: bool = False) -> torch.Tensor:
        """``ffn(norm(x))``, strip by strip in inference (``norm``: per-pixel, or None);
        ``add_to_input`` (inference, a map the caller owns): ``x += ffn(norm(x))`` in place."""
        def local(s: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
            return self._local(s if norm is None else norm(s), lo, hi)

        return strip_add_(local, x, radius=1) if add_to_input else strip_map(local, x, radius=1)

    def _local(self, x: torch.Tensor, lo: int = 0, hi: int | None = None) -> torch.Tensor:
        """Rows ``lo:hi`` of the feed-forward on ``x``: the halo rows end after the depth-wise conv."""
        # The two halves (GELU branch, gate) are projected and filtered separately, the same
        # function as one projection + chunk (up to float rounding): chunks of a channels-last map
        # are strided, and GELU and the product ran ~2x slower on them than on dense halves (issue 18).
        w_in, w_dw = self.project_in.weight, self.dwconv.weight
        n = w_dw.shape[0] // 2
        a, b = (conv3x3_rows(pointwise(x, w_in[i:i + n]), w_dw[i:i + n], None, lo, hi, groups=n) for i in (0, n))
        return pointwise(gated_gelu_owned(a, b), self.project_out.weight)


class RestormerBlock(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))`` then ``x + ffn(norm2(x))``."""

    def __init__(self, dim: int, heads: int, expansion: float) -> None:
        super().__init__()
        self.norm1 = ChannelLayerNorm(dim)
        self.attn = ChannelAttention(dim, heads)
        self.norm2 = ChannelLayerNorm(dim)
        self.ffn = GatedFeedForward(dim, expansion)

    def forward(self, x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        """(B, dim, H, W) -> (B, dim, H, W).  ``inplace`` (honoured only without autograd, for a
        map the caller owns) writes the result into ``x``'s storage."""
        # The norms run inside the sub-layers' strips and, in inference, the residuals are added
        # in place, strip by strip, into a map this block owns (``x`` itself with ``inplace``,
        # else one copy of it, in x's layout): no full-size sub-layer outputs (nets.strips).
        if torch.is_grad_enabled():
            x = self.attn(x, self.norm1).add_(x)
            return self.ffn(x, self.norm2).add_(x)
        if not inplace:
            x = x.clone()
        self.attn(x, self.norm1, add_to_input=True)
        return self.ffn(x, self.norm2, add_to_input=True)


class RestormerStage(nn.Sequential):
    """``depth`` Restormer blocks in sequence; (B, dim, H, W) -> (B, dim, H, W).

    In inference every block after the first updates its (stage-owned) input in place, so a
    stage holds only its input, one working map and a sub-layer output at a time.  With
    ``owned=True`` (the caller hands ``x`` over) the first block does so too.
    """

    def __init__(self, dim: int, heads: int, depth: int, expansion: float) -> None:
        super().__init__(*[RestormerBlock(dim, heads, expansion) for _ in range(depth)])

    def forward(self, x: torch.Tensor, owned: bool = False) -> torch.Tensor:
        for i, block in enumerate(self):
            x = block(x, inplace=owned or i > 0)
        return x
