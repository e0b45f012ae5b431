"""A folder of numbered image frames read as a video (``uptflow enhance FOLDER --fps R``).

Frames are the folder's image files ordered by the *number* in their names (``f2.png`` before
``f10.png``; names without a number sort after, alphabetically); frame ``i`` gets timestamp
``i`` in units of ``1 / fps``.  All frames must have the size of the first.  It offers the same
:meth:`events` interface as :class:`uptflow.video.decode.VideoReader` (no audio), so the rest of
the pipeline does not know the difference.  Frames are read one at a time.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

from uptflow.video.decode import DecodedFrame
from uptflow.video.probe import VideoError, VideoInfo

__all__ = ["FrameSequence", "numbered_frames", "parse_rate"]


def parse_rate(fps: float | str | Fraction) -> Fraction:
    """``25``, ``"30000/1001"``, ``29.97`` -> a positive :class:`Fraction` (one-line ValueError)."""
    try:
        rate = Fraction(str(fps)) if not isinstance(fps, Fraction) else fps
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"--fps must be a number or a fraction like 30000/1001, got {fps!r}") from None
    rate = rate.limit_denominator(1001)
    if not 0 < rate <= 1000:
        raise ValueError(f"--fps must be in (0, 1000], got {fps!r}")
    return rate


def _key(p: Path) -> tuple:
    nums = re.findall(r"\d+", p.stem)
    return (0, int(nums[-1]), p.name) if nums else (1, 0, p.name)


def numbered_frames(folder: Path) -> list[Path]:
    """The folder's image files in frame order; :class:`VideoError` if there are none."""
    from uptflow.io.listing import list_images

    try:
        files = list_images([folder])
    except ValueError:
        raise VideoError("no image frames in the folder") from None
    return sorted(files, key=_key)


class FrameSequence:
    """Numbered frames in ``folder`` at ``fps`` frames per second (see the module docstring)."""

    def __init__(self, folder: str | Path, fps: float | str | Fraction) -> None:
        from uptflow.io.read import read_rgb

        self.path = Path(folder)
        self.rate = parse_rate(fps)
        self.files = numbered_frames(self.path)
        self._read = read_rgb
        first = self._load(self.files[0])
        h, w = first.shape[:2]
        self.info = VideoInfo(width=w, height=h, rate=self.rate, time_base=1 / self.rate,
                              frames=len(self.files), duration_s=float(len(self.files) / self.rate),
                              codec="images", container="sequence", audio=0)
        self.audio: list[Any] = []
        self.frames_decoded = 0
        self.problem: str | None = None

    def _load(self, p: Path):
        from uptflow.io.read import ImageReadError

        try:
            return self._read(p)
        except ImageReadError as err:
            raise VideoError(f"frame {p.name}: {err.reason}") from None

    def __enter__(self) -> "FrameSequence":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def close(self) -> None:
        pass

    def events(self) -> Iterator[tuple[str, Any]]:
        for i, p in enumerate(self.files):
            rgb = self._load(p)
            if rgb.shape[:2] != (self.info.height, self.info.width):
                raise VideoError(f"frame {p.name} is {rgb.shape[1]}x{rgb.shape[0]}, the first frame is "
                                 f"{self.info.width}x{self.info.height}")
            yield "frame", DecodedFrame(rgb, i, i, 0)
            self.frames_decoded += 1
