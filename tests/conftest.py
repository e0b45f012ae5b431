"""Shared fixtures: the shared reference data (``shared`` marker), a device/dtype matrix, threads.

Shared data: ``$UPTFLOW_SHARED`` if set, else ``../shared`` beside the repository.  A test that
asks for :func:`shared_dir` is marked ``shared`` automatically (``-m "not shared"`` deselects
them).  Without the folder such a test is skipped locally, but FAILS under CI (``CI=true``): a CI
run without its data must not look green.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def shared_location() -> Path:
    """``$UPTFLOW_SHARED`` or ``<repo>/../shared`` (tests may look beside the checkout; the package may not)."""
    env = os.environ.get("UPTFLOW_SHARED", "").strip()
    return Path(env).expanduser() if env else REPO.parent / "shared"


SHARED = shared_location()

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    # A runner started in the background of a non-interactive shell inherits SIGINT ignored (and so
    # would every subprocess); the Ctrl-C tests need Python's usual handler, as a terminal user has.
    signal.signal(signal.SIGINT, signal.default_int_handler)
if SHARED.is_dir():
    # The package finds shared data only through this setting (never from its own location);
    # the tests run as a developer who set it.  Tests of the unset case delete it themselves.
    os.environ.setdefault("UPTFLOW_SHARED", str(SHARED))
# Several tests compare outputs of two processes (CLI, demo server, API) bit for bit.  Each process
# measures its own 1x1-convolution backend (``uptflow.nets.pointwise``), and on a CPU where the two
# are close, two processes could choose differently (a last-bit difference).  Fix it for the suite;
# tests/nets/test_pointwise.py tests the measured choice and both backends explicitly.
os.environ.setdefault("UPTFLOW_POINTWISE", "conv")


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_shared(path: Path = SHARED) -> Path:
    """``path`` if it exists; otherwise skip (locally) or fail (under CI) with one line saying why."""
    if path.exists():
        return path
    msg = f"{path} (reference data; set UPTFLOW_SHARED) is missing"
    if on_ci():
        pytest.fail(f"{msg}: CI must run every test", pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared reference folder (``SPEC.md``, ``conformance/``, ``data/``)."""
    return require_shared(SHARED)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A test needs ../shared exactly when it (or a fixture it uses) asks for ``shared_dir``.
    for item in items:
        if "shared_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared)


# --------------------------------------------------------------------------- devices and dtypes
_DEVICE_CASES = [
    pytest.param(("cpu", None), id="cpu-float32"),
    pytest.param(("cuda", None), id="cuda-float32"),
    pytest.param(("cuda", torch.bfloat16), id="cuda-amp-bf16"),
    pytest.param(("cuda", torch.float16), id="cuda-amp-fp16"),
]


@pytest.fixture(params=_DEVICE_CASES)
def device_dtype(request: pytest.FixtureRequest) -> tuple[torch.device, torch.dtype | None]:
    """``(device, amp_dtype)``: CPU float32 always; CUDA float32 and AMP bf16/fp16 where a GPU exists.

    ``amp_dtype`` is None for plain float32, else the ``torch.autocast`` dtype.  CUDA cases skip
    with a reason on machines without CUDA (bf16 also without bf16 support).
    """
    kind, amp = request.param
    if kind == "cuda":
        if not torch.cuda.is_available():
            pytest.skip("no CUDA device on this machine")
        if amp is torch.bfloat16 and not torch.cuda.is_bf16_supported():
            pytest.skip("this GPU has no bfloat16")
    return torch.device(kind), amp


_THREADS = int(os.environ.get("UPTFLOW_TEST_THREADS", "2"))


@pytest.fixture(autouse=True)
def _two_threads():
    # CI has 2 cores; keep results and timing comparable to it everywhere.  UPTFLOW_TEST_THREADS=1
    # lets a run share the machine with other work (a training run, another test run).
    torch.set_num_threads(_THREADS)
    yield
