"""Streaming encode with PyAV: enhanced frames in, a finished video file out (atomically).

Choices, and why:

- **Codec and container.** ``libx264`` (H.264) by default, written as ``.mp4`` (plays
  everywhere).  ``--codec NAME`` takes any FFmpeg encoder; H.264/H.265/AV1/MPEG-4 go into
  ``.mp4``, everything else into ``.mkv`` (Matroska stores any codec), e.g. ``ffv1`` (lossless).
- **Pixel format.** Lossless-only encoders (``ffv1``, ``utvideo``, ``png`` ...) get an RGB format
  when they have one (``gbrp``/``bgr0``/``rgb24``): the file then holds exactly the enhanced
  pixels.  Others get ``yuv420p`` (what players expect) — except for **odd frame sizes**, which
  4:2:0 cannot represent: then ``yuv444p`` keeps the exact size (no padding, no cropping); an
  encoder without a 4:4:4 format fails with a one-line message.
- **Timestamps.** The encoder works in the source stream's time base and every frame keeps its
  source timestamp, so frame rate, variable frame rate and start offset are unchanged.
- **Rotation.** The source's display matrix (phone clips) is copied with
  ``set_display_rotation``; the pixels are enhanced as stored.
- **Audio.** Audio streams are remuxed packet for packet (no re-encoding) when the output
  container accepts their codec; otherwise they are dropped and :attr:`VideoWriter.notes` says so.
- **Atomic output.** Everything goes to a hidden temporary file next to the target that is
  renamed onto it only when the file is complete (:meth:`VideoWriter.finish`).  :meth:`abort`
  deletes it; :meth:`finish_partial` closes it properly (a valid, playable file) under a
  ``.partial`` name — used when the user interrupts a long clip.
"""

from __future__ import annotations

import os
import secrets
from fractions import Fraction
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from uptflow.io.write import quantize
from uptflow.video.probe import VideoError, _ffmpeg_reason, require_av

__all__ = ["DEFAULT_CODEC", "DEFAULT_CRF", "container_for", "check_codec", "choose_pix_fmt", "VideoWriter"]

DEFAULT_CODEC = "libx264"
#: x264's constant-rate factor by default: visually transparent for enhanced footage.
DEFAULT_CRF = 18

_MP4_CODECS = ("libx264", "libx265", "libopenh264", "mpeg4", "libaom-av1", "libsvtav1", "librav1e")
_MP4_PREFIXES = ("h264_", "hevc_", "av1_")
_RGB_FORMATS = ("gbrp", "bgr0", "rgb24", "bgra", "rgba")


def container_for(codec: str) -> tuple[str, str]:
    """``(extension, FFmpeg muxer)`` for an encoder name: ``(".mp4", "mp4")`` or ``(".mkv", "matroska")``."""
    if codec in _MP4_CODECS or codec.startswith(_MP4_PREFIXES):
        return ".mp4", "mp4"
    return ".mkv", "matroska"


def check_codec(codec: str, crf: int | None = None) -> Any:
    """The ``av.Codec`` encoder called ``codec``; one-line :class:`VideoError` if FFmpeg has no
    such video encoder or it takes no ``--crf``."""
    av = require_av()
    try:
        c = av.codec.Codec(codec, "w")
    except (av.codec.codec.UnknownCodecError, ValueError):
        raise VideoError(f"unknown codec {codec!r}: FFmpeg has no encoder of that name "
                         f"(try libx264, libx265, libvpx-vp9, ffv1)") from None
    if c.type != "video":
        raise VideoError(f"codec {codec!r} is not a video encoder")
    if crf is not None:
        if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 63:
            raise VideoError(f"--crf must be an integer in 0..63, got {crf!r}")
        names = {o.name for o in av.codec.CodecContext.create(codec, "w").supported_options.private}
        if "crf" not in names:
            raise VideoError(f"codec {codec!r} has no constant-rate factor; drop --crf")
    return c


def choose_pix_fmt(codec: Any, width: int, height: int) -> str:
    """Pixel format for ``codec`` (an ``av.Codec``) at ``width x height`` (see the module docstring)."""
    fmts = [f.name for f in (codec.video_formats or ())]
    if not fmts:
        return "yuv420p"
    if codec.lossless and not codec.lossy:
        for f in _RGB_FORMATS:
            if f in fmts:
                return f
    odd = width % 2 or height % 2
    if not odd and "yuv420p" in fmts:
        return "yuv420p"
    for f in ("yuv444p", *_RGB_FORMATS):
        if f in fmts:
            return f
    if odd:
        raise VideoError(f"codec {codec.name!r} cannot store odd frame sizes ({width}x{height}) without "
                         f"chroma loss; use --codec libx264 or ffv1")
    return fmts[0]


