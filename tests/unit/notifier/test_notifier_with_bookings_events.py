"""Contract check: the events booking really emits (its application over the
in-memory store, turned into CloudEvents by its relay's mapper) plan and render
in the notifier as the synthetic ones of tests/fakes/events.py do."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import tests.booking_commands as drive
from services.booking import bootstrap
from services.booking.adapters.cloudevents import to_messages
from services.booking.application import commands as c
from services.booking.application.app import Caller
from services.notifier.application.consume import prepare
from services.notifier.domain.planning import organisation_settings
from services.notifier.domain.rendering import Renderer
from shared import links
from tests.doubles.booking import FixedClock, LocalWorkflow
from tests.present import present

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


def slot(hour):
    start = MONDAY + timedelta(hours=hour)
    return {"start": start, "end": start + timedelta(minutes=30)}


def test_a_whole_lifecycle_from_booking_notifies_as_planned():
    clock = FixedClock(datetime(2026, 11, 20, 8, tzinfo=UTC))
    booking = bootstrap.wire(bootstrap.Settings(
        memory=True, clock=clock, workflow=LocalWorkflow())).application
    manager = Caller("acme", {"id": "mgr-1", "role": "manager"}, "c1")
    agent = Caller("acme", {"id": "agent-7", "role": "agent"}, "c2")

    def add(entry, **fields):
        return str(booking.register(manager, entry, fields)[entry]["id"])

    service = add("service", name="Consultation", duration_minutes=30)
    dr_who = add("resource", name="Dr Who", kind="agent", email="who@acme.example")
    client = add("client", name="Ada Lovelace", email="ada@example.com", phone="+441234567890")
    a = booking.request(agent, c.Request(
        service_id=service, source="widget",
        tentative_client=c.TentativeClient("Ada", email="ada@example.com"),
        window={"date": MONDAY.date(), "part_of_day": "morning"}))
    aid = uuid.UUID(a["appointment"]["id"])
    for action, params in [("link_client", {"client_id": client}),
                           ("confirm", {"slot": slot(9), "agent_id": dr_who}),
                           ("add_note", {"text": "bring the x-rays"}),
                           ("cancel", {"reason": "Organisation unavailable", "message": "Sorry"})]:
        drive.act(booking, agent, aid, action, params)
    try:
        published = [e for _, _, e in to_messages(booking, booking.notifications(0, 100))]
    finally:
        booking.close()
    events = [e for e in published if e.type.startswith("appointment.")]
    # The organisation's settings come with its own event (directory.events)
    organisation = organisation_settings(
        next(e for e in published if e.type.startswith("organisation.")).data["organisation"])
    assert {e.data["change"]["organisation_version"] for e in events} == {1}

    renderer = Renderer()
    planned = {e.data["change"]["action"]: prepare(e, renderer, organisation=organisation)
               for e in events}
    assert [len(planned[a]) for a in ("request", "client_linked", "confirm", "note_added",
                                      "cancel")] == [4, 0, 6, 0, 4]
    confirm = {(p.message.recipient_kind, p.message.channel): p for p in planned["confirm"]}
    assert confirm["resource", "email"].message.to == "who@acme.example"
    assert "Monday 23 November 2026, 09:00–09:30 UTC" in present(confirm["client", "email"].rendered).text
    cancel = {(p.message.recipient_kind, p.message.channel): p for p in planned["cancel"]}
    assert "Organisation unavailable" in present(cancel["client", "email"].rendered).text
    received = {(p.message.recipient_kind, p.message.channel): p for p in planned["request"]}
    token = present(received["client", "email"].rendered).text.split("token=")[1].split()[0]
    assert links.verify(token, "cancel").appointment_id == str(aid)
