"""Use cases over the in-memory event store: the one command path, end to end."""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from booking_unit_support import MONDAY, slot

import tests.booking_commands as drive
from services.booking.adapters.cloudevents import to_messages
from services.booking.application import commands as c
from services.booking.application import idempotency
from services.booking.application.app import BookingApplication, Caller
from services.booking.domain import errors
from shared import kafka, links
from shared.domain import lifecycle
from shared.errors import Invalid, NotFound
from tests.doubles.booking import FixedClock, LocalWorkflow

CUSTOM = [
    {"key": "received", "name": "Request received", "kind": "start", "position": 10},
    {"key": "management", "name": "Consultation with management", "kind": "step", "position": 20},
    {"key": "approved", "name": "Approved by management", "kind": "step", "position": 30},
    {"key": "confirmed", "name": "Confirmed", "kind": "confirmation", "position": 40},
    {"key": "declined", "name": "Declined", "kind": "cancellation", "position": 50},
]


def request(booking: BookingApplication, caller: Caller, d: Any, **overrides: Any) -> dict[str, Any]:
    fields = {"service_id": d.service, "client_id": d.client, "slot": slot(9),
              "agent_id": d.agent, "source": "agent", **overrides}
    return booking.request(caller, c.Request(**fields))["appointment"]


def act(booking: BookingApplication, caller: Caller, appointment: dict[str, Any], action: str,
        **params: Any) -> dict[str, Any]:
    return drive.act(booking, caller, uuid.UUID(appointment["id"]), action, params)["appointment"]


def test_a_widget_request_goes_through_the_whole_lifecycle(booking, agent, directory, clock):
    # A client asks on the widget for Monday morning, not yet in the directory
    a = booking.request(agent, c.Request(
        service_id=directory.service, source="widget",
        tentative_client=c.TentativeClient("Ada", email="ADA@example.com"),
        window={"date": MONDAY.date(), "part_of_day": "morning"}))
    a = a["appointment"]
    assert (a["status"], a["client"]["tentative"]) == ("requested", True)
    aid = uuid.UUID(a["id"])
    # The practice is shown the matching client and links it
    matches = booking.client_matches("acme", aid)
    assert [m["id"] for m in matches] == [directory.client]
    act(booking, agent, a, "link_client", client_id=directory.client)
    # It confirms at 09:00 with Dr Who
    a = act(booking, agent, a, "confirm", slot=slot(9), agent_id=directory.agent)
    assert (a["status"], a["agent_id"], a["confirmed_at"]) == ("scheduled", directory.agent,
                                                               clock.now().isoformat())
    # It asks the client for another time; the client proposes 14:00 through the link
    act(booking, agent, a, "request_reschedule", message="Dr Who is ill")
    claims = links.verify(links.sign(a["id"], "propose_time"), "propose_time")
    proposed = drive.by_link(booking, claims, {"slot": slot(14)})["appointment"]
    assert (proposed["status"], proposed["proposal"]["start"]) == (
        "requested", "2026-11-23T14:00:00+00:00")
    # The agent accepts the suggestion, then reassigns to the other agent
    a = act(booking, agent, a, "accept_suggestion")
    assert (a["status"], a["slot"]["start"]) == ("scheduled", "2026-11-23T14:00:00+00:00")
    assert directory.other_agent in [x["id"] for x in booking.available_agents("acme", aid)]
    a = act(booking, agent, a, "reassign", agent_id=directory.other_agent)
    # Notes and details change nothing of the status
    act(booking, agent, a, "add_note", text="bring the x-rays")
    note_id = next(iter(booking.appointment("acme", aid).notes))
    act(booking, agent, a, "edit_note", note_id=note_id, text="bring the x-rays, both")
    a = act(booking, agent, a, "update_details", resource_ids=[directory.location],
            questionnaire={"first_visit": True})
    assert a["status"] == "scheduled"
    assert {r["kind"] for r in a["resources"]} == {"agent", "location"}
    # After the visit: attended, feedback requested, answered through the survey link
    clock.set(MONDAY + timedelta(hours=15))
    a = act(booking, agent, a, "attend", time_taken_minutes=25)
    a = act(booking, agent, a, "request_feedback")
    claims = links.verify(links.sign(a["id"], "submit_feedback"), "submit_feedback")
    a = drive.by_link(booking, claims, {"rating": 4, "comment": "kind"})["appointment"]
    assert (a["status"], a["feedback"]) == ("feedback_received", {"rating": 4, "comment": "kind"})
    assert a["version"] == 13


