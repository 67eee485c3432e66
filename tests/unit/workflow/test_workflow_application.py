"""Use cases and the CloudEvents adapter over an in-memory event store (POPO):
tenant scoping, idempotent create, transition checks, what the relay publishes."""
from __future__ import annotations

import pytest

from services.workflow.adapters.cloudevents import to_messages
from services.workflow.application import commands as c
from services.workflow.application.app import Actor, WorkflowApplication
from shared import kafka
from shared.errors import Conflict, Invalid, NotFound

STATUSES = [dict(key="received", name="Request received", position=10, kind="start"),
            dict(key="checked", name="Resources checked", position=20, kind="step"),
            dict(key="confirmed", name="Confirmed", position=30, kind="confirmation"),
            dict(key="declined", name="Declined", position=40, kind="cancellation")]
MIA = Actor("acme", "mia", "corr-1")


@pytest.fixture
def app() -> WorkflowApplication:
    return WorkflowApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def test_another_organisation_sees_nothing(app):
    workflow = app.create(MIA, c.Create("Flow", STATUSES))
    app.publish(MIA, str(workflow.id))
    intruder = Actor("globex", "eve")
    # The owner's checks cache the published version; that must not open it to others.
    assert app.check_transition("acme", str(workflow.id), 1, "received", "move",
                                "checked")["allowed"]
    assert app.workflows("globex") == []
    for attempt in (lambda: app.workflow("globex", str(workflow.id)),
                    lambda: app.definition("globex", str(workflow.id), 1),
                    lambda: app.replace_draft(intruder, str(workflow.id), c.ReplaceDraft([])),
                    lambda: app.publish(intruder, str(workflow.id))):
        with pytest.raises(NotFound):
            attempt()
    assert app.workflow("acme", str(workflow.id)).version == 2  # untouched


def test_a_published_version_is_served_unchanged_after_the_draft_moves_on(app):
    workflow = app.create(MIA, c.Create("Flow", STATUSES))
    app.publish(MIA, str(workflow.id))
    first = app.definition("acme", str(workflow.id), 1)
    app.replace_draft(MIA, str(workflow.id), c.ReplaceDraft(STATUSES[:1] + STATUSES[2:]))
    app.publish(MIA, str(workflow.id))
    assert app.definition("acme", str(workflow.id), 1) == first
    assert app.definition("acme", str(workflow.id), None).version == 2
    assert app.definition("acme", str(workflow.id), None).status("checked") is None


def test_a_retried_create_with_the_same_key_answers_the_first(app):
    first = app.create(MIA, c.Create("Flow", STATUSES), request_key="key-1")
    again = app.create(MIA, c.Create("Flow", STATUSES), request_key="key-1")
    other_org = app.create(Actor("globex", "eve"), c.Create("Flow", STATUSES), request_key="key-1")
    assert again.id == first.id != other_org.id
    assert [w.id for _, w in app.workflows("acme")] == [first.id]


def test_a_stale_version_is_a_conflict(app):
    workflow = app.create(MIA, c.Create("Flow", STATUSES))
    app.replace_draft(MIA, str(workflow.id), c.ReplaceDraft(STATUSES, "Flow 2"),
                      expected_version=1)
    with pytest.raises(Conflict) as stale:
        app.publish(MIA, str(workflow.id), expected_version=1)
    assert stale.value.extra["current_version"] == 2


def test_the_builtin_workflow_is_served_but_read_only(app):
    assert app.definition("acme", "builtin", None).version == 1
    with pytest.raises(NotFound):
        app.definition("acme", "builtin", 2)
    with pytest.raises(Conflict):
        app.publish(MIA, "builtin")


def test_transition_checks_answer_with_the_version_they_used(app):
    workflow = app.create(MIA, c.Create("Flow", STATUSES))
    wid = str(workflow.id)
    with pytest.raises(NotFound, match="no published version"):
        app.check_transition("acme", wid, None, "received", "move", "checked")
    app.publish(MIA, wid)
    app.replace_draft(MIA, wid, c.ReplaceDraft(STATUSES[:1] + STATUSES[2:]))  # drops "checked"
    assert app.check_transition("acme", wid, None, "received", "move", "checked") == {
        "allowed": True, "workflow": {"id": wid, "version": 1}, "to_status": "checked",
        "status_kind": "step",
        "allowed_actions": ["confirm", "accept_suggestion", "request_reschedule", "cancel",
                            "reject", "move"]}
    refused = app.check_transition("acme", wid, 1, "checked", "move", "received")
    assert (refused["allowed"], refused["to_status"]) == (False, "received")
    with pytest.raises(Invalid) as unknown:
        app.check_transition("acme", wid, 1, "requested", "confirm", None)
    assert list(unknown.value.extra["errors"]) == ["from_status"]


def test_the_relay_gets_one_cloudevent_per_workflow_event(app):
    workflow = app.create(MIA, c.Create("Flow", STATUSES))
    app.publish(MIA, str(workflow.id))
    app.replace_draft(MIA, str(workflow.id), c.ReplaceDraft(STATUSES, "Flow 2"))
    notifications = app.recorder.select_notifications(start=1, limit=100)
    messages = to_messages(app, notifications)
    assert [(t, k) for t, k, _ in messages] == [(kafka.WORKFLOWS, str(workflow.id))] * 3
    events = [e for _, _, e in messages]
    assert [e.type for e in events] == [
        "workflow.created.v1", "workflow.published.v1", "workflow.draft_replaced.v1"]
    assert [e.aggregateversion for e in events] == [1, 2, 3]
    assert {(e.orgid, e.source, e.correlationid) for e in events} == {
        ("acme", "workflow", "corr-1")}
    # Each carries the workflow as it was right after the event.
    assert [e.data["workflow"]["latest_version"] for e in events] == [None, 1, 1]
    assert [e.data["workflow"]["name"] for e in events] == ["Flow", "Flow", "Flow 2"]
    assert events[1].data["change"]["definition"]["version"] == 1
    # Republishing gives the same ids (consumers deduplicate by id).
    assert [e.id for _, _, e in to_messages(app, notifications)] == [e.id for e in events]
    assert len({e.id for e in events}) == 3
