"""The appointment aggregate's own rules, with an injected time and availability.

Status changes are handed in as the workflow authority would allow them
(shared.domain.lifecycle on the built-in workflow); each test reads as a scenario.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from booking_unit_support import NOW, slot

from services.booking.domain import errors
from services.booking.domain.appointment import Appointment, Context
from services.booking.domain.meta import Meta
from services.booking.domain.organisation import Organisation
from services.booking.domain.transitions import Transition, intended_status
from services.booking.domain.values import Slot
from shared.domain import lifecycle
from shared.errors import Invalid

SERVICE = {"id": "svc-1", "name": "Consultation", "duration_minutes": 30}
CLIENT = {"id": "cl-1", "name": "Ada", "email": "ada@example.com", "phone": None,
          "tentative": False}
TENTATIVE = {"id": None, "name": "Bob", "email": "bob@example.com", "phone": None,
             "tentative": True}
AGENT = {"id": "ag-1", "kind": "agent", "name": "Dr Who", "email": None, "phone": None,
         "address": None}


def organisation(**settings: Any) -> Organisation:
    org = Organisation.start("acme", Meta({"id": "sys", "role": "system"}, "", NOW))
    if settings:
        org.update(settings, Meta({"id": "m", "role": "manager"}, "", NOW))
    return org


def context(now: datetime = NOW, org: Organisation | None = None,
            free: Callable[[str, Slot], bool] = lambda agent, at: True) -> Context:
    return Context(Meta({"id": "agent-7", "role": "agent"}, "corr", now), org or organisation(),
                   free)


def allowed(d: lifecycle.Definition, from_status: str | None, action: str, to: str) -> Transition:
    assert lifecycle.is_allowed(d, from_status, action, to), (from_status, action, to)
    return Transition(action, from_status, to, d.status(to).kind,  # type: ignore[union-attr]
                      {"id": d.id, "version": d.version})


def step(appointment: Appointment, action: str, ctx: Context, **params: Any) -> None:
    """Do `action` the way the application does, on the built-in workflow."""
    d = lifecycle.BUILTIN
    to = intended_status(d, action, params.get("status"), reconfirm_reschedules=ctx.organisation.settings[
        "reschedule_needs_reconfirmation"])
    getattr(appointment, action)(ctx, allowed(d, appointment.status, action, to), **params)


def requested(client: dict[str, Any] = CLIENT, ctx: Context | None = None,
              at: dict[str, Any] | None = None, agent: dict[str, Any] | None = AGENT) -> Appointment:
    ctx = ctx or context()
    t = allowed(lifecycle.BUILTIN, None, "request", "requested")
    return Appointment.request(ctx, t, service=SERVICE, client=client, source="widget",
                               slot=at or slot(9), agent=agent)


def scheduled(**kw: Any) -> Appointment:
    appointment = requested(**kw)
    step(appointment, "confirm", context())
    return appointment


# -- request and confirm -------------------------------------------------------------------

def test_a_request_for_a_window_records_the_part_of_day_and_every_event_field():
    # Given a request for Monday morning with a tentative client
    t = allowed(lifecycle.BUILTIN, None, "request", "requested")
    a = Appointment.request(context(), t, service=SERVICE, client=TENTATIVE, source="phone",
                            window={"date": "2026-11-23", "part_of_day": "morning"})
    # Then it is requested, has a window and no slot
    assert (a.status, a.status_kind, a.slot) == ("requested", "start", None)
    assert a.window == {"date": "2026-11-23", "part_of_day": "morning"}
    # And its event carries actor, correlation id, workflow and the version of the
    # organisation's settings it was decided with (a reference, not a copy)
    change = a.pending_events[0].change  # type: ignore[attr-defined]
    assert change["action"] == "request" and change["from_status"] is None
    assert change["actor"] == {"id": "agent-7", "role": "agent"}
    assert change["correlation_id"] == "corr"
    assert change["workflow"] == {"id": "builtin", "version": 1}
    assert change["organisation_version"] == 1 and "organisation" not in change


def test_a_window_must_name_one_of_the_organisations_parts_of_day():
    t = allowed(lifecycle.BUILTIN, None, "request", "requested")
    with pytest.raises(Invalid) as refused:
        Appointment.request(context(), t, service=SERVICE, client=CLIENT, source="api",
                            window={"date": "2026-11-23", "part_of_day": "night"})
    assert "window.part_of_day" in refused.value.extra["errors"]


def test_confirm_needs_a_linked_client():
    # Given a request by a tentative client
    a = requested(client=TENTATIVE)
    # When an agent confirms it, then it is refused until the client is linked
    with pytest.raises(errors.ClientNotLinked):
        step(a, "confirm", context())
    # When the client is linked, confirming works and records the confirmation time
    a.link_client(context(), None, client=CLIENT)
    step(a, "confirm", context())
    assert (a.status, a.confirmed_at) == ("scheduled", NOW.isoformat())
    assert a.client == CLIENT


def test_confirm_needs_an_exact_slot():
    t = allowed(lifecycle.BUILTIN, None, "request", "requested")
    a = Appointment.request(context(), t, service=SERVICE, client=CLIENT, source="phone",
                            window={"date": "2026-11-23", "part_of_day": "morning"})
    with pytest.raises(errors.SlotRequired):
        step(a, "confirm", context())
    # giving the slot while confirming is enough
    step(a, "confirm", context(), slot=slot(10))
    assert a.slot == {"start": "2026-11-23T10:00:00+00:00", "end": "2026-11-23T10:30:00+00:00"}


def test_confirm_refuses_an_agent_who_is_not_available():
    a = requested()
    with pytest.raises(errors.AgentNotAvailable):
        step(a, "confirm", context(free=lambda agent, at: False))
    assert a.status == "requested" and a.version == 1


def test_accept_suggestion_needs_a_proposal_and_takes_it_as_the_slot():
    a = scheduled()
    step(a, "request_reschedule", context(), message="Doctor ill")
    step(a, "propose_time", context(), slot=slot(14), link_id="jti-1")
    assert a.status == "requested" and a.proposal is not None
    step(a, "accept_suggestion", context())
    assert a.status == "scheduled" and a.proposal is None
    assert a.slot == Slot.of(slot(14)).as_dict()
    with pytest.raises(errors.Conflict):
        b = requested()
        step(b, "accept_suggestion", context())


# -- reschedule, reassign, notes, details ------------------------------------------------------

def test_reschedule_stays_confirmed_or_goes_back_to_request_by_org_setting():
    a = scheduled()
    step(a, "reschedule", context(), slot=slot(11), message="moved")
    assert a.status == "scheduled"
    change = a.pending_events[-1].change  # type: ignore[attr-defined]
    assert change["previous_slot"]["start"] == "2026-11-23T09:00:00+00:00"
    # With re-confirmation required, the same action goes back to the start status
    strict = context(org=organisation(reschedule_needs_reconfirmation=True))
    step(a, "reschedule", strict, slot=slot(12))
    assert a.status == "requested"


def test_reassign_needs_an_available_agent_and_keeps_the_status():
    a = scheduled()
    other = {**AGENT, "id": "ag-2", "name": "Dr Watson"}
    with pytest.raises(errors.AgentNotAvailable):
        a.reassign(context(free=lambda agent, at: False), None, agent=other)
    a.reassign(context(), None, agent=other, message="Dr Watson will see you")
    assert (a.agent_id, a.status) == ("ag-2", "scheduled")
    assert [r["id"] for r in a.resources if r["kind"] == "agent"] == ["ag-2"]
    change = a.pending_events[-1].change  # type: ignore[attr-defined]
    assert change["action"] == "reassigned" and change["previous_agent_id"] == "ag-1"
    assert change["from_status"] == change["to_status"] == "scheduled"


def test_a_cancelled_appointment_cannot_be_reassigned():
    a = scheduled()
    step(a, "cancel", context(), reason="Other")
    with pytest.raises(errors.AppointmentClosed):
        a.reassign(context(), None, agent={**AGENT, "id": "ag-2"})


def test_notes_are_kept_but_never_in_the_snapshot():
    a = requested()
    a.add_note(context(), None, text="prefers mornings")
    note_id = next(iter(a.notes))
    a.edit_note(context(), None, note_id=note_id, text="prefers early mornings")
    assert a.notes[note_id]["text"] == "prefers early mornings"
    assert a.status == "requested"
    assert "prefers" not in str(a.snapshot())
    with pytest.raises(errors.NoteNotFound):
        a.edit_note(context(), None, note_id="nope", text="x")


def test_update_details_changes_only_what_is_given():
    a = requested()
    a.update_details(context(), None, questionnaire={"allergies": "none"}, metadata={"crm": "42"})
    assert a.questionnaire == {"allergies": "none"} and a.metadata == {"crm": "42"}
    assert a.service == SERVICE
    with pytest.raises(Invalid):
        a.update_details(context(), None)
    with pytest.raises(Invalid):   # agents go through reassign
        a.update_details(context(), None, resources=[AGENT])


# -- cancel and reject ---------------------------------------------------------------------------

def test_cancel_reason_must_come_from_the_list_and_is_required_if_the_org_says_so():
    a = scheduled()
    with pytest.raises(Invalid) as refused:
        step(a, "cancel", context(), reason="Because")
    assert "reason" in refused.value.extra["errors"]
    strict = context(org=organisation(cancel_reason_required=True))
    with pytest.raises(Invalid):
        step(a, "cancel", strict)
    step(a, "cancel", strict, reason="Client request", message="See you another time")
    assert a.status == "cancelled"
    change = a.pending_events[-1].change  # type: ignore[attr-defined]
    assert (change["reason"], change["message"]) == ("Client request", "See you another time")


def test_cancel_without_reason_is_fine_when_not_required():
    a = requested()
    step(a, "cancel", context())
    assert a.status == "cancelled"


def test_reject_needs_a_reason_from_the_rejection_list():
    a = requested()
    with pytest.raises(Invalid):
        step(a, "reject", context())
    with pytest.raises(Invalid):
        step(a, "reject", context(), reason="Client request")
    step(a, "reject", context(), reason="Fully booked")
    assert (a.status, a.status_kind) == ("rejected", "cancellation")


# -- due actions and feedback --------------------------------------------------------------------

def test_attend_and_no_show_only_once_due():
    a = scheduled()
    before = context(now=NOW)
    with pytest.raises(errors.NotDue):
        step(a, "attend", before)
    with pytest.raises(errors.NotDue):
        step(a, "no_show", before)
    at_start = context(now=Slot.of(slot(9)).start)
    step(a, "attend", at_start, time_taken_minutes=25, completion_reason="done", remark="fine")
    assert a.status == "attended"
    assert a.outcome == {"time_taken_minutes": 25, "completion_reason": "done", "remark": "fine"}


def test_no_show_then_reopen_then_attend():
    a = scheduled()
    later = context(now=Slot.of(slot(9)).start + timedelta(hours=1))
    step(a, "no_show", later)
    assert a.status == "no_show"
    step(a, "reopen", later)
    assert a.status == "reopened"
    step(a, "attend", later)
    assert a.status == "attended"


def test_feedback_is_requested_at_most_once_per_day_in_the_org_time_zone():
    # Given an attended appointment in an organisation in Zurich (UTC+1 in November)
    zurich = organisation(timezone="Europe/Zurich")
    a = scheduled()
    evening = datetime.fromisoformat("2026-11-23T22:30:00+00:00")   # 23:30 in Zurich, Monday
    step(a, "attend", context(now=evening, org=zurich))
    # When feedback is requested at 23:30 local time
    step(a, "request_feedback", context(now=evening, org=zurich))
    assert (a.status, a.feedback_requested_on) == ("feedback_pending", "2026-11-23")
    # Then 20 minutes later it is still Monday in Zurich: refused
    with pytest.raises(errors.FeedbackAlreadyRequested):
        step(a, "request_feedback", context(now=evening + timedelta(minutes=20), org=zurich))
    # But at 00:10 local (still Monday in UTC) it is a new day in Zurich: allowed
    step(a, "request_feedback", context(now=evening + timedelta(minutes=40), org=zurich))
    assert a.feedback_requested_on == "2026-11-24"


def test_submitted_feedback_is_recorded_and_the_link_cannot_be_used_twice():
    a = scheduled()
    due = context(now=Slot.of(slot(10)).start)
    step(a, "attend", due)
    step(a, "request_feedback", due)
    step(a, "submit_feedback", due, rating=5, comment="great", link_id="jti-9")
    assert (a.status, a.feedback) == ("feedback_received", {"rating": 5, "comment": "great"})
    with pytest.raises(errors.LinkAlreadyUsed):
        a.ensure_link_unused("jti-9")
    a.ensure_link_unused("another-link")


def test_a_status_change_must_start_from_the_current_status():
    a = requested()
    stale = Transition("confirm", "reschedule_requested", "scheduled", "confirmation",
                       {"id": "builtin", "version": 1})
    with pytest.raises(errors.Conflict):
        a.confirm(context(), stale)
