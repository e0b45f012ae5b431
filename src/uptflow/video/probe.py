"""Recognise video files by their content and describe them (PyAV, FFmpeg's libraries).

Why content and not the extension: a camera may write ``.dat`` or no extension at all, and a
``.mp4`` that is really an HTML error page must be reported as "not a video", not crash the
decoder.  Recognition has two steps:

1. :func:`looks_like_video` — cheap, no PyAV needed: the file's first bytes match a container
   signature (ISO-BMFF/MP4/MOV ``ftyp``, Matroska/WebM EBML, RIFF AVI, MPEG-PS/TS, FLV, Ogg,
   ASF/WMV) or its extension is a known video one.  This decides whether ``uptflow enhance``
   sends the file to the video path; images never match (their signatures differ).
2. :func:`probe` — opens the file with PyAV and checks that FFmpeg sees a *video* stream in a
   non-image demuxer; anything else raises :class:`VideoError` with a one-line reason.

PyAV is optional (``pip install "uptflow[video]"``); :func:`require_av` turns its absence into
a one-line message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

__all__ = [
    "VIDEO_EXTENSIONS", "INSTALL_HINT", "VideoError", "VideoInfo",
    "require_av", "looks_like_video", "probe", "expected_frames",
]

#: Extensions taken as video even when the signature is not recognised.
VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
    ".flv", ".wmv", ".asf", ".ogv", ".3gp", ".3g2", ".mxf", ".y4m", ".h264", ".264", ".hevc",
})

INSTALL_HINT = 'video needs PyAV: pip install "uptflow[video]"'

#: FFmpeg demuxers that read still images; a file they open is an image, not a video.
_IMAGE_DEMUXERS = ("image2", "_pipe", "gif", "apng", "webp")


class VideoError(ValueError):
    """A video input or output problem, phrased for a one-line user message (no path: the
    caller prefixes it)."""


def require_av() -> Any:
    """Import and return the ``av`` module, or raise :class:`VideoError` naming the extra."""
    try:
        import av
        import av.logging
    except ImportError:
        raise VideoError(INSTALL_HINT) from None
    # FFmpeg prints decoder chatter to stderr by default; our own one-line messages say what matters.
    av.logging.set_level(av.logging.PANIC)
    return av


def _signature(head: bytes) -> str | None:
    """The container family named by a file's first bytes, or ``None``."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        # HEIF/AVIF stills are ISO-BMFF too, but images
        return None if brand in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis") else "mp4"
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(b"\x00\x00\x01\xba") or head.startswith(b"\x00\x00\x01\xb3"):
        return "mpeg"
    if len(head) >= 189 and head[0] == 0x47 and head[188] == 0x47:
        return "mpegts"
    if head.startswith(b"FLV"):
        return "flv"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "asf"
    if head.startswith(b"YUV4MPEG2"):
        return "yuv4mpeg"
    return None


_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")


def _is_image(head: bytes) -> bool:
    return head.startswith(_IMAGE_MAGIC) or (head.startswith(b"RIFF") and head[8:12] == b"WEBP")


def looks_like_video(path: str | os.PathLike[str]) -> bool:
    """``True`` if ``path`` is a file whose first bytes are a video container's signature, or
    whose extension is a video one (then :func:`probe` reports if it is not really one).  A file
    whose bytes are a PNG/JPEG/GIF/BMP/TIFF/WebP image is never a video, whatever its name."""
    p = Path(path)
    if not p.is_file():
        return False
    try:
        with open(p, "rb") as f:
            head = f.read(512)
    except OSError:
        return p.suffix.lower() in VIDEO_EXTENSIONS
    if _is_image(head):
        return False
    return _signature(head) is not None or p.suffix.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` found.

    Attributes:
        width, height: coded frame size in pixels (before any display rotation).
        rate: average frame rate (frames/s) as a fraction; ``None`` if FFmpeg does not know it.
        time_base: unit of the stream's timestamps (seconds per tick).
        frames: frame count from the container header, or ``None`` (unknown, e.g. MKV, AVI).
        duration_s: duration in seconds, or ``None``.
        codec: decoder name (``h264``, ``ffv1`` ...).
        container: FFmpeg demuxer name.
        audio: number of audio streams.
        variable_rate: the container's average and nominal rates differ (variable frame rate).
    """

    width: int
    height: int
    rate: Fraction | None
    time_base: Fraction
    frames: int | None
    duration_s: float | None
    codec: str
    container: str
    audio: int
    variable_rate: bool = False
    metadata: dict[str, str] = field(default_factory=dict)


def expected_frames(info: VideoInfo) -> int | None:
    """Frame count for a progress bar: the header's, else duration x rate (MKV/WebM), else ``None``."""
    if info.frames:
        return info.frames
    if info.duration_s and info.rate:
        return max(1, round(info.duration_s * float(info.rate)))
    return None


def _open(path: Path) -> Any:
    av = require_av()
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as err:
        raise VideoError(f"not a video or unreadable ({_ffmpeg_reason(err)})") from None
    except (OSError, ValueError) as err:
        raise VideoError(f"cannot open ({getattr(err, 'strerror', None) or err})") from None


def _ffmpeg_reason(err: BaseException) -> str:
    """FFmpeg's message without the errno prefix and file name PyAV adds."""
    text = getattr(err, "strerror", None) or str(err)
    return str(text).split(":")[0].strip() or type(err).__name__


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Open ``path`` with PyAV and describe its first video stream.

    Raises:
        VideoError: PyAV missing; not a media file; an image; no video stream; unknown size.
    """
    p = Path(path)
    container = _open(p)
    try:
        name = container.format.name or ""
        if any(tag in name for tag in _IMAGE_DEMUXERS):
            raise VideoError(f"not a video (FFmpeg reads it as an image: {name})")
        if not container.streams.video:
            raise VideoError("no video stream in the file" if len(container.streams)
                             else "no streams found (truncated or damaged file?)")
        vs = container.streams.video[0]
        cc = vs.codec_context
        if not cc.width or not cc.height:
            raise VideoError("video stream without a frame size (broken header)")
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        base = vs.base_rate
        variable = bool(rate and base and abs(float(rate) - float(base)) > 0.01 * float(base))
        duration = None
        if vs.duration is not None and vs.time_base:
            duration = float(vs.duration * vs.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        return VideoInfo(
            width=int(cc.width), height=int(cc.height), rate=Fraction(rate) if rate else None,
            time_base=Fraction(vs.time_base) if vs.time_base else Fraction(1, 90000),
            frames=int(vs.frames) or None, duration_s=duration, codec=cc.name or "?", container=name,
            audio=len(container.streams.audio), variable_rate=variable, metadata=dict(vs.metadata),
        )
    finally:
        container.close()