def test_an_action_the_workflow_forbids_is_409_naming_the_allowed_ones(booking, agent, directory):
    a = request(booking, agent, directory)
    with pytest.raises(errors.TransitionNotAllowed) as refused:
        act(booking, agent, a, "reopen")
    assert refused.value.status == 409
    assert refused.value.extra["allowed_actions"] == lifecycle.allowed_actions(
        lifecycle.BUILTIN, "requested")
    assert booking.appointment("acme", uuid.UUID(a["id"])).version == 1


def test_a_stale_expected_version_is_refused_with_the_current_one(booking, agent, directory):
    a = request(booking, agent, directory)
    act(booking, agent, a, "add_note", text="first")
    with pytest.raises(errors.StaleVersion) as refused:
        drive.act(booking, agent, uuid.UUID(a["id"]), "confirm", {}, expected_version=1)
    assert refused.value.extra["current_version"] == 2
    assert refused.value.headers["ETag"] == '"2"'
    assert booking.appointment("acme", uuid.UUID(a["id"])).status == "requested"


def test_automatic_confirmation_needs_an_exact_slot_and_a_free_agent(booking, agent, directory):
    auto = {"service_id": directory.automatic_service}
    assert request(booking, agent, directory, **auto)["status"] == "scheduled"
    # the same agent at the same time is no longer free: a request for it is refused
    with pytest.raises(errors.AgentNotAvailable):
        request(booking, agent, directory, **auto)
    # a window cannot be confirmed at once either
    window = {"date": MONDAY.date(), "part_of_day": "afternoon"}
    assert request(booking, agent, directory, slot=None, window=window, agent_id=None,
                   **auto)["status"] == "requested"


def test_reassign_only_to_an_agent_free_and_within_working_hours(booking, agent, directory):
    # Dr Watson already has a confirmed appointment at 09:00 on Monday
    busy = request(booking, agent, directory, agent_id=directory.other_agent)
    act(booking, agent, busy, "confirm")
    a = request(booking, agent, directory, slot=slot(9, 60))
    a = act(booking, agent, a, "confirm")
    aid = uuid.UUID(a["id"])
    assert booking.available_agents("acme", aid) == []
    with pytest.raises(errors.AgentNotAvailable):
        act(booking, agent, a, "reassign", agent_id=directory.other_agent)
    # On Saturday nobody works (office hours Monday to Friday)
    saturday = slot(10, day=MONDAY - timedelta(days=2))
    assert booking.available_agents("acme", aid, saturday) == []
    # At 11:00 Dr Watson is free
    eleven = {k: v.isoformat() for k, v in slot(11).items()}
    assert [x["id"] for x in booking.available_agents("acme", aid, eleven)] == [
        directory.other_agent]


def test_two_confirmations_of_one_agent_at_one_time_cannot_both_hold(booking, agent, directory):
    first = request(booking, agent, directory, agent_id=None)
    second = request(booking, agent, directory, agent_id=None)
    act(booking, agent, first, "confirm", agent_id=directory.agent)
    with pytest.raises(errors.AgentNotAvailable):
        act(booking, agent, second, "confirm", agent_id=directory.agent)


def test_another_organisation_sees_nothing(booking, agent, directory):
    a = request(booking, agent, directory)
    stranger = Caller("globex", {"id": "x", "role": "manager"}, "c")
    aid = uuid.UUID(a["id"])
    for attempt in (lambda: booking.appointment("globex", aid),
                    lambda: drive.act(booking, stranger, aid, "confirm", {}),
                    lambda: booking.entry("globex", "service", uuid.UUID(directory.service)),
                    lambda: booking.available_agents("globex", aid)):
        with pytest.raises(NotFound):
            attempt()
    with pytest.raises(Invalid) as refused:   # another org's service cannot be booked
        booking.request(stranger, c.Request(service_id=directory.service,
                                            client_id=directory.client, slot=slot(9)))
    assert "service_id" in refused.value.extra["errors"]
    assert booking.entries("globex", "client") == []
    assert booking.appointment("acme", aid).version == 1


def test_a_custom_workflow_moves_forward_or_to_cancellation_only(booking, manager, agent,
                                                               directory, workflow):
    # The organisation publishes its workflow and switches it on for a service
    d = workflow.publish("acme", CUSTOM, name="Management approval")
    service = booking.register(manager, "service", {"name": "Loan", "workflow_id": d.id})
    a = request(booking, agent, directory, service_id=service["service"]["id"])
    assert (a["status"], a["workflow"]) == ("received", {"id": d.id, "version": 1})
    a = act(booking, agent, a, "move", status="approved")
    with pytest.raises(errors.TransitionNotAllowed) as refused:
        act(booking, agent, a, "move", status="management")
    assert "move" in refused.value.extra["allowed_actions"]
    # A newer version does not change the version this appointment is checked against
    workflow.publish("acme", CUSTOM[:1] + CUSTOM[3:], workflow_id=d.id)
    with pytest.raises(Invalid):   # cancellation statuses need a reason
        act(booking, agent, a, "move", status="declined")
    a = act(booking, agent, a, "move", status="confirmed")
    assert (a["status"], a["status_kind"], a["workflow"]["version"]) == (
        "confirmed", "confirmation", 1)


