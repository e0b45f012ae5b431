"""The running demo through ``gradio_client``: concurrent ``/enhance`` calls equal the CLI; bad
input gives a clear message and the server keeps serving; nothing leaves the machine."""

from __future__ import annotations

import importlib
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest

# Gradio's own queue code trips pandas deprecation warnings; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:::gradio.queueing")


def _need(name: str):
    """Import ``name``; skip without it (it is an optional extra), but fail under CI, which installs it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            raise
        pytest.skip(f"{name} is not installed (pip install 'uptflow[demo]')", allow_module_level=True)


_need("gradio")
gradio_client = _need("gradio_client")


def _client(url: str, tmp_path: Path):
    return gradio_client.Client(url, verbose=False, analytics_enabled=False, download_files=str(tmp_path))


def test_enhance_endpoint_is_listed(demo_server, tmp_path) -> None:
    api = _client(demo_server.url, tmp_path).view_api(print_info=False, return_format="dict")
    assert "/enhance" in api["named_endpoints"]
    params = api["named_endpoints"]["/enhance"]["parameters"]
    assert len(params) == 1 and params[0]["component"] == "File"


@pytest.mark.slow
def test_three_concurrent_calls_equal_the_cli(demo_server, crops, cli_png, decode, tmp_path) -> None:
    # two tiled images (shared tile statistics) and one enhanced whole, at the same time
    files = [crops["tiled_a"], crops["whole"], crops["tiled_b"]]
    expected = {p: cli_png(p) for p in files}  # sequential CLI runs first
    client = _client(demo_server.url, tmp_path)
    results: dict[Path, str] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(files))

    def call(path: Path) -> None:
        try:
            barrier.wait()
            results[path] = client.predict(gradio_client.handle_file(str(path)), api_name="/enhance")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(p,)) for p in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert demo_server.enhancer.in_flight_max >= 2, "the calls did not overlap: concurrency not exercised"
    assert demo_server.enhancer.in_flight_max <= demo_server.concurrency
    for path in files:
        got = decode(results[path])
        assert Path(results[path]).suffix == ".png"
        assert got.dtype == expected[path].dtype and got.shape == expected[path].shape
        assert np.array_equal(got, expected[path]), f"{path.name}: demo result differs from the CLI's"


@pytest.mark.parametrize("kind, message", [
    ("text", "not an image"),
    ("corrupt", "truncated or corrupt"),
    ("huge", "image too large: 700x500 = 350,000 pixels"),
])
def test_bad_input_gives_a_message_and_the_server_keeps_serving(demo_server, bad_files, crops, cli_png,
                                                                 decode, tmp_path, kind, message) -> None:
    client = _client(demo_server.url, tmp_path)
    with pytest.raises(Exception) as info:
        client.predict(gradio_client.handle_file(str(bad_files[kind])), api_name="/enhance")
    assert message in str(info.value)
    assert bad_files[kind].name in str(info.value)  # the message names the user's file
    good = client.predict(gradio_client.handle_file(str(crops["whole"])), api_name="/enhance")
    assert np.array_equal(decode(good), cli_png(crops["whole"]))


def test_nothing_is_fetched_from_other_machines(demo_server, outbound_guard, tmp_path, crops) -> None:
    # The guard has been active since before the app was built and launched.
    _client(demo_server.url, tmp_path).predict(gradio_client.handle_file(str(crops["whole"])),
                                                api_name="/enhance")
    assert outbound_guard.attempts == []


def test_page_handler_samples_with_seed_like_the_cli(demo_server, crops, tiny_model, decode, tmp_path) -> None:
    from uptflow.cli import main

    client = _client(demo_server.url, tmp_path)
    ev = (0.0, "auto")  # the exposure slider, the highlights choice
    slider, _gallery, files, info = client.predict(gradio_client.handle_file(str(crops["whole"])), 0.5, 3, 2, *ev,
                                                   api_name="/enhance_ui")
    out = tmp_path / "cli"
    assert main(["enhance", str(crops["whole"]), "-o", str(out), "--model", str(tiny_model), "--format", "png",
                 "-q", "--temperature", "0.5", "--samples", "2", "--seed", "3"]) == 0
    assert [Path(f).name for f in files] == ["whole_uptflow_s0.png", "whole_uptflow_s1.png"]
    for i, f in enumerate(files):
        assert np.array_equal(decode(f), decode(out / f"whole_s{i}.png"))
    assert re.match(r"\*\*\d+\.\d\d s\*\* on cpu", info) and "256x256 px" in info and "seed 3" in info, info
    assert len(slider) == 2  # before, after
    with pytest.raises(Exception, match="more than one sample needs a temperature > 0"):
        client.predict(gradio_client.handle_file(str(crops["whole"])), 0.0, -1, 2, *ev, api_name="/enhance_ui")


def test_page_highlights_choice_is_the_cli_flag(demo_server, crops, tiny_model, decode, tmp_path) -> None:
    """The page's Highlights choice "protect" gives ``uptflow enhance --highlights protect``'s file."""
    from uptflow.cli import main

    client = _client(demo_server.url, tmp_path)
    _slider, _gallery, files, info = client.predict(gradio_client.handle_file(str(crops["whole"])), 0.0, -1, 1,
                                                    0.0, "protect", api_name="/enhance_ui")
    out = tmp_path / "cli"
    assert main(["enhance", str(crops["whole"]), "-o", str(out), "--model", str(tiny_model), "--format", "png",
                 "-q", "--highlights", "protect"]) == 0
    assert np.array_equal(decode(files[0]), decode(out / "whole.png"))
    assert "highlights protect" in info