class VideoWriter:
    """Encode frames to ``dst`` through a temporary file.

    Args:
        dst: final path (its extension should match ``muxer``).
        codec: FFmpeg encoder name; ``crf``: constant-rate factor or ``None`` (codec default;
            ``libx264`` gets :data:`DEFAULT_CRF`).
        rate: nominal frame rate (for rate control and the container header).
        time_base: unit of the timestamps passed to :meth:`write`.
        audio: source audio streams to remux (their packets come through :meth:`mux_audio`).
        muxer: FFmpeg muxer name; ``None``: guessed by FFmpeg from ``dst``'s extension.
    """

    def __init__(self, dst: str | os.PathLike[str], codec: str = DEFAULT_CODEC, crf: int | None = None,
                 rate: Fraction | None = None, time_base: Fraction | None = None,
                 audio: Sequence[Any] = (), muxer: str | None = None) -> None:
        self.av = require_av()
        self.dst = Path(dst)
        self.codec = check_codec(codec, crf)
        self.crf = DEFAULT_CRF if crf is None and codec == "libx264" else crf
        self.rate = Fraction(rate) if rate else Fraction(25)
        self.time_base = Fraction(time_base) if time_base else 1 / self.rate
        self.muxer = muxer
        self.notes: list[str] = []
        self.frames = 0
        #: the ``.partial`` file kept by :meth:`finish_partial` (set by the caller), else ``None``
        self.partial: Path | None = None
        self._audio_src = list(audio)
        self._audio_map: dict[int, Any] = {}
        self._pending: list[Any] = []  # audio packets that arrive before the first video frame
        self._stream: Any = None
        # hidden, clearly temporary, and with dst's extension so FFmpeg can pick the muxer from it
        self.tmp = self.dst.parent / f".{self.dst.stem}.{secrets.token_hex(4)}.tmp{self.dst.suffix}"
        try:
            self.container = self.av.open(str(self.tmp), mode="w", format=self.muxer)
        except (self.av.error.FFmpegError, OSError, ValueError) as err:
            self._unlink()
            raise VideoError(f"cannot create {self.dst} ({_ffmpeg_reason(err)})") from None
        if self.codec.name not in self.container.supported_codecs:
            self.abort()
            raise VideoError(f"a {self.dst.suffix or self.container.format.name} file cannot hold codec "
                             f"{self.codec.name!r}; use .mkv")

    # ----------------------------------------------------------------------------- set-up
    def _open(self, width: int, height: int, rotation: int) -> None:
        s = self.container.add_stream(self.codec.name, rate=self.rate)
        s.width, s.height = width, height
        s.pix_fmt = choose_pix_fmt(self.codec, width, height)
        if (width % 2 or height % 2) and s.pix_fmt == "yuv444p":
            self.notes.append(f"odd frame size {width}x{height}: encoded as yuv444p (4:2:0 needs even sizes)")
        s.time_base = self.time_base
        s.codec_context.time_base = self.time_base
        opts: dict[str, str] = {}
        if self.crf is not None:
            opts["crf"] = str(self.crf)
        if self.codec.name == "libx264":
            opts.setdefault("preset", "medium")
        s.options = opts
        if rotation:
            if hasattr(s, "set_display_rotation"):  # PyAV >= 18
                s.set_display_rotation(rotation)
            else:
                self.notes.append(f"rotation {rotation} degrees not kept (needs PyAV >= 18)")
        self._stream = s
        for src in self._audio_src:
            name = src.codec_context.name
            if name not in self.container.supported_codecs:
                self.notes.append(f"audio ({name}) dropped: the {self.container.format.name} container cannot hold it")
                continue
            try:
                self._audio_map[src.index] = self.container.add_stream_from_template(src)
            except (self.av.error.FFmpegError, ValueError) as err:
                self.notes.append(f"audio ({name}) dropped ({_ffmpeg_reason(err)})")

    # ----------------------------------------------------------------------------- writing
    def write(self, rgb: np.ndarray, pts: int, rotation: int = 0) -> None:
        """Encode one ``(H, W, 3)`` frame (uint8, or float in ``[0, 1]``) with timestamp ``pts``."""
        if rgb.dtype != np.uint8:
            rgb = quantize(rgb, 8)  # the image writer's rounding
        if self._stream is None:
            self._open(rgb.shape[1], rgb.shape[0], rotation)
            pending, self._pending = self._pending, []
            for p in pending:
                self.mux_audio(p)
        frame = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = int(pts)
        frame.time_base = self.time_base
        try:
            for packet in self._stream.encode(frame):
                self.container.mux(packet)
        except (self.av.error.FFmpegError, ValueError) as err:
            raise VideoError(f"encoding with {self.codec.name} failed ({_ffmpeg_reason(err)})") from None
        self.frames += 1

    def mux_audio(self, packet: Any) -> None:
        """Copy one source audio packet into the output (buffered until the video stream exists)."""
        if self._stream is None:
            if len(self._pending) < 4096:
                self._pending.append(packet)
            return
        out = self._audio_map.get(packet.stream.index)
        if out is None:
            return
        packet.stream = out
        try:
            self.container.mux(packet)
        except (self.av.error.FFmpegError, ValueError):
            pass  # one bad audio packet must not lose the video

    # ----------------------------------------------------------------------------- ending
    def _close_container(self) -> None:
        if self._stream is not None:
            for packet in self._stream.encode(None):
                self.container.mux(packet)
        self.container.close()

    def finish(self) -> Path:
        """Flush the encoder, close the file and rename it onto ``dst``; return ``dst``."""
        if self.frames == 0:
            self.abort()
            raise VideoError("no video frames to write")
        try:
            self._close_container()
            os.replace(self.tmp, self.dst)
        except (self.av.error.FFmpegError, OSError) as err:
            self._unlink()
            raise VideoError(f"cannot finish {self.dst} ({_ffmpeg_reason(err)})") from None
        return self.dst

    def finish_partial(self) -> Path | None:
        """Close what was written so far as a valid file ``NAME.partial.EXT``; ``None`` if nothing
        was written or closing failed (then nothing is left behind)."""
        if self.frames == 0:
            self.abort()
            return None
        partial = self.dst.with_name(f"{self.dst.stem}.partial{self.dst.suffix}")
        try:
            self._close_container()
            os.replace(self.tmp, partial)
        except BaseException:  # noqa: BLE001 - a second Ctrl-C or a muxer error: leave nothing
            self._unlink()
            return None
        return partial

    def abort(self) -> None:
        """Discard the output (temporary file removed)."""
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - closing a broken muxer may fail; the file goes anyway
            pass
        self._unlink()

    def _unlink(self) -> None:
        try:
            self.tmp.unlink()
        except OSError:
            pass
