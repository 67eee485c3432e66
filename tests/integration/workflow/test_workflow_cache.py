"""Workflow keeps its aggregates between calls (the library's cache, fast-forwarded on
every read): a version published by another process is the latest at once, and what
a check reads in place is never what a command changes."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from services.workflow.application import commands as c
from services.workflow.application.app import Actor, WorkflowApplication
from shared.errors import Conflict, Invalid

ORG = "acme"
MANAGER = Actor(ORG, "manager-1")
STATUSES = [
    {"key": "received", "name": "Received", "kind": "start", "position": 10},
    {"key": "confirmed", "name": "Confirmed", "kind": "confirmation", "position": 30},
    {"key": "declined", "name": "Declined", "kind": "cancellation", "position": 40},
]
WITH_A_STEP = [*STATUSES, {"key": "checked", "name": "Checked", "kind": "step", "position": 20}]


@pytest.fixture
def two_processes(fresh_db: str) -> Iterator[tuple[WorkflowApplication, WorkflowApplication]]:
    """Two workflow applications on one event store, as two gunicorn workers are."""
    first = WorkflowApplication.for_database(fresh_db)
    second = WorkflowApplication.for_database(fresh_db, create_table=False)
    yield first, second
    first.close()
    second.close()


def latest(app: WorkflowApplication, workflow_id: str) -> dict[str, Any]:
    """What a new request's check answers: the latest version and its first status."""
    return app.check_transition(ORG, workflow_id, None, None, "request", None)


def test_a_version_published_in_another_process_is_the_latest_at_once(two_processes):
    first, second = two_processes
    wid = str(first.create(MANAGER, c.Create("Loans", STATUSES)).id)
    first.publish(MANAGER, wid)
    # The second process has read (and keeps) version 1
    assert latest(second, wid)["workflow"] == {"id": wid, "version": 1}
    with pytest.raises(Invalid, match="not a status"):
        second.check_transition(ORG, wid, None, "received", "move", "checked")
    # When the first publishes version 2 with a step
    first.replace_draft(MANAGER, wid, c.ReplaceDraft(WITH_A_STEP))
    first.publish(MANAGER, wid)
    # Then the second answers with version 2 at once, its new status included
    assert latest(second, wid)["workflow"] == {"id": wid, "version": 2}
    answer = second.check_transition(ORG, wid, None, "received", "move", "checked")
    assert answer["allowed"] and answer["workflow"] == {"id": wid, "version": 2}
    # ... and version 1 still answers as it did
    with pytest.raises(Invalid, match="not a status"):
        second.check_transition(ORG, wid, 1, "received", "move", "checked")
    assert second.workflow(ORG, wid).latest_version == 2


def test_a_command_that_fails_to_save_leaves_nothing_in_the_kept_workflow(two_processes):
    first, second = two_processes
    wid = str(first.create(MANAGER, c.Create("Loans", STATUSES)).id)
    first.publish(MANAGER, wid)
    assert latest(first, wid)["workflow"]["version"] == 1   # kept in the first process
    save = first.save

    def save_after_the_other_process(*args: Any, **kwargs: Any) -> Any:
        second.replace_draft(MANAGER, wid, c.ReplaceDraft(WITH_A_STEP, name="Elsewhere"))
        return save(*args, **kwargs)

    # When the second process saves between the first's read and its save
    first.save = save_after_the_other_process  # type: ignore[method-assign]
    with pytest.raises(Conflict):
        first.replace_draft(MANAGER, wid, c.ReplaceDraft(STATUSES, name="Mine"))
    first.save = save  # type: ignore[method-assign]
    # Then the first process changed a copy: what it reads and publishes is what is stored
    assert first.workflow(ORG, wid).name == "Elsewhere"
    first.publish(MANAGER, wid)
    answer = first.check_transition(ORG, wid, None, "received", "move", "checked")
    assert answer["allowed"] and answer["workflow"] == {"id": wid, "version": 2}
    assert second.definition(ORG, wid, 2).name == "Elsewhere"