def test_status_events_carry_the_colour_of_the_workflow_version_checked_against(
        booking, manager, agent, directory, workflow):
    coloured = [{**s, "colour": "#7cb342"} if s["key"] == "approved" else s for s in CUSTOM]
    d = workflow.publish("acme", coloured, name="Management approval")
    service = booking.register(manager, "service", {"name": "Loan", "workflow_id": d.id})
    built_in = request(booking, agent, directory)
    a = request(booking, agent, directory, service_id=service["service"]["id"], slot=slot(11))
    a = act(booking, agent, a, "move", status="approved")
    act(booking, agent, a, "add_note", text="called them")   # keeps the status and its colour
    events = [e for _, _, e in to_messages(booking, booking.notifications(0, 100))
              if e.type.startswith("appointment.")]

    colours = [(e.data["change"]["to_status"], e.data["change"]["status_colour"],
                e.data["appointment"]["status_colour"]) for e in events]
    assert colours == [("requested", "#fdd835", "#fdd835"), ("received", "#9e9e9e", "#9e9e9e"),
                       ("approved", "#7cb342", "#7cb342"), ("approved", "#7cb342", "#7cb342")]
    assert built_in["status_colour"] == "#fdd835"


def test_save_tentative_client_creates_and_links_it_in_one_save(booking, agent, directory):
    a = request(booking, agent, directory, client_id=None,
                tentative_client=c.TentativeClient("Bob", phone="+41791234567"))
    result = booking.save_tentative_client(agent, uuid.UUID(a["id"]))
    client = result["appointment"]["client"]
    assert client["tentative"] is False and client["phone"] == "+41791234567"
    assert client["id"] in [c["id"] for c in booking.entries("acme", "client")]
    with pytest.raises(errors.Conflict):
        booking.save_tentative_client(agent, uuid.UUID(a["id"]))


def test_create_for_client_with_a_chosen_status_and_a_note(booking, agent, directory):
    a = booking.create_for_client(agent, c.CreateForClient(
        service_id=directory.service, client_id=directory.client, slot=slot(16),
        agent_id=directory.agent, status="scheduled", note="VIP"))["appointment"]
    assert (a["status"], a["source"]) == ("scheduled", "agent")
    assert [n["text"] for n in booking.appointment("acme", uuid.UUID(a["id"])).notes.values()] \
        == ["VIP"]
    with pytest.raises(errors.TransitionNotAllowed):
        booking.create_for_client(agent, c.CreateForClient(
            service_id=directory.service, client_id=directory.client, slot=slot(16),
            status="attended"))


def test_a_client_link_is_single_use_and_bound_to_its_action(booking, agent, directory):
    a = request(booking, agent, directory)
    token = links.sign(a["id"], "cancel")
    claims = links.verify(token, "cancel")
    assert drive.by_link(booking, claims, {"reason": "Client request"})["appointment"][
        "status"] == "cancelled"
    with pytest.raises(errors.LinkAlreadyUsed):
        drive.by_link(booking, claims, {})
    with pytest.raises(links.LinkRefused):
        links.verify(token, "submit_feedback")
    assert booking.appointment("acme", uuid.UUID(a["id"])).used_links == [claims.jti]


def test_organisation_settings_are_validated_and_versioned(booking, manager):
    result = booking.update_organisation(manager, {"timezone": "Europe/Zurich",
                                                   "cancellation_reasons": ["Ill"]})
    assert result["organisation"]["timezone"] == "Europe/Zurich"
    with pytest.raises(Invalid):
        booking.update_organisation(manager, {"cancel_reason_required": True,
                                              "cancellation_reasons": []})
    with pytest.raises(Invalid):
        booking.update_organisation(manager, {"timezone": "Mars/Olympus"})
    with pytest.raises(errors.StaleVersion):
        booking.update_organisation(manager, {"name": "Acme"}, expected_version=1)


def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_body(booking):
    with idempotency.claim(booking.tables, "acme", "k-1", "fp-1", 201) as first:
        assert first.replay is None and first.pending is not None
        caller = Caller("acme", {"id": "a", "role": "manager"}, "c", first.pending)
        body = booking.register(caller, "client", {"name": "Eve", "email": "eve@example.com"})
    with idempotency.claim(booking.tables, "acme", "k-1", "fp-1", 201) as again:
        assert again.replay is not None and again.replay.body == body
    with pytest.raises(Invalid), idempotency.claim(booking.tables, "acme", "k-1", "fp-2", 201):
        pass
    assert len(booking.entries("acme", "client")) == 1


