"""The TypedDicts of services/booking/domain/changes.py say what the store holds.

Each event class of booking names the TypedDict of its `change`; a stored event of every
type, from the checked-in store of release a02f93f and from today's scenario
(tests/unit/test_event_schemas.py drives every action), carries every key its TypedDict
requires and no key it does not declare. So the types and the store cannot drift apart,
and mypy refuses an event built with a missing or misspelt key.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, is_typeddict

import pytest
from test_booking_stored_events import FIXTURE, load

from services.booking import bootstrap
from services.booking.adapters.cloudevents import snake
from services.booking.application.app import BookingApplication
from services.booking.domain.appointment import Appointment
from services.booking.domain.changes import Initial, StatusChange
from services.booking.domain.directory import KINDS
from services.booking.domain.organisation import Organisation
from shared.event_names import event_classes
from tests.doubles.booking import FixedClock, LocalWorkflow
from tests.unit.test_event_schemas import (
    APPOINTMENT_TYPES,
    DIRECTORY_TYPES,
    NOW,
    ORGANISATION_TYPES,
    drive_booking,
)

ROOT = Path(__file__).resolve().parents[3]
AGGREGATES: dict[str, type[Any]] = {"appointment": Appointment, "organisation": Organisation,
                                    **KINDS}
# every event class the aggregates trigger (not the library's unused Appointment.Created),
# by the CloudEvent type it is published as
EVENT_TYPES = APPOINTMENT_TYPES | ORGANISATION_TYPES | DIRECTORY_TYPES
EVENT_CLASSES = {f"{kind}.{snake(cls.__name__)}.v1": cls
                 for kind, aggregate in AGGREGATES.items() for cls in event_classes(aggregate)
                 if f"{kind}.{snake(cls.__name__)}.v1" in EVENT_TYPES}


def change_type(event_class: type[Any]) -> Any:
    """The type the event class (or the @event method it was made from) gives `change`."""
    for klass in event_class.__mro__:
        annotation = klass.__dict__.get("__annotations__", {}).get("change")
        if annotation is not None:
            module = vars(sys.modules[klass.__module__])
            return eval(annotation, module) if isinstance(annotation, str) else annotation
    raise AssertionError(f"{event_class.__qualname__} declares no change")


def drift(event_class: type[Any], change: dict[str, Any]) -> list[str]:
    """What a stored change has that its TypedDict lacks, or lacks that it requires."""
    declared = change_type(event_class)
    name = f"{event_class.__qualname__} ({declared.__name__})"
    missing = declared.__required_keys__ - set(change)
    undeclared = set(change) - declared.__required_keys__ - declared.__optional_keys__
    return ([f"{name}: stored without {sorted(missing)}"] if missing else []) + \
        ([f"{name}: stores undeclared {sorted(undeclared)}"] if undeclared else [])


@pytest.fixture(scope="module")
def old_store_events() -> list[Any]:
    """The fixture's stored events as today's code decodes them."""
    app: BookingApplication = bootstrap.wire(bootstrap.Settings(
        memory=True, clock=FixedClock(NOW), workflow=LocalWorkflow())).application
    try:
        load(app, json.loads(FIXTURE.read_text())["events"])
        notifications = app.recorder.select_notifications(start=1, limit=10000)
        return [app.mapper.to_domain_event(n) for n in notifications]
    finally:
        app.close()


@pytest.fixture(scope="module")
def published_now() -> list[dict[str, Any]]:
    return drive_booking()


def test_every_event_class_types_its_change_with_a_typeddict():
    assert set(EVENT_CLASSES) == EVENT_TYPES and len(EVENT_TYPES) == 30
    untyped = [cls.__qualname__ for cls in EVENT_CLASSES.values()
               if not is_typeddict(change_type(cls))]
    assert not untyped, untyped


def test_the_old_stores_events_carry_the_keys_their_typeddicts_declare(old_store_events):
    problems = [p for e in old_store_events for p in drift(type(e), e.change)]
    assert not problems, "\n".join(problems)
    # and the events creating an appointment record its fields as Initial declares them
    created = [e for e in old_store_events if isinstance(e, Appointment.Requested)]
    assert created and all(set(e.initial) == set(Initial.__annotations__) for e in created)


def test_todays_events_of_every_type_carry_the_keys_their_typeddicts_declare(
        published_now, old_store_events):
    problems = [p for e in published_now
                for p in drift(EVENT_CLASSES[e["type"]], e["data"]["change"])]
    assert not problems, "\n".join(problems)
    # every event type was checked, from one store or the other
    checked = {e["type"] for e in published_now} | {
        t for t, cls in EVENT_CLASSES.items() for e in old_store_events if type(e) is cls}
    assert checked == set(EVENT_CLASSES)


def documented_changes() -> dict[str, tuple[str, set[str]]]:
    """docs/contracts.md's table: event -> (its TypedDict, the keys it adds to StatusChange)."""
    text = (ROOT / "docs" / "contracts.md").read_text()
    rows = re.findall(r"^\| (`[a-z_`, ]+`) \| `(\w+)` \| (.+) \|$", text, re.MULTILINE)
    return {event: (typeddict, set(re.findall(r"`(\w+)", re.sub(r"\([^)]*\)", "", adds))))
            for events, typeddict, adds in rows for event in re.findall(r"`(\w+)`", events)}


def test_docs_contracts_names_each_events_typeddict_and_the_keys_it_adds():
    documented = documented_changes()
    assert set(documented) == {t.split(".")[1] for t in APPOINTMENT_TYPES}
    for event, (typeddict, adds) in documented.items():
        declared = change_type(EVENT_CLASSES[f"appointment.{event}.v1"])
        assert declared.__name__ == typeddict, event
        assert adds == set(declared.__annotations__) - set(StatusChange.__annotations__), event


def test_mypy_refuses_a_change_with_a_missing_or_misspelt_key(tmp_path: Path):
    snippet = tmp_path / "bad_event.py"
    snippet.write_text(textwrap.dedent("""
        from services.booking.domain.changes import NoteAddedChange, StatusChange

        def build(base: StatusChange) -> None:
            NoteAddedChange(**base)                                  # no note
            NoteAddedChange(**base, note={"id": "n", "text": "t", "author": {}, "at": ""},
                            link=None)                               # misspelt link_id
    """))
    found = subprocess.run(
        [str(Path(sys.executable).parent / "mypy"), str(snippet), "--cache-dir=/dev/null",
         "--no-error-summary", "--follow-imports=silent", "--python-version=3.11"],
        cwd=ROOT, capture_output=True, text=True, timeout=120).stdout
    assert 'Missing key "note" for TypedDict "NoteAddedChange"' in found, found
    assert 'Extra key "link" for TypedDict "NoteAddedChange"' in found, found
