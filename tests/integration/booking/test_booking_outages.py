"""Drills: PostgreSQL or the broker goes away under a booking API that is taking
writes, comes back, and we count what clients saw and what was kept.

PostgreSQL here is a server of the test's own (it is stopped), never the
session's shared one; so is the broker."""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from booking_http_support import NOW, Api
from flask import Flask
from kafka import KafkaConsumer, TopicPartition
from werkzeug.serving import make_server

from services.booking import bootstrap
from services.booking.adapters.cloudevents import to_messages
from services.booking.entrypoints.http import create_app
from shared import auth, db, kafka
from shared.devinfra import infra as infra_module
from shared.relay import Relay
from tests.doubles.booking import FixedClock, LocalWorkflow
from tests.waiting import wait_until

OUTAGE = 10.0   # seconds PostgreSQL stays down
WRITERS = 4     # clients writing at once: as many as an API process has threads
REQUEST = {"window": {"date": "2026-11-23", "part_of_day": "morning"}}


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The Flask app over real HTTP on a free port, a thread per request."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Answer:
    key: str
    started: float
    seconds: float
    status: int            # 0: no answer within the client's time-out
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Writers:
    """Clients requesting appointments, each under its own Idempotency-Key, until stopped."""
    base: str
    body: dict[str, Any]
    answers: list[Answer] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.headers = {"Authorization": "Bearer " + auth.issue("acme", ["agent"])}
        self.threads = [threading.Thread(target=self._write, daemon=True) for _ in range(WRITERS)]
        for t in self.threads:
            t.start()

    def send(self, key: str) -> Answer:
        started = time.monotonic()
        try:
            r = requests.post(f"{self.base}/v1/appointments", json=self.body, timeout=10,
                              headers={**self.headers, "Idempotency-Key": key})
            status, headers, body = r.status_code, dict(r.headers), r.json()
        except requests.RequestException as e:
            status, headers, body = 0, {}, {"error": repr(e)}
        return Answer(key, started, time.monotonic() - started, status, headers, body)

    def _write(self) -> None:
        while not self.stopping.is_set():
            self.answers.append(self.send(str(uuid.uuid4())))
            self.stopping.wait(0.2)  # a steady load, not a flood

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(15)


def test_booking_answers_503_at_once_while_postgres_is_down_and_recovers_within_seconds(
        tmp_path, monkeypatch):
    pg = infra_module.EmbeddedPostgres(tmp_path / "pg")
    try:
        db.create_database(pg.url, "booking")
        url = db.with_database(pg.url, "booking")
        monkeypatch.setenv("BOOKING_DATABASE_URL", url)
        application = bootstrap.wire(bootstrap.Settings(
            database_url=url, clock=FixedClock(NOW), workflow=LocalWorkflow())).application
        app = create_app(application)
        manager = Api(app.test_client(), roles=("manager",))
        service = manager.post("/v1/services", {"name": "Consultation"}).get_json()["service"]["id"]
        client = manager.post("/v1/clients", {"name": "Ada", "email": "ada@example.com"}
                              ).get_json()["client"]["id"]
        with serving(app) as base:
            # Given clients writing steadily to a booking API
            writers = Writers(base, {**REQUEST, "service_id": service, "client_id": client})
            wait_until(lambda: sum(a.status == 201 for a in writers.answers) >= 2 * WRITERS, 30,
                       "writes before the outage")
            # When PostgreSQL goes down for a while, then comes back
            pg.stop()
            down = time.monotonic()
            wait_until(lambda: any(a.started > down + 1 for a in writers.answers), 10, "writes")
            ready_during = requests.get(f"{base}/readyz", timeout=10)
            writers.stopping.wait(OUTAGE - (time.monotonic() - down))
            pg.start()
            up = time.monotonic()
            recovered = wait_until(lambda: next((a for a in writers.answers
                                                 if a.started > up and a.status == 201), None),
                                   15, "a write accepted after PostgreSQL is back")
            writers.stop()
            ready_after = requests.get(f"{base}/readyz", timeout=10)

            # Then every answer was 201 or a 503 that came at once and said when to retry
            answers = writers.answers
            refused = [a for a in answers if a.status == 503]
            assert {a.status for a in answers} == {201, 503}, \
                [(a.status, a.body) for a in answers if a.status not in (201, 503)][:3]
            assert len([a for a in refused if down < a.started < up]) > 10, "clients kept trying"
            assert max(a.seconds for a in refused) < 2.0, sorted(a.seconds for a in refused)[-5:]
            assert all(a.headers.get("Retry-After") and
                       a.headers["Content-Type"] == "application/problem+json" for a in refused)
            # ... readiness said which dependency is missing, and is back
            assert ready_during.status_code == 503
            assert ready_during.json()["missing"] == ["database"]
            assert ready_after.status_code == 200 and ready_after.json()["status"] == "ready"
            # ... writes were accepted again within seconds of PostgreSQL's return
            assert recovered.started + recovered.seconds - up < 10.0
            # ... nothing acknowledged was lost, and nothing refused was half done:
            # retried under its key, each request gives exactly one appointment
            acknowledged = {a.key: a.body["appointment"]["id"] for a in answers if a.status == 201}
            for a in answers:
                if a.status == 503:
                    again = writers.send(a.key)
                    assert again.status == 201, again.body
                    acknowledged[a.key] = again.body["appointment"]["id"]
            requested = [n for n in application.recorder.select_notifications(1, 100_000)
                         if n.topic.endswith(".Requested")]
            assert len(requested) == len(acknowledged)
            assert {str(n.originator_id) for n in requested} == set(acknowledged.values())
        application.close()
    finally:
        pg.stop()


