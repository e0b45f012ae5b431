"""The video part of ``uptflow enhance``: options, picking video inputs out, running them.

``uptflow.commands.enhance`` calls four functions (a small hook, so the image path stays as it is):

- :func:`add_arguments` — ``--codec``, ``--crf``, ``--frames-out``, ``--fps``, ``--frame-by-frame``;
- :func:`split_inputs` — which inputs are videos: files whose *content* is a video container
  (:func:`uptflow.video.probe.looks_like_video`; also videos inside given folders and patterns)
  and, when ``--fps`` is given, folders (each one frame sequence);
- :func:`video_target` — each video's output path, planned together with the images' outputs
  (:func:`uptflow.io.outputs.plan_outputs`: no two inputs write the same file, never an input);
- :func:`run_videos` — enhances them after the images, one line per problem.

Each video fails on its own (one line ``uptflow enhance: skipped FILE: reason``); the others and
the images go on, and the exit code becomes 1.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from uptflow.messages import is_out_of_memory, one_line
from uptflow.video.probe import VideoError, looks_like_video

__all__ = ["VIDEO_EPILOG", "VideoJob", "add_arguments", "split_inputs", "video_target", "run_videos"]

VIDEO_EPILOG = """

videos (.mp4 .mkv .avi .mov .webm ..., recognised by content; needs pip install "uptflow[video]"):
  OUTDIR/NAME.mp4 (H.264, CRF 18; same size, frame rate and timestamps; rotation and audio kept);
  --codec NAME any FFmpeg encoder (.mkv unless H.264/H.265/AV1/MPEG-4), e.g. ffv1 (lossless RGB);
  odd frame sizes are kept exactly (yuv444p instead of yuv420p). Frames share pooled statistics
  and a motion-adaptive temporal filter steadies static areas (--frame-by-frame turns both off).
  A folder of numbered frames is one video when --fps is given. Ctrl-C keeps NAME.partial.mp4.
  uptflow enhance night.mp4 frames_dir/ -o out/ --fps 25 --frames-out out/png
"""


@dataclass(frozen=True)
class VideoJob:
    """One video input: a file, or a folder of frames (``sequence``)."""

    path: Path
    sequence: bool = False


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("video")
    g.add_argument("--codec", default="libx264", metavar="NAME",
                   help="FFmpeg video encoder (default libx264 -> .mp4; e.g. ffv1 -> lossless .mkv)")
    g.add_argument("--crf", type=int, default=None, metavar="Q",
                   help="constant-rate factor 0..63 for codecs that have one (libx264 default 18; lower = better)")
    g.add_argument("--frames-out", default=None, metavar="DIR",
                   help="also write every enhanced video frame as DIR/NAME/000000.png ...")
    g.add_argument("--fps", default=None, metavar="R",
                   help="frame rate for folders of numbered frames (25, 29.97 or 30000/1001); with --fps "
                        "every folder given is enhanced as one video, not as separate images")
    g.add_argument("--frame-by-frame", action="store_true",
                   help="video: enhance frames independently (no shared statistics, no temporal filter)")


def _videos_in(folder: Path, recursive: bool) -> tuple[list[Path], bool]:
    """Video files in ``folder`` (sorted) and whether it also holds image files."""
    from uptflow.io.formats import IMAGE_EXTENSIONS

    found = folder.rglob("*") if recursive else folder.iterdir()
    videos, images = [], False
    for q in sorted(found):
        if q.name.startswith(".") or not q.is_file():
            continue
        if recursive and any(part.startswith(".") for part in q.relative_to(folder).parts):
            continue
        if q.suffix.lower() in IMAGE_EXTENSIONS:
            images = True
        elif looks_like_video(q):
            videos.append(q)
    return videos, images


def split_inputs(inputs: list[str], recursive: bool = False, fps: str | None = None) -> tuple[list[str], list[VideoJob]]:
    """Split command-line inputs into ``(image inputs, video jobs)``, keeping the order.

    A folder or pattern that holds both keeps its images on the image side; one with only
    videos leaves it (the image lister would call it empty).
    """
    from uptflow.io.formats import IMAGE_EXTENSIONS

    images: list[str] = []
    jobs: list[VideoJob] = []
    seen: set[Path] = set()

    def add(job: VideoJob) -> None:
        key = job.path.resolve()
        if key not in seen:
            seen.add(key)
            jobs.append(job)

    for item in inputs:
        p = Path(os.fspath(item))
        if p.is_file():
            image_name = p.suffix.lower() in IMAGE_EXTENSIONS
            if _sniffed(p) if image_name else looks_like_video(p):
                add(VideoJob(p))
            else:
                images.append(item)
        elif p.is_dir():
            if fps is not None:
                add(VideoJob(p, sequence=True))
                continue
            videos, has_images = _videos_in(p, recursive)
            for v in videos:
                add(VideoJob(v))
            if has_images or not videos:
                images.append(item)
        elif set("*?[") & set(str(item)):
            matches = sorted(Path(m) for m in glob.glob(str(item), recursive=True))
            videos = [m for m in matches if m.is_file() and not m.name.startswith(".")
                      and m.suffix.lower() not in IMAGE_EXTENSIONS and looks_like_video(m)]
            for v in videos:
                add(VideoJob(v))
            if not videos or any(m.suffix.lower() in IMAGE_EXTENSIONS for m in matches):
                images.append(item)
        else:
            images.append(item)  # the image lister reports "no such file or folder"
    return images, jobs


def _sniffed(p: Path) -> bool:
    """An image-named file whose bytes are a video container (e.g. a clip saved as .jpg)."""
    from uptflow.video.probe import _signature

    try:
        with open(p, "rb") as f:
            return _signature(f.read(512)) is not None
    except OSError:
        return False


def video_target(job: VideoJob, out_dir: Path, args: argparse.Namespace) -> Path:
    """Where ``job``'s video goes: ``OUTDIR/NAME{suffix}.mp4`` (``.mkv`` for codecs MP4 cannot hold)."""
    from uptflow.video.api import default_output

    return default_output(job.path, out_dir, getattr(args, "codec", "libx264"), args.suffix)


