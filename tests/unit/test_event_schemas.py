"""Every event the services really produce matches its JSON Schema (docs/schemas/).

Booking is driven in memory through every appointment action and every
directory change; the stored events become CloudEvents exactly as the relay
publishes them (services.booking.adapters.cloudevents.to_messages) and each is
validated with shared.schemas.validate. A new appointment event type fails here
until the schema's enum of types (and this scenario) covers it.
"""
from __future__ import annotations

import ast
import copy
import inspect
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import tests.booking_commands as drive
from services.booking import bootstrap
from services.booking.adapters.cloudevents import snake, to_messages
from services.booking.application import commands as c
from services.booking.application.app import BookingApplication, Caller
from services.booking.domain.appointment import DETAIL_ACTION_NAMES, Appointment
from services.booking.domain.directory import KINDS, DirectoryEntry
from services.booking.domain.organisation import Organisation
from services.workflow.adapters.cloudevents import to_messages as workflow_messages
from services.workflow.application import commands as wc
from services.workflow.application.app import Actor, WorkflowApplication
from shared import links, schemas
from shared.domain import lifecycle
from shared.schemas import SchemaError, validate
from tests.doubles.booking import FixedClock, LocalWorkflow

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)          # Friday
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
CUSTOM = [
    {"key": "received", "name": "Request received", "kind": "start", "position": 10},
    {"key": "management", "name": "Consultation with management", "kind": "step", "position": 20},
    {"key": "approved", "name": "Approved by management", "kind": "step", "position": 30},
    {"key": "confirmed", "name": "Confirmed", "kind": "confirmation", "position": 40},
    {"key": "declined", "name": "Declined", "kind": "cancellation", "position": 50},
]


def slot(hour: int, minutes: int = 30) -> dict[str, datetime]:
    start = MONDAY + timedelta(hours=hour)
    return {"start": start, "end": start + timedelta(minutes=minutes)}


def declared_events(aggregate: type) -> list[str]:
    """Events declared in the aggregate's class body: classes triggered in its module
    (`cls.Requested`, ...; base classes left out) and methods decorated with
    `@event("Confirmed")`, which declare the event they trigger."""
    source = inspect.getsource(inspect.getmodule(aggregate))  # type: ignore[arg-type]
    body = next(n for n in ast.walk(ast.parse(source))
                if isinstance(n, ast.ClassDef) and n.name == aggregate.__name__).body
    triggered = set(re.findall(r"\b(?:self|cls)\.([A-Z]\w*)\b", source))
    classes = [n.name for n in body if isinstance(n, ast.ClassDef) and n.name in triggered]
    decorated = [str(d.args[0].value) for n in body if isinstance(n, ast.FunctionDef)
                 for d in n.decorator_list if isinstance(d, ast.Call)
                 and isinstance(d.func, ast.Name) and d.func.id == "event"
                 and d.args and isinstance(d.args[0], ast.Constant)]
    return classes + decorated


APPOINTMENT_TYPES = {f"appointment.{snake(n)}.v1" for n in declared_events(Appointment)}
ORGANISATION_TYPES = {f"organisation.{snake(n)}.v1" for n in declared_events(Organisation)}
DIRECTORY_TYPES = {f"{kind}.{snake(n)}.v1" for kind, entry in KINDS.items()
                   for n in declared_events(DirectoryEntry) + declared_events(entry)}


