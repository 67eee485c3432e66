"""Workflow's one wiring place: `Settings` in, `WorkflowParts` out.

The shape every service's bootstrap has:
- `Settings`: a frozen dataclass; `Settings.from_env(**overrides)` reads the environment
  (shared/config.py; overrides that are None are ignored); tests pass their own database URL.
- `wire(settings) -> WorkflowParts`: the wired parts (the application over its store, its
  tables made by the owner role).
- `parts(settings)`: the process-wide parts, one per database, built on first use (after
  gunicorn forked), never one per request; the entry points (http, relay) take theirs from it.
  `close()` closes them (tests, shutdown).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from services.workflow.application.app import WorkflowApplication
from shared import config, db


@dataclass(frozen=True)
class Settings:
    database_url: str                       # WORKFLOW_DATABASE_URL
    bootstrap_servers: str | None = None    # KAFKA_BOOTSTRAP_SERVERS; the API runs without

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings from the environment; overrides that are None are ignored."""
        return cls(**config.overridden(
            overrides, database_url=lambda: config.database_url("workflow"),
            bootstrap_servers=lambda: config.get("KAFKA_BOOTSTRAP_SERVERS")))

    def kafka_required(self) -> str:
        """The brokers, for the processes that cannot run without them (the relay)."""
        return config.required("KAFKA_BOOTSTRAP_SERVERS", self.bootstrap_servers)


@dataclass(frozen=True)
class WorkflowParts:
    settings: Settings
    application: WorkflowApplication


def wire(settings: Settings) -> WorkflowParts:
    url = settings.database_url
    owner = db.owner_url("workflow", url)
    # The library creates its tables in the constructor: as the owner role, whose
    # grants then leave the app role only SELECT and INSERT on the event table.
    with db.schema_lock(owner):
        created = WorkflowApplication.for_database(owner)
        table = created.recorder.events_table_name  # type: ignore[attr-defined]
        if owner == url:
            return WorkflowParts(settings, created)
        created.close()
    db.grant_append_only(owner, url, [table])
    return WorkflowParts(settings, WorkflowApplication.for_database(url, create_table=False))


_parts: dict[str, WorkflowParts] = {}  # by database URL
_lock = threading.Lock()


def parts(settings: Settings | None = None) -> WorkflowParts:
    """The process-wide parts of `settings`' database (default: from the environment)."""
    settings = settings or Settings.from_env()
    with _lock:
        if settings.database_url not in _parts:
            _parts[settings.database_url] = wire(settings)
        return _parts[settings.database_url]


def close(database_url: str | None = None) -> None:
    """Close the parts of `database_url` (all of them when None): tests, shutdown."""
    with _lock:
        for key in [k for k in _parts if database_url is None or k == database_url]:
            _parts.pop(key).application.close()
