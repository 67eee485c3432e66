"""The one wiring place: which store, which workflow authority, which clock.

Production: `booking()` builds the application once per process from the
environment (BOOKING_DATABASE_URL, WORKFLOW_URL). Tests call `build(...)`
with their own database URL, clock or workflow (or `memory=True`).
"""
from __future__ import annotations

import os
import threading

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from services.booking.adapters import keys, memory_store, pg_store
from services.booking.application.app import BookingApplication
from services.booking.application.clock import Clock, SystemClock
from services.booking.application.workflow_client import HttpWorkflowClient, WorkflowPort
from shared import config, db

_singleton: BookingApplication | None = None
_lock = threading.Lock()


def build(url: str | None = None, *, clock: Clock | None = None,
          workflow: WorkflowPort | None = None, memory: bool = False) -> BookingApplication:
    workflow = workflow or HttpWorkflowClient(config.require("WORKFLOW_URL"))
    clock = clock or SystemClock()
    if memory:
        env = {"PERSISTENCE_MODULE": memory_store.FACTORY_TOPIC}
        return BookingApplication(env, workflow=workflow, clock=clock)
    url = url or config.database_url("booking")
    owner = db.owner_url("booking", url)
    prepare(owner, url)
    env = _env(url)
    if owner != url:  # the owner made the tables; the app role could not
        env["CREATE_TABLE"] = "n"
    return BookingApplication(env, workflow=workflow, clock=clock, tables=pg_store.PgTables(url))


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


def booking() -> BookingApplication:
    """The process-wide application, built on first use."""
    global _singleton
    with _lock:
        if _singleton is None:
            _singleton = build()
        return _singleton
