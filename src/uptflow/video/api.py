"""``uptflow.enhance_video(src, dst)``: one video (or frame folder) in, one enhanced video out.

The pipeline is a single streaming pass (memory independent of the clip's length)::

    VideoReader / FrameSequence --frames--> FrameEnhancer --> VideoWriter (temp file)
                                 --audio packets-------------^         |  rename when complete
                                                                       v
                                                                 dst (+ PNG frames)

Failure handling: any error discards the temporary file (nothing half-written is left);
Ctrl-C closes what was encoded so far as a valid ``NAME.partial.EXT`` and re-raises
``KeyboardInterrupt``; a file that ends early (truncated download, damaged packets) keeps the
frames that decoded and is reported through :attr:`VideoResult.problem`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

from uptflow.video.encode import DEFAULT_CODEC, VideoWriter, container_for
from uptflow.video.probe import VideoError
from uptflow.video.stream import FrameEnhancer, TemporalOptions

__all__ = ["VideoResult", "open_source", "transcode", "enhance_video"]


@dataclass
class VideoResult:
    """What :func:`enhance_video` wrote.

    Attributes:
        path: the output video; ``frames``: frames written; ``rate``: nominal frame rate.
        notes: things done differently from the source (odd size, dropped audio, variable rate).
        problem: why the source ended early (truncated / damaged), else ``None``.
        scene_cuts: cuts detected (the temporal state was reset there).
    """

    path: Path
    frames: int
    rate: Fraction | None
    notes: list[str] = field(default_factory=list)
    problem: str | None = None
    scene_cuts: int = 0


def open_source(src: str | os.PathLike[str], fps: float | str | None = None) -> Any:
    """A :class:`VideoReader` for a video file, or a :class:`FrameSequence` for a folder (needs ``fps``)."""
    p = Path(src)
    if p.is_dir():
        if fps is None:
            raise VideoError("a folder is read as a frame sequence only with a frame rate (--fps)")
        from uptflow.video.sequence import FrameSequence

        return FrameSequence(p, fps)
    if not p.exists():
        raise VideoError("no such file")
    from uptflow.video.decode import VideoReader

    return VideoReader(p)


def transcode(source: Any, writer: VideoWriter, enhancer: Callable[[Any], Any],
              frames_out: Path | None = None, progress: Callable[[int], None] | None = None) -> int:
    """Stream ``source.events()`` through ``enhancer`` into ``writer``; return frames written.

    Finishes ``writer`` on success; aborts it on an error; on ``KeyboardInterrupt`` closes it as
    a ``.partial`` file (``writer.partial`` is set to its path or ``None``) and re-raises.
    """
    from uptflow.io.write import save_image

    size = None
    try:
        for kind, item in source.events():
            if kind == "audio":
                writer.mux_audio(item)
                continue
            if size is None:
                size = item.rgb.shape
            elif item.rgb.shape != size:
                raise VideoError(f"frame size changes at frame {item.index} "
                                 f"({size[1]}x{size[0]} -> {item.rgb.shape[1]}x{item.rgb.shape[0]})")
            out = enhancer(item.rgb)
            writer.write(out, item.pts, item.rotation)
            if frames_out is not None:
                save_image(frames_out / f"{item.index:06d}.png", out)
            if progress is not None:
                progress(1)
    except KeyboardInterrupt:
        writer.partial = writer.finish_partial()
        raise
    except BaseException:
        writer.abort()
        raise
    if writer.frames == 0:
        writer.abort()
        reason = f": {source.problem}" if getattr(source, "problem", None) else ""
        raise VideoError(f"no video frames (empty or undecodable stream{reason})")
    writer.finish()
    return writer.frames


def default_output(src: Path, out_dir: Path, codec: str = DEFAULT_CODEC, suffix: str = "") -> Path:
    """``out_dir / NAME{suffix}.EXT`` with the container of ``codec`` (``.mp4`` or ``.mkv``)."""
    return out_dir / f"{src.stem if src.is_file() else src.name}{suffix}{container_for(codec)[0]}"


def enhance_video(src: str | os.PathLike[str], dst: str | os.PathLike[str], model: Any = None,
                  device: str = "auto", codec: str = DEFAULT_CODEC, crf: int | None = None,
                  frames_out: str | os.PathLike[str] | None = None, fps: float | str | None = None,
                  temporal: bool = True, temperature: float = 0.0, seed: int | None = None,
                  tile: int | None = None, overlap: int = 32, tile_refine: int = 1,
                  budget_bytes: int | None = None, progress: bool = False, precision: str = "float32",
                  exposure: float = 0.0, highlights: str = "auto", **temporal_options: Any) -> VideoResult:
    """Enhance a low-light video (or a folder of numbered frames) into a new video file.

    Args:
        src: a video file (any container/codec FFmpeg reads) or a folder of frames (with ``fps``).
        dst: output file, or an existing folder (then ``dst/NAME.mp4``, ``.mkv`` for codecs MP4
            cannot hold).  Never the input; written atomically.
        model, device: as :func:`uptflow.enhance`.
        codec, crf: FFmpeg encoder (default ``libx264``, CRF 18) and its constant-rate factor.
        frames_out: also write every enhanced frame as ``frames_out/000000.png`` ...
        fps: frame rate of a frame folder (ignored for video files: their timestamps are kept).
        temporal: shared statistics + denoising (default) or independent frames.
        temperature, seed, tile, overlap, tile_refine, budget_bytes, precision, highlights: as
            :func:`uptflow.api.enhance_tensor`.
        exposure: EV for every frame, as ``uptflow enhance --exposure`` (0 = unchanged).
        progress: show a tqdm bar (frames, fps, ETA) on stderr.
        **temporal_options: ``stats_momentum``, ``denoise``, ``scene_cut`` (:class:`TemporalOptions`).

    Returns:
        :class:`VideoResult`.

    Raises:
        uptflow.video.VideoError: not a video, no frames, unknown codec, PyAV missing, ...
    """
    from tqdm import tqdm

    from uptflow.model import UPTFlow
    from uptflow.inference.models import load_cached, resolve_device
    from uptflow.video.probe import expected_frames

    src_p, dst_p = Path(src), Path(dst)
    if dst_p.is_dir():
        dst_p = default_output(src_p, dst_p, codec)
    if dst_p.exists() and src_p.exists() and dst_p.resolve() == src_p.resolve():
        raise VideoError("the output would overwrite the input")
    net = load_cached(model, device if isinstance(model, UPTFlow) else resolve_device(device))
    enhancer = FrameEnhancer(net, TemporalOptions(enabled=temporal, **temporal_options), temperature, seed,
                             tile, overlap, tile_refine, budget_bytes, precision, exposure, highlights)
    if not dst_p.suffix:
        dst_p = dst_p.with_suffix(container_for(codec)[0])
    with open_source(src_p, fps) as source:
        info = source.info
        writer = VideoWriter(dst_p, codec, crf, info.rate, info.time_base, source.audio)
        frames_dir = Path(frames_out) if frames_out is not None else None
        with tqdm(total=expected_frames(info), unit="frame", disable=not progress, dynamic_ncols=True) as bar:
            n = transcode(source, writer, enhancer, frames_dir, bar.update)
        notes = list(writer.notes)
        if getattr(source, "variable_rate", False):
            notes.insert(0, "variable frame rate: every frame keeps its source timestamp")
        return VideoResult(dst_p, n, info.rate, notes, source.problem, enhancer.scene_cuts)
