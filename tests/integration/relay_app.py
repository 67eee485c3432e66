"""A tiny event-sourced application used to test the relay on its own.

Run as a process: python -m tests.integration.relay_app <database url>
"""
from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from shared import db, relay
from shared.envelope import CloudEvent, now_iso

TOPIC_ENV = "RELAY_TEST_TOPIC"


class Ticket(Aggregate):
    @event("Opened")
    def __init__(self, number: int) -> None:
        self.number = number
        self.stamps = 0

    @event("Stamped")
    def stamp(self) -> None:
        self.stamps += 1


class Tickets(Application):
    pass


def make_app(url: str) -> Tickets:
    return Tickets(env=db.eventsourcing_env(url, "Tickets"))


def to_messages(app: Tickets, notifications: Sequence) -> list[tuple[str, str, CloudEvent]]:
    import os

    topic = os.environ[TOPIC_ENV]
    out = []
    for n in notifications:
        e = app.mapper.to_domain_event(n)
        out.append((topic, str(e.originator_id), CloudEvent(
            id=str(uuid.uuid5(e.originator_id, str(e.originator_version))), source="tickets",
            type=f"ticket.{type(e).__name__.lower()}.v1", subject=str(e.originator_id),
            time=now_iso(), orgid="t", aggregateversion=e.originator_version, position=n.id,
            data={"number": e.number} if hasattr(e, "number") else {})))
    return out


if __name__ == "__main__":
    url = sys.argv[1]
    relay.run(make_app(url), to_messages, url, "tickets")
