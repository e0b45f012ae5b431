"""Window geometry: partitions round-trip, padded row bands equal slices of the padded map."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from uptflow.nets.windows import add_to, padded, take_rows, window_partition, window_reverse, wrapped_rows


def test_partition_round_trip_and_window_contents():
    x = torch.randn(2, 10, 15, 3)
    win = window_partition(x, 5)
    assert win.shape == (2 * 2 * 3, 5, 5, 3)
    assert torch.equal(win[7], x[1, 0:5, 5:10])  # image 1, window row 0, column 1 (6 windows per image)
    assert torch.equal(window_reverse(win, 5, 10, 15), x)


def test_wrapped_bands_of_the_padded_map_equal_its_rows():
    x = torch.randn(1, 7, 9, 2)  # padded to 10 x 10 for 5x5 windows
    full = F.pad(x, (0, 0, 0, 1, 0, 3))
    assert torch.equal(padded(x, 10, 10), full)
    for start, length in [(0, 5), (3, 5), (8, 5), (5, 5)]:  # (8, 5) wraps past the bottom
        segs = wrapped_rows(start, length, 10)
        rows = [(start + i) % 10 for i in range(length)]
        assert torch.equal(take_rows(x, segs, 10), full[:, rows])


def test_add_to_adds_or_writes_base_plus():
    into, o, base = torch.zeros(2, 3), torch.ones(2, 3), torch.full((2, 3), 2.0)
    assert torch.equal(add_to(into.clone().fill_(5.0), o, None), torch.full((2, 3), 6.0))
    out = add_to(into.fill_(float("nan")), o, base)  # old contents never read
    assert out is into and torch.equal(out, torch.full((2, 3), 3.0))
