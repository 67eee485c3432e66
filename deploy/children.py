"""Processes that the supervisor starts die with it (Linux), so none outlives it.

A service process outliving its supervisor (the supervisor SIGKILLed, or a
process it lost track of) keeps running the code it was started with and
reconnects to whatever answers at its database's address: `make run` started
again on the same `.data/`, or the next test run on the same `--basetemp`,
gets one more timer worker, relay or consumer it does not know about, with
stale settings and code. One did: a booking-timers leaked by a test run
claimed the next run's due no-show and held its row lock for minutes
(README, Operations runbook: "a due timer that never fires").
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # linux/prctl.h
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_this_process() -> Callable[[], None] | None:
    """A `preexec_fn` for subprocess.Popen: the child is SIGKILLed when the thread
    that starts it ends (start children from a thread that lives as long as the
    supervisor: the main thread). None where the kernel has no such signal."""
    if _libc is None:
        return None
    parent = os.getpid()
    prctl = _libc.prctl

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:   # the supervisor died before the line above
            os._exit(1)
    return preexec
