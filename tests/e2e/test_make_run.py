"""`make run` as a user runs it: the banner tells where everything is, the data
survives a restart, what dies is started again, and Ctrl-C leaves no process
behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import requests

from deploy.stack import APIS
from shared import auth
from shared.devinfra import infra as infra_module
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def environment(data_dir: Path, ports: dict[str, int], kafka_port: int) -> dict[str, str]:
    env = {**os.environ, "DATA_DIR": str(data_dir), "KAFKA_PORT": str(kafka_port),
           "JWT_SECRET": "test-secret-of-at-least-32-bytes!",
           **{f"{s.upper()}_PORT": str(p) for s, p in ports.items()}}
    for name in ("BOOKING", "WORKFLOW", "NOTIFIER", "PROJECTIONS"):
        env.pop(f"{name}_DATABASE_URL", None)
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    return env


def start(data_dir: Path, ports: dict[str, int], kafka_port: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "deploy.stack"], cwd=ROOT,
                            env=environment(data_dir, ports, kafka_port),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def read_banner(process: subprocess.Popen[str], timeout: float = 180) -> str:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line)
        if "Ctrl-C stops everything" in line:
            # Keep reading what it logs, or a full pipe would block the supervisor.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return "".join(lines)
    raise AssertionError("no banner:\n" + "".join(lines))


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def stop_with_ctrl_c(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0


def test_make_run_serves_everything_keeps_data_and_stops_cleanly(tmp_path):
    ports = {service: infra_module.free_port() for service in APIS}
    kafka_port = infra_module.free_port()
    process = start(tmp_path, ports, kafka_port)
    banner = read_banner(process)
    for service, port in ports.items():
        assert f"http://127.0.0.1:{port}/openapi.json" in banner, service
    # Operator commands get the resolved settings from one file.
    settings = (tmp_path / "stack.env").read_text()
    assert "PROJECTIONS_DATABASE_URL='postgresql://" in settings
    assert f"KAFKA_BOOTSTRAP_SERVERS='127.0.0.1:{kafka_port}'" in settings
    headers = {"Authorization": "Bearer " + auth.issue("run-test", ["manager"])}
    booking = f"http://127.0.0.1:{ports['booking']}"
    created = requests.post(f"{booking}/v1/services", json={"name": "Kept"}, headers=headers,
                            timeout=10)
    assert created.status_code == 201, created.text
    children = descendants(process.pid)
    postgres = psutil.Process(int((tmp_path / "postgres/postmaster.pid").read_text().split()[0]))

    stop_with_ctrl_c(process)
    gone, alive = psutil.wait_procs(children + [postgres], timeout=10)
    assert not alive, f"left behind: {[p.cmdline() for p in alive]}"

    # Started again on the same data folder, the service is still there.
    process = start(tmp_path, ports, kafka_port)
    read_banner(process)
    try:
        listing = requests.get(f"{booking}/v1/services", headers=headers, timeout=10).json()
        assert "Kept" in str(listing)
    finally:
        stop_with_ctrl_c(process)


def running_pid(pid_file: Path) -> int | None:
    """The live process a pid file names (broker.pid, postgres/postmaster.pid)."""
    try:
        pid = int(pid_file.read_text().split()[0])
        return pid if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" else None
    except (OSError, IndexError, ValueError, psutil.Error):
        return None


def test_make_run_restarts_the_broker_and_postgres_and_ctrl_c_stops_what_runs_then(tmp_path):
    ports = {service: infra_module.free_port() for service in APIS}
    kafka_port = infra_module.free_port()
    process = start(tmp_path, ports, kafka_port)
    read_banner(process)
    broker_pid, postmaster = tmp_path / "broker.pid", tmp_path / "postgres/postmaster.pid"
    headers = {"Authorization": "Bearer " + auth.issue("run-test", ["manager"])}
    booking = f"http://127.0.0.1:{ports['booking']}"

    def writes() -> bool:
        try:
            return requests.post(f"{booking}/v1/services", json={"name": "Kept"},
                                 headers=headers, timeout=5).status_code == 201
        except requests.RequestException:
            return False

    try:
        # When the broker and PostgreSQL die
        first_broker, first_pg = running_pid(broker_pid), running_pid(postmaster)
        assert first_broker and first_pg
        orphans = psutil.Process(first_pg).children(recursive=True)
        os.kill(first_broker, signal.SIGKILL)
        os.kill(first_pg, signal.SIGKILL)
        # Then make run starts both again, and booking takes writes again
        wait_until(lambda: running_pid(broker_pid) not in (None, first_broker), 60, "new broker")
        wait_until(lambda: running_pid(postmaster) not in (None, first_pg), 60, "new PostgreSQL")
        wait_until(writes, 60, "booking writes after the restarts")
        # An operator restarts PostgreSQL by hand with the runbook's command
        restarted = running_pid(postmaster)
        subprocess.run([sys.executable, "-m", "deploy.stack", "restart", "postgres"], cwd=ROOT,
                       env=environment(tmp_path, ports, kafka_port), check=True, timeout=120,
                       stdout=subprocess.DEVNULL)
        by_hand = running_pid(postmaster)
        assert by_hand not in (None, restarted)
        wait_until(writes, 60, "booking writes after the hand restart")
        everything = (descendants(process.pid) + [psutil.Process(by_hand)]
                      + psutil.Process(by_hand).children(recursive=True) + orphans)
    finally:
        # Ctrl-C stops what runs at that moment: what the supervisor and the operator started too
        stop_with_ctrl_c(process)
    gone, alive = psutil.wait_procs(everything, timeout=10)
    assert not alive, f"left behind: {[p.cmdline() for p in alive]}"
