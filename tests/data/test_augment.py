"""Paired augmentation: alignment, crop geometry, padding and determinism."""

from __future__ import annotations

import numpy as np
import pytest

from uptflow.data.augment import augment_image, draw_params, pad_to, paired_augment


def image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


def test_identical_inputs_give_identical_outputs() -> None:
    x = image(40, 50)
    for seed in range(20):
        a, b = paired_augment(x, x.copy(), np.random.default_rng(seed), crop=16)
        assert a.shape == (16, 16, 3)
        np.testing.assert_array_equal(a, b)


def test_pair_stays_aligned_pixel_for_pixel() -> None:
    normal = image(33, 47, 1)
    low = 0.25 * normal + 0.1  # a pixel-wise function of normal
    for seed in range(20):
        lo, no = paired_augment(low, normal, np.random.default_rng(seed), crop=12)
        np.testing.assert_allclose(lo, 0.25 * no + 0.1, rtol=0, atol=1e-7)
        assert lo.flags.c_contiguous and no.flags.c_contiguous


def test_crop_is_a_window_of_the_input_without_flips() -> None:
    x = image(30, 20)
    p = draw_params(30, 20, np.random.default_rng(3), 8, flips=False, rot90=False)
    out, _ = paired_augment(x, x, np.random.default_rng(3), crop=8, flips=False, rot90=False)
    np.testing.assert_array_equal(out, x[p.top:p.top + 8, p.left:p.left + 8])
    tops = {draw_params(30, 20, np.random.default_rng(s), 8).top for s in range(50)}
    assert min(tops) >= 0 and max(tops) <= 22 and len(tops) > 10


def test_flags_do_not_move_the_crop() -> None:
    a = draw_params(64, 64, np.random.default_rng(5), 16, flips=True, rot90=True)
    b = draw_params(64, 64, np.random.default_rng(5), 16, flips=False, rot90=False)
    assert (a.top, a.left) == (b.top, b.left)
    assert not b.hflip and not b.vflip and b.rot90 == 0


def test_all_eight_orientations_occur() -> None:
    x = np.arange(4 * 4 * 3, dtype=np.float32).reshape(4, 4, 3)
    seen = {augment_image(x, np.random.default_rng(s), crop=None).tobytes() for s in range(200)}
    assert len(seen) == 8


def test_small_images_are_reflect_padded_to_the_crop() -> None:
    x = image(5, 9)
    a, b = paired_augment(x, x, np.random.default_rng(0), crop=12, flips=False, rot90=False)
    assert a.shape == (12, 12, 3)
    np.testing.assert_array_equal(a, b)
    padded = pad_to(x, 12, 12)
    assert padded.shape == (12, 12, 3)
    assert set(np.unique(padded)) <= set(np.unique(x))  # reflection only reuses pixels
    tiny = np.full((1, 1, 3), 0.5, np.float32)
    assert pad_to(tiny, 4, 4).shape == (4, 4, 3)
    big = pad_to(image(3, 3), 20, 17)  # pad larger than the image: several reflect rounds
    assert big.shape == (20, 17, 3)


def test_same_generator_same_result_and_no_crop_keeps_size() -> None:
    x = image(20, 30)
    a = augment_image(x, np.random.default_rng(11), crop=8)
    b = augment_image(x, np.random.default_rng(11), crop=8)
    np.testing.assert_array_equal(a, b)
    whole = augment_image(x, np.random.default_rng(1), crop=None, rot90=False)
    assert whole.shape == (20, 30, 3)
    assert augment_image(x, np.random.default_rng(1), crop=None, flips=False, rot90=False) is not x


def test_bad_input_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="same shape"):
        paired_augment(image(8, 8), image(8, 9), np.random.default_rng(0), crop=4)
    with pytest.raises(ValueError, match="crop"):
        paired_augment(image(8, 8), image(8, 8), np.random.default_rng(0), crop=0)
