"""Fixtures for the demo tests: a tiny saved model, the CLI's output for a file, a running server.

A server (tiny random model, 3 concurrent enhancements, a small pixel limit so the "huge image"
case is cheap) is started per test module that asks for it and closed after it.  While it runs, a
socket guard refuses and records any connection the process tries to open to another machine
(there must be none: the demo works offline).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from uptflow.inference import models as reg
from uptflow.checkpoints import save_model

REPO = Path(__file__).resolve().parents[2]

#: Pixel limit of the test server: the 600x400 samples (240,000 px) pass, 700x500 does not.
TEST_MAX_PIXELS = 300_000
#: Enhancements the test server runs at the same time.
TEST_CONCURRENCY = 3
#: Tile side of the test server and the CLI runs it is compared with: images with more pixels
#: than one tile (the 600x400 samples, the 320x240 crops) are tiled with shared statistics, the
#: 256x256 crop is enhanced whole, so concurrent calls mix the two paths whose process-wide state
#: once corrupted each other.
TEST_TILE = 256


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A seeded random ``tiny`` model saved as safetensors (random weights: tests only)."""
    path = tmp_path_factory.mktemp("demo-model") / "tiny.safetensors"
    save_model(reg.random_model("tiny", seed=0), path)
    return path


@pytest.fixture(scope="session")
def sample_files() -> list[Path]:
    from uptflow.demo.samples import sample_paths

    found = sample_paths()
    assert len(found) == 3, f"expected the 3 bundled samples, found {found}"
    return found


@pytest.fixture(scope="session")
def cli_png(tiny_model, tmp_path_factory):
    """``cli_png(file) -> uint array``: decoded pixels of ``uptflow enhance FILE --format png``."""
    from uptflow.cli import main

    cache: dict[Path, np.ndarray] = {}
    lock = threading.Lock()

    def run(path: Path) -> np.ndarray:
        with lock:
            if path not in cache:
                out = tmp_path_factory.mktemp("cli-out")
                code = main(["enhance", str(path), "-o", str(out), "--model", str(tiny_model),
                             "--format", "png", "-q", "--tile", str(TEST_TILE)])
                assert code == 0
                cache[path] = decode_pixels(out / f"{path.stem}.png")
            return cache[path]

    return run


@pytest.fixture(scope="session")
def decode():
    """``decode(file) -> array``: the stored pixels of an image file (see :func:`decode_pixels`)."""
    return decode_pixels


def decode_pixels(path: str | Path) -> np.ndarray:
    """Pixels of an image file as stored (uint8 / uint16 array, channels last)."""
    from uptflow.io.read import load_image

    loaded = load_image(path)
    scale = 65535 if loaded.bit_depth == 16 else 255
    dtype = np.uint16 if loaded.bit_depth == 16 else np.uint8
    px = np.rint(loaded.rgb * scale).astype(dtype)
    if loaded.alpha is not None:
        px = np.concatenate([px, np.rint(loaded.alpha[:, :, None] * scale).astype(dtype)], axis=2)
    return px


@dataclass
class OutboundGuard:
    """Refuses and records connections to non-loopback addresses."""

    attempts: list[str] = field(default_factory=list)

    def check(self, address) -> None:
        host = address[0] if isinstance(address, tuple) else str(address)
        try:
            local = ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = host == "localhost" or isinstance(address, (str, bytes))  # unix sockets are local
        if not local:
            self.attempts.append(str(address))
            raise OSError(f"test guard: outbound connection to {address} refused")


@pytest.fixture(scope="module")
def outbound_guard():
    guard = OutboundGuard()
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def connect(self, address):
        guard.check(address)
        return original_connect(self, address)

    def connect_ex(self, address):
        guard.check(address)
        return original_connect_ex(self, address)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    try:
        yield guard
    finally:
        socket.socket.connect = original_connect
        socket.socket.connect_ex = original_connect_ex


@dataclass
class Running:
    url: str
    enhancer: object
    concurrency: int


@pytest.fixture(scope="module")
def demo_server(tiny_model, sample_files, outbound_guard):
    """The demo (tiny model) serving on a free loopback port; ``.enhancer`` counts overlap."""
    from uptflow.demo.app import build_app
    from uptflow.demo.engine import Enhancer
    from uptflow.demo.server import free_port, start

    class CountingEnhancer(Enhancer):
        """Records how many enhancements ran at the same time (the concurrency test needs >= 2)."""

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self._lock = threading.Lock()
            self.in_flight = 0
            self.in_flight_max = 0

        def enhance_file(self, *a, **kw):
            with self._lock:
                self.in_flight += 1
                self.in_flight_max = max(self.in_flight_max, self.in_flight)
            try:
                return super().enhance_file(*a, **kw)
            finally:
                with self._lock:
                    self.in_flight -= 1

    model = reg.load_cached(str(tiny_model), "cpu")
    enhancer = CountingEnhancer(model, max_pixels=TEST_MAX_PIXELS, model_name="tiny (random, tests)",
                                tile=TEST_TILE)
    app = build_app(enhancer, sample_files, concurrency=TEST_CONCURRENCY)
    server = start(app, "127.0.0.1", free_port(), allowed_paths=sorted({p.parent for p in sample_files}))
    try:
        yield Running(url=server.url, enhancer=enhancer, concurrency=TEST_CONCURRENCY)
    finally:
        server.close()
        enhancer.close()


@pytest.fixture(scope="session")
def crops(sample_files, tmp_path_factory) -> dict[str, Path]:
    """Crops of the samples: ``tiled_a``/``tiled_b`` 320x240 (two tiles), ``whole`` 256x256 (one pass)."""
    folder = tmp_path_factory.mktemp("crops")
    boxes = {"tiled_a": (sample_files[0], (100, 60, 420, 300)),
             "whole": (sample_files[2], (150, 70, 406, 326)),
             "tiled_b": (sample_files[1], (200, 120, 520, 360))}
    out = {}
    for name, (src, box) in boxes.items():
        out[name] = folder / f"{name}.png"
        Image.open(src).crop(box).save(out[name])
    return out


@pytest.fixture
def bad_files(tmp_path) -> dict[str, Path]:
    """A non-image, a corrupt PNG and an image over :data:`TEST_MAX_PIXELS`."""
    text = tmp_path / "notes.txt"
    text.write_text("this is not an image\n")
    good = tmp_path / "good.png"
    Image.fromarray(np.full((40, 50, 3), 30, np.uint8)).save(good)
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(good.read_bytes()[:60])  # header intact, pixel data cut off
    huge = tmp_path / "huge.png"
    Image.new("RGB", (700, 500), (10, 10, 10)).save(huge)
    return {"text": text, "corrupt": corrupt, "huge": huge}