def test_booking_takes_writes_while_the_broker_is_down_and_the_relay_catches_up(
        tmp_path, booking, monkeypatch):
    broker = infra_module.EmbeddedBroker(infra_module.free_port(), tmp_path / "broker.log")
    broker.start()
    relay: Relay | None = None
    try:
        kafka.ensure_topics(broker.bootstrap_servers)
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap_servers)
        app = create_app(booking, broker.bootstrap_servers)
        manager = Api(app.test_client(), roles=("manager",))
        service = manager.post("/v1/services", {"name": "Consultation"}).get_json()["service"]["id"]
        body = {**REQUEST, "service_id": service,
                "client": {"name": "Ada", "email": "ada@example.com"}}
        relay = Relay(booking, to_messages, booking.tables.url, f"outage-{uuid.uuid4().hex[:8]}",
                      broker.bootstrap_servers, reset_check_every=1.0)
        threading.Thread(target=relay.run, daemon=True).start()

        def request() -> str:
            answer = manager.post("/v1/appointments", body)
            assert answer.status_code == 201, answer.get_json()
            return str(answer.get_json()["appointment"]["id"])

        before = [request() for _ in range(3)]
        # When the broker dies (and comes back empty, as the development broker does)
        broker.stop()
        # Then booking goes on taking writes, and says it is ready without the broker
        during = [request() for _ in range(3)]
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 200
        assert ready.get_json()["status"] == "degraded"
        assert ready.get_json()["missing"] == ["kafka"]
        assert ready.get_json()["checks"] == {"database": True, "relay": True, "kafka": False}
        broker.start()
        kafka.ensure_topics(broker.bootstrap_servers)  # as make run does after a broker restart
        # ... and once it is back, the relay publishes every event, those taken meanwhile too
        published = _appointment_ids(broker.bootstrap_servers, set(before + during))
        assert published == set(before + during)
        assert app.test_client().get("/readyz").get_json()["status"] == "ready"
    finally:
        if relay:
            relay.stop()
        broker.stop()


def _appointment_ids(servers: str, wanted: set[str], timeout: float = 60) -> set[str]:
    """The appointments on appointments.events, read from the start of every partition
    (no consumer group: its join is not what this test is about), until all of `wanted`."""
    seen: set[str] = set()
    consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    consumer.assign([TopicPartition(kafka.APPOINTMENTS, p) for p in range(kafka.partition_count())])
    consumer.seek_to_beginning()
    deadline = time.monotonic() + timeout
    try:
        while not wanted <= seen and time.monotonic() < deadline:
            for records in consumer.poll(1000).values():
                seen |= {json.loads(r.value)["subject"] for r in records}
    finally:
        consumer.close()
    return seen & wanted
