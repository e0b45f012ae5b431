"""Recognising videos by content (uptflow.video.probe)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from uptflow.video.probe import VideoError, looks_like_video, probe
from video.clips import night_frames


@pytest.mark.parametrize("name,codec", [("a.mp4", "libx264"), ("a.mkv", "ffv1"), ("a.avi", "mpeg4"),
                                        ("a.mov", "libx264"), ("a.webm", "libvpx-vp9")])
def test_containers_are_recognised_and_described(clip_factory, name, codec):
    p = clip_factory(name, night_frames(4), codec=codec, rate=12)
    assert looks_like_video(p)
    info = probe(p)
    assert (info.width, info.height) == (64, 48)
    assert info.rate == 12


def test_recognised_by_content_not_by_name(clip_factory, tmp_path):
    clip = clip_factory("named.mkv", codec="ffv1")
    renamed = tmp_path / "footage.dat"  # no video extension: the EBML signature decides
    renamed.write_bytes(clip.read_bytes())
    assert looks_like_video(renamed)
    assert probe(renamed).codec == "ffv1"
    png = tmp_path / "still.mp4"  # an image with a video name is not a video
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(png, format="PNG")
    assert not looks_like_video(png)


def test_not_a_video_is_one_line(tmp_path):
    p = tmp_path / "page.mp4"
    p.write_text("<html>404</html>")
    assert looks_like_video(p)  # by its name...
    with pytest.raises(VideoError, match="not a video") as e:
        probe(p)  # ... but FFmpeg cannot read it
    assert "\n" not in str(e.value)


def test_missing_pyav_names_the_extra(monkeypatch):
    import sys

    from uptflow.video.probe import require_av

    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(VideoError, match=r'pip install "uptflow\[video\]"'):
        require_av()
