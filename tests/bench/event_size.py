"""Size of the appointment events booking publishes, with an ordinary address
and with a 505 kB one (issue 8: events must not copy other aggregates).

    .venv/bin/python -m tests.bench.event_size
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import tests.booking_commands as drive
from services.booking import bootstrap
from services.booking.adapters.cloudevents import to_messages
from services.booking.application import commands as c
from services.booking.application.app import Caller
from tests.doubles.booking import FixedClock, LocalWorkflow

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


def sizes(address: str) -> dict[str, int]:
    """Bytes of each CloudEvent: the organisation's settings, a request, its confirmation."""
    app = bootstrap.wire(bootstrap.Settings(
        memory=True, clock=FixedClock(MONDAY - timedelta(days=3)),
        workflow=LocalWorkflow())).application
    try:
        manager = Caller("acme", {"id": "mgr-1", "role": "manager"}, "bench")
        app.update_organisation(manager, {"name": "Acme Clinic", "email": "desk@acme.example",
                                          "phone": "+41440000000", "address": address})

        def add(entry: str, **fields: str | int) -> uuid.UUID:
            return uuid.UUID(app.register(manager, entry, fields)[entry]["id"])

        service = add("service", name="Consultation", duration_minutes=30)
        agent = add("resource", name="Dr Who", kind="agent")
        client = add("client", name="Ada Lovelace", email="ada@example.com")
        a = app.request(manager, c.Request(service_id=service, client_id=client, source="agent",
                                           window={"date": MONDAY.date(), "part_of_day": "morning"}))
        start = MONDAY + timedelta(hours=9)
        drive.act(app, manager, uuid.UUID(a["appointment"]["id"]), "confirm",
                {"slot": {"start": start, "end": start + timedelta(minutes=30)},
                 "agent_id": agent})
        return {e.type: len(e.to_json()) for _, _, e in to_messages(app, app.notifications(0, 100))
                if e.type.startswith(("appointment.", "organisation.settings"))}
    finally:
        app.close()


def main() -> None:
    for label, address in (("ordinary address", "1 High St"), ("505 kB address", "x" * 505_000)):
        print(f"{label}:")
        for event_type, size in sizes(address).items():
            print(f"  {event_type:40} {size:>9,} bytes")


if __name__ == "__main__":
    main()
