"""Resolve a ``--model`` argument (path, preset name, model object or nothing) to a loaded model.

Why a registry: the CLI and :func:`uptflow.enhance` accept the same ``model`` values, and loading
a checkpoint costs seconds, so loaded models are cached per ``(spec, device)``.  It is also the one
place that decides what happens without ``--model`` (the bundled default) and that
makes sure a randomly initialised preset never poses as an enhancer (a loud warning on stderr).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Union

import torch

from uptflow.config import presets
from uptflow.messages import quoted_path, show_path
from uptflow.model import UPTFlow

__all__ = [
    "BUNDLED_MODEL",
    "ModelSpec",
    "bundled_model_path",
    "resolve_device",
    "random_model",
    "resolve_model",
    "load_cached",
    "clear_cache",
]

#: The trained default model (package data: the ``small`` preset, see docs/MODEL_CARD.md).
BUNDLED_MODEL = Path(__file__).resolve().parents[1] / "weights" / "default.safetensors"

ModelSpec = Union[str, os.PathLike, UPTFlow, None]

NO_BUNDLED_MODEL = (
    "the bundled model (uptflow/weights/default.safetensors) is missing from this installation; "
    "reinstall uptflow or pass --model PATH (a checkpoint you trained or the authors' converted weights)"
)

_CACHE: dict[tuple, UPTFlow] = {}
_LOCK = threading.Lock()


def bundled_model_path() -> Path | None:
    """The bundled default checkpoint if it is installed, else ``None``."""
    return BUNDLED_MODEL if BUNDLED_MODEL.is_file() else None


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` -> device.

    Raises:
        ValueError: an unknown name, or CUDA asked for but not available (one line).
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device.strip().lower() if isinstance(device, str) else device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"unknown device {device!r}; use auto, cpu or cuda") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' requested but CUDA is not available here; use --device cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {dev} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    elif dev.type != "cpu":
        raise ValueError(f"unsupported device {device!r}; use auto, cpu or cuda")
    return dev


def random_model(preset: str, seed: int = 0) -> UPTFlow:
    """A seeded, randomly initialised model of ``preset`` whose output depends on its input.

    A freshly constructed UPT-Flow decodes z = 0 to an all-black image whatever the input, because
    every coupling starts as the identity (zero-initialised last convolution) and un-initialised
    ActNorms are the identity.  That hides plumbing bugs (tiling seams, padding, channel order), so
    this helper (1) fills the zero-initialised convolutions with N(0, 0.01^2) and (2) runs one
    data-dependent ActNorm initialisation on a fixed synthetic pair (a smooth seeded image as
    "normal", 0.15 x it as "low").  The result is still *random weights*, for tests, benchmarks of
    seams and speed, and ``--model PRESET``; it is not an enhancer.

    Returns the model in eval mode on the CPU.
    """
    from uptflow.config import get_preset
    from uptflow.flows.subnet import Conv2dZeros

    cfg = get_preset(preset)
    gen = torch.Generator().manual_seed(int(seed))
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(int(seed))
        model = UPTFlow(cfg)
    finally:
        torch.random.set_rng_state(state)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, Conv2dZeros):
                module.weight.normal_(0.0, 0.01, generator=gen)
        coarse = torch.rand(1, 3, 8, 8, generator=gen)
        normal = torch.nn.functional.interpolate(coarse, size=(64, 64), mode="bilinear", align_corners=False)
        model.train()
        model.nll(normal, 0.15 * normal, generator=gen)
    return model.eval()


def _warn_random(name: str) -> None:
    print(f"uptflow: WARNING: preset {name!r} has RANDOM weights: output is not an enhancement "
          "(pass --model PATH for a trained checkpoint)", file=sys.stderr)


def resolve_model(spec: ModelSpec, device: str | torch.device | None = "auto") -> UPTFlow:
    """Load the model named by ``spec`` onto ``device`` (no caching; see :func:`load_cached`).

    Args:
        spec: ``None`` (the bundled default), a checkpoint path (our ``.safetensors``, our training
            checkpoints, the authors' ``.pth``), a preset name (random weights, with a warning on
            stderr), or an :class:`UPTFlow` (returned as is, moved to ``device`` unless that is
            ``"auto"``).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ... (see :func:`resolve_device`).

    Returns:
        The model in eval mode.

    Raises:
        ValueError: no bundled model installed, an unknown name, a file that is not a checkpoint.
        FileNotFoundError: a path that does not exist.
        TypeError: a ``spec`` of another type.
    """
    if isinstance(spec, UPTFlow):
        if device is None or (isinstance(device, str) and device.lower() == "auto"):
            return spec.eval()
        return spec.to(resolve_device(device)).eval()
    dev = resolve_device(device)
    if spec is None:
        path = bundled_model_path()
        if path is None:
            raise ValueError(NO_BUNDLED_MODEL)
        return _load_path(path, dev)
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"model must be a path, a preset name, an UPTFlow or None, got {type(spec).__name__}")
    text = os.fspath(spec)
    path = Path(text).expanduser()
    if path.is_file():
        return _load_path(path, dev)
    if path.is_dir():
        raise ValueError(f"model {show_path(text)} is a folder, not a checkpoint file")
    if os.path.lexists(path) and text not in presets:  # a FIFO, a link loop, a broken link: say which
        from uptflow.io.formats import file_problem

        problem = file_problem(path)
        if problem is not None and problem != "no such file":
            raise ValueError(f"model {show_path(text)}: {problem.replace('an image file', 'a checkpoint file')}")
    if text in presets:
        _warn_random(text)
        return random_model(text).to(dev)
    if path.suffix or os.sep in text or (os.altsep and os.altsep in text):
        raise FileNotFoundError(f"model file not found: {show_path(text)}")
    raise ValueError(f"unknown model {quoted_path(text)}: not a file and not a preset ({', '.join(presets)})")


def _load_path(path: Path, device: torch.device) -> UPTFlow:
    from uptflow.checkpoints import load_model

    try:
        return load_model(path, map_location=device).eval()
    except PermissionError:
        raise PermissionError(f"cannot read model file {show_path(path)} (permission denied)") from None
    except (ValueError, FileNotFoundError):
        raise
    except Exception as err:  # noqa: BLE001 - any other loader failure is a bad model file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{show_path(path)} is not a usable UPT-Flow checkpoint ({first[:160]})") from None


def _cache_key(spec: ModelSpec, device: torch.device) -> tuple | None:
    if spec is None:
        path = bundled_model_path()
        spec = path if path is not None else None
        if spec is None:
            return None
    if isinstance(spec, (str, os.PathLike)):
        path = Path(os.fspath(spec)).expanduser()
        if path.is_file():
            st = path.stat()  # a rewritten checkpoint (new mtime/size) is loaded again
            return ("file", str(path.resolve()), st.st_mtime_ns, st.st_size, str(device))
        return ("name", os.fspath(spec), str(device))
    return None


def load_cached(spec: ModelSpec, device: str | torch.device | None = "auto") -> UPTFlow:
    """:func:`resolve_model` with a per-process cache keyed by ``(spec, device)``.

    Files are keyed by their resolved path, modification time and size, so a checkpoint that was
    rewritten is reloaded.  :class:`UPTFlow` objects are never cached (they are already loaded).
    """
    if isinstance(spec, UPTFlow):
        return resolve_model(spec, device)
    dev = resolve_device(device)
    key = _cache_key(spec, dev)
    if key is None:
        return resolve_model(spec, dev)
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            model = resolve_model(spec, dev)
            _CACHE[key] = model
    return model


def clear_cache() -> None:
    """Forget every cached model (frees their memory once no one else holds them)."""
    with _LOCK:
        _CACHE.clear()
