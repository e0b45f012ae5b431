"""uptflow.io.pixels: integer -> unit float scaling and BT.601 luma, numpy and torch alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from uptflow.io.pixels import LUMA_BT601, luma_bt601, to_unit_float


def test_to_unit_float_scales_each_integer_type_to_full_range() -> None:
    u8 = np.array([0, 51, 255], np.uint8)
    u16 = np.array([0, 13107, 65535], np.uint16)
    np.testing.assert_array_equal(to_unit_float(u8), np.array([0, 0.2, 1], np.float32))
    np.testing.assert_array_equal(to_unit_float(u16), np.array([0, 0.2, 1], np.float32))
    assert to_unit_float(u8).dtype == to_unit_float(u16).dtype == np.float32
    f = np.array([1.5, -0.25], np.float64)  # floats keep their values (no clipping)
    np.testing.assert_array_equal(to_unit_float(f), f.astype(np.float32))
    t = to_unit_float(torch.tensor([0, 51, 255], dtype=torch.uint8))
    assert t.dtype == torch.float32 and torch.equal(t, torch.tensor([0.0, 0.2, 1.0]))
    with pytest.raises(TypeError, match="int32"):
        to_unit_float(np.zeros(2, np.int32))
    with pytest.raises(TypeError):
        to_unit_float(torch.zeros(2, dtype=torch.int64))


def test_luma_matches_pil_and_is_the_same_for_numpy_and_torch() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    y = luma_bt601(to_unit_float(rgb))
    assert y.shape == (9, 7) and y.dtype == np.float32
    pil = np.asarray(Image.fromarray(rgb).convert("L"), np.float32) / 255.0  # PIL rounds to 8 bit
    assert np.abs(y - pil).max() <= 0.5 / 255 + 1e-6
    t = torch.from_numpy(to_unit_float(rgb)).permute(2, 0, 1)[None]  # (1, 3, H, W)
    np.testing.assert_allclose(luma_bt601(t, channel_axis=1)[0].numpy(), y, atol=1e-6)
    assert sum(LUMA_BT601) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="3 channels"):
        luma_bt601(np.zeros((4, 4, 4), np.float32))
