"""A traceable twin of :meth:`UPTFlow.enhance` at temperature 0, for ONNX export.

The inference path of :class:`~uptflow.model.UPTFlow` is written for eager PyTorch: strip loops
and band-wise window attention (Python loops over rows), caches keyed by image size, Python
``if``s on the padding amounts, and an inverse 1x1 convolution computed (and cached) at run time.
A graph exporter either bakes those Python decisions in as constants (valid for one size only)
or refuses them.  :class:`EnhanceGraph` runs the same numbers as ``enhance(low)`` with every
shape decision expressed as arithmetic on (symbolic) sizes or as tensor ops:

- the bottom/right reflect padding to a multiple of 8 is a gather with indices computed in the
  graph, replaying :func:`uptflow.model.pad_to_multiple`'s rounds (tiny images included);
- the window blocks always pad (by ``ceil(h / w) * w - h``, which may be 0) and build the
  shifted-window mask from index comparisons instead of a size-keyed cache;
- the inverse 1x1 convolutions use their inverse weights computed once in float64 and stored as
  constants (the graph contains no matrix inverse);
- strips are disabled and no pooled statistics are active: the plain whole-map path.

The twin shares nothing mutable with the model it is built from (a deep copy is converted).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from uptflow.flows.base import zero_logdet
from uptflow.flows.invconv import InvertibleConv1x1
from uptflow.model import UPTFlow
from uptflow.nets.window_attention import UPWindowBlock
from uptflow.prior import up_map

__all__ = ["EnhanceGraph", "reflect_pad_indices", "window_shift_mask"]

#: Rounds of :func:`uptflow.model.pad_to_multiple` replayed in the graph.  A pad of at most 7
#: pixels needs at most 3 rounds (a 2-pixel side grows 2 -> 3 -> 5 -> 8); one spare round.
PAD_ROUNDS = 4


def _ceil_to(n, multiple: int):
    """``ceil(n / multiple) * multiple`` for an int or a symbolic size; written so a tracer
    can prove the result divisible by ``multiple``."""
    return (n + multiple - 1) // multiple * multiple


def reflect_pad_indices(h: torch.Tensor, w: torch.Tensor, hp, wp) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column indices that reproduce :func:`uptflow.model.pad_to_multiple`.

    Args:
        h, w: the input height and width as 0-d int64 tensors (>= 1).
        hp, wp: the padded sizes (ints or symbolic sizes).

    Returns ``(rows (hp,), cols (wp,))``, int64: ``padded = x[..., rows, :][..., cols]``.

    ``pad_to_multiple`` pads in rounds, each by at most ``side - 1`` (reflection needs it) and
    with one mode for both axes (replicate when a 1-pixel side must grow).  The rounds are
    simulated on 0-d tensors, then each output position is mapped back round by round
    (reflect: ``p -> 2 (L - 1) - p``, replicate: ``p -> L - 1``), so no Python decision depends
    on the size.
    """
    lengths = [(h, w)]
    modes = []
    rem_h, rem_w = hp - h, wp - w
    lh, lw = h, w
    for _ in range(PAD_ROUNDS):
        step_h = torch.where(lh > 1, torch.minimum(rem_h, lh - 1), rem_h)
        step_w = torch.where(lw > 1, torch.minimum(rem_w, lw - 1), rem_w)
        replicate = ((lh <= 1) & (step_h > 0)) | ((lw <= 1) & (step_w > 0))
        modes.append(replicate)
        lh, lw = lh + step_h, lw + step_w
        rem_h, rem_w = rem_h - step_h, rem_w - step_w
        lengths.append((lh, lw))
    rows = torch.arange(hp, device=h.device)
    cols = torch.arange(wp, device=w.device)
    for k in range(PAD_ROUNDS - 1, -1, -1):  # from the last round's output back to the input
        for axis, pos in ((0, rows), (1, cols)):
            length = lengths[k][axis]
            back = torch.where(modes[k], length - 1, 2 * (length - 1) - pos)
            mapped = torch.where(pos < length, pos, back)
            if axis == 0:
                rows = mapped
            else:
                cols = mapped
    return rows, cols


def window_shift_mask(hp, wp, window: int, shift: int, like: torch.Tensor) -> torch.Tensor:
    """:func:`uptflow.nets.window_attention.shift_mask` from index comparisons: (nW, N, N),
    0 within a region and -100 across regions, in ``like``'s dtype.

    Region of a row: 0 below ``hp - window``, 1 below ``hp - shift``, else 2 (likewise columns).
    """
    r = torch.arange(hp, device=like.device)
    c = torch.arange(wp, device=like.device)
    rid = (r >= hp - window).to(torch.int64) + (r >= hp - shift).to(torch.int64)
    cid = (c >= wp - window).to(torch.int64) + (c >= wp - shift).to(torch.int64)
    region = (rid[:, None] * 3 + cid[None, :]).to(like.dtype)  # (hp, wp)
    windows = _partition(region[None, :, :, None], window).view(-1, window * window)
    diff = windows.unsqueeze(1) - windows.unsqueeze(2)
    return torch.where(diff != 0, torch.full_like(diff, -100.0), torch.zeros_like(diff))


