"""Ctrl-C that is never lost: exit code 130, finished outputs kept, no temporary files left.

Python turns SIGINT into a ``KeyboardInterrupt`` raised wherever the main thread happens to be.
Library code can swallow it (a bare ``except:``, a C extension that turns it into a
``RuntimeError``, which a batch loop then reports as one failed file and goes on), and a batch
would then run to the end and exit 0.  :func:`interrupt_guard` also records the signal in a flag
the loop checks after every item, so the interrupt is honoured even when the exception was eaten.
Temporary files are removed by :func:`uptflow.io.write.atomic_write` itself (it cleans up on any
``BaseException``); finished outputs were renamed into place and stay.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["Interrupt", "interrupt_guard", "EXIT_INTERRUPTED"]

#: Exit code of a command stopped by Ctrl-C (128 + SIGINT, what shells report).
EXIT_INTERRUPTED = 130


@dataclass
class Interrupt:
    """``hit`` becomes True once SIGINT arrives (or when the loop catches ``KeyboardInterrupt``)."""

    hit: bool = False


@contextmanager
def interrupt_guard() -> Iterator[Interrupt]:
    """While active, SIGINT sets :attr:`Interrupt.hit` and raises ``KeyboardInterrupt``.

    Outside the main thread (signals cannot be handled there) or when SIGINT is ignored (e.g. a
    ``nohup`` job) nothing is installed and the flag only changes if the caller sets it.
    """
    state = Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        yield state
        return

    def on_sigint(signum, frame) -> None:
        state.hit = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)
