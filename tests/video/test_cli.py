"""``uptflow enhance`` with videos: the issue's must-show run, mixed inputs, bad inputs, Ctrl-C."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import uptflow
from uptflow.cli import main
from video.clips import BUNDLED, night_frames, read_clip


def run_cli(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


def test_night_clip_ffv1_same_frames_size_rate(capsys, clip_factory, bundled_model, tmp_path):
    """The issue's must-show: CLIP.mkv -o OUT --codec ffv1 -> one video, same frame count, size and
    rate; lossless, so its frames are exactly the Python API's enhanced frames."""
    src = night_frames(7)
    clip = clip_factory("night.mkv", src, codec="ffv1", rate=15)
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, "enhance", clip, "-o", out, "--codec", "ffv1", "--model", BUNDLED, "-q")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["night.mkv"]
    got, ref = read_clip(out / "night.mkv"), read_clip(clip)
    assert got["codec"] == "ffv1" and len(got["frames"]) == 7
    assert got["size"] == ref["size"] and got["rate"] == ref["rate"] == 15
    assert got["times"] == ref["times"]
    api = list(uptflow.enhance_frames(src, model=bundled_model))
    for a, b in zip(got["frames"], api):
        np.testing.assert_array_equal(a, b)
    assert got["frames"][0].mean() > 2 * src[0].mean()  # really enhanced


def _cli_api_plain(capsys, clip_factory, bundled_model, tmp_path, name, src, flag, value, **api_option):
    """Frames of ``uptflow enhance CLIP FLAG VALUE`` (lossless codec), of ``enhance_frames(**api_option)``
    and of ``enhance_frames`` with that option off (the network's own result)."""
    clip = clip_factory(name, src, codec="ffv1", rate=10)
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "enhance", clip, "-o", out, "--codec", "ffv1", "--model", BUNDLED, "-q",
                           flag, value)
    assert code == 0, err
    got = read_clip(out / name)["frames"]
    api = list(uptflow.enhance_frames(src, model=bundled_model, **api_option))
    return got, api, list(uptflow.enhance_frames(src, model=bundled_model, highlights="off"))


def test_exposure_reaches_every_frame(capsys, clip_factory, bundled_model, tmp_path):
    """``--exposure EV`` on a video gives the Python API's ``exposure=EV`` frames (lossless codec)."""
    frames = _cli_api_plain(capsys, clip_factory, bundled_model, tmp_path, "ev.mkv", night_frames(3, seed=4),
                            "--exposure", "0.7", exposure=0.7)
    for a, b, c in zip(*frames):
        np.testing.assert_array_equal(a, b)
        assert a.mean() > c.mean() + 2


def test_highlights_reach_every_frame(capsys, clip_factory, bundled_model, tmp_path):
    """``--highlights protect`` on a video gives the API's ``highlights="protect"`` frames; the lit patch
    the model alone blows out stays below white."""
    src = [f.copy() for f in night_frames(3, seed=6)]
    for f in src:
        f[8:40, 20:80] = (200, 170, 120)  # a lamp-lit wall
    frames = _cli_api_plain(capsys, clip_factory, bundled_model, tmp_path, "hl.mkv", src,
                            "--highlights", "protect", highlights="protect")
    for a, b, c in zip(*frames):
        np.testing.assert_array_equal(a, b)
        assert (c[14:34, 26:74].max(axis=2) >= 250).mean() > 0.5 and (a[14:34, 26:74].max(axis=2) < 250).all()


def test_default_h264_keeps_rotation_audio_and_timestamps(capsys, clip_factory, tmp_path):
    clip = clip_factory("phone.mov", rotation=90, audio=True)
    vfr = clip_factory("vfr.mkv", night_frames(5), codec="ffv1", pts=[0, 40, 120, 130, 300],
                       time_base=Fraction(1, 1000))
    code, _, err = run_cli(capsys, "enhance", clip, vfr, "-o", tmp_path, "--model", "tiny", "-q")
    assert code == 0, err
    got = read_clip(tmp_path / "phone.mp4")
    assert got["codec"] == "h264" and got["pix_fmt"] == "yuv420p" and got["rotation"] == 90
    assert got["audio"] == ["aac"] and len(got["frames"]) == 6
    assert read_clip(tmp_path / "vfr.mp4")["times"] == pytest.approx([0, 0.04, 0.12, 0.13, 0.3])
    assert f"{vfr}: note: variable frame rate" in err and f"{clip}: note: variable" not in err