def _partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """:func:`~uptflow.nets.window_attention.window_partition` with an explicit copy before the
    final view: ``reshape`` of the permuted map would make the tracer decide (and guard on)
    whether a view is possible, which depends on whether there is one window per row."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.clone(memory_format=torch.contiguous_format).view(-1, window, window, c)


def _reverse(windows: torch.Tensor, window: int, b: int, h, w) -> torch.Tensor:
    """Inverse of :func:`_partition` for a batch of ``b``: (b * nW, window, window, C) -> (b, h, w, C)."""
    c = windows.shape[-1]
    x = windows.view(b, h // window, w // window, window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.clone(memory_format=torch.contiguous_format).view(b, h, w, c)


class _ExportWindowBlock(UPWindowBlock):
    """:class:`UPWindowBlock` whose forward always pads and builds its mask in the graph
    (same numbers as the whole-map path of the eager block)."""

    def forward(self, x: torch.Tensor, m: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        b, c, h, w = x.shape
        ws, s = self.window, self.shift
        hp, wp = _ceil_to(h, ws), _ceil_to(w, ws)
        xt = F.pad(x.permute(0, 2, 3, 1), (0, 0, 0, wp - w, 0, hp - h))
        mt = F.pad(m.permute(0, 2, 3, 1), (0, 0, 0, wp - w, 0, hp - h))
        xr = self.norm1(xt)
        mask = None
        if s:
            xr = torch.roll(xr, shifts=(-s, -s), dims=(1, 2))
            mt = torch.roll(mt, shifts=(-s, -s), dims=(1, 2))
            mask = window_shift_mask(hp, wp, ws, s, xt)
        o = self.attn(_partition(xr, ws), _partition(mt, ws), mask)
        o = _reverse(o.reshape(-1, ws, ws, c), ws, b, hp, wp)
        if s:
            o = torch.roll(o, shifts=(s, s), dims=(1, 2))
        # A gather, not o[:, :h, :w]: slicing makes the tracer prove h <= hp (it cannot for
        # nested ceil-divisions) and guard on it; the indices need no proof.
        o = o.index_select(1, torch.arange(h, device=o.device)).index_select(2, torch.arange(w, device=o.device))
        x = x + o.permute(0, 3, 1, 2)
        return x + self.mlp(x, self.norm2)


class _ExportInvConv(InvertibleConv1x1):
    """:class:`InvertibleConv1x1` whose inverse uses a constant inverse weight (``folded``,
    computed in float64 at conversion) and skips the log-determinant (not needed to enhance)."""

    folded: torch.Tensor

    def inverse(self, y, context=None):
        return F.conv2d(y, self.folded), zero_logdet(y)


def _convert(model: UPTFlow) -> UPTFlow:
    """A deep copy of ``model`` (eval, no gradients) with the export twins swapped in."""
    twin = copy.deepcopy(model).eval()
    for p in twin.parameters():
        p.requires_grad_(False)
    for module in twin.modules():
        if type(module) is UPWindowBlock:
            module.__class__ = _ExportWindowBlock
            module._mask_cache = {}
        elif type(module) is InvertibleConv1x1:
            c = module.weight.shape[0]
            inv = torch.linalg.inv(module.weight.detach().double()).to(module.weight.dtype)
            module.__class__ = _ExportInvConv
            module.register_buffer("folded", inv.view(c, c, 1, 1).contiguous())
        elif isinstance(module, (UPWindowBlock, InvertibleConv1x1)):
            raise TypeError(f"cannot export a model with a custom {type(module).__name__}")
    return twin


class EnhanceGraph(nn.Module):
    """``low (1, 3, H, W) in [0, 1] -> enhanced (1, 3, H, W) in [0, 1]``, temperature 0.

    The same computation as ``model.enhance(low)`` (pad to a multiple of 8, UP map, encoder,
    inverse flow from z = 0, crop, clamp), traceable for any H, W >= 1.  Run it (or export it)
    under ``uptflow.nets.strips.strip_size(None)`` and ``torch.no_grad()``.
    """

    def __init__(self, model: UPTFlow) -> None:
        super().__init__()
        self.model = _convert(model)
        self.multiple = int(model.config.size_multiple)
        self.latent_channels = int(model.config.latent_channels)

    def forward(self, low: torch.Tensor) -> torch.Tensor:
        b, _, h, w = low.shape
        m = self.multiple
        hp, wp = _ceil_to(h, m), _ceil_to(w, m)
        # h and w as 0-d tensors: the padding rounds are decided in the graph, not in Python.
        h_t = torch.ones((h,), dtype=torch.int64, device=low.device).sum()
        w_t = torch.ones((w,), dtype=torch.int64, device=low.device).sum()
        rows, cols = reflect_pad_indices(h_t, w_t, hp, wp)
        padded = low.index_select(2, rows).index_select(3, cols)
        contexts = self.model.encoder(padded, up_map(padded))
        z = padded.new_zeros((b, self.latent_channels, hp // m, wp // m))
        out, _ = self.model.flow.inverse(z, contexts)
        return out[:, :, :h, :w].clamp(0.0, 1.0)
