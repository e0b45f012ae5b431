"""Start the demo's web server (in a background thread) and stop it again.

Used by ``uptflow demo`` (which then waits for Ctrl-C) and by the tests (which launch on a free
port, call it, and close it).  Only :data:`uptflow.demo.gradio_env.LAUNCH_OPTIONS` plus host and
port are passed to Gradio, so the CLI and the tests serve the same configuration.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uptflow.demo.gradio_env import LAUNCH_OPTIONS

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "Server", "free_port", "is_loopback", "start"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def is_loopback(host: str) -> bool:
    """``True`` for 127.x.x.x, ::1 and ``localhost``: only this machine can connect."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Server:
    """A running demo: ``url`` answers HTTP until :meth:`close`."""

    app: Any
    url: str

    def wait(self) -> None:
        """Block until Ctrl-C (or the server stops); then close the server."""
        try:
            while getattr(self.app, "is_running", False):
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def close(self) -> None:
        self.app.close()


def start(app: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          allowed_paths: list[Path] | None = None) -> Server:
    """Launch ``app`` (a ``gradio.Blocks``) on ``host:port`` without blocking.

    Args:
        allowed_paths: folders whose files the server may serve besides its cache (the samples).

    Raises:
        OSError: the port is taken or the address cannot be bound (Gradio's message, one line).
    """
    try:
        app.launch(server_name=host, server_port=int(port), prevent_thread_lock=True, quiet=True,
                   allowed_paths=[str(p) for p in allowed_paths or []], **LAUNCH_OPTIONS)
    except OSError:
        raise
    except Exception as err:  # noqa: BLE001 - Gradio reports bind failures as plain exceptions
        raise OSError(f"cannot start the web server on {host}:{port} ({err})") from None
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return Server(app=app, url=f"http://{shown}:{int(port)}/")
