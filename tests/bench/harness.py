"""The system under `make bench`: the whole stack as `make run` starts it (rate
limits off: one token sends everything) and the bare endpoint beside it on the
same PostgreSQL; the HTTP calls the scenarios set up with and wait on.
"""
from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from deploy.stack import APIS, Stack
from shared import auth
from shared.devinfra import infra as infra_module
from tests.bench import bare

# Paused for "the command path alone": what follows booking's event store.
PIPELINE = ("booking-relay", "workflow-relay", "projections-consumer", "notifier-consumer")
ORG = "bench"


class System:
    def __init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="appt-bench-"))
        self.stack = Stack(self.data_dir, ports={s: infra_module.free_port() for s in APIS},
                           kafka_port=infra_module.free_port(),
                           extra_env={"RATE_LIMIT_PER_TOKEN": "off", "RATE_LIMIT_PER_IP": "off"})
        self.bare_port = infra_module.free_port()
        self.bare: Any = None
        self.token = auth.issue(ORG, ["agent", "manager"])
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.token}"
        self.service_id = ""

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        self.stack.start()
        assert self.stack.infra
        self.bare_url = f"http://127.0.0.1:{self.bare_port}"
        self.bare_database = self.stack.infra.database("bench_bare")
        self.bare = bare.start(self.bare_database, self.bare_port, self.stack.env(),
                               self.stack.log_dir / "bare.log")
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{self.bare_url}/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the bare endpoint did not start; see {self.stack.log_dir}")
            time.sleep(0.2)
        self.setup()

    def stop(self) -> None:
        if self.bare:
            bare.stop(self.bare)
        self.stack.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def pause_pipeline(self) -> None:
        for name in PIPELINE:
            self.stack.kill(name)

    def resume_pipeline(self) -> None:
        for name in PIPELINE:
            self.stack.start_process(name)

    # -- HTTP -------------------------------------------------------------------------
    def url(self, service: str) -> str:
        return self.stack.url(service)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A setup command; retried (same Idempotency-Key) while booking answers 503 (busy)."""
        key = uuid.uuid4().hex
        for _ in range(10):
            r = self.session.post(self.url("booking") + path, json=body, timeout=30,
                                  headers={"Idempotency-Key": key})
            if r.status_code != 503:
                break
            time.sleep(float(r.headers.get("Retry-After", "1")))
        if not r.ok:
            raise RuntimeError(f"POST {path}: {r.status_code} {r.text[:300]}")
        return r.json()

    def setup(self) -> None:
        """An organisation that is told of every change, and one service."""
        r = self.session.patch(self.url("booking") + "/v1/organisation", timeout=30, json={
            "name": "Bench Clinic", "email": "desk@bench.example", "phone": "+41440000000"})
        r.raise_for_status()
        answer = self.post("/v1/services", {"name": "Consultation", "duration_minutes": 30})
        self.service_id = answer["service"]["id"]

    def new_request(self, n: int) -> dict[str, Any]:
        return self.post("/v1/appointments", {
            "service_id": self.service_id, "source": "widget",
            "window": {"date": "2031-01-15", "part_of_day": "morning"},
            "client": {"name": f"Setup {n}", "email": f"s{n}@example.com",
                       "phone": f"+4178{n % 10_000_000:07d}"}})

    def confirmed(self, n: int) -> str:
        """A client and a booked appointment for them: the pool the status changes go round."""
        client = self.post("/v1/clients", {"name": f"Pool {n}", "email": f"pool{n}@example.com",
                                           "phone": f"+4176{n % 10_000_000:07d}"})["client"]["id"]
        start = 1_950_000_000 + n * 3600
        return self.post("/v1/appointments/for_client", {
            "service_id": self.service_id, "client_id": client, "status": "scheduled",
            "slot": {"start": _iso(start), "end": _iso(start + 1800)}})["appointment"]["id"]

    def pool(self, size: int) -> list[str]:
        with ThreadPoolExecutor(4) as workers:
            return list(workers.map(self.confirmed, range(size)))

    def wait_applied(self, position: int, timeout: float = 300.0) -> None:
        """Until the projections and the notifier hold every event up to `position`."""
        deadline = time.monotonic() + timeout
        for service, path in (("projections", "/v1/queue"), ("notifier", "/v1/mailbox")):
            while True:
                r = self.session.get(self.url(service) + path, timeout=30,
                                     params={"min_position": position, "limit": 1})
                if r.status_code == 200:
                    break
                if r.status_code != 504 or time.monotonic() > deadline:
                    raise TimeoutError(f"{service} did not reach {position}: {r.status_code}")

    def drain(self) -> float:
        """Seconds until the pipeline has caught up with everything written so far."""
        started = time.monotonic()
        self.wait_applied(self.new_request(0)["position"])
        return time.monotonic() - started


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))