def drive_booking() -> list[dict[str, Any]]:
    """Every appointment action and directory change; the published CloudEvents as dicts."""
    clock, workflow = FixedClock(NOW), LocalWorkflow()
    app: BookingApplication = bootstrap.wire(bootstrap.Settings(
        memory=True, clock=clock, workflow=workflow)).application
    manager = Caller("acme", {"id": "mgr-1", "role": "manager"}, "corr-manager")
    agent = Caller("acme", {"id": "agent-7", "role": "agent"}, "corr-agent")

    def add(entry: str, **fields: Any) -> uuid.UUID:
        return uuid.UUID(app.register(manager, entry, fields)[entry]["id"])

    def act(a: dict[str, Any], action: str, **params: Any) -> dict[str, Any]:
        return drive.act(app, agent, uuid.UUID(a["id"]), action, params)["appointment"]

    def by_link(a: dict[str, Any], action: str, **params: Any) -> dict[str, Any]:
        claims = links.verify(links.sign(a["id"], action), action)
        return drive.by_link(app, claims, params, correlation_id="corr-link")["appointment"]

    try:
        # -- the directory: organisation created on first use, then every change kind
        app.update_organisation(manager, {"name": "Acme Clinic", "email": "desk@acme.example",
                                          "phone": "+41440000000", "address": "1 High St",
                                          "channels": {"sms": False}})
        service = add("service", name="Consultation", duration_minutes=30)
        automatic = add("service", name="Quick check", duration_minutes=15,
                        confirmation_mode="automatic")
        who = add("resource", name="Dr Who", kind="agent", email="who@acme.example",
                  phone="+41440000001")
        watson = add("resource", name="Dr Watson", kind="agent")
        location = add("resource", name="Main branch", kind="location", address="1 High St")
        add("resource", name="X-ray", kind="equipment")
        ada = add("client", name="Ada Lovelace", email="ada@example.com", phone="+441234567890")
        app.update_entry(manager, "service", service, {"duration_minutes": 30,
                                                       "name": "Consultation (30)"})
        app.update_entry(manager, "resource", watson,
                         {"working_hours": {d: [["08:00", "18:00"]]
                                            for d in ("mon", "tue", "wed", "thu", "fri")}})
        app.update_entry(manager, "client", ada, {"phone": "+441234567899"})
        d = workflow.publish("acme", CUSTOM, name="Management approval")
        custom = add("service", name="Loan", workflow_id=d.id)

        # -- a widget request for a window, tentative client: the whole lifecycle
        a = app.request(agent, c.Request(
            service_id=service, source="widget",
            tentative_client=c.TentativeClient("Ada", email="ada@example.com"),
            window={"date": MONDAY.date(), "part_of_day": "morning"},
            questionnaire={"first_visit": True}, metadata={"utm": "newsletter"}))["appointment"]
        act(a, "link_client", client_id=ada)
        act(a, "confirm", slot=slot(9), agent_id=who, message="See you Monday")
        act(a, "request_reschedule", message="Dr Who is ill")
        by_link(a, "propose_time", slot=slot(14))
        act(a, "accept_suggestion")
        act(a, "reassign", agent_id=watson, message="Dr Watson will see you")
        act(a, "add_note", text="bring the x-rays")
        note_id = next(iter(app.appointment("acme", uuid.UUID(a["id"])).notes))
        act(a, "edit_note", note_id=note_id, text="bring the x-rays, both")
        act(a, "update_details", resource_ids=[location], questionnaire={"first_visit": False},
            metadata={"room": 3}, service_id=service)
        act(a, "reschedule", slot=slot(15), message="one hour later")

        # -- automatic confirmation (api), then no-show and reopen
        auto = app.request(agent, c.Request(service_id=automatic, client_id=ada, slot=slot(11, 15),
                                            agent_id=who, source="api"))["appointment"]
        assert auto["status_kind"] == "confirmation"

        # -- create for a known client with a chosen status and a note; cancelled by link
        created = app.create_for_client(agent, c.CreateForClient(
            service_id=service, client_id=ada, slot=slot(16), agent_id=who,
            resource_ids=[location], status="scheduled", note="VIP"))["appointment"]
        by_link(created, "cancel", reason="Client request")

        # -- a phone request, tentative client saved to the directory, then rejected
        phoned = app.request(agent, c.Request(
            service_id=service, source="phone", slot=slot(10),
            tentative_client=c.TentativeClient("Bob", phone="+41791234567")))["appointment"]
        app.save_tentative_client(agent, uuid.UUID(phoned["id"]))
        act(phoned, "reject", reason="Fully booked", message="Sorry")

        # -- cancelled by the organisation
        cancelled = app.request(agent, c.Request(service_id=service, client_id=ada, source="agent",
                                                 slot=slot(12)))["appointment"]
        act(cancelled, "cancel", reason="Organisation unavailable", message="Closed that day")

        # -- a custom workflow: move forward, then to confirmation
        loan = app.request(agent, c.Request(service_id=custom, client_id=ada, source="agent",
                                            slot=slot(13), agent_id=who))["appointment"]
        act(loan, "move", status="approved")
        act(loan, "move", status="confirmed")

        # -- a request for an exact slot holds the agent's time; nobody confirms it
        held = app.request(agent, c.Request(service_id=service, client_id=ada, source="widget",
                                            slot=slot(8), agent_id=watson))["appointment"]
        assert held["hold_until"]

        # -- after the visits
        clock.set(MONDAY + timedelta(hours=17))
        system = Caller("acme", {"id": "system", "role": "system"}, "timer:hold")
        app.expire_hold(system, uuid.UUID(held["id"]), reason="automatic")
        act(a, "attend", time_taken_minutes=25, completion_reason="done", remark="fine")
        act(a, "request_feedback", message="How was it?")
        by_link(a, "submit_feedback", rating=4, comment="kind")
        act(auto, "no_show")
        act(auto, "reopen", message="she came after all")
        act(auto, "attend")

        # -- a client erased: every event of theirs reads as erased from now on
        bob = app.appointment("acme", uuid.UUID(phoned["id"])).client["id"]
        app.erase_client(manager, uuid.UUID(bob))

        notifications = app.recorder.select_notifications(start=1, limit=10000)
        return [json.loads(ce.to_json()) for _, _, ce in to_messages(app, notifications)]
    finally:
        app.close()


