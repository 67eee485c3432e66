"""Domain of the read models: one event -> the rows of each view, for every
action of DOMAIN.md's lifecycle, on scripted histories (no I/O)."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, timezone
from typing import Any

import pytest

from services.projections.domain.apply import apply
from services.projections.domain.model import (
    AppointmentRow,
    Changes,
    ClientRow,
    HistoryEntry,
    OrganisationRow,
    ResourceRow,
    Unprocessable,
)
from shared.envelope import CloudEvent
from tests.present import present
from tests.unit.projections.factory import CUSTOM, Booking, slot, window


class Views:
    """What one event gives each view; reading a view's row asserts it was given one
    (`changes` holds the rows as they are, for asserting that none was)."""

    def __init__(self, changes: Changes) -> None:
        self.changes = changes

    @property
    def appointment(self) -> AppointmentRow:
        return present(self.changes.appointment, "the appointment row")

    @property
    def history(self) -> HistoryEntry:
        return present(self.changes.history, "the history entry")

    @property
    def organisation(self) -> OrganisationRow:
        return present(self.changes.organisation, "the organisation row")

    @property
    def resource(self) -> ResourceRow:
        return present(self.changes.resource, "the resource row")

    @property
    def client(self) -> ClientRow:
        return present(self.changes.client, "the client row")


def views(event: CloudEvent, organisation: OrganisationRow | None = None) -> Views:
    return Views(apply(event, organisation))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def test_a_window_request_is_unconfirmed_and_placed_at_its_part_of_day_in_local_time():
    booking = Booking()
    # Given a request for the morning of 23 Nov in Zurich (UTC+1 in winter)
    changes = views(booking.request(window=window("2026-11-23", "morning"), tentative=True))
    row = changes.appointment
    # Then it is in the queue, on the calendar, flagged tentative, from 09:00 to 12:00 local
    assert (row.status, row.status_kind, row.unconfirmed, row.on_calendar) == (
        "requested", "start", True, True)
    assert row.tentative and row.client_id is None
    assert (row.start_at, row.end_at) == (utc("2026-11-23T08:00:00+00:00"),
                                          utc("2026-11-23T11:00:00+00:00"))
    assert not row.blocks_time  # a window does not occupy an agent
    assert changes.history.action == "request" and changes.history.from_status is None
    assert changes.organisation.retention_days == 365
    assert changes.organisation.timezone == "Europe/Zurich"


def test_an_event_referring_to_its_organisation_is_placed_with_what_the_views_know_of_it():
    # Given an event as booking writes it now: the organisation by version, no copy
    booking = Booking(stored_copies=False)
    event = booking.request(window=window("2026-11-23", "morning"), tentative=True)
    assert "organisation" not in event.data["change"]
    zurich = views(booking.organisation_updated()).organisation
    # Then the window is placed in the organisation's zone when the views know it
    known = views(event, zurich)
    assert (known.appointment.start_at, known.appointment.end_at) == (
        utc("2026-11-23T08:00:00+00:00"), utc("2026-11-23T11:00:00+00:00"))
    assert known.changes.organisation is None  # the organisation's row comes from its own events
    # And with the default parts of day in UTC while they know nothing of it yet
    unknown = views(event).appointment
    assert (unknown.start_at, unknown.end_at) == (utc("2026-11-23T09:00:00+00:00"),
                                                  utc("2026-11-23T12:00:00+00:00"))


def test_confirm_then_reschedule_then_cancel():
    booking = Booking()
    requested = booking.request(slot_=slot("2026-11-23", "09:00"), agent_id="agent-7")
    aid = requested.subject
    # Like booking (shared.domain.lifecycle.holds_time): a request does not hold the agent yet.
    assert not views(requested).appointment.blocks_time
    confirmed = views(booking.act(aid, "confirm")).appointment
    assert (confirmed.status, confirmed.unconfirmed, confirmed.blocks_time) == (
        "scheduled", False, True)
    assert confirmed.confirmed_at is not None and confirmed.resource_ids == ["agent-7"]

    moved = views(booking.act(aid, "reschedule", slot=slot("2026-11-24", "10:00"),
                              message="Doctor ill"))
    # A reschedule keeps the status but is a status action: it is in the history
    assert moved.history.from_status == moved.history.to_status == "scheduled"
    assert moved.history.message == "Doctor ill"
    assert moved.appointment.slot_start == utc("2026-11-24T10:00:00+00:00")

    cancelled = views(booking.act(aid, "cancel", reason="client moved away",
                                  actor={"id": "client", "role": "client"}))
    assert (cancelled.appointment.on_calendar, cancelled.appointment.blocks_time) == (False, False)
    assert (cancelled.history.reason, cancelled.history.actor_role) == ("client moved away",
                                                                        "client")


def test_reschedule_back_to_request_needs_confirmation_again():
    booking = Booking()
    aid = booking.request(slot_=slot("2026-11-23", "09:00"), status="scheduled").subject
    row = views(booking.act(aid, "reschedule", "requested", slot=slot("2026-11-25", "09:00")))
    assert (row.appointment.status, row.appointment.unconfirmed) == ("requested", True)


def test_request_reschedule_propose_time_accept_suggestion():
    booking = Booking()
    aid = booking.request(slot_=slot("2026-11-23", "09:00"), action="create",
                          status="scheduled").subject
    asked = views(booking.act(aid, "request_reschedule", message="please pick a new time"))
    assert (asked.appointment.status, asked.appointment.status_kind) == (
        "reschedule_requested", "step")
    assert asked.appointment.unconfirmed  # back in the request queue
    proposed = views(booking.act(aid, "propose_time", proposal=slot("2026-11-26", "14:00"),
                                 actor={"id": "client", "role": "client"}))
    assert proposed.appointment.status == "requested"
    assert proposed.appointment.proposal == slot("2026-11-26", "14:00")
    accepted = views(booking.act(aid, "accept_suggestion"))
    assert accepted.appointment.slot_start == utc("2026-11-26T14:00:00+00:00")
    assert (accepted.appointment.status, accepted.appointment.proposal) == ("scheduled", None)


def test_changes_without_a_status_change_update_the_row_and_are_in_the_history():
    booking = Booking()
    created = views(booking.request(slot_=slot("2026-11-23", "09:00"), agent_id="agent-7"))
    aid, state = created.appointment.id, created.history.state
    assert "client" not in state   # the appointment row keeps the client, not the history

    def then(event: CloudEvent) -> Views:
        nonlocal state
        given = Views(apply(event, None, state))
        state = given.history.state
        return given

    def changed(v: Views) -> dict[str, tuple[Any, Any]]:
        return {c["field"]: (c["before"], c["after"]) for c in v.history.changes}

    reassigned = then(booking.act(aid, "reassigned", agent_id="agent-9", message="cover"))
    assert reassigned.appointment.agent_id == "agent-9"
    assert "agent-7" not in reassigned.appointment.resource_ids
    assert (reassigned.history.action, reassigned.history.message) == ("reassigned", "cover")
    assert changed(reassigned)["agent_id"] == ("agent-7", "agent-9")
    assert reassigned.history.from_status == reassigned.history.to_status == "requested"
    assert "status" not in changed(reassigned)
    note = then(booking.act(aid, "note_added", text="internal: prefers mornings"))
    assert note.appointment.version == 3
    assert changed(note) == {"note": (None, {"id": note.history.changes[0]["after"]["id"],
                                             "text": "internal: prefers mornings"})}
    details = then(booking.act(aid, "details_updated", metadata={"crm": "42"},
                               service={"id": "svc-2", "name": "Check-up",
                                        "duration_minutes": 15}))
    assert details.appointment.service_name == "Check-up"
    assert changed(details)["metadata"] == ({}, {"crm": "42"})
    assert changed(details)["service"][1]["name"] == "Check-up"
    linked = then(booking.act(aid, "client_linked", client_id="client-9"))
    assert linked.appointment.client_id == "client-9" and linked.history.action == "client_linked"
    # Applied without its predecessor's state (out of order), an entry lists only what
    # the event itself carries (this fake event carries no new values in its change)
    blind = views(booking.act(aid, "details_updated", metadata={"crm": "43"}))
    assert blind.history.changes == [] and blind.history.state["metadata"] == {"crm": "43"}


def test_reject_takes_it_off_calendar_and_queue():
    booking = Booking()
    aid = booking.request(window=window("2026-11-23")).subject
    changes = views(booking.act(aid, "reject", reason="fully booked"))
    row = changes.appointment
    assert (row.status, row.on_calendar, row.unconfirmed) == ("rejected", False, False)
    assert changes.history.reason == "fully booked"


def test_completion_tail_attend_no_show_reopen_feedback():
    booking = Booking()
    aid = booking.request(slot_=slot("2026-11-23", "09:00"), status="scheduled").subject
    attended = views(booking.act(aid, "attend", outcome={
        "time_taken_minutes": 25, "completion_reason": "treated", "remark": "fine"}))
    assert attended.appointment.completion_reason == "treated"
    assert attended.appointment.on_calendar and not attended.appointment.unconfirmed
    reopened = views(booking.act(aid, "reopen"))
    assert (reopened.appointment.status, reopened.appointment.unconfirmed) == ("reopened", False)
    no_show = views(booking.act(aid, "no_show"))
    assert (no_show.appointment.on_calendar, no_show.appointment.blocks_time) == (False, False)
    views(booking.act(aid, "reopen"))
    views(booking.act(aid, "attend"))
    asked = views(booking.act(aid, "request_feedback"))
    assert asked.appointment.status == "feedback_pending" and not asked.appointment.unconfirmed
    assert asked.appointment.feedback_requested_on == date(2026, 11, 20)
    again = views(booking.act(aid, "request_feedback", minutes=60 * 24))
    assert again.history.from_status == again.history.to_status == "feedback_pending"
    answered = views(booking.act(aid, "submit_feedback", feedback={"rating": 5, "comment": "ok"},
                                 actor={"id": "client", "role": "client"}))
    assert answered.appointment.status_kind == "final"
    assert answered.appointment.feedback == {"rating": 5, "comment": "ok"}


def test_custom_workflow_move_through_steps_to_confirmation_or_cancellation():
    booking = Booking()
    aid = booking.request(window=window("2026-11-23"), workflow=CUSTOM).subject
    step = views(booking.act(aid, "move", "consultation"))
    assert (step.appointment.status_kind, step.appointment.unconfirmed) == ("step", True)
    assert (step.history.workflow_id, step.history.workflow_version) == ("wf-approval", 2)
    views(booking.act(aid, "move", "approved"))
    confirmed = views(booking.act(aid, "confirm", "confirmed")).appointment
    assert (confirmed.status_kind, confirmed.unconfirmed) == ("confirmation", False)
    other = booking.request(window=window("2026-11-24"), workflow=CUSTOM).subject
    declined = views(booking.act(other, "move", "declined", reason="no budget")).appointment
    assert (declined.status_kind, declined.on_calendar) == ("cancellation", False)


def test_directory_events_give_resources_clients_and_the_organisation():
    booking = Booking()
    resource = views(booking.resource("agent-7", hours={"mon": [["08:00", "12:00"]]})).resource
    assert (resource.kind, resource.active, resource.working_hours) == (
        "agent", True, {"mon": [["08:00", "12:00"]]})
    gone = views(booking.resource("agent-7", active=False, verb="updated")).resource
    assert not gone.active and gone.version == 2
    assert views(booking.client("client-1")).client.name == "Ada Lovelace"
    org = views(booking.organisation_updated(retention_days=30)).organisation
    assert org.retention_days == 30
    service = views(booking.service())
    assert (service.changes.appointment, service.changes.resource,
            service.changes.organisation) == (None, None, None)


def _broken(**changes):
    booking = Booking()
    event = booking.request(window=window("2026-11-23"))
    return dataclasses.replace(event, **changes)


@pytest.mark.parametrize("event, reason", [
    (_broken(type="appointment.requested.v2"), "unknown event type"),
    (_broken(type="invoice.paid.v1"), "unknown event type"),
    (_broken(data={"appointment": {}}), "data.change"),
    (_broken(aggregateversion=7), "version differs"),
    (_broken(aggregateversion="1"), "aggregateversion"),
    (_broken(orgid="other"), "organisation_id differs"),
    (_broken(subject="someone-else"), "subject"),
], ids=["v2", "family", "no-change", "version", "version-type", "org", "subject"])
def test_unusable_events_are_refused_with_a_reason(event, reason):
    with pytest.raises(Unprocessable, match=reason):
        views(event)


def test_a_snapshot_with_a_bad_time_is_refused():
    booking = Booking()
    event = booking.request(window=window("2026-11-23"))
    event.data["appointment"]["requested_at"] = "yesterday"
    event.data["appointment"]["window"] = None
    with pytest.raises(Unprocessable, match="bad data"):
        views(event)