def test_videos_and_images_mixed_bad_inputs_reported(capsys, clip_factory, tmp_path):
    good = clip_factory("good.avi", night_frames(3), codec="mpeg4")
    odd = clip_factory("odd.mkv", [f[:47, :63] for f in night_frames(3)], codec="ffv1")
    img = tmp_path / "photo.png"
    Image.fromarray(night_frames(1)[0]).save(img)
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    empty = tmp_path / "empty.mkv"
    empty.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(60))
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, "enhance", good, fake, img, odd, empty, "-o", out, "--model", "tiny", "-q")
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["good.mp4", "odd.mp4", "photo.png"]
    lines = err.strip().splitlines()
    assert any(str(fake) in ln and "not a video" in ln for ln in lines)
    assert any(str(empty) in ln and "skipped" in ln for ln in lines)
    assert read_clip(out / "odd.mp4")["size"] == (63, 47)  # odd size kept (yuv444p)
    assert "2 failed" in stdout


def test_unknown_codec_fails_videos_only(capsys, clip_factory, tmp_path):
    clip = clip_factory("c.mp4")
    img = tmp_path / "p.png"
    Image.fromarray(night_frames(1)[0]).save(img)
    code, _, err = run_cli(capsys, "enhance", clip, img, "-o", tmp_path / "o", "--codec", "nope", "--model", "tiny")
    assert code == 1
    assert f"skipped {clip}: unknown codec 'nope'" in err
    assert (tmp_path / "o" / "p.png").is_file()


def test_frame_folder_with_fps_and_frames_out(capsys, tmp_path):
    seq = tmp_path / "cam"
    seq.mkdir()
    for i, f in enumerate(night_frames(4)):
        Image.fromarray(f).save(seq / f"f{i * 5}.png")  # f0 f5 f10 f15: numeric order, not text order
    out, png = tmp_path / "out", tmp_path / "png"
    code, _, err = run_cli(capsys, "enhance", seq, "-o", out, "--fps", "30000/1001", "--frames-out", png,
                           "--model", "tiny", "-q", "--codec", "ffv1")
    assert code == 0, err
    got = read_clip(out / "cam.mkv")
    assert len(got["frames"]) == 4 and got["rate"] == Fraction(30000, 1001)
    pngs = sorted((png / "cam").iterdir())
    assert [p.name for p in pngs] == ["000000.png", "000001.png", "000002.png", "000003.png"]
    np.testing.assert_array_equal(np.asarray(Image.open(pngs[3])), got["frames"][3])


def test_interrupt_keeps_a_valid_partial_file(capsys, clip_factory, tmp_path, monkeypatch):
    from uptflow.video import stream

    clip = clip_factory("long.mp4", night_frames(8))
    calls = {"n": 0}
    real = stream.FrameEnhancer.__call__

    def interrupt_at_5(self, rgb):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(self, rgb)

    monkeypatch.setattr(stream.FrameEnhancer, "__call__", interrupt_at_5)
    code, _, err = run_cli(capsys, "enhance", clip, "-o", tmp_path / "o", "--model", "tiny", "-q")
    assert code == 130
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["long.partial.mp4"]  # no temp file, no long.mp4
    assert len(read_clip(tmp_path / "o" / "long.partial.mp4")["frames"]) == 4
    assert "long.partial.mp4" in err


def test_missing_pyav_is_one_line_and_images_go_on(capsys, clip_factory, tmp_path, monkeypatch):
    import sys

    clip = clip_factory("m.mp4")
    img = tmp_path / "p.png"
    Image.fromarray(night_frames(1)[0]).save(img)
    monkeypatch.setitem(sys.modules, "av", None)
    code, _, err = run_cli(capsys, "enhance", clip, img, "-o", tmp_path / "o", "--model", "tiny", "-q")
    assert code == 1
    assert f'skipped {clip}: video needs PyAV: pip install "uptflow[video]"' in err
    assert (tmp_path / "o" / "p.png").is_file()


def test_help_explains_video_options(capsys):
    with pytest.raises(SystemExit):
        main(["enhance", "--help"])
    text = capsys.readouterr().out
    for word in ("--codec", "--crf", "--frames-out", "--fps", "--frame-by-frame", "ffv1", "partial"):
        assert word in text


def test_input_never_overwritten(capsys, clip_factory, tmp_path):
    clip = clip_factory("same.mp4")
    before = clip.read_bytes()
    code, _, err = run_cli(capsys, "enhance", clip, "-o", clip.parent, "--model", "tiny", "-q")
    assert code == 1 and "overwrite the input" in err
    assert clip.read_bytes() == before
    assert not list(Path(clip.parent).glob(".same*"))