def drive_workflow() -> list[dict[str, Any]]:
    """Create, redraft and publish a workflow in memory; the published CloudEvents."""
    app = WorkflowApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        actor = Actor("acme", "mia", "corr-wf")
        w = app.create(actor, wc.Create("Approval", CUSTOM))
        app.replace_draft(actor, str(w.id), wc.ReplaceDraft(CUSTOM[:1] + CUSTOM[3:], "Approval 2"))
        app.publish(actor, str(w.id))
        app.replace_draft(actor, str(w.id), wc.ReplaceDraft(CUSTOM))
        app.publish(actor, str(w.id))
        notifications = app.recorder.select_notifications(start=1, limit=10000)
        return [json.loads(ce.to_json()) for _, _, ce in workflow_messages(app, notifications)]
    finally:
        app.close()


@pytest.fixture(scope="module")
def booking_events() -> list[dict[str, Any]]:
    return drive_booking()


@pytest.fixture(scope="module")
def workflow_events() -> list[dict[str, Any]]:
    return drive_workflow()


def by_type(events: list[dict[str, Any]], event_type: str) -> dict[str, Any]:
    return copy.deepcopy(next(e for e in events if e["type"] == event_type))


# -- what the code produces matches the schemas ----------------------------------------------

def test_every_booking_event_matches_its_schema(booking_events):
    problems = []
    for e in booking_events:
        try:
            validate(e)
        except SchemaError as err:
            problems.append(str(err))
    assert not problems, "\n".join(problems)


def test_every_appointment_and_directory_event_type_is_produced_and_covered(booking_events):
    produced = {e["type"] for e in booking_events}
    assert produced >= APPOINTMENT_TYPES, f"not driven: {sorted(APPOINTMENT_TYPES - produced)}"
    assert produced >= ORGANISATION_TYPES | DIRECTORY_TYPES
    # and each schema names exactly the types the code defines
    for family, types in [("appointment", APPOINTMENT_TYPES),
                          ("organisation", ORGANISATION_TYPES)] + [
            (kind, {t for t in DIRECTORY_TYPES if t.startswith(kind + ".")}) for kind in KINDS]:
        assert set(declared_types(family)) == types, family


def test_the_scenario_reaches_every_action_both_kinds_of_actor_and_every_source(booking_events):
    appointment_events = [e for e in booking_events if e["type"].startswith("appointment.")]
    actions = {e["data"]["change"]["action"] for e in appointment_events}
    assert actions == set(lifecycle.ACTIONS) | set(DETAIL_ACTION_NAMES.values())
    roles = {e["data"]["change"]["actor"]["role"] for e in appointment_events}
    assert {"agent", "client"} <= roles
    sources = {e["data"]["appointment"]["source"] for e in appointment_events}
    assert sources == {"widget", "phone", "agent", "api"}


def test_workflow_events_match_their_schema(workflow_events):
    assert {e["type"] for e in workflow_events} == set(declared_types("workflow"))
    for e in workflow_events:
        validate(e)