def test_cloud_events_carry_the_state_at_their_version_and_stable_ids(booking, agent, directory):
    a = request(booking, agent, directory)
    act(booking, agent, a, "confirm")
    notifications = booking.notifications(0, 100)
    first = to_messages(booking, notifications)
    again = to_messages(FreshView(booking), notifications)  # type: ignore[arg-type]
    assert [m[2].id for m in first] == [m[2].id for m in again]
    appointment_events = [(t, k, e) for t, k, e in first if e.type.startswith("appointment.")]
    assert [e.type for _, _, e in appointment_events] == [
        "appointment.requested.v1", "appointment.confirmed.v1"]
    (topic, key, requested), (_, _, confirmed) = appointment_events
    assert (topic, key, requested.subject, requested.orgid) == (
        kafka.APPOINTMENTS, a["id"], a["id"], "acme")
    assert requested.data["appointment"]["status"] == "requested"
    assert confirmed.data["appointment"]["status"] == "scheduled"
    assert confirmed.data["change"]["from_status"] == "requested"
    # The organisation is referred to by the version of its settings, never copied
    assert confirmed.data["change"]["organisation_version"] == booking.organisation("acme").version
    assert "organisation" not in confirmed.data["change"]
    assert confirmed.correlationid == "corr-2" and confirmed.aggregateversion == 2
    assert confirmed.position == notifications[-1].id
    directory_topics = {t for t, _, e in first if not e.type.startswith("appointment.")}
    assert directory_topics == {"directory.events"}


def test_an_appointment_event_stays_small_however_large_the_organisations_settings(
        booking, manager, agent, directory):
    # An organisation with a 505 kB address (issue 8: every appointment event was ~507 kB)
    booking.update_organisation(manager, {"address": "x" * 505_000})
    a = request(booking, agent, directory)
    act(booking, agent, a, "confirm")
    messages = to_messages(booking, booking.notifications(0, 100))
    sizes = {e.type: len(e.to_json()) for _, _, e in messages}
    # Its own event carries the address once; each appointment event stays a few kB
    assert sizes["organisation.settings_updated.v1"] > 505_000
    assert sizes["appointment.requested.v1"] < 4_000
    assert sizes["appointment.confirmed.v1"] < 4_000


class FreshView:
    """The same store seen through another object (no cached aggregates)."""

    def __init__(self, app: BookingApplication) -> None:
        self.mapper, self.repository = app.mapper, app.repository


def test_replaying_the_events_rebuilds_the_same_appointment(booking, agent, directory,
                                                           clock: FixedClock):
    a = request(booking, agent, directory)
    act(booking, agent, a, "confirm")
    act(booking, agent, a, "add_note", text="x")
    live = booking.appointment("acme", uuid.UUID(a["id"]))
    replayed = booking.repository.get(uuid.UUID(a["id"]))
    assert replayed == live and replayed.snapshot() == live.snapshot()
    earlier = booking.appointment("acme", uuid.UUID(a["id"]), version=1)
    assert earlier.status == "requested"


def test_local_workflow_knows_only_what_was_published():
    wf = LocalWorkflow()
    assert wf.definition("acme", "builtin", None) is lifecycle.BUILTIN
    with pytest.raises(errors.Conflict):
        wf.definition("acme", "nope", None)
    d = wf.publish("acme", CUSTOM)
    with pytest.raises(errors.Conflict):   # not visible to another organisation
        wf.definition("globex", d.id, 1)


def test_one_organisations_events_are_selected_in_the_store_itself(booking, manager):
    globex = Caller("globex", {"id": "g-1", "role": "manager"}, "corr-g")
    for n in range(3):  # the two organisations' events interleave in the store
        booking.register(manager, "client", {"name": f"Acme client {n}"})
        booking.register(globex, "client", {"name": f"Globex client {n}"})
    stored = to_messages(booking, booking.notifications(0, 100))
    theirs = [ce.position for _, _, ce in stored if ce.orgid == "globex"]
    page = booking.notifications(0, 2, "globex")
    rest = booking.notifications(page[-1].id, 100, "globex")
    assert [n.id for n in page] == theirs[:2] and [n.id for n in page + rest] == theirs
    # Every save names one organisation: events of two at once are refused
    with pytest.raises(ValueError, match="one organisation"):
        booking.save(booking.organisation("acme"), booking.organisation("globex"))
