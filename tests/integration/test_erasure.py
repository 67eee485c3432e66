"""Erasing a client, across the services: booking's events reach the projections through
the real broker and the notifier through its consume use case (the real ledger and
development mailbox, on PostgreSQL). After `POST /v1/clients/{id}/erase` the client's
name, email and phone are in no answer of any service and in no rebuilt view, the
statistics are the same, and a message still queued for them is never sent."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from services.booking import bootstrap as booking_bootstrap
from services.booking.adapters.cloudevents import to_messages
from services.booking.entrypoints.http import create_app as booking_app
from services.notifier import bootstrap as notifier_bootstrap
from services.notifier.application.consume import ConsumeEvent
from services.notifier.application.send import Backoff, Sender
from services.notifier.entrypoints.http import create_app as notifier_app
from services.projections.adapters.schema import VIEWS
from services.projections.adapters.sources import KafkaSource
from services.projections.application.rebuild import rebuild
from services.projections.bootstrap import Settings as ProjectionSettings
from services.projections.bootstrap import wire
from services.projections.entrypoints.http import create_app as projections_app
from shared import kafka
from shared.envelope import CloudEvent
from tests.doubles.booking import FixedClock, LocalWorkflow
from tests.doubles.projections import ListSource
from tests.integration.booking.booking_http_support import MONDAY, NOW, Api, slot
from tests.integration.projections.support import applied_count, running, wait_until

ADA = ("Ada Lovelace", "ada@example.com", "+441234567890")


def personal(answer: Any) -> list[str]:
    text = json.dumps(answer, ensure_ascii=False, default=str)
    return [p for p in ADA if p in text]


class System:
    """Booking on its database; projections consuming from the broker; the notifier."""

    def __init__(self, infra: Any, topic: str, monkeypatch: pytest.MonkeyPatch) -> None:
        tag = uuid.uuid4().hex[:8]
        urls = {name: infra.database(f"erasure_{name}_{tag}")
                for name in ("booking", "projections", "notifier")}
        monkeypatch.setenv("BOOKING_DATABASE_URL", urls["booking"])
        monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
        monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
        self.clock = FixedClock(NOW)
        self.booking = booking_bootstrap.wire(booking_bootstrap.Settings.from_env(
            clock=self.clock, workflow=LocalWorkflow())).application
        self.manager = Api(booking_app(self.booking).test_client(), roles=("manager", "agent"))
        self.topics = (topic, topic + ".directory")
        kafka.ensure_topics(infra.kafka_bootstrap_servers,
                            [self.topics[1], *map(kafka.dlq, self.topics)])
        self.projections = ProjectionSettings(
            database_url=urls["projections"], bootstrap_servers=infra.kafka_bootstrap_servers,
            topics=self.topics, group_id=f"projections-{tag}", read_your_writes_timeout=5.0,
            purge_interval=3600, clock=lambda: NOW)
        self.views = Api(projections_app(self.projections).test_client(), roles=("manager",))
        notifier = notifier_bootstrap.Settings.from_env(database_url=urls["notifier"],
                                                       bootstrap_servers="unused:9092")
        parts = notifier_bootstrap.wire(notifier)
        ledger = parts.ledger
        self.consume = ConsumeEvent(ledger)
        self.senders = [Sender(ledger, t, Backoff(0.05, 1.0), 5.0)
                        for t in parts.transports.values()]
        self.deliveries = Api(notifier_app(urls["notifier"], "unused:9092").test_client(),
                              roles=("manager",))
        self.relayed = 0

    def relay(self) -> list[CloudEvent]:
        """What booking's relay does: the new stored events, as CloudEvents, onto the topics."""
        notifications = self.booking.notifications(self.relayed, 1000)
        messages = to_messages(self.booking, notifications)
        producer = kafka.producer(self.projections.bootstrap_servers)
        try:
            for topic, key, event in messages:
                target = self.topics[0 if topic == kafka.APPOINTMENTS else 1]
                producer.send(target, key=key.encode(), value=event.to_json()).get(10)
        finally:
            producer.close()
        self.relayed = notifications[-1].id if notifications else self.relayed
        return [event for _, _, event in messages]

    def notify(self, events: list[CloudEvent]) -> None:
        for event in events:
            self.consume(event)

    def send_all(self) -> None:
        while any([sender.send_next() for sender in self.senders]):
            pass

    def close(self) -> None:
        self.booking.close()


@pytest.fixture
def system(infra, unique_topic, monkeypatch) -> Any:
    running_system = System(infra, unique_topic, monkeypatch)
    yield running_system
    running_system.close()