def test_notification_events_match_their_schema():
    from datetime import datetime, timezone

    from services.notifier.adapters.ledger_rows import delivery_event

    now = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
    row = {"id": 7, "event_id": "5f0c5b8e-1d2a-5c8e-9a41-0b7e6c2f9d10",
           "event_type": "appointment.confirmed.v1",
           "appointment_id": "0d6f7c1e-4b7a-4e43-9a52-3f1c2d4e5a6b", "organisation_id": "acme", "version": 3,
           "correlation_id": "c0ffee", "channel": "email", "recipient_kind": "client",
           "address": "ada@example.com", "template": "client/confirmed", "subject": "Confirmed",
           "attempts": 1, "last_error": None, "next_attempt_at": None,
           "provider_message_id": "sg-1", "created_at": now, "updated_at": now, "sent_at": now,
           "kind": "event", "due_at": None}
    reminder = {**row, "kind": "reminder", "due_at": now, "template": "client/reminder",
                "event_id": "9d3c1f2a-6b7e-5c4d-8e9f-0a1b2c3d4e5f",
                "event_type": "appointment.reminder_due.v1"}
    kinds = ["pending", "sending", "sent", "failed", "skipped", "suppressed", "dead_lettered"]
    for kind in kinds:
        state = "failed" if kind == "dead_lettered" else kind
        reason = "HTTP 400: bad address" if kind == "dead_lettered" else None
        for r in (row, reminder):
            event = delivery_event({**r, "state": state}, kind, reason) | {"position": 11}
            validate(event)  # the publisher adds the outbox row id as `position`
    assert {f"notification.{k}.v1" for k in kinds} == set(declared_types("notification"))


# -- the schemas refuse what breaks the contract ---------------------------------------------

def test_a_snapshot_without_status_is_refused_naming_the_field(booking_events):
    e = by_type(booking_events, "appointment.confirmed.v1")
    del e["data"]["appointment"]["status"]
    with pytest.raises(SchemaError, match=r"data\.appointment.*'status' is a required property"):
        validate(e)


def test_an_unknown_status_kind_is_refused_naming_the_field(booking_events):
    e = by_type(booking_events, "appointment.confirmed.v1")
    e["data"]["appointment"]["status_kind"] = "limbo"
    with pytest.raises(SchemaError, match=r"data\.appointment\.status_kind") as refused:
        validate(e)
    assert refused.value.path == "data.appointment.status_kind"


@pytest.mark.parametrize("breakage", [
    pytest.param(lambda e: e.pop("orgid"), id="no-orgid"),
    pytest.param(lambda e: e.update(aggregateversion=0), id="version-0"),
    pytest.param(lambda e: e.update(type="appointment.teleported.v1"), id="unknown-type"),
    pytest.param(lambda e: e["data"]["change"].pop("actor"), id="no-actor"),
    pytest.param(lambda e: e["data"]["change"]["actor"].update(role="robot"), id="bad-role"),
    pytest.param(lambda e: e["data"]["appointment"].update(source="fax"), id="bad-source"),
    pytest.param(lambda e: e["data"]["appointment"]["slot"].pop("end"), id="half-slot"),
    pytest.param(lambda e: e["data"]["appointment"].update(notes={}), id="notes-leak"),
    pytest.param(lambda e: e.update(type="appointment.rescheduled.v1"), id="type-vs-action"),
    pytest.param(lambda e: e["data"]["appointment"]["client"].update(tentative=True),
                 id="tentative-client-with-id"),
    pytest.param(lambda e: e["data"]["change"].update(
        organisation={**STORED_ORGANISATION, "rejection_reasons": []}),
                 id="internal-setting-in-change-organisation"),
    pytest.param(lambda e: e["data"]["change"].pop("organisation_version"),
                 id="no-organisation-version"),
    pytest.param(lambda e: e["data"]["change"].update(organisation_version=0),
                 id="organisation-version-0"),
    pytest.param(lambda e: e["data"]["change"].update(from_status=None), id="confirm-from-null"),
])
def test_other_breakages_are_refused(booking_events, breakage):
    e = by_type(booking_events, "appointment.confirmed.v1")
    breakage(e)
    with pytest.raises(SchemaError):
        validate(e)


# What events stored before `organisation_version` carried in change.organisation
STORED_ORGANISATION: dict[str, Any] = {
    "id": "acme", "name": "Acme Clinic", "timezone": "UTC", "email": None, "phone": None,
    "address": None, "channels": {"email": True, "sms": True}, "retention_days": 365,
    "parts_of_day": {"morning": ["09:00", "12:00"]}}


def test_an_event_stored_with_the_organisations_settings_still_matches(booking_events):
    e = by_type(booking_events, "appointment.confirmed.v1")
    del e["data"]["change"]["organisation_version"]
    e["data"]["change"]["organisation"] = copy.deepcopy(STORED_ORGANISATION)
    validate(e)


def test_an_unknown_family_is_refused():
    with pytest.raises(SchemaError, match="no schema"):
        validate({"type": "invoice.paid.v1"})


def declared_types(family: str) -> list[str]:
    """The `type` enum a family's schema declares."""
    doc = json.loads((schemas.SCHEMA_DIR / f"{family}.v1.json").read_text())
    return list(doc["properties"]["type"]["enum"])

