"""What a screen needs is in the row: the status's name, colour and kind from the
workflow version it was checked against, and the client's contact for those who may
see it (no I/O: apply, then render as the query API does)."""
from __future__ import annotations

import dataclasses
from typing import Any

from services.projections.domain.apply import apply
from services.projections.domain.model import AppointmentRow, Changes, without_client
from services.projections.entrypoints import render
from tests.present import present
from tests.unit.projections.factory import CUSTOM, Booking, slot

STAFF = frozenset({"agent"})


def row(changes: Changes) -> dict[str, Any]:
    """The appointment row as the views read it back (the columns of the table)."""
    return dataclasses.asdict(present(changes.appointment, "the appointment row"))


def shown(changes: Changes, roles: frozenset[str] = STAFF) -> dict[str, Any]:
    return render.appointment(row(changes), roles)


def test_a_built_in_status_shows_its_name_colour_and_kind():
    b = Booking()
    aid = b.request(slot_=slot("2026-11-23", "09:00"), agent_id="agent-7").subject
    requested = shown(apply(b.events[-1]))
    confirmed = shown(apply(b.act(aid, "confirm")))

    assert (requested["status_name"], requested["status_colour"], requested["status_kind"]) == (
        "Requested", "#fdd835", "start")
    assert (confirmed["status_name"], confirmed["status_colour"], confirmed["status_kind"]) == (
        "Scheduled", "#1e88e5", "confirmation")


def test_a_custom_status_shows_the_workflows_own_name_and_colour():
    b = Booking()
    aid = b.request(slot_=slot("2026-11-23", "09:00"), workflow=CUSTOM).subject
    approved = shown(apply(b.act(aid, "move", "approved")))
    noted = shown(apply(b.act(aid, "note_added", text="called")))  # keeps the status

    for answer in (approved, noted):
        assert (answer["status"], answer["status_name"], answer["status_colour"],
                answer["status_kind"]) == ("approved", "Approved by management", "#7cb342",
                                           "step")


def test_events_recorded_before_colours_fall_back_to_the_built_in_lifecycle_or_null():
    b = Booking(colours=False)
    built_in = b.request(slot_=slot("2026-11-23", "09:00"), agent_id="agent-7").subject
    b.act(built_in, "confirm")
    scheduled = shown(apply(b.events[-1]))
    custom = b.request(slot_=slot("2026-11-24", "09:00"), workflow=CUSTOM).subject
    approved = shown(apply(b.act(custom, "move", "approved")))
    b.act(custom, "move", "confirmed")
    b.act(custom, "request_reschedule")
    tail = shown(apply(b.events[-1]))

    assert (scheduled["status_name"], scheduled["status_colour"]) == ("Scheduled", "#1e88e5")
    assert (approved["status_name"], approved["status_colour"]) == ("approved", None)
    # the tail every workflow shares keeps its built-in colour under a custom workflow too
    assert (tail["status_name"], tail["status_colour"]) == ("Reschedule requested", "#ffb300")


def test_staff_see_the_clients_contact_other_roles_and_erased_clients_do_not():
    b = Booking()
    b.request(slot_=slot("2026-11-23", "09:00"), client_id="client-1")
    changes = apply(b.events[-1])

    staff = shown(changes, frozenset({"auditor"}))
    assert staff["client"] == {"id": "client-1", "name": "Ada Lovelace",
                               "email": "ada@example.com", "phone": "+441234567890"}
    for roles in ({"widget"}, {"service"}, {"client"}):
        assert shown(changes, frozenset(roles))["client"] == {"id": "client-1",
                                                              "name": "Ada Lovelace"}
    erased = shown(without_client(changes))
    assert erased["client"] == {"id": "client-1", "name": "erased"}


def test_a_row_written_before_the_new_columns_still_shows_a_name_and_colour():
    b = Booking()
    b.request(slot_=slot("2026-11-23", "09:00"))
    old: AppointmentRow = dataclasses.replace(present(apply(b.events[-1]).appointment),
                                              status_name=None, status_colour=None)
    answer = render.appointment(dataclasses.asdict(old), STAFF)
    assert (answer["status_name"], answer["status_colour"]) == ("Requested", "#fdd835")
