"""Stored events carry domain names, and a store written by an earlier release still replays.

tests/fixtures/booking_store_a02f93f.json is the store the scenario of
tests/unit/test_event_schemas.py wrote on release a02f93f, whose topics are Python
class paths (`services.booking.domain.appointment:Appointment.Confirmed`), beside the
CloudEvents that release published from it. Replayed by today's code, the same store
must give the same CloudEvents, also once the classes are gone from their old paths.
"""
from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import eventsourcing.utils
import pytest
from booking_unit_support import NOW, slot
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import TopicError

import tests.booking_commands as drive
from services.booking import bootstrap
from services.booking.adapters.cloudevents import to_messages
from services.booking.application import commands as c
from services.booking.application.app import BookingApplication
from services.booking.application.ports import SideWrites
from services.booking.domain import appointment, directory, organisation
from services.booking.domain.appointment import Appointment
from services.booking.domain.directory import KINDS
from services.booking.domain.organisation import Organisation
from shared.event_names import event_classes, name_events
from tests.doubles.booking import FixedClock, LocalWorkflow

FIXTURE = Path(__file__).parents[2] / "fixtures" / "booking_store_a02f93f.json"
DOMAIN_NAME = re.compile(r"^(appointment|organisation|service|resource|client)\.[A-Z]\w*$")


@pytest.fixture
def old_store() -> dict[str, Any]:
    return dict(json.loads(FIXTURE.read_text()))


@pytest.fixture
def fresh() -> Iterator[BookingApplication]:
    app = bootstrap.wire(bootstrap.Settings(
        memory=True, clock=FixedClock(NOW), workflow=LocalWorkflow())).application
    yield app
    app.close()


def load(app: BookingApplication, rows: list[dict[str, Any]]) -> None:
    """Write the stored events as they are, one by one, so positions stay the same."""
    for row in rows:
        app.recorder.insert_events(
            [StoredEvent(originator_id=uuid.UUID(row["originator_id"]),
                         originator_version=row["originator_version"],
                         topic=row["topic"], state=row["state"].encode())],
            side=SideWrites(organisation_id="acme"))


def published(app: BookingApplication) -> list[dict[str, Any]]:
    notifications = app.recorder.select_notifications(start=1, limit=10000)
    return [json.loads(ce.to_json()) for _, _, ce in to_messages(app, notifications)]


def as_published_now(cloudevents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What that release published, as this one publishes it: a client's own events no
    longer carry their contact data (directory.events keeps messages for good)."""
    now = copy.deepcopy(cloudevents)
    for e in now:
        if e["type"].startswith("client."):
            for holder in (e["data"]["client"], e["data"]["change"]["fields"]):
                holder.update({f: None for f in ("name", "email", "phone") if f in holder})
    return now


def test_the_old_store_replays_to_the_cloudevents_it_was_published_as(fresh, old_store):
    # Given the store of the earlier release, with class-path topics
    assert all(":" in row["topic"] for row in old_store["events"])
    load(fresh, old_store["events"])
    # Then today's code publishes exactly what that release published
    assert published(fresh) == as_published_now(old_store["cloudevents"])
    # And the aggregates rebuild from it
    ids = {row["originator_id"] for row in old_store["events"] if "Appointment" in row["topic"]}
    for appointment_id in ids:
        assert fresh.repository.get(uuid.UUID(appointment_id)).version > 0


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """No topic registered or resolved yet (restored after the test)."""
    monkeypatch.setattr(eventsourcing.utils, "_topic_cache", {})


def name_all() -> None:
    """What importing the domain modules does: domain names, and the old paths as aliases."""
    name_events(Appointment, "appointment",
                formerly="services.booking.domain.appointment:Appointment")
    name_events(Organisation, "organisation",
                formerly="services.booking.domain.organisation:Organisation")
    for kind, entry in KINDS.items():
        name_events(entry, kind, formerly=f"services.booking.domain.directory:{entry.__name__}")


def move_classes(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if every aggregate and every event class had been renamed: the old class paths
    import nothing."""
    for module, name in [(appointment, "Appointment"), (organisation, "Organisation"),
                         (directory, "Service"), (directory, "Resource"), (directory, "Client")]:
        aggregate = getattr(module, name)
        for event_class in event_classes(aggregate):
            monkeypatch.delattr(aggregate, event_class.__name__)
        monkeypatch.delattr(module, name)


def test_without_the_aliases_the_old_store_would_not_load(fresh, old_store, fresh_process,
                                                           monkeypatch):
    move_classes(monkeypatch)
    load(fresh, old_store["events"])
    with pytest.raises(TopicError):
        published(fresh)


def test_after_the_classes_moved_the_old_store_still_replays(fresh, old_store, fresh_process,
                                                             monkeypatch):
    name_all()
    move_classes(monkeypatch)
    load(fresh, old_store["events"])
    assert published(fresh) == as_published_now(old_store["cloudevents"])


def test_new_events_are_stored_under_domain_names(booking, directory, agent):
    a = booking.request(agent, c.Request(service_id=directory.service, client_id=directory.client,
                                         source="agent", slot=slot(10)))["appointment"]
    drive.act(booking, agent, uuid.UUID(a["id"]), "confirm", {"agent_id": directory.agent})
    stored = booking.recorder.select_notifications(start=1, limit=100)
    topics = [n.topic for n in stored]
    assert all(DOMAIN_NAME.match(t) for t in topics), topics
    assert topics[-2:] == ["appointment.Requested", "appointment.Confirmed"]
    # the aggregate a created event names is a domain name too
    created = json.loads(stored[-2].state)
    assert created["originator_topic"] == "appointment"


def test_the_upcasting_path_reaches_events_of_the_old_store(fresh, old_store, monkeypatch):
    # Given the next release changes what a Confirmed event stores (class_version 2)
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["change"] = {**state["change"], "upcast": "v1->v2"}

    confirmed_class: Any = getattr(Appointment, "Confirmed")  # noqa: B009 - made by @event
    monkeypatch.setattr(confirmed_class, "class_version", 2, raising=False)
    monkeypatch.setattr(confirmed_class, "upcast_v1_v2", staticmethod(upcast_v1_v2),
                        raising=False)
    load(fresh, old_store["events"])
    # Then the version 1 events of the store arrive upcast, and only those
    confirmed = [e for e in published(fresh) if e["type"] == "appointment.confirmed.v1"]
    others = [e for e in published(fresh) if e["type"] != "appointment.confirmed.v1"]
    assert confirmed and all(e["data"]["change"]["upcast"] == "v1->v2" for e in confirmed)
    assert not any("upcast" in e["data"]["change"] for e in others)
