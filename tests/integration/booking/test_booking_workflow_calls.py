"""How often booking asks workflow, counted at the real workflow service's HTTP server:
one call per new request (the latest version is always asked for, so a version published
a moment ago is used by the next request), none for a status change workflow already
answered for that version, a new call for every new version."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from booking_http_support import NOW, Api, WorkflowServer, slot
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from services.booking import bootstrap
from services.booking.application import workflow_client
from services.booking.application.workflow_client import HttpWorkflowClient
from services.booking.entrypoints.http import create_app
from services.workflow import bootstrap as workflow_bootstrap
from services.workflow.entrypoints.http import create_app as workflow_app
from tests.doubles.booking import FixedClock

T = TypeVar("T")
VALIDATE = "POST /v1/transitions/validate"
STATUSES = [
    {"key": "received", "name": "Received", "kind": "start", "position": 10},
    {"key": "approved", "name": "Approved", "kind": "step", "position": 20},
    {"key": "confirmed", "name": "Confirmed", "kind": "confirmation", "position": 30},
    {"key": "declined", "name": "Declined", "kind": "cancellation", "position": 40},
]


@dataclass
class Counted:
    """A WSGI app that notes every request it is sent (method and path)."""
    app: Callable[..., Iterable[bytes]]
    calls: list[str] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
        return self.app(environ, start_response)

    def during(self, action: Callable[[], T]) -> tuple[list[str], T]:
        """The calls workflow saw while `action` ran, and what it returned."""
        before = len(self.calls)
        result = action()
        return self.calls[before:], result


@dataclass
class Stack:
    booking: Api        # an agent and manager of acme, on booking
    workflow: Api       # the same, on the workflow service
    counted: Counted


@pytest.fixture
def stack(fresh_db: str, infra: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    workflow_db = infra.database(f"{fresh_db.rsplit('/', 1)[-1].split('?')[0]}_wf")
    counted = Counted(workflow_app(workflow_db))
    server = make_server("127.0.0.1", 0, counted, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("BOOKING_DATABASE_URL", fresh_db)
    monkeypatch.setenv("WORKFLOW_URL", f"http://127.0.0.1:{server.server_port}")
    application = bootstrap.wire(bootstrap.Settings.from_env(clock=FixedClock(NOW))).application
    wf_client: FlaskClient = workflow_app(workflow_db).test_client()
    try:
        yield Stack(Api(create_app(application).test_client(), roles=("agent", "manager")),
                    Api(wf_client, roles=("manager",)), counted)
    finally:
        application.close()
        server.shutdown()
        workflow_bootstrap.close(workflow_db)


def publish(api: Api, statuses: list[dict[str, Any]], workflow_id: str | None = None) -> str:
    if workflow_id is None:
        r = api.post("/v1/workflows", {"name": "Loans", "statuses": statuses})
        assert r.status_code == 201, r.get_json()
        workflow_id = str(r.get_json()["id"])
    else:
        r = api.client.put(f"/v1/workflows/{workflow_id}/draft", json={"statuses": statuses},
                           headers={"Authorization": f"Bearer {api.token}"})
        assert r.status_code == 200, r.get_json()
    assert api.post(f"/v1/workflows/{workflow_id}/publish").status_code == 201
    return workflow_id


def new_request(api: Api, service: str, client: str, hour: int) -> dict[str, Any]:
    r = api.post("/v1/appointments", {"service_id": service, "client_id": client,
                                      "slot": slot(hour)})
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json()["appointment"])


def directory(api: Api, workflow_id: str) -> tuple[str, str]:
    service = api.post("/v1/services", {"name": "Loan", "workflow_id": workflow_id}).get_json()
    client = api.post("/v1/clients", {"name": "Ada", "email": "ada@example.com"}).get_json()
    return service["service"]["id"], client["client"]["id"]


def test_a_new_request_makes_one_call_and_a_repeated_status_change_none(stack):
    api, counted = stack.booking, stack.counted
    wid = publish(stack.workflow, STATUSES)
    service, client = directory(api, wid)
    # (naming the workflow on the service fetched its version 1, which never changes)
    # Every new request makes a single call: the latest version, whose answer is the verdict
    calls, first = counted.during(lambda: new_request(api, service, client, 9))
    assert calls == [VALIDATE]
    calls, later = counted.during(lambda: new_request(api, service, client, 10))
    assert calls == [VALIDATE]
    assert (first["status"], later["status"]) == ("received", "received")
    assert later["workflow"] == {"id": wid, "version": 1}

    def move(a: dict[str, Any], status: str) -> tuple[list[str], Any]:
        return counted.during(lambda: api.post(f"/v1/appointments/{a['id']}/move",
                                               {"status": status}))
    # A status change asks workflow the first time it is made on this version, never again
    for a, expected in ((first, [VALIDATE]), (later, [])):
        calls, r = move(a, "approved")
        assert calls == expected and r.status_code == 200, r.get_json()
        shown = r.get_json()["appointment"]
        assert (shown["status"], shown["workflow"]) == ("approved", {"id": wid, "version": 1})
    # A refusal too is workflow's answer for that version, given again without a call
    for a, expected in ((first, [VALIDATE]), (later, [])):
        calls, r = move(a, "received")
        assert calls == expected
        assert r.status_code == 409 and "cancel" in r.get_json()["allowed_actions"]


def test_a_version_published_a_moment_ago_is_used_and_asked_about_afresh(stack):
    api, counted = stack.booking, stack.counted
    wid = publish(stack.workflow, STATUSES)
    service, client = directory(api, wid)
    on_v1 = new_request(api, service, client, 9)
    api.post(f"/v1/appointments/{on_v1['id']}/move", {"status": "approved"})  # v1's verdict kept
    # When version 2 makes "approved" a cancellation
    v2 = [dict(s, kind="cancellation", position=50) if s["key"] == "approved" else s
          for s in STATUSES]
    publish(stack.workflow, v2, wid)
    # Then the very next request is on version 2
    on_v2 = new_request(api, service, client, 10)
    assert on_v2["workflow"] == {"id": wid, "version": 2}
    # ... and its status change is asked about (version 1's verdict is not used) and
    # records version 2's answer, while an appointment on version 1 keeps version 1's
    calls, r = counted.during(lambda: api.post(f"/v1/appointments/{on_v2['id']}/move",
                                               {"status": "approved", "reason": "Other"}))
    assert calls == [VALIDATE] and r.status_code == 200, r.get_json()
    moved = api.get(f"/v1/appointments/{on_v2['id']}").get_json()["appointment"]
    assert (moved["status_kind"], moved["workflow"]) == ("cancellation", {"id": wid, "version": 2})
    kept = api.get(f"/v1/appointments/{on_v1['id']}").get_json()["appointment"]
    assert (kept["status_kind"], kept["workflow"]) == ("step", {"id": wid, "version": 1})


def test_create_for_client_in_the_first_status_makes_one_call(stack):
    api, counted = stack.booking, stack.counted
    wid = publish(stack.workflow, STATUSES)
    service, client = directory(api, wid)
    new_request(api, service, client, 9)   # version 1 fetched

    calls, r = counted.during(lambda: api.post("/v1/appointments/for_client", {
        "service_id": service, "client_id": client, "slot": slot(11), "status": "received"}))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["appointment"]["status"] == "received"
    assert calls == [VALIDATE]


def test_booking_reaches_workflow_directly_whatever_proxy_the_environment_names(
        stack, monkeypatch):
    api = stack.booking
    wid = publish(stack.workflow, STATUSES)
    service, client = directory(api, wid)
    # A proxy that does not exist: booking's internal calls must not go through it
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    calls, _ = stack.counted.during(lambda: new_request(api, service, client, 9))
    assert calls == [VALIDATE]


def test_a_warm_cache_decides_as_the_local_fallback_does_when_workflow_is_away(
        fresh_db, monkeypatch):
    server = WorkflowServer()
    monkeypatch.setenv("BOOKING_DATABASE_URL", fresh_db)
    monkeypatch.setenv("WORKFLOW_URL", server.url)
    application = bootstrap.wire(bootstrap.Settings.from_env(clock=FixedClock(NOW))).application
    try:
        api = Api(create_app(application).test_client(), roles=("agent", "manager"))
        d = server.workflow.publish("acme", STATUSES)
        service, client = directory(api, d.id)
        a, b, c = (new_request(api, service, client, h) for h in (9, 10, 11))
        assert api.post(f"/v1/appointments/{a['id']}/confirm", {}).status_code == 200  # kept
        server.stop()
        # A change workflow answered for this version: the same answer, the same version
        r = api.post(f"/v1/appointments/{b['id']}/confirm", {})
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["appointment"]["workflow"] == {"id": d.id, "version": 1}
        assert r.get_json()["appointment"]["status"] == "confirmed"
        # ... others are decided locally, as before: allowed, and refused naming what is allowed
        r = api.post(f"/v1/appointments/{c['id']}/move", {"status": "approved"})
        assert r.status_code == 200 and r.get_json()["appointment"]["workflow"]["version"] == 1
        r = api.post(f"/v1/appointments/{b['id']}/move", {"status": "received"})
        assert r.status_code == 409 and "cancel" in r.get_json()["allowed_actions"]
    finally:
        application.close()
        server.stop()   # again, harmless: the test may have failed before


def test_verdicts_are_bounded_least_recently_used_first(monkeypatch):
    server = WorkflowServer()
    monkeypatch.setattr(workflow_client, "VERDICTS", 2)
    try:
        d = server.workflow.publish("acme", STATUSES)
        client = HttpWorkflowClient(server.url)

        def ask(to: str) -> Any:
            return client.validate("acme", d, "received", "move", to)
        for to in ("approved", "confirmed", "approved", "declined"):  # "confirmed" dropped
            ask(to)
        before = len(server.calls)
        assert ask("approved").allowed and ask("declined").allowed
        assert len(server.calls) == before
        assert ask("confirmed").allowed and len(server.calls) == before + 1
    finally:
        server.stop()
