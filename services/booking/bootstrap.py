"""Booking's one wiring place: `Settings` in, `BookingParts` out.

The shape every service's bootstrap has:
- `Settings`: a frozen dataclass of what the processes need. `Settings.from_env(**overrides)`
  reads the environment (shared/config.py; overrides that are None are ignored); tests make
  their own, with their database URL, clock and workflow authority (or `memory=True`).
- `wire(settings) -> BookingParts`: the wired parts (the application over its store).
- `parts()`: the process-wide parts from the environment, built on first use (after gunicorn
  forked); the entry points (http, relay, timers) take theirs from it.
Platform settings read by shared/ itself (JWT_SECRET, RATE_LIMIT_*, LOG_LEVEL, the owner URL of
`db.owner_url`, the audit keys of audit/keys.py) stay with their readers.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from services.booking.adapters import keys, memory_store, pg_store
from services.booking.application.app import BookingApplication
from services.booking.application.clock import Clock, SystemClock
from services.booking.application.workflow_client import HttpWorkflowClient, WorkflowPort
from shared import config, db


@dataclass(frozen=True)
class Settings:
    database_url: str = ""                  # BOOKING_DATABASE_URL; unused when memory
    bootstrap_servers: str | None = None    # KAFKA_BOOTSTRAP_SERVERS; the API runs without
    workflow_url: str = field(default_factory=lambda: config.require("WORKFLOW_URL"))
    checkpoint_interval: float = field(   # seconds between signed audit checkpoints (relay)
        default_factory=lambda: float(config.require("AUDIT_CHECKPOINT_INTERVAL")))
    timers_interval: float = field(       # seconds between two rounds of the timer worker
        default_factory=lambda: float(config.require("BOOKING_TIMERS_INTERVAL_SECONDS")))
    clock: Clock = field(default_factory=SystemClock)
    workflow: WorkflowPort | None = None    # None: the workflow service at workflow_url
    memory: bool = False                    # the in-memory store (unit tests)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings from the environment; overrides that are None are ignored."""
        in_memory = bool(overrides.get("memory"))
        return cls(**config.overridden(
            overrides,
            database_url=lambda: "" if in_memory else config.database_url("booking"),
            bootstrap_servers=lambda: config.get("KAFKA_BOOTSTRAP_SERVERS")))

    def kafka_required(self) -> str:
        """The brokers, for the processes that cannot run without them (the relay)."""
        return config.required("KAFKA_BOOTSTRAP_SERVERS", self.bootstrap_servers)


@dataclass(frozen=True)
class BookingParts:
    settings: Settings
    application: BookingApplication


def wire(settings: Settings) -> BookingParts:
    workflow = settings.workflow or HttpWorkflowClient(settings.workflow_url)
    if settings.memory:
        env = {"PERSISTENCE_MODULE": memory_store.FACTORY_TOPIC}
        return BookingParts(settings, BookingApplication(env, workflow=workflow,
                                                         clock=settings.clock))
    url = settings.database_url
    if not url:
        raise RuntimeError("booking needs a database_url (or memory=True)")
    owner = db.owner_url("booking", url)
    prepare(owner, url)
    env = _env(url)
    if owner != url:  # the owner made the tables; the app role could not
        env["CREATE_TABLE"] = "n"
    return BookingParts(settings, BookingApplication(env, workflow=workflow, clock=settings.clock,
                                                     tables=pg_store.PgTables(url)))


def _env(url: str) -> dict[str, str]:
    env = db.eventsourcing_env(url, BookingApplication.name)
    env["APPLICATION_RECORDER_TOPIC"] = pg_store.RECORDER_TOPIC
    return env


def prepare(owner_url: str, app_url: str) -> None:
    """Schema changes, as the owner role: the library's tables, booking's side tables, the
    chain's backfills, and the app role's grants (append-only on the event tables)."""
    db.run_schema(owner_url, pg_store.DDL)
    db.run_schema(owner_url, keys.DDL)
    with db.schema_lock(owner_url):  # the library creates its tables with the recorder
        factory = InfrastructureFactory.construct(
            Environment(BookingApplication.name, {**os.environ, **_env(owner_url)}))
        try:
            recorder = factory.application_recorder()
            assert isinstance(recorder, pg_store.BookingRecorder)
            recorder.backfill_organisations()  # events stored before the feed was scoped
            recorder.backfill_chain()  # and before the hash chain
            event_tables = [recorder.events_table_name, "booking_event_organisation"]
        finally:
            factory.close()
    db.grant_append_only(owner_url, app_url, event_tables)


_parts: BookingParts | None = None
_lock = threading.Lock()


def parts() -> BookingParts:
    """The process-wide parts, wired from the environment on first use."""
    global _parts
    with _lock:
        if _parts is None:
            _parts = wire(Settings.from_env())
        return _parts
