"""Video as an input of uptflow: decode, enhance steadily over time, encode (PyAV / FFmpeg).

- :func:`enhance_video` (also ``uptflow.enhance_video``): a file or frame folder -> a video file.
- :func:`enhance_frames` (also ``uptflow.enhance_frames``): a generator over any stream of frames.
- ``uptflow enhance clip.mp4 -o out/``: the CLI path (:mod:`uptflow.video.cli`).

Modules: :mod:`~uptflow.video.probe` (recognise / describe), :mod:`~uptflow.video.decode`,
:mod:`~uptflow.video.encode`, :mod:`~uptflow.video.sequence` (frame folders),
:mod:`~uptflow.video.temporal` (stability), :mod:`~uptflow.video.stream` (per-frame engine),
:mod:`~uptflow.video.api`, :mod:`~uptflow.video.synthetic` (clips with ground truth).
PyAV is optional (``pip install "uptflow[video]"``); only decoding/encoding needs it.
"""

from __future__ import annotations

from uptflow.video.api import VideoResult, enhance_video
from uptflow.video.probe import VideoError, looks_like_video, probe
from uptflow.video.stream import FrameEnhancer, TemporalOptions, enhance_frames

__all__ = ["VideoError", "VideoResult", "FrameEnhancer", "TemporalOptions", "enhance_video", "enhance_frames",
           "looks_like_video", "probe"]
