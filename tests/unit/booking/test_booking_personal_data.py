"""Sealing and erasure on the in-memory store: the same mapper and rules as on PostgreSQL."""
from __future__ import annotations

import uuid
from typing import Any

from booking_unit_support import slot

from services.booking.application import commands as c
from services.booking.application.app import Caller
from services.booking.application.ports import Answer
from services.booking.domain import personal_data


def test_stored_events_hold_no_personal_value_and_erasure_blanks_every_version(
        booking, directory, agent, manager):
    answer = Answer("acme", "key-1", "fp", 201)
    a = booking.request(Caller(agent.organisation_id, agent.actor, "corr", answer),
                        c.Request(service_id=directory.service, client_id=directory.client,
                                  slot=slot(9), questionnaire={"allergies": "peanuts"},
                                  source="api"))["appointment"]
    stored = b"".join(n.state for n in booking.recorder.select_notifications(1, 1000))
    assert b"ada@example.com" not in stored and b"peanuts" not in stored
    assert booking.appointment("acme", uuid.UUID(a["id"])).questionnaire == {
        "allergies": "peanuts"}

    erased = booking.erase_client(manager, uuid.UUID(directory.client))
    assert erased["client"]["name"] == personal_data.ERASED_NAME
    assert booking.tables.keys.lookup(a["id"]) == (None, True)
    for version in (1, None):
        appointment = booking.appointment("acme", uuid.UUID(a["id"]), version)
        assert appointment.client["email"] is None and appointment.questionnaire == {}
        assert appointment.client["name"] == "erased"
    kept = booking.tables.answer("acme", "key-1")
    assert kept is not None and kept.body["appointment"]["client"]["email"] is None
    # erasing again records nothing
    again = booking.erase_client(manager, uuid.UUID(directory.client))
    assert again["position"] is None and again["version"] == erased["version"]


def test_only_the_listed_places_are_personal():
    state: dict[str, Any] = {"organisation_id": "acme",
             "initial": {"client": {"id": "c1", "name": "Ada", "email": None, "phone": "+41"},
                         "questionnaire": {"q": "a"}, "metadata": {"crm": "1"}},
             "change": {"actor": {"id": "c1", "role": "client"}, "message": "late",
                        "reason": "Client request", "feedback": {"rating": 5, "comment": "ok"}}}
    found = {(id(holder), key) for holder, key in personal_data.places("appointment.Requested",
                                                                      state)}
    assert found == {(id(state["initial"]["client"]), "name"),
                     (id(state["initial"]["client"]), "phone"),
                     (id(state["initial"]), "questionnaire"),
                     (id(state["change"]["feedback"]), "comment"),
                     (id(state["change"]), "message")}
    state["change"]["actor"]["role"] = "agent"  # a staff message is the timeline
    assert (id(state["change"]), "message") not in {
        (id(h), k) for h, k in personal_data.places("appointment.Cancelled", state)}
