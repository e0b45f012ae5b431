"""Small clips generated with PyAV at run time (nothing downloaded): writers and readers for the tests."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest

av = pytest.importorskip("av", reason='video tests need PyAV (pip install "uptflow[video]")')

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "src" / "uptflow" / "weights" / "default.safetensors"


def night_frames(n: int, h: int = 48, w: int = 64, seed: int = 0) -> list[np.ndarray]:
    """``n`` dark uint8 frames: a gradient background, a brighter square moving right, fresh noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([0.04 + 0.04 * xx / w, 0.05 + 0.03 * yy / h, 0.05 + 0.0 * xx], axis=2)
    frames = []
    for i in range(n):
        f = base.copy()
        x0 = (3 * i) % max(1, w - 12)
        f[h // 3:h // 3 + 12, x0:x0 + 12] = (0.20, 0.12, 0.05)
        f = f + 0.008 * rng.standard_normal(f.shape)
        frames.append(np.clip(np.rint(f * 255), 0, 255).astype(np.uint8))
    return frames


def write_clip(path: Path, frames: Sequence[np.ndarray], codec: str = "libx264", rate: int = 25,
               pix_fmt: str | None = None, pts: Sequence[int] | None = None, time_base: Fraction | None = None,
               rotation: int = 0, audio: bool = False) -> Path:
    """Encode ``frames`` (uint8 RGB) into ``path`` (container from the extension)."""
    out = av.open(str(path), "w")
    s = out.add_stream(codec, rate=rate)
    h, w = frames[0].shape[:2]
    s.width, s.height = w, h
    s.pix_fmt = pix_fmt or ("bgr0" if codec == "ffv1" else "yuv420p")
    if time_base is not None:
        s.time_base = time_base
        s.codec_context.time_base = time_base
    if rotation:
        s.set_display_rotation(rotation)
    a = None
    if audio:
        a = out.add_stream("aac", rate=8000)
        a.layout = "mono"
    for i, img in enumerate(frames):
        f = av.VideoFrame.from_ndarray(img, format="rgb24")
        f.pts = i if pts is None else pts[i]
        if time_base is not None:
            f.time_base = time_base
        for p in s.encode(f):
            out.mux(p)
    for p in s.encode(None):
        out.mux(p)
    if a is not None:
        samples = int(8000 * len(frames) / rate)
        for k in range(0, samples, 1024):
            af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            af.sample_rate, af.pts = 8000, k
            for p in a.encode(af):
                out.mux(p)
        for p in a.encode(None):
            out.mux(p)
    out.close()
    return path


def read_clip(path: Path) -> dict:
    """Frames (uint8 RGB), pts in seconds, size, rate, codec, rotation and audio codecs of ``path``."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        info = {
            "frames": [f.to_ndarray(format="rgb24") for f in frames],
            "times": [float(f.pts * f.time_base) for f in frames],
            "size": (v.width, v.height), "rate": v.average_rate, "codec": v.codec_context.name,
            "pix_fmt": v.codec_context.pix_fmt, "rotation": frames[0].rotation if frames else 0,
        }
    with av.open(str(path)) as c:
        info["audio"] = [a.codec_context.name for a in c.streams.audio]
    return info
