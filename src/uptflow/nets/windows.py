"""Window geometry of the U-branch's shifted-window attention (SPEC §2b).

Partitioning a (B, H, W, C) map into w x w windows and back, Swin's relative-position index and
cross-region mask for shifted windows, and the band helpers of strip-wise inference: rows of the
zero-padded map taken band by band (wrapping for the cyclic shift) and written back.  Pure
tensor bookkeeping, no parameters: ``window_attention`` holds the layers that use it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """(B, H, W, C) with H, W multiples of ``window`` -> (B * nW, window, window, C)."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window, window, c)


def window_reverse(windows: torch.Tensor, window: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B * nW, window, window, C) -> (B, H, W, C)."""
    c = windows.shape[-1]
    b = windows.shape[0] // ((h // window) * (w // window))
    x = windows.view(b, h // window, w // window, window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)


def relative_position_index(window: int) -> torch.Tensor:
    """Swin's (N, N) index into the ((2w-1)^2, heads) bias table, N = w*w. int64."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij"))
    flat = coords.flatten(1)
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += window - 1
    rel[:, :, 1] += window - 1
    rel[:, :, 0] *= 2 * window - 1
    return rel.sum(-1)


def shift_mask(h: int, w: int, window: int, shift: int, device=None, dtype=None) -> torch.Tensor:
    """Attention mask for shifted windows on an (h, w) padded map: (nW, N, N), 0 or -100.

    Tokens that the cyclic shift brought together from different image regions must not
    attend to each other.
    """
    img = torch.zeros(1, h, w, 1, device=device, dtype=dtype)
    slices = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    count = 0
    for hs in slices:
        for ws in slices:
            img[:, hs, ws, :] = count
            count += 1
    windows = window_partition(img, window).view(-1, window * window)
    diff = windows.unsqueeze(1) - windows.unsqueeze(2)
    return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)


def add_to(into: torch.Tensor, o: torch.Tensor, base: torch.Tensor | None) -> torch.Tensor:
    """``into += o``, or ``into = base + o`` with ``base`` (same shapes); returns ``into``."""
    return into.add_(o) if base is None else torch.add(base, o, out=into)


def wrapped_rows(start: int, length: int, total: int) -> list[tuple[int, int]]:
    """Rows ``start .. start + length`` modulo ``total`` as at most two ``(a, e)`` ranges."""
    end = start + length
    return [(start, min(end, total))] + ([(0, end - total)] if end > total else [])


def padded(src: torch.Tensor, hp: int, wp: int) -> torch.Tensor:
    """(B, H, W, C) zero-padded at the bottom / right to (B, Hp, Wp, C) (``src`` itself if no padding)."""
    pad_h, pad_w = hp - src.shape[1], wp - src.shape[2]
    return F.pad(src, (0, 0, 0, pad_w, 0, pad_h)) if pad_h or pad_w else src


def take_rows(src, segs: list[tuple[int, int]], wp: int) -> torch.Tensor:
    """Rows ``segs`` of the zero-padded (B, Hp, Wp, C) version of ``src``, a (B, H, W, C) tensor or
    an :class:`UpsampledRows` of (B, C, H, W): rows at or past H are zeros, columns padded to Wp.

    Padding a band instead of the whole map saves two full-size copies per block (for maps
    that are not multiples of the window) and keeps an UpsampledRows lazy.
    """
    if isinstance(src, torch.Tensor):
        b, h, w, c = src.shape
        get, like = (lambda a, e: src[:, a:e]), src
    else:
        b, c, h, w = src.shape
        get, like = (lambda a, e: src.rows(a, e).permute(0, 2, 3, 1)), src.src
    parts = []
    for a, e in segs:
        if a < h:
            parts.append(get(a, min(e, h)))
        if e > h:  # padding rows below the map (dtype of the rows above: autocast may have changed it)
            parts.append((parts[-1] if parts else like).new_zeros((b, e - max(a, h), w, c)))
    band = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
    return F.pad(band, (0, 0, 0, wp - band.shape[2])) if band.shape[2] < wp else band
