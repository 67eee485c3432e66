"""What the booking HTTP tests share: times, a token-carrying client, and a tiny
workflow service speaking the contract of docs/contracts.md with shared.domain.lifecycle
(our own service's rules, served over real HTTP so booking's client is exercised)."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, jsonify, request
from flask.testing import FlaskClient
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from shared import auth
from shared.domain import lifecycle
from tests.doubles.booking import LocalWorkflow

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)      # a Friday
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


def slot(hour: int, minutes: int = 30, day: datetime = MONDAY) -> dict[str, str]:
    start = day + timedelta(hours=hour)
    return {"start": start.isoformat(), "end": (start + timedelta(minutes=minutes)).isoformat()}


class Api:
    """A test client that carries a bearer token for one organisation and set of roles."""

    def __init__(self, client: FlaskClient, org: str = "acme",
                 roles: tuple[str, ...] = ("agent",), subject: str = "agent-7") -> None:
        self.client, self.org, self.roles = client, org, roles
        self.token = auth.issue(org, list(roles), subject)

    def as_(self, org: str | None = None, roles: tuple[str, ...] | None = None) -> Api:
        return Api(self.client, org or self.org, roles or self.roles)

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(headers or {})}

    def get(self, path: str, **headers: str) -> TestResponse:
        return self.client.get(path, headers=self._headers(headers))

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> TestResponse:
        return self.client.post(path, json=body if body is not None else {},
                                headers=self._headers(headers))

    def patch(self, path: str, body: Any, headers: dict[str, str] | None = None) -> TestResponse:
        return self.client.patch(path, json=body, headers=self._headers(headers))


class WorkflowServer:
    """The workflow contract over HTTP on a free port; `stop()` makes it unreachable."""

    def __init__(self, workflow: LocalWorkflow | None = None) -> None:
        self.workflow = workflow or LocalWorkflow()
        self.calls: list[str] = []
        app = Flask("workflow-stub")

        @app.before_request
        def _authenticate() -> Any:
            self.calls.append(f"{request.method} {request.path}")
            principal = auth.verify(request.headers.get("Authorization", "")[7:])
            if "service" not in principal.roles:
                return jsonify(title="Forbidden"), 403
            request.environ["org"] = principal.org
            return None

        @app.get("/v1/workflows/<workflow_id>/versions/<int:version>")
        def definition(workflow_id: str, version: int) -> Any:
            try:
                d = self.workflow.definition(request.environ["org"], workflow_id, version)
            except Exception:  # noqa: BLE001 - not found for this organisation
                return jsonify(title="Not found"), 404
            return jsonify(d.as_dict())

        @app.post("/v1/transitions/validate")
        def validate() -> Any:
            q = request.get_json()
            try:
                d = self.workflow.definition(request.environ["org"], q["workflow_id"],
                                             q["version"])
            except Exception:  # noqa: BLE001
                return jsonify(title="Not found"), 404
            targets = lifecycle.targets(d, q["from_status"], q["action"])
            to = q["to_status"] if q["to_status"] is not None else next(iter(targets), None)
            status = d.status(to) if to else None
            return jsonify(allowed=to in targets, workflow={"id": d.id, "version": d.version},
                           to_status=to, status_kind=status.kind if status else None,
                           allowed_actions=lifecycle.allowed_actions(d, q["from_status"]))

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
