"""Workflow as authority, over real HTTP: cached fallback when it is unreachable,
503 with Retry-After when nothing is cached, and the real workflow service if present."""
from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator

import pytest
from booking_http_support import NOW, Api, WorkflowServer, slot
from werkzeug.serving import make_server

from services.booking import bootstrap
from services.booking.application.workflow_client import HttpWorkflowClient
from services.booking.entrypoints.http import create_app
from tests.doubles.booking import FixedClock

CUSTOM = [
    {"key": "received", "name": "Request received", "kind": "start", "position": 10},
    {"key": "approved", "name": "Approved by management", "kind": "step", "position": 20},
    {"key": "confirmed", "name": "Confirmed", "kind": "confirmation", "position": 30},
    {"key": "declined", "name": "Declined", "kind": "cancellation", "position": 40},
]


@pytest.fixture
def server() -> Iterator[WorkflowServer]:
    s = WorkflowServer()
    yield s
    s.stop()


@pytest.fixture
def api_over_http(fresh_db, monkeypatch, server) -> Iterator[Api]:
    monkeypatch.setenv("BOOKING_DATABASE_URL", fresh_db)
    monkeypatch.setenv("WORKFLOW_URL", server.url)
    application = bootstrap.wire(bootstrap.Settings.from_env(
        clock=FixedClock(NOW))).application   # the production HTTP client
    assert isinstance(application.workflow, HttpWorkflowClient)
    yield Api(create_app(application).test_client(), roles=("agent", "manager"))
    application.close()


def setup_directory(api: Api, workflow_id: str | None = None) -> tuple[str, str]:
    service = api.post("/v1/services", {"name": "Loan", "workflow_id": workflow_id}).get_json()
    client = api.post("/v1/clients", {"name": "Ada", "email": "ada@example.com"}).get_json()
    return service["service"]["id"], client["client"]["id"]


def test_booking_asks_workflow_and_falls_back_to_the_cached_version(api_over_http, server):
    api = api_over_http
    d = server.workflow.publish("acme", CUSTOM)
    service, client = setup_directory(api, d.id)
    # While workflow answers, booking asks it for every status change
    a = api.post("/v1/appointments", {"service_id": service, "client_id": client,
                                      "slot": slot(9)}).get_json()["appointment"]
    assert (a["status"], a["workflow"]) == ("received", {"id": d.id, "version": 1})
    assert "POST /v1/transitions/validate" in server.calls
    assert f"GET /v1/workflows/{d.id}/versions/1" in server.calls
    # Workflow goes away
    server.stop()
    # A status change is still checked, locally, against the cached version 1
    r = api.post(f"/v1/appointments/{a['id']}/move", {"status": "approved"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["appointment"]["workflow"] == {"id": d.id, "version": 1}
    # and a forbidden one is still forbidden, naming the allowed actions
    r = api.post(f"/v1/appointments/{a['id']}/move", {"status": "received"})
    assert r.status_code == 409 and "cancel" in r.get_json()["allowed_actions"]
    # A new request uses the latest version booking knows
    r = api.post("/v1/appointments", {"service_id": service, "client_id": client,
                                      "slot": slot(10)})
    assert r.status_code == 201 and r.get_json()["appointment"]["status"] == "received"


def test_with_nothing_cached_an_unreachable_workflow_is_503_retry_after(api_over_http, server):
    api = api_over_http
    service, client = setup_directory(api)
    server.stop()
    r = api.post("/v1/appointments", {"service_id": service, "client_id": client,
                                      "slot": slot(9)})
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert "workflow" in r.get_json()["detail"]
    assert api.as_(roles=("service",)).get("/v1/events").get_json()["items"][-1]["event"][
        "type"] == "client.created.v1"


def test_an_unknown_workflow_is_a_clear_conflict(api_over_http):
    service, _ = setup_directory(api_over_http)
    r = api_over_http.patch(f"/v1/services/{service}", {"workflow_id": "no-such-workflow"})
    assert r.status_code == 409 and r.get_json()["title"] == "Workflow not found"


@pytest.mark.skipif(importlib.util.find_spec("services.workflow.entrypoints.http") is None,
                    reason="the workflow service is not in this checkout")
def test_against_the_real_workflow_service(fresh_db, infra, monkeypatch):
    from services.workflow import bootstrap as workflow_bootstrap
    from services.workflow.entrypoints.http import create_app as workflow_app

    workflow_db = infra.database(f"{fresh_db.rsplit('/', 1)[-1].split('?')[0]}_wf")
    server = make_server("127.0.0.1", 0, workflow_app(workflow_db), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("BOOKING_DATABASE_URL", fresh_db)
    monkeypatch.setenv("WORKFLOW_URL", f"http://127.0.0.1:{server.server_port}")
    application = bootstrap.wire(bootstrap.Settings.from_env(clock=FixedClock(NOW))).application
    try:
        api = Api(create_app(application).test_client(), roles=("agent", "manager"))
        service, client = setup_directory(api)
        a = api.post("/v1/appointments", {"service_id": service, "client_id": client,
                                          "slot": slot(9)})
        assert a.status_code == 201, a.get_json()
        aid = a.get_json()["appointment"]["id"]
        assert api.post(f"/v1/appointments/{aid}/confirm", {}).status_code == 200
        refused = api.post(f"/v1/appointments/{aid}/reopen", {})
        assert refused.status_code == 409 and "cancel" in refused.get_json()["allowed_actions"]
    finally:
        application.close()
        server.shutdown()
        workflow_bootstrap.close(workflow_db)
