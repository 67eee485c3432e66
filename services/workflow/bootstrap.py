"""The one wiring place: which database, and the process's WorkflowApplication.

One application per process and database (a lazy singleton: created on first
use, after gunicorn forked), never one per request. Tests pass their own URL.
"""
from __future__ import annotations

import threading

from services.workflow.application.app import WorkflowApplication
from shared import config, db

_apps: dict[str, WorkflowApplication] = {}
_lock = threading.Lock()


def database_url(url: str | None = None) -> str:
    return url or config.database_url("workflow")


def application(url: str | None = None) -> WorkflowApplication:
    url = database_url(url)
    with _lock:
        if url not in _apps:
            owner = db.owner_url("workflow", url)
            # The library creates its tables in the constructor: as the owner role, whose
            # grants then leave the app role only SELECT and INSERT on the event table.
            with db.schema_lock(owner):
                created = WorkflowApplication.for_database(owner)
                table = created.recorder.events_table_name  # type: ignore[attr-defined]
                if owner == url:
                    _apps[url] = created
                else:
                    created.close()
            if owner != url:
                db.grant_append_only(owner, url, [table])
                _apps[url] = WorkflowApplication.for_database(url, create_table=False)
        return _apps[url]


def close(url: str | None = None) -> None:
    """Close the application of `url` (all of them when None): tests, shutdown."""
    with _lock:
        for key in [k for k in _apps if url is None or k == url]:
            _apps.pop(key).close()
