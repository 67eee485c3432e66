"""Stored workflow events -> CloudEvents on `workflows.events`, keyed by workflow id.

Type `workflow.<snake_event>.v1`; `id` is uuid5(workflow id, aggregate version),
so a republished event keeps its id; `data` is {"change": ..., "workflow":
snapshot after the event, published versions included}. Catalogue events are
internal bookkeeping and are not published.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from uuid import uuid5

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from services.workflow.domain.workflow import Workflow
from shared.envelope import CloudEvent
from shared.kafka import WORKFLOWS

SOURCE = "workflow"


def event_type(event: Workflow.Event) -> str:
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()
    return f"workflow.{snake}.v1"


def change(event: Workflow.Event, workflow: Workflow) -> dict[str, Any]:
    body: dict[str, Any] = {"actor": {"id": getattr(event, "actor", None)}}
    version = getattr(event, "version", None)  # Published: the version it froze
    if version is not None:
        body.update(version=version, definition=workflow.definition(version).as_dict())
    else:  # Created, DraftReplaced: the draft as it now is
        body.update(name=getattr(event, "name", None), statuses=getattr(event, "statuses", []))
    return body


def to_messages(app: Application[Any],
                notifications: Sequence[Notification]) -> list[tuple[str, str, CloudEvent]]:
    out = []
    for notification in notifications:
        event = app.mapper.to_domain_event(notification)
        if not isinstance(event, Workflow.Event):
            continue
        workflow: Workflow = app.repository.get(event.originator_id,
                                                version=event.originator_version)
        subject = str(event.originator_id)
        out.append((WORKFLOWS, subject, CloudEvent(
            id=str(uuid5(event.originator_id, str(event.originator_version))),
            source=SOURCE, type=event_type(event), subject=subject,
            time=event.timestamp.isoformat(), orgid=workflow.organisation_id,
            aggregateversion=event.originator_version, position=notification.id,
            correlationid=getattr(event, "correlation_id", "") or "",
            data={"change": change(event, workflow), "workflow": workflow.snapshot()})))
    return out