def run_videos(planned: list[tuple[VideoJob, Path]], args: argparse.Namespace, model: Any, device: Any,
               prog: str, seed: int | None, note: Callable[[str], None],
               skip: Callable[[object, object], None]) -> tuple[int, int]:
    """Enhance every ``(job, target)`` (targets planned with the images' by
    :func:`uptflow.io.outputs.plan_outputs`: never an input, never another input's output);
    return ``(done, failed)``.  ``note(text)`` prints a line, ``skip(path, reason)`` a skipped-input
    line.  ``KeyboardInterrupt`` passes through after the current video is kept as ``.partial``."""
    from tqdm import tqdm

    from uptflow import api
    from uptflow.messages import show_path
    from uptflow.video.api import open_source, transcode
    from uptflow.video.encode import VideoWriter, check_codec
    from uptflow.video.probe import expected_frames
    from uptflow.video.stream import FrameEnhancer, TemporalOptions

    done = failed = 0
    codec = getattr(args, "codec", "libx264")
    crf = getattr(args, "crf", None)
    fps = getattr(args, "fps", None)
    frames_root = Path(args.frames_out) if getattr(args, "frames_out", None) else None
    setup_error: str | None = None
    try:
        check_codec(codec, crf)
        if fps is not None:
            from uptflow.video.sequence import parse_rate

            parse_rate(fps)
    except (VideoError, ValueError) as err:
        setup_error = str(err)
    if args.samples > 1:
        setup_error = "--samples > 1 applies to images only (a video gets one result)"

    for job, target in planned:
        src = job.path
        if setup_error is not None:
            skip(src, setup_error)
            failed += 1
            continue
        writer = None
        try:
            with open_source(src, fps if job.sequence else None) as source:
                info = source.info
                tile = args.tile
                if tile is None:
                    tile = api.choose_tile(info.height, info.width, model.config, device) or 0
                    if tile:
                        note(f"{prog}: {show_path(src)}: {info.width}x{info.height} frames do not fit in memory "
                             f"at once; using {tile}-pixel tiles")
                temporal = TemporalOptions(enabled=not getattr(args, "frame_by_frame", False))
                enhancer = FrameEnhancer(model, temporal, args.temperature, seed, tile,
                                         min(args.overlap, max(tile - 1, 0)), args.tile_refine,
                                         precision=getattr(args, "precision", "float32"),
                                         exposure=float(getattr(args, "exposure", 0.0) or 0.0),
                                         highlights=getattr(args, "highlights", "auto"))
                frames_dir = frames_root / target.stem if frames_root is not None else None
                writer = VideoWriter(target, codec, crf, info.rate, info.time_base, source.audio)
                with tqdm(total=expected_frames(info), unit="frame", desc=src.name, leave=False, file=sys.stderr,
                          dynamic_ncols=True, disable=True if args.quiet else None) as bar:
                    n = transcode(source, writer, enhancer, frames_dir, bar.update)
                notes = list(writer.notes)
                if getattr(source, "variable_rate", False):
                    notes.insert(0, "variable frame rate: every frame keeps its source timestamp")
                for text in notes:
                    note(f"{prog}: {show_path(src)}: note: {text}")
                if source.problem:
                    note(f"{prog}: {show_path(src)}: damaged or truncated: {source.problem}; wrote the {n} frames "
                         f"that decoded to {show_path(target)}")
                    failed += 1
                    continue
        except KeyboardInterrupt:
            partial = getattr(writer, "partial", None)
            if partial is not None:
                note(f"{prog}: interrupted: kept the frames enhanced so far in {show_path(partial)}")
            raise
        except VideoError as err:
            skip(src, err)
            failed += 1
            continue
        except MemoryError:
            skip(src, "out of memory; try --tile 256")
            failed += 1
            continue
        except (ValueError, TypeError, OSError) as err:
            skip(src, err)
            failed += 1
            continue
        except RuntimeError as err:
            hint = "; try --tile 256" if is_out_of_memory(err) else ""
            skip(src, f"enhancement failed ({one_line(err, 120)}){hint}")
            failed += 1
            continue
        done += 1
    return done, failed
