"""Streaming decode with PyAV: video frames as RGB arrays, audio packets passed through.

One pass over the file's packets in their stored (interleaved) order: a video packet is decoded
into frames that go to the enhancer one at a time, an audio packet is handed on untouched for
remuxing.  Nothing is read ahead beyond what FFmpeg's decoder holds, so memory does not grow
with the clip's length.

Timestamps: every frame keeps its presentation timestamp (``pts`` in ``time_base`` units), so a
variable-frame-rate clip comes out with the same timing.  A frame without a timestamp gets the
previous one plus one frame period; a timestamp that does not increase is moved one tick after
the previous one (encoders reject equal or decreasing timestamps).

Damaged files: FFmpeg skips what it cannot decode; when the demuxer or decoder gives up
mid-stream the reader stops and records why in :attr:`VideoReader.problem` (the caller keeps the
frames decoded so far and reports the file).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from uptflow.video.probe import VideoError, VideoInfo, _ffmpeg_reason, probe, require_av

__all__ = ["DecodedFrame", "VideoReader", "frame_to_rgb"]


@dataclass
class DecodedFrame:
    """One decoded frame.

    Attributes:
        rgb: ``(H, W, 3)`` float32 in ``[0, 1]`` (8-bit sources exactly k/255).
        pts: presentation timestamp in ``time_base`` units (strictly increasing).
        index: 0-based frame number.
        rotation: display rotation in degrees counter-clockwise from the stream's display matrix
            (0 if none); the pixels are *not* rotated (the writer copies the matrix instead).
    """

    rgb: np.ndarray
    pts: int
    index: int
    rotation: int = 0


def frame_to_rgb(frame: Any) -> np.ndarray:
    """``av.VideoFrame`` -> ``(H, W, 3)`` float32 RGB in ``[0, 1]``; high-bit-depth sources
    (10/12/16-bit) are converted through 16-bit RGB so no precision is lost before the model."""
    deep = any(tag in frame.format.name for tag in ("10", "12", "14", "16"))
    if deep:
        a = frame.to_ndarray(format="rgb48le")
        return a.astype(np.float32) / np.float32(65535.0)
    a = frame.to_ndarray(format="rgb24")
    return a.astype(np.float32) / np.float32(255.0)


class VideoReader:
    """Decode ``path``'s first video stream; iterate :meth:`events` for frames and audio packets.

    Use as a context manager (closes the file).  ``info`` is the :func:`probe` result.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.info: VideoInfo = probe(self.path)
        av = require_av()
        self._av = av
        self.container = av.open(str(self.path), mode="r")
        self.video = self.container.streams.video[0]
        self.audio = list(self.container.streams.audio)
        self.frames_decoded = 0
        #: why decoding stopped early, or ``None`` when the stream ended normally
        self.problem: str | None = None
        #: the header says so, or the frame intervals seen so far were not all equal
        self.variable_rate = self.info.variable_rate

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.container.close()

    def _period_ticks(self) -> int:
        """One frame period in ``time_base`` ticks (>= 1)."""
        rate = self.info.rate or Fraction(25)
        return max(1, round(1 / (rate * self.info.time_base)))

    def events(self) -> Iterator[tuple[str, Any]]:
        """Yield ``("frame", DecodedFrame)`` and ``("audio", av.Packet)`` in file order."""
        av = self._av
        last_pts: int | None = None
        gaps = (1 << 62, 0)  # smallest and largest step between timestamps seen
        period = self._period_ticks()
        packets = self.container.demux(self.video, *self.audio)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as err:
                self.problem = f"reading stopped after frame {self.frames_decoded} ({_ffmpeg_reason(err)})"
                break
            if packet.stream.type == "audio":
                if packet.size and packet.dts is not None:
                    yield "audio", packet
                continue
            try:
                frames = packet.decode()  # the final empty packet flushes the decoder
            except av.error.FFmpegError as err:
                if self.frames_decoded == 0:
                    raise VideoError(f"cannot decode the video ({_ffmpeg_reason(err)})") from None
                continue  # a damaged packet: FFmpeg conceals it, we skip it
            for frame in frames:
                pts = frame.pts
                if pts is None:
                    pts = 0 if last_pts is None else last_pts + period
                elif last_pts is not None and pts <= last_pts:
                    pts = last_pts + 1
                if last_pts is not None:
                    gaps = (min(gaps[0], pts - last_pts), max(gaps[1], pts - last_pts))
                last_pts = pts
                rgb = frame_to_rgb(frame)
                yield "frame", DecodedFrame(rgb, int(pts), self.frames_decoded, int(getattr(frame, "rotation", 0) or 0))
                self.frames_decoded += 1
        if self.problem is None and self.frames_decoded:
            self.problem = self._ended_early(last_pts, period)
        self.variable_rate = self.info.variable_rate or gaps[1] > 1.1 * gaps[0] + 1

    def _ended_early(self, last_pts: int | None, period: int) -> str | None:
        """Why the stream looks cut short, from the header's frame count or duration, or ``None``.

        FFmpeg decodes a truncated Matroska/MPEG-TS file without complaint; the header still
        says how long it was.  The container duration is trusted only without audio (an audio
        track may legitimately outlast the video)."""
        info = self.info
        if info.frames and self.frames_decoded < info.frames:
            return f"{self.frames_decoded} of {info.frames} frames decoded"
        duration = None
        if self.video.duration is not None:
            duration = float(self.video.duration * self.video.time_base)
        elif not self.audio and self.container.duration:
            duration = self.container.duration / 1_000_000
        if duration is None or last_pts is None:
            return None
        start = float((self.video.start_time or 0) * info.time_base)
        decoded = float(last_pts * info.time_base) - start + float(period * info.time_base)
        if decoded < duration - 2.5 * float(period * info.time_base):
            return f"the stream ends at {decoded:.2f} s, the header says {duration:.2f} s"
        return None
