"""``uptflow demo``: one-line messages for a missing extra and bad options; the command serves the
page on 127.0.0.1 and closes the server on Ctrl-C.  (The command in a separate process, start to
first page, is timed by ``benchmarks/demo_startup.py``.)"""

from __future__ import annotations

import signal
import sys
import urllib.request

import pytest

from uptflow.cli import main
from uptflow.demo.gradio_env import MISSING_GRADIO
from uptflow.demo.server import free_port, is_loopback


def test_missing_gradio_is_one_line_naming_the_extra(tiny_model, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "gradio", None)  # "import gradio" now raises ImportError
    assert main(["demo", "--model", str(tiny_model)]) == 1
    err = capsys.readouterr().err
    assert err == f"uptflow demo: error: {MISSING_GRADIO}\n"
    assert 'pip install "uptflow[demo]"' in err


@pytest.mark.parametrize("args, message", [
    (["--port", "0"], "--port must be in 1..65535"),
    (["--concurrency", "0"], "--concurrency must be >= 1"),
    (["--max-megapixels", "0"], "--max-megapixels must be > 0"),
    (["--tile", "10"], "--tile must be >= 64"),
])
def test_bad_options_are_one_line(args, message, capsys) -> None:
    assert main(["demo", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("uptflow demo: error: ") and message in err and err.count("\n") == 1


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")


@pytest.mark.slow
def test_the_command_serves_the_page_on_localhost(tiny_model, monkeypatch, capsys) -> None:
    pytest.importorskip("gradio", reason="the demo needs the 'demo' extra (gradio)")
    from uptflow.demo import server as server_mod

    port = free_port()
    seen = {}

    def fetch_then_stop(self) -> None:  # stands in for waiting for Ctrl-C
        with urllib.request.urlopen(self.url, timeout=30) as r:
            seen["status"], seen["page"] = r.status, r.read().decode("utf-8", "replace")
        seen["host"] = self.app.server_name
        self.close()

    monkeypatch.setattr(server_mod.Server, "wait", fetch_then_stop)
    from uptflow.demo import engine

    made = []
    monkeypatch.setattr(engine.Enhancer, "__init__", _recording(engine.Enhancer.__init__, made))
    before = signal.getsignal(signal.SIGTERM)
    assert main(["demo", "--model", str(tiny_model), "--port", str(port), "--precision", "bfloat16"]) == 0
    assert [e.precision for e in made] == ["bfloat16"]  # --precision reaches the enhancer
    assert signal.getsignal(signal.SIGTERM) is before  # the command's SIGTERM handler is removed again
    out = capsys.readouterr().out
    assert seen["status"] == 200 and "UPT-Flow" in seen["page"]
    assert seen["host"] == "127.0.0.1"  # the default binds this machine only
    assert f"uptflow demo: serving on http://127.0.0.1:{port}/ (cpu" in out
    assert out.rstrip().endswith("uptflow demo: stopped")


def _recording(init, made: list):
    def wrapped(self, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        made.append(self)
    return wrapped


def test_ctrl_c_closes_the_server() -> None:
    from uptflow.demo.server import Server

    class App:
        closed = False

        @property
        def is_running(self) -> bool:
            raise KeyboardInterrupt

        def close(self) -> None:
            self.closed = True

    app = App()
    Server(app=app, url="http://127.0.0.1:1/").wait()  # returns instead of raising
    assert app.closed
