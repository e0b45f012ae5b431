"""uptflow.interrupts: SIGINT is recorded even when the KeyboardInterrupt is swallowed."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from uptflow.interrupts import interrupt_guard


def test_flag_survives_a_swallowed_interrupt():
    before = signal.getsignal(signal.SIGINT)
    with interrupt_guard() as it:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        except KeyboardInterrupt:
            pass
        assert it.hit
    assert signal.getsignal(signal.SIGINT) is before  # the previous handler is back


def test_interrupt_still_raises():
    with pytest.raises(KeyboardInterrupt):
        with interrupt_guard() as it:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert it.hit


def test_ignored_sigint_and_threads_are_left_alone():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupt_guard() as it:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert not it.hit
    finally:
        signal.signal(signal.SIGINT, previous)
    seen = []
    t = threading.Thread(target=lambda: seen.append(interrupt_guard().__enter__().hit))
    t.start()
    t.join()
    assert seen == [False]
