"""Booking's dependencies in memory: a clock the test moves, and the workflow
authority applying shared.domain.lifecycle in-process (no network)."""
from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.booking.application.workflow_client import Verdict, WorkflowNotFound, local_verdict
from shared.domain import lifecycle
from shared.domain.lifecycle import Definition


class FixedClock:
    """A clock that stands still until told to move."""

    def __init__(self, now: datetime) -> None:
        self._now = now.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, now: datetime) -> None:
        with self._lock:
            self._now = now.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta


class LocalWorkflow:
    """An in-process authority: published definitions plus shared.domain.lifecycle."""

    def __init__(self) -> None:
        self._published: dict[tuple[str, str], dict[int, Definition]] = {}

    def publish(self, organisation_id: str, statuses: list[dict[str, Any]],
                workflow_id: str | None = None, name: str = "Custom") -> Definition:
        problems = lifecycle.validate_custom(statuses)
        if problems:
            raise ValueError("; ".join(problems))
        workflow_id = workflow_id or str(uuid.uuid4())
        versions = self._published.setdefault((organisation_id, workflow_id), {})
        d = Definition.from_dict({"id": workflow_id, "version": len(versions) + 1, "name": name,
                                  "statuses": statuses, "organisation_id": organisation_id})
        versions[d.version] = d
        return d

    def definition(self, organisation_id: str, workflow_id: str, version: int | None,
                   action: str = "request") -> Definition:
        if workflow_id == lifecycle.BUILTIN_ID and version in (None, 1):
            return lifecycle.BUILTIN
        versions = self._published.get((organisation_id, workflow_id), {})
        chosen = version if version is not None else max(versions, default=None)
        if chosen not in versions:
            raise WorkflowNotFound(workflow_id, version)
        return versions[chosen]

    def validate(self, organisation_id: str, definition: Definition, from_status: str | None,
                 action: str, to_status: str) -> Verdict:
        return local_verdict(definition, from_status, action, to_status)
