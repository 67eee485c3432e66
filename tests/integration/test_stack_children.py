"""No process that deploy/stack.py starts outlives it (deploy/children.py).

A booking-timers leaked by one end-to-end run (started again by name while it
still ran, so `stop()` never reached it) kept running its old code and settings,
reconnected to the next run's PostgreSQL at the same socket path, claimed that
run's due no-show and held the row's lock for minutes: the no-show never came.

The programs started here stand in for a service (a sleeping Python): what is under
test is the supervisor, with real processes and signals.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.stack import ROOT, Stack
from tests.waiting import wait_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="a child's death signal is Linux's (prctl)")
NAME = "booking-timers"


class Sleepers(Stack):
    def argv(self, name: str) -> list[str]:
        return [sys.executable, "-c", "import time; time.sleep(120)"]

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT)}


def sleepers(data_dir: Path) -> Sleepers:
    stack = Sleepers(data_dir)
    stack.log_dir.mkdir(parents=True, exist_ok=True)
    return stack


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_a_name_started_again_replaces_its_running_process(tmp_path: Path) -> None:
    stack = sleepers(tmp_path)
    stack.start_process(NAME)
    first = stack.processes[NAME].process
    try:
        stack.start_process(NAME)         # e.g. a drill's `finally` after a failed wait
        second = stack.processes[NAME].process
        assert first.poll() is not None, "two of one name: stop() would reach only one"
    finally:
        stack.stop()
        for leftover in (first,):
            if leftover.poll() is None:
                leftover.kill()
    assert second.poll() is not None and not alive(first.pid)


def test_processes_die_with_a_supervisor_killed_by_sigkill(tmp_path: Path) -> None:
    supervisor = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path\n"
         "from tests.integration.test_stack_children import sleepers\n"
         "s = sleepers(Path(sys.argv[1])); s.start_process('booking-timers')\n"
         "print(s.processes['booking-timers'].process.pid, flush=True); time.sleep(120)",
         str(tmp_path)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    assert supervisor.stdout is not None
    child = int(supervisor.stdout.readline())
    try:
        assert alive(child)
        supervisor.kill()                   # no stop(), no signal handler: gone at once
        supervisor.wait()
        wait_until(lambda: not alive(child), timeout=20, what="the child gone with its supervisor")
    finally:
        if alive(child):
            os.kill(child, signal.SIGKILL)
