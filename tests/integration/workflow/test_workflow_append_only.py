"""Append-only by construction: workflow's processes connect as a role that may only
SELECT and INSERT events; the owner role creates the tables at start-up."""
from __future__ import annotations

import psycopg
import pytest

from services.workflow import bootstrap
from services.workflow.entrypoints.http import create_app
from shared import db
from tests.integration.workflow.test_workflow_api import MANAGER, published


def test_the_app_role_cannot_change_workflow_events_and_publishing_still_works(
        fresh_db, monkeypatch):
    app_url = db.with_user(fresh_db, db.APP_ROLE, db.APP_PASSWORD)
    monkeypatch.setenv("WORKFLOW_DATABASE_URL", app_url)
    monkeypatch.setenv("WORKFLOW_OWNER_DATABASE_URL", fresh_db)
    client = create_app().test_client()
    try:
        wid = published(client)
        assert client.get(f"/v1/workflows/{wid}/versions/1", headers=MANAGER).status_code == 200
    finally:
        bootstrap.close(app_url)
    for statement in ("UPDATE workflow_events SET state = state", "DELETE FROM workflow_events",
                      "TRUNCATE workflow_events"):
        with psycopg.connect(app_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
    with psycopg.connect(app_url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (db.APP_ROLE,)
