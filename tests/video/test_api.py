"""``uptflow.enhance_video`` (uptflow.video.api)."""

from __future__ import annotations

import pytest
from PIL import Image

import uptflow
from uptflow import UPTFlow
from uptflow.video import VideoError
from video.clips import night_frames, read_clip


@pytest.fixture(scope="module")
def tiny():
    return UPTFlow.from_preset("tiny").eval()


def test_enhance_video_into_a_folder_and_a_file(clip_factory, tiny, tmp_path):
    clip = clip_factory("api.mp4", night_frames(4), rate=10)
    res = uptflow.enhance_video(clip, tmp_path, model=tiny)
    assert res.path == tmp_path / "api.mp4" and res.frames == 4 and res.problem is None
    res2 = uptflow.enhance_video(clip, tmp_path / "named.mkv", model=tiny, codec="ffv1", frames_out=tmp_path / "png")
    got = read_clip(res2.path)
    assert got["codec"] == "ffv1" and got["rate"] == 10 and len(got["frames"]) == 4
    assert len(list((tmp_path / "png").glob("*.png"))) == 4
    assert not list(tmp_path.glob(".*"))  # no temporary files left


def test_enhance_video_from_frames_and_errors(tiny, tmp_path):
    seq = tmp_path / "seq"
    seq.mkdir()
    for i, f in enumerate(night_frames(3)):
        Image.fromarray(f).save(seq / f"{i:03d}.png")
    res = uptflow.enhance_video(seq, tmp_path / "seq.mp4", model=tiny, fps=12)
    assert res.frames == 3 and read_clip(res.path)["rate"] == 12
    with pytest.raises(VideoError, match="--fps"):
        uptflow.enhance_video(seq, tmp_path / "x.mp4", model=tiny)
    with pytest.raises(VideoError, match="overwrite the input"):
        uptflow.enhance_video(res.path, res.path, model=tiny)
    with pytest.raises(VideoError, match="unknown codec"):
        uptflow.enhance_video(res.path, tmp_path / "y.mkv", model=tiny, codec="nope")
    assert not (tmp_path / "y.mkv").exists()
