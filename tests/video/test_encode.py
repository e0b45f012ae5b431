"""Encoder choices and atomic writing (uptflow.video.encode)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from uptflow.video.encode import VideoWriter, check_codec, choose_pix_fmt, container_for
from uptflow.video.probe import VideoError
from video.clips import night_frames, read_clip


def test_containers_and_pixel_formats():
    assert container_for("libx264") == (".mp4", "mp4")
    assert container_for("ffv1") == (".mkv", "matroska")
    assert choose_pix_fmt(check_codec("libx264"), 64, 48) == "yuv420p"
    assert choose_pix_fmt(check_codec("libx264"), 63, 47) == "yuv444p"  # odd sizes kept exactly
    assert choose_pix_fmt(check_codec("ffv1"), 64, 48) in ("gbrp", "bgr0")  # lossless RGB


def test_bad_codec_options_are_one_line():
    with pytest.raises(VideoError, match="unknown codec 'nope'"):
        check_codec("nope")
    with pytest.raises(VideoError, match="no constant-rate factor"):
        check_codec("ffv1", crf=10)
    with pytest.raises(VideoError, match="0..63"):
        check_codec("libx264", crf=99)


def test_finish_is_atomic_and_abort_leaves_nothing(tmp_path):
    dst = tmp_path / "o.mkv"
    w = VideoWriter(dst, "ffv1", rate=Fraction(10))
    for i, f in enumerate(night_frames(3)):
        w.write(f, i)
        assert not dst.exists() and w.tmp.exists()  # only the hidden temp file while writing
    w.finish()
    assert [p.name for p in tmp_path.iterdir()] == ["o.mkv"]
    assert len(read_clip(dst)["frames"]) == 3

    w = VideoWriter(tmp_path / "x.mkv", "ffv1", rate=Fraction(10))
    w.write(night_frames(1)[0], 0)
    w.abort()
    assert [p.name for p in tmp_path.iterdir()] == ["o.mkv"]


def test_partial_file_is_valid(tmp_path):
    w = VideoWriter(tmp_path / "p.mp4", "libx264", rate=Fraction(10))
    for i, f in enumerate(night_frames(4)):
        w.write(f.astype(np.float32) / 255.0, i)
    partial = w.finish_partial()
    assert partial == tmp_path / "p.partial.mp4"
    assert [p.name for p in tmp_path.iterdir()] == ["p.partial.mp4"]
    assert len(read_clip(partial)["frames"]) == 4
