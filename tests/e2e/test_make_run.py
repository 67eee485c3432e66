"""`make run` as a user runs it: the banner tells where everything is, the data
survives a restart, and Ctrl-C leaves no process behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from deploy.stack import APIS
from shared import auth
from shared import infra as infra_module

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def start(data_dir: Path, ports: dict[str, int], kafka_port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "DATA_DIR": str(data_dir), "KAFKA_PORT": str(kafka_port),
           "JWT_SECRET": "test-secret-of-at-least-32-bytes!",
           **{f"{s.upper()}_PORT": str(p) for s, p in ports.items()}}
    for name in ("BOOKING", "WORKFLOW", "NOTIFIER", "PROJECTIONS"):
        env.pop(f"{name}_DATABASE_URL", None)
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    return subprocess.Popen([sys.executable, "-m", "deploy.stack"], cwd=ROOT, env=env,
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
