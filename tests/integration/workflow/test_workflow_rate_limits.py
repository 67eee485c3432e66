"""Rate limits on workflow's writes (issue 8, item 7), counted in its PostgreSQL."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from services.workflow import bootstrap
from services.workflow.entrypoints.http import create_app
from shared import auth
from tests.integration.workflow.tokens import bearer

STATUSES = [dict(key="received", name="Received", position=10, kind="start"),
            dict(key="done", name="Done", position=20, kind="confirmation")]


@pytest.fixture
def limited(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    monkeypatch.setenv("RATE_LIMIT_PER_TOKEN", "3/minute")
    monkeypatch.setenv("RATE_LIMIT_PER_IP", "off")
    yield create_app(fresh_db).test_client()
    bootstrap.close(fresh_db)


def test_a_flood_of_workflow_writes_gets_429_while_transition_checks_go_on(limited):
    manager = bearer("acme", "manager")
    codes = [limited.post("/v1/workflows", json={"name": f"Flow {n}", "statuses": STATUSES},
                          headers=manager).status_code for n in range(4)]
    assert codes == [201, 201, 201, 429]
    refused = limited.put("/v1/workflows/any/draft", json={"statuses": STATUSES},
                          headers=manager)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.json["limit"] == "token" and refused.json["rate"] == "3/minute"
    # Another manager of the organisation is not held back.
    colleague = {"Authorization": f"Bearer {auth.issue('acme', ['manager'], subject='olga')}"}
    assert limited.post("/v1/workflows", json={"name": "Hers", "statuses": STATUSES},
                        headers=colleague).status_code == 201
    # Booking asks before every status change it has already counted: never limited here.
    service = bearer("acme", "service")
    checks = [limited.post("/v1/transitions/validate", headers=service, json={
        "workflow_id": "builtin", "version": 1, "from_status": None, "to_status": None,
        "action": "request"}).status_code for _ in range(5)]
    assert checks == [200] * 5
