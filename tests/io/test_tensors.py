"""Tests for uptflow.io.tensors."""

from __future__ import annotations

import numpy as np
import pytest

from image_samples import smooth_rgb
from uptflow.io.tensors import to_numpy, to_tensor

def test_tensor_roundtrip():
    rgb = smooth_rgb(5, 7)
    t = to_tensor(rgb)
    assert tuple(t.shape) == (1, 3, 5, 7) and str(t.dtype) == "torch.float32"
    assert float(t[0, 1, 4, 0]) == pytest.approx(rgb[4, 0, 1])
    assert np.array_equal(to_numpy(t), rgb)
    assert np.array_equal(to_numpy(t[0]), rgb)
    with pytest.raises(ValueError):
        to_tensor(np.zeros((5, 7)))
    with pytest.raises(ValueError):
        to_numpy(t.repeat(2, 1, 1, 1))
