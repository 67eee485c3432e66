"""A frontend developer builds against the documents alone: a client generated from each
service's `/openapi.json` with `openapi-python-client` (a dev dependency, offline) compiles,
imports, and round-trips the README walk-through on the running system: every body is
built and every answer parsed by the generated models, and a documented error is parsed
as the documented `Problem`. A document the generator rejects is fixed in
shared/openapi.py, not here."""
from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

from deploy.stack import APIS, Stack
from shared import auth

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
ORG = "generated-client"
MONDAY = "2030-03-04"  # Europe/Zurich, +01:00

# The operations the walk-through calls: (service, generated module under `api`), the
# module named after the operation's tag and operationId. One place to update when a
# path or an operationId is renamed.
OPERATIONS = {
    "organisation": ("booking", "directory.update_organisation"),
    "service": ("booking", "directory.create_service"),
    "agent": ("booking", "directory.create_resource"),
    "client": ("booking", "directory.create_client"),
    "request": ("booking", "appointments.request_appointment"),
    "confirm": ("booking", "appointments.confirm"),
    "queue": ("projections", "projections.queue"),
    "workflow_version": ("workflow", "workflows.get_version"),
    "deliveries": ("notifier", "notifier.get_deliveries"),
}


def items(parsed: Any) -> list[Any]:
    """A list answer's items, whether bare or in an {items, next_cursor} envelope."""
    return parsed if isinstance(parsed, list) else list(parsed.items)


class Generated:
    """The four generated packages, imported from a temporary folder."""

    def __init__(self, stack: Stack, packages: dict[str, ModuleType]) -> None:
        self.stack, self.packages = stack, packages
        self.token = auth.issue(ORG, ["agent", "manager"], subject="frontend-dev")

    def client(self, service: str) -> Any:
        package = self.packages[service]
        return package.AuthenticatedClient(base_url=self.stack.url(service), token=self.token,
                                           raise_on_unexpected_status=True)

    def call(self, step: str, **kwargs: Any) -> Any:
        """Call the walk-through's `step`; the whole answer (status_code, parsed)."""
        service, module = OPERATIONS[step]
        operation = importlib.import_module(f"{self.packages[service].__name__}.api.{module}")
        return operation.sync_detailed(client=self.client(service), **kwargs)

    def model(self, service: str, name: str, body: dict[str, Any]) -> Any:
        models = importlib.import_module(f"{self.packages[service].__name__}.models")
        return getattr(models, name).from_dict(body)


def generate(document: dict[str, Any], folder: Path, package: str) -> None:
    source = folder / f"{package}.json"
    source.write_text(json.dumps(document))
    config = folder / "generator.yaml"
    config.write_text("post_hooks: []\n")   # no formatter run: nothing to fetch or install
    run = subprocess.run([str(GENERATOR), "generate", "--path", str(source), "--output-path",
                          str(folder / package), "--meta", "none", "--config", str(config)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "Warning" not in run.stdout + run.stderr, (
        f"openapi-python-client rejected the {package} document:\n{run.stdout}\n{run.stderr}")


@pytest.fixture(scope="module")
def generated(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    assert GENERATOR.exists(), "openapi-python-client is missing: run `make install`"
    folder = tmp_path_factory.mktemp("generated")
    names = {service: f"generated_{service}_{uuid.uuid4().hex[:8]}" for service in APIS}
    for service, package in names.items():
        generate(requests.get(f"{stack.url(service)}/openapi.json", timeout=10).json(), folder,
                 package)
    sys.path.insert(0, str(folder))
    try:
        yield Generated(stack, {s: importlib.import_module(p) for s, p in names.items()})
    finally:
        sys.path.remove(str(folder))
        for module in [m for m in sys.modules if m.startswith(tuple(names.values()))]:
            del sys.modules[module]


def test_every_generated_client_compiles_and_imports(generated: Generated):
    for service, package in generated.packages.items():
        modules = [importlib.import_module(m.name)
                   for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
        operations = [m for m in modules if hasattr(m, "sync_detailed")]
        assert operations, f"{service}: no operation generated"


def test_the_readme_walk_through_round_trips_through_the_generated_clients(
        generated: Generated):
    g = generated

    def ok(answer: Any, status: int = 200) -> Any:
        assert answer.status_code == status, answer.content
        assert type(answer.parsed).__name__ != "Problem", answer.parsed
        return answer.parsed

    ok(g.call("organisation", body=g.model("booking", "Organisation", {
        "name": "Generated Clinic", "timezone": "Europe/Zurich", "email": "desk@gen.example",
        "cancellation_reasons": ["Client request"]})))
    service = ok(g.call("service", body=g.model("booking", "Service", {
        "name": "Consultation", "duration_minutes": 30})), 201).service
    hours = {day: [["08:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    agent = ok(g.call("agent", body=g.model("booking", "Resource", {
        "kind": "agent", "name": "Dr Who", "working_hours": hours})), 201).resource
    client = ok(g.call("client", body=g.model("booking", "Client", {
        "name": "Ada Lovelace", "email": "ada@example.com", "phone": "+41790000000"})),
        201).client

    requested = ok(g.call("request", idempotency_key=uuid.uuid4().hex,
                          body=g.model("booking", "Request", {
                              "service_id": str(service.id), "source": "agent",
                              "client_id": str(client.id),
                              "window": {"date": MONDAY, "part_of_day": "morning"}})), 201)
    queue = ok(g.call("queue", min_position=requested.position))
    row = next(i for i in items(queue) if i.id == str(requested.appointment.id))
    assert (row.status, row.status_name, row.status_kind, row.client.email) == (
        "requested", "Requested", "start", "ada@example.com")

    confirmed = ok(g.call("confirm", appointment_id=requested.appointment.id,
                          if_match=f'"{requested.version}"', body=g.model("booking", "Confirm", {
                              "slot": {"start": f"{MONDAY}T09:00:00+01:00",
                                       "end": f"{MONDAY}T09:30:00+01:00"},
                              "agent_id": str(agent.id)})))
    assert confirmed.appointment.status == "scheduled"
    queue = ok(g.call("queue", min_position=confirmed.position, include_confirmed=True))
    row = next(i for i in items(queue) if i.id == str(requested.appointment.id))
    # the row shows the status as the workflow version defines it
    builtin = ok(g.call("workflow_version", workflow_id="builtin", version=1))
    scheduled = next(s for s in builtin.statuses if s.key == "scheduled")
    assert (row.status, row.status_name, row.status_colour) == (
        "scheduled", scheduled.name, scheduled.colour)
    sent = items(ok(g.call("deliveries", min_position=confirmed.position,
                           appointment_id=str(requested.appointment.id))))
    assert {"appointment.requested.v1", "appointment.confirmed.v1"} <= {
        d.event_type for d in sent}

    # A documented error, parsed as the documented problem: confirming twice is refused
    again = g.call("confirm", appointment_id=requested.appointment.id,
                   body=g.model("booking", "Confirm", {
                       "slot": {"start": f"{MONDAY}T10:00:00+01:00",
                                "end": f"{MONDAY}T10:30:00+01:00"}, "agent_id": str(agent.id)}))
    assert again.status_code == 409
    problem = again.parsed
    assert type(problem).__name__ == "Problem"
    assert (problem.status, problem.current_status) == (409, "scheduled")
    assert "cancel" in problem.allowed_actions
    # ... and a bad query parameter as the problem naming it
    bad = g.call("queue", limit=0)
    assert (bad.status_code, type(bad.parsed).__name__) == (422, "Problem")
    assert "limit" in bad.parsed.errors.to_dict()
