"""Workflow's stored events carry domain names, and a store of an earlier release replays.

tests/fixtures/workflow_store_a02f93f.json is the store the scenario of
tests/unit/test_event_schemas.py wrote on release a02f93f (class-path topics), beside
the CloudEvents that release published from it.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import eventsourcing.utils
import pytest
from eventsourcing.persistence import StoredEvent

from services.workflow.adapters.cloudevents import to_messages
from services.workflow.application import commands as c
from services.workflow.application.app import Actor, WorkflowApplication
from services.workflow.domain import catalogue, workflow
from services.workflow.domain.catalogue import Catalogue
from services.workflow.domain.workflow import Workflow
from shared.event_names import event_classes, name_events

FIXTURE = Path(__file__).parents[2] / "fixtures" / "workflow_store_a02f93f.json"
STATUSES = [{"key": "received", "name": "Received", "kind": "start", "position": 10},
            {"key": "confirmed", "name": "Confirmed", "kind": "confirmation", "position": 20},
            {"key": "declined", "name": "Declined", "kind": "cancellation", "position": 30}]


@pytest.fixture
def app() -> Iterator[WorkflowApplication]:
    application = WorkflowApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


@pytest.fixture
def old_store() -> dict[str, Any]:
    return dict(json.loads(FIXTURE.read_text()))


def load(app: WorkflowApplication, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        app.recorder.insert_events([StoredEvent(
            originator_id=uuid.UUID(row["originator_id"]),
            originator_version=row["originator_version"], topic=row["topic"],
            state=row["state"].encode())])


def published(app: WorkflowApplication) -> list[dict[str, Any]]:
    notifications = app.recorder.select_notifications(start=1, limit=1000)
    return [json.loads(ce.to_json()) for _, _, ce in to_messages(app, notifications)]


def test_new_events_are_stored_under_domain_names(app):
    w = app.create(Actor("acme", "mia"), c.Create("Approval", STATUSES))
    app.publish(Actor("acme", "mia"), str(w.id))
    topics = [n.topic for n in app.recorder.select_notifications(start=1, limit=100)]
    assert topics == ["workflow.Created", "workflow_catalogue.Created",
                      "workflow_catalogue.WorkflowAdded", "workflow.Published"]


def test_the_old_store_replays_to_the_cloudevents_it_was_published_as(app, old_store):
    assert all(":" in row["topic"] for row in old_store["events"])
    load(app, old_store["events"])
    assert published(app) == old_store["cloudevents"]


def test_after_the_classes_moved_the_old_store_still_replays(app, old_store, monkeypatch):
    # Given a fresh process where the names are registered as importing the modules does
    monkeypatch.setattr(eventsourcing.utils, "_topic_cache", {})
    name_events(Workflow, "workflow", formerly="services.workflow.domain.workflow:Workflow")
    name_events(Catalogue, "workflow_catalogue",
                formerly="services.workflow.domain.catalogue:Catalogue")
    # When every class is gone from its old path (as if renamed)
    for module, aggregate in [(workflow, Workflow), (catalogue, Catalogue)]:
        for event_class in event_classes(aggregate):
            monkeypatch.delattr(aggregate, event_class.__name__)
        monkeypatch.delattr(module, aggregate.__name__)
    # Then the old store still gives the same CloudEvents
    load(app, old_store["events"])
    assert published(app) == old_store["cloudevents"]
