"""The one wiring place: which store, which workflow authority, which clock.

Production: `booking()` builds the application once per process from the
environment (BOOKING_DATABASE_URL, WORKFLOW_URL). Tests call `build(...)`
with their own database URL, clock or workflow (or `memory=True`).
"""
from __future__ import annotations

import threading

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
    db.run_schema(url, pg_store.DDL)
    db.run_schema(url, keys.DDL)
    env = db.eventsourcing_env(url, BookingApplication.name)
    env["APPLICATION_RECORDER_TOPIC"] = pg_store.RECORDER_TOPIC
    with db.schema_lock(url):  # the library creates its tables in the constructor
        application = BookingApplication(env, workflow=workflow, clock=clock,
                                         tables=pg_store.PgTables(url))
        recorder = application.recorder
        assert isinstance(recorder, pg_store.BookingRecorder)
        recorder.backfill_organisations()  # events stored before the feed was scoped
        return application


def booking() -> BookingApplication:
    """The process-wide application, built on first use."""
    global _singleton
    with _lock:
        if _singleton is None:
            _singleton = build()
        return _singleton
