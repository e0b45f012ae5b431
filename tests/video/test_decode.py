"""Streaming decode: frames, timestamps, rotation, damaged files (uptflow.video.decode)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from uptflow.video.decode import VideoReader
from video.clips import night_frames


def frames_of(path):
    """Frames, audio stream types (packets must not outlive the open file) and the reader."""
    with VideoReader(path) as r:
        ev = list(r.events())
        audio = [e[1].stream.type for e in ev if e[0] == "audio"]
        return [e[1] for e in ev if e[0] == "frame"], audio, r


def test_lossless_frames_come_back_exactly(clip_factory):
    src = night_frames(5)
    frames, audio, r = frames_of(clip_factory("d.mkv", src, codec="ffv1"))
    assert len(frames) == 5 and not audio and r.problem is None
    for f, s in zip(frames, src):
        assert f.rgb.dtype == np.float32
        np.testing.assert_array_equal(np.rint(f.rgb * 255).astype(np.uint8), s)


def test_variable_frame_rate_timestamps_are_kept(clip_factory):
    pts = [0, 40, 120, 130, 300]  # ms: irregular spacing
    frames, _, r = frames_of(clip_factory("vfr.mkv", night_frames(5), codec="ffv1", pts=pts,
                                          time_base=Fraction(1, 1000)))
    assert [float(f.pts * r.info.time_base) for f in frames] == [p / 1000 for p in pts]


def test_rotation_and_audio_are_seen(clip_factory):
    frames, audio, _ = frames_of(clip_factory("rot.mp4", rotation=90, audio=True))
    assert frames[0].rotation == 90
    assert audio and set(audio) == {"audio"}


def test_truncated_file_is_reported(clip_factory, tmp_path):
    full = clip_factory("whole.mkv", night_frames(8), codec="ffv1")
    cut = tmp_path / "cut.mkv"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    frames, _, r = frames_of(cut)
    assert 0 < len(frames) < 8
    assert r.problem and "header says" in r.problem
    _, _, whole = frames_of(full)
    assert whole.problem is None