def test_an_erased_client_is_gone_from_every_service_and_the_numbers_stay(system):
    m = system.manager
    # Acme, a service, an agent, Ada and Bob
    m.patch("/v1/organisation", {"name": "Acme", "email": "desk@acme.example",
                                 "phone": "+41440000000"})
    service = m.post("/v1/services", {"name": "Consultation"}).get_json()["service"]["id"]
    agent = m.post("/v1/resources", {"name": "Dr Who", "kind": "agent"}).get_json()["resource"]
    ada = m.post("/v1/clients", {"name": ADA[0], "email": ADA[1], "phone": ADA[2]}
                 ).get_json()["client"]["id"]
    bob = m.post("/v1/clients", {"name": "Bob", "email": "bob@example.com"}
                 ).get_json()["client"]["id"]

    def book(client: str, hour: int) -> str:
        r = m.post("/v1/appointments", {"service_id": service, "client_id": client,
                                        "slot": slot(hour), "agent_id": agent["id"]})
        assert r.status_code == 201, r.get_json()
        return str(r.get_json()["appointment"]["id"])

    # Ada's first visit is confirmed and attended, its messages sent; Bob has one too
    visit = book(ada, 9)
    assert m.post(f"/v1/appointments/{visit}/confirm", {}).status_code == 200
    system.clock.set(MONDAY + timedelta(hours=10))
    assert m.post(f"/v1/appointments/{visit}/attend", {}).status_code == 200
    book(bob, 11)
    before = system.relay()
    system.notify(before)
    system.send_all()
    # Her second request is queued in the notifier, not yet sent, when she is erased; its
    # confirmation reaches the notifier only after the erasure
    queued = book(ada, 14)
    assert m.post(f"/v1/appointments/{queued}/confirm", {}).status_code == 200
    events = system.relay()
    before += events
    late = events.pop()
    assert late.type == "appointment.confirmed.v1" and ADA[1].encode() in late.to_json()
    system.notify(events)
    with running(system.projections):
        wait_until(lambda: applied_count(system.projections) == system.relayed,
                   what="every event applied")
        statistics = system.views.get("/v1/statistics?from=2026-11-01&to=2026-12-31").get_json()
        calendar = system.views.get("/v1/calendar?from=2026-11-23&to=2026-11-24").get_json()
        assert ADA[0] in json.dumps(calendar)  # the views did show her
        mailbox = system.deliveries.get("/v1/mailbox").get_json()
        assert ADA[1] in json.dumps(mailbox)

        r = m.post(f"/v1/clients/{ada}/erase")
        assert r.status_code == 200, r.get_json()
        erased = system.relay()
        assert [e.type for e in erased] == ["client.erased.v1"]
        system.notify(erased)
        wait_until(lambda: applied_count(system.projections) == system.relayed,
                   what="the erasure applied")
        # Booking
        assert personal(m.get(f"/v1/appointments/{visit}").get_json()) == []
        assert personal(m.get(f"/v1/appointments/{queued}?version=1").get_json()) == []
        assert personal(m.get("/v1/clients").get_json()) == []
        assert personal(m.get(f"/v1/clients/{ada}").get_json()) == []
        # Projections: every view, with the same numbers
        for path in ("/v1/calendar?from=2026-11-23&to=2026-11-24", "/v1/appointments",
                     f"/v1/appointments/{visit}/history", f"/v1/clients/{ada}/appointments",
                     "/v1/queue"):
            answer = system.views.get(path)
            assert answer.status_code == 200, (path, answer.get_json())
            assert personal(answer.get_json()) == [], path
        after = system.views.get("/v1/appointments").get_json()
        assert len(after["items"]) == 3 and {a["status"] for a in after["items"]} == {
            "attended", "requested", "scheduled"}
        assert system.views.get("/v1/statistics?from=2026-11-01&to=2026-12-31"
                                ).get_json() == statistics
        # Notifier: the queued messages are never sent, the late event plans nothing for
        # her, and no copy of her is kept
        system.notify([late])
        system.send_all()
        rows = system.deliveries.get(f"/v1/deliveries?appointment_id={queued}").get_json()["items"]
        assert rows and {(d["state"], d["last_error"]) for d in rows} == {("suppressed", "erased")}
        assert personal(system.deliveries.get("/v1/deliveries").get_json()) == []
        assert personal(system.deliveries.get("/v1/mailbox").get_json()) == []
        # An event of hers met again (a replay) plans nothing new and sends nothing
        system.notify(events)
        system.send_all()
        assert personal(system.deliveries.get("/v1/deliveries").get_json()) == []

    # Replays: the views rebuilt from booking's store, and from Kafka (which still holds
    # the messages from before the erasure, within its retention), show her erased
    pool = wire(system.projections).pool
    feed = to_messages(system.booking, system.booking.notifications(0, 1000))
    erasure = [e for _, _, e in feed if e.type == "client.erased.v1"]
    for source in (ListSource([e.to_json() for _, _, e in feed]),
                   KafkaSource(system.projections.bootstrap_servers, system.topics),
                   # the erasure met before the events it erases (topics are not ordered)
                   ListSource([e.to_json() for e in erasure + before])):
        rebuild(pool, source, VIEWS["all"], NOW)
        with psycopg.connect(system.projections.database_url) as conn:
            tables = {t: conn.execute(f"SELECT * FROM {t}").fetchall()
                      for t in ("appointments", "status_history", "clients")}
        assert personal(tables) == [], source.name
        assert system.views.get("/v1/statistics?from=2026-11-01&to=2026-12-31"
                                ).get_json() == statistics
