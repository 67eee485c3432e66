"""A manager drafts a workflow, publishes it, and keeps editing the draft:
published versions never change. Pure domain, no I/O."""
from __future__ import annotations

import pytest

from services.workflow.domain.workflow import NotPublishable, VersionNotFound, Workflow
from shared.domain import lifecycle
from tests.present import present

FIVE_STEPS = [
    dict(key="received", name="Request received", position=10, kind="start", colour="#fdd835"),
    dict(key="consultation", name="Consultation with management", position=20, kind="step"),
    dict(key="approved", name="Approved by management", position=30, kind="step"),
    dict(key="resources_checked", name="Resources checked", position=40, kind="step"),
    dict(key="confirmed", name="Confirmed", position=50, kind="confirmation"),
    dict(key="declined", name="Declined", position=60, kind="cancellation",
         description="a requirement was not met"),
]


def define(statuses: list[dict] | None = None) -> Workflow:
    return Workflow.define("acme", "Consultation flow", statuses or FIVE_STEPS, actor="mia")


def test_a_new_workflow_is_a_draft_with_nothing_published():
    workflow = define()
    assert [s["key"] for s in workflow.draft] == [s["key"] for s in FIVE_STEPS]
    assert workflow.draft[1] == dict(key="consultation", name="Consultation with management",
                                     description="", position=20, kind="step", colour="#9e9e9e")
    assert workflow.latest_version is None
    with pytest.raises(VersionNotFound):
        workflow.definition()


def test_publishing_freezes_the_draft_as_version_one_with_the_builtin_tail():
    workflow = define()
    assert workflow.publish(actor="mia") == (1, True)
    definition = workflow.definition(1)
    assert (definition.id, definition.version, definition.organisation_id) == \
        (str(workflow.id), 1, "acme")
    assert definition.start.key == "received" and definition.confirmation.key == "confirmed"
    keys = [s["key"] for s in definition.as_dict()["statuses"]]
    assert keys[:6] == [s["key"] for s in FIVE_STEPS]
    assert keys[6:] == [s.key for s in lifecycle.TAIL]
    assert workflow.definition() == definition  # None means the latest


def test_a_published_version_never_changes_when_the_draft_is_edited():
    workflow = define()
    workflow.publish(actor="mia")
    frozen = workflow.definition(1).as_dict()
    # The manager renames, drops a step and re-colours the start status.
    edited = [dict(s) for s in FIVE_STEPS if s["key"] != "approved"]
    edited[0]["colour"] = "#000000"
    workflow.replace_draft("Renamed", edited, actor="mia")
    assert workflow.definition(1).as_dict() == frozen
    assert workflow.name == "Renamed"
    # Publishing the edit makes version 2; version 1 is still the old one.
    assert workflow.publish(actor="mia") == (2, True)
    assert workflow.definition(1).as_dict() == frozen
    v2 = workflow.definition(2)
    assert v2.name == "Renamed" and v2.status("approved") is None
    assert present(v2.status("received")).colour == "#000000"


def test_mutating_the_callers_lists_changes_nothing_inside():
    statuses = [dict(s) for s in FIVE_STEPS]
    workflow = define(statuses)
    workflow.publish(actor="mia")
    statuses[0]["name"] = "Hacked"
    workflow.draft[0]["name"] = "Edited in place"
    assert present(workflow.definition(1).status("received")).name == "Request received"


def test_publishing_an_unchanged_draft_records_nothing():
    workflow = define()
    workflow.publish(actor="mia")
    pending = len(workflow.collect_events())
    assert pending == 2  # Created, Published
    assert workflow.publish(actor="mia") == (1, False)
    assert workflow.collect_events() == []


def test_events_rebuild_the_same_workflow():
    workflow = define()
    workflow.publish(actor="mia")
    workflow.replace_draft(None, FIVE_STEPS[:1], actor="ben")
    events = workflow.collect_events()
    rebuilt = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    assert rebuilt is not None and rebuilt.snapshot() == workflow.snapshot()
    assert [type(e).__name__ for e in events] == ["Created", "Published", "DraftReplaced"]


@pytest.mark.parametrize("change, reason", [
    (lambda ss: [s for s in ss if s["kind"] != "start"],
     "exactly one status must be of kind start"),
    (lambda ss: ss + [dict(ss[0], key="second_start", position=5)],
     "exactly one status must be of kind start"),
    (lambda ss: [s for s in ss if s["kind"] != "confirmation"],
     "at least one status must be of kind confirmation"),
    (lambda ss: [s for s in ss if s["kind"] != "cancellation"],
     "at least one status must be of kind cancellation"),
    (lambda ss: ss + [dict(ss[1], position=25)], "status keys must be unique"),
    (lambda ss: ss + [dict(ss[1], key="attended", position=25)], "reserved for the built-in tail"),
    (lambda ss: ss + [dict(ss[1], key="early", position=1)], "the start status must come first"),
    (lambda ss: ss + [dict(ss[1], key="twin")], "positions must be unique"),
])
def test_a_broken_draft_cannot_be_published_and_each_reason_is_named(change, reason):
    workflow = define(change([dict(s) for s in FIVE_STEPS]))
    with pytest.raises(NotPublishable) as refused:
        workflow.publish(actor="mia")
    assert any(reason in r for r in refused.value.reasons), refused.value.reasons
    assert refused.value.extra["errors"]["statuses"] == refused.value.reasons
    assert workflow.versions == [] and len(workflow.collect_events()) == 1  # Created only


def test_an_unknown_version_is_not_found():
    workflow = define()
    workflow.publish(actor="mia")
    for version in (0, 2, -1):
        with pytest.raises(VersionNotFound):
            workflow.definition(version)
