"""Fixtures and helpers of the projections' integration tests (real
PostgreSQL, real broker). Imported by the test modules explicitly (no
conftest.py, so module names never collide with other services' tests)."""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import psycopg
from kafka import KafkaConsumer

from services.projections.bootstrap import Settings
from services.projections.entrypoints.consumer import Consumer
from shared import auth, kafka
from shared.envelope import CloudEvent
from shared.freshness import FENCE
from tests.present import present
from tests.waiting import (
    first_within,
    wait_until,  # noqa: F401 - the projections tests import it from here
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


@contextlib.contextmanager
def running(settings: Settings) -> Iterator[Consumer]:
    """The consumer loop in a thread, stopped (SIGTERM-like) on exit."""
    consumer = Consumer(settings)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield consumer
    finally:
        stop.set()
        thread.join(15)
        assert not thread.is_alive(), "the consumer did not stop"


def publish(settings: Settings, events: Sequence[CloudEvent | bytes], topic: str | None = None
            ) -> None:
    """Send to the appointment topic (directory events to the directory topic), keyed
    by subject (appointments, waitlist entries) or organisation (directory), as booking's
    relay does:
    one at a time, the last one with its `fence` header (shared/freshness.py)."""
    producer = kafka.producer(settings.bootstrap_servers)
    try:
        for n, e in enumerate(events, 1):
            if isinstance(e, bytes):
                producer.send(topic or settings.topics[0], key=b"poison", value=e).get(10)
                continue
            appointment = e.type.startswith(("appointment.", "waitlist."))
            target = topic or settings.topics[0 if appointment else 1]
            key = (e.subject if appointment else e.orgid).encode()
            fence = [(FENCE, str(e.position).encode())] if n == len(events) else []
            producer.send(target, key=key, value=e.to_json(), headers=fence).get(10)
    finally:
        producer.close()





def applied_count(settings: Settings) -> int:
    with psycopg.connect(settings.database_url) as conn:
        return present(conn.execute("SELECT count(*) FROM applied_events").fetchone())[0]


def dump(settings: Settings, tables: tuple[str, ...] = (
        "appointments", "status_history", "organisations", "resources", "clients")
         ) -> dict[str, list[tuple]]:
    with psycopg.connect(settings.database_url) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables}


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 20) -> list[Any]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False)
    seen: list[Any] = []

    def all_read() -> bool:
        for records in consumer.poll(500).values():
            seen.extend(records)
        return len(seen) >= expected

    first_within(all_read, timeout, interval=0)
    consumer.close()
    return seen


def token(org: str = "acme", roles: tuple[str, ...] = ("agent", "manager")) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.issue(org, list(roles))}"}


def with_clock(settings: Settings, now: datetime) -> Settings:
    return replace(settings, clock=lambda: now)


def clinic(first_position: int = 1) -> tuple[Any, dict[str, str]]:
    """A scripted week at Acme Clinic (Europe/Zurich, retention 365 days);
    returns the Booking (its .events in order) and the appointment ids by name."""
    from tests.unit.projections.factory import Booking, slot, window

    b = Booking(first_position=first_position)
    b.resource("agent-7", "Dr Who")
    b.resource("agent-9", "Dr No")
    b.resource("room-1", "Room 1", kind="location")
    b.client("client-1")
    b.service()
    ids: dict[str, str] = {}
    # confirmed, Monday 10:00 local, with Dr Who
    ids["confirmed"] = b.request(slot_=slot("2026-11-23", "09:00"), agent_id="agent-7").subject
    b.act(ids["confirmed"], "confirm", actor={"id": "agent-7", "role": "agent"})
    # a tentative window request for Tuesday morning
    ids["window"] = b.request(window=window("2026-11-24", "morning"), tentative=True,
                              client_id=None).subject
    # created for the client with Dr No, then cancelled
    ids["cancelled"] = b.request(slot_=slot("2026-11-23", "13:00"), agent_id="agent-9",
                                 action="create", status="scheduled").subject
    b.act(ids["cancelled"], "cancel", reason="client ill", message="get well soon")
    # last week: attended (past, within retention)
    ids["attended"] = b.request(slot_=slot("2026-11-16", "09:00"), agent_id="agent-7").subject
    b.act(ids["attended"], "confirm")
    b.act(ids["attended"], "attend", outcome={"time_taken_minutes": 25,
                                              "completion_reason": "treated", "remark": ""})
    # last week: no-show with Dr No
    ids["no_show"] = b.request(slot_=slot("2026-11-17", "10:00"), agent_id="agent-9",
                               client_id="client-2").subject
    b.act(ids["no_show"], "confirm")
    b.act(ids["no_show"], "no_show")
    # rejected request
    ids["rejected"] = b.request(window=window("2026-11-25", "afternoon"),
                                client_id="client-3").subject
    b.act(ids["rejected"], "reject", reason="fully booked")
    # asked to pick a new time (in the queue again)
    ids["reschedule"] = b.request(slot_=slot("2026-11-23", "15:00"), agent_id="agent-7",
                                  action="create", status="scheduled").subject
    b.act(ids["reschedule"], "request_reschedule", message="Dr Who is away")
    # long ago: beyond the retention period
    ids["old"] = b.request(slot_=slot("2025-06-02", "09:00"), agent_id="agent-7").subject
    b.act(ids["old"], "confirm")
    b.act(ids["old"], "attend")
    return b, ids
