"""Start the whole system the way `make run` does, and stop it cleanly.

    python -m deploy.stack                      # make run
    python -m deploy.stack restart postgres     # beside it: a hand restart (pg_ctl)
    python -m deploy.stack restart broker       # beside it: stop the broker; make run starts it
Used by the end-to-end tests too (class Stack), so they exercise exactly
what a developer runs.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import requests

from deploy.children import die_with_this_process
from deploy.handrestart import hand_restart
from shared import config, kafka, logs
from shared.devinfra import infra as infra_module

log = logging.getLogger("stack")
ROOT = Path(__file__).resolve().parent.parent
APIS = {"booking": 8001, "workflow": 8002, "notifier": 8003, "projections": 8004}
WORKERS = {
    "booking-relay": ["-m", "services.booking.entrypoints.relay"],
    # Its own process (not a thread of the relay): a relay halted at a bad event
    # must not stop time, and each is restarted alone.
    "booking-timers": ["-m", "services.booking.entrypoints.timers"],
    "workflow-relay": ["-m", "services.workflow.entrypoints.relay"],
    "projections-consumer": ["-m", "services.projections.entrypoints.consumer"],
    "notifier-consumer": ["-m", "services.notifier.entrypoints.consumer"],
}
# Seconds the embedded broker or PostgreSQL may be gone before the supervisor starts it:
# a hand restart (stop, then start) is let finish, not raced.
RESTART_GRACE = 1.0


@dataclass
class Running:
    argv: list[str]
    process: subprocess.Popen[bytes]
    restarts: int = 0


class Stack:
    def __init__(self, data_dir: Path, ports: dict[str, int] | None = None,
                 kafka_port: int | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.ports = ports or dict(APIS)
        self.kafka_port = kafka_port
        self.extra_env = extra_env or {}
        self.infra: infra_module.Infrastructure | None = None
        self.processes: dict[str, Running] = {}
        self.log_dir = self.data_dir / "logs"
        self._infra_down: dict[str, float] = {}  # part -> since when it was seen not running

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def env(self) -> dict[str, str]:
        assert self.infra
        env = dict(os.environ)
        env.update(self.infra.env())
        env.setdefault("WORKFLOW_URL", self.url("workflow"))
        env.setdefault("BOOKING_PUBLIC_URL", self.url("booking"))
        env.setdefault("DATA_DIR", str(self.data_dir))  # where the relay keeps its dev signing key
        env.update(self.extra_env)
        env["PYTHONPATH"] = str(ROOT)
        return env

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.infra = infra_module.resolve(self.data_dir, self.kafka_port)
        kafka.ensure_topics(self.infra.kafka_bootstrap_servers, kafka.TOPICS)
        self.write_env_file()
        for service in APIS:
            self.start_process(service)
        self.wait_healthy()
        for name in WORKERS:
            self.start_process(name)

    @property
    def env_file(self) -> Path:
        return self.data_dir / "stack.env"

    def write_env_file(self) -> None:
        """The resolved settings, for operator commands beside a running stack:
        `set -a; . .data/stack.env; set +a`."""
        assert self.infra
        settings = {**self.infra.env(), "WORKFLOW_URL": self.url("workflow"),
                    "BOOKING_PUBLIC_URL": self.url("booking")}
        self.env_file.write_text("".join(f"{k}='{v}'\n" for k, v in settings.items()))

    def argv(self, name: str) -> list[str]:
        if name in APIS:
            return [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"),
                    f"services.{name}.entrypoints.http:create_app()"]
        return [sys.executable, *WORKERS[name]]

    def start_process(self, name: str) -> None:
        """Start `name`, killing first one still running under that name: `stop()` reaches
        only the process each name has now, and two timer workers of one name would
        compete (deploy/children.py: what a leaked one did)."""
        previous = self.processes.get(name)
        if previous is not None and previous.process.poll() is None:
            self.kill(name)
        env = self.env()
        if name in APIS:
            env["PORT"] = str(self.ports[name])
        out = open(self.log_dir / f"{name}.log", "ab")
        process = subprocess.Popen(self.argv(name), env=env, cwd=ROOT, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=die_with_this_process())
        self.processes[name] = Running(self.argv(name), process,
                                       previous.restarts + 1 if previous else 0)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Stop one process (the whole process group) and wait for it."""
        running = self.processes[name]
        try:
            os.killpg(running.process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            running.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(running.process.pid, signal.SIGKILL)
            running.process.wait()

    def restart_broker(self) -> None:
        """Stop the embedded broker and start it again: it comes back empty."""
        assert self.infra and self.infra.broker, "only the embedded broker can be restarted"
        self.infra.broker.stop()
        self.infra.broker.start()

    def wait_healthy(self, timeout: float = 120.0) -> None:  # a deadline, generous for loaded CI
        deadline = time.monotonic() + timeout
        for service in APIS:
            while True:
                self._check_alive(service)
                try:
                    if requests.get(f"{self.url(service)}/healthz", timeout=1).ok:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{service} did not become healthy; see {self.log_dir}")
                time.sleep(0.2)

    def _check_alive(self, name: str) -> None:
        code = self.processes[name].process.poll()
        if code is not None:
            tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name} exited with {code}:\n{tail}")

    def supervise_once(self) -> None:
        """Restart any process that died (an operator's process manager would)."""
        self.supervise_infrastructure()
        for name, running in list(self.processes.items()):
            if running.process.poll() is not None:
                log.warning("%s exited with %s; restarting", name, running.process.returncode)
                time.sleep(min(2 ** running.restarts, 10) * 0.2)
                self.start_process(name)

    def supervise_infrastructure(self) -> None:
        """Start the embedded broker or PostgreSQL again when it died. A PostgreSQL
        restarted by hand meanwhile is found by its postmaster.pid and kept."""
        assert self.infra
        parts = {"broker": self.infra.broker, "postgres": self.infra.postgres}
        for name, part in parts.items():
            if part is None or part.is_running():
                self._infra_down.pop(name, None)
                continue
            now = time.monotonic()
            if now - self._infra_down.setdefault(name, now) < RESTART_GRACE:
                continue
            log.warning("%s is not running; starting it again", name)
            try:
                part.start()
                if name == "broker":  # it comes back empty
                    kafka.ensure_topics(self.infra.kafka_bootstrap_servers, kafka.TOPICS)
                self._infra_down.pop(name)
            except Exception:  # noqa: BLE001 - try again after the grace period
                log.exception("could not start %s", name)
                self._infra_down[name] = time.monotonic()

    def stop(self) -> None:
        for running in self.processes.values():
            try:
                os.killpg(running.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        for _name, running in self.processes.items():
            try:
                running.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(running.process.pid, signal.SIGKILL)
                running.process.wait()
        self.processes.clear()
        if self.infra:
            self.infra.stop()
            self.infra = None


def banner(stack: Stack) -> str:
    assert stack.infra
    lines = [f"Infrastructure: {stack.infra.origin}", "", "Services:"]
    for service in APIS:
        url = stack.url(service)
        lines.append(f"  {service:<12} {url}   OpenAPI {url}/openapi.json   docs {url}/docs")
    lines += ["", f"Development mailbox: {stack.url('notifier')}/mailbox?access_token=<token>",
              "Token:  make token ORG=acme ROLES=agent,manager",
              f"Settings for operator commands: set -a; . {stack.env_file}; set +a",
              f"Logs:   {stack.log_dir}", "", "Ctrl-C stops everything."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.stack", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("restart", help="restart a part of a running make run by hand").add_argument(
        "part", choices=["postgres", "broker"])
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s stack %(message)s")
    logs.quiet_libraries()
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    data_dir = Path(config.get("DATA_DIR") or ".data")
    if args.command == "restart":
        hand_restart(args.part, data_dir.resolve())
        return
    ports = {service: int(config.require(f"{service.upper()}_PORT")) for service in APIS}
    stack = Stack(data_dir, ports=ports)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        stack.start()
        print(banner(stack), flush=True)
        while not stopping:
            stack.supervise_once()
            time.sleep(0.5)
    finally:
        print("stopping...", flush=True)
        stack.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
