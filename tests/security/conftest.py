"""The security suite runs against the whole system as `make run` starts it (the
session's `stack`), with data of one organisation that no other may reach."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from deploy.stack import Stack
from tests.security.openapi import END, START, Operation, operations
from tests.system import Client
from tests.waiting import wait_until

ORG_ROLES = ("agent", "manager", "auditor", "service", "widget")  # every role an organisation has
STATUSES = [dict(key="received", name="Received", position=10, kind="start"),
            dict(key="confirmed", name="Confirmed", position=20, kind="confirmation"),
            dict(key="declined", name="Declined", position=30, kind="cancellation")]


@dataclass(frozen=True)
class Tenant:
    org: str
    ids: dict[str, Any]       # parameter / field name -> this organisation's value
    secrets: tuple[str, ...]  # ids and names no other organisation may ever see
    manager: Client


@pytest.fixture(scope="session")
def documented(stack: Stack) -> list[Operation]:
    return operations(stack)


def created(answer: Any, *path: str) -> Any:
    assert answer.status_code in (200, 201), answer.text
    body = answer.json()
    for key in path:
        body = body[key]
    return body


@pytest.fixture(scope="session")
def tenant(stack: Stack) -> Tenant:
    """Organisation A: settings, a service, an agent, a client, an appointment with a
    note, a published workflow, and the deliveries of the appointment's messages."""
    tag = uuid.uuid4().hex[:8]
    org = f"tenant-a-{tag}"
    a = Client(stack, org, ("manager", "agent"))
    created(a.patch("booking", "/v1/organisation", {
        "name": f"Clinic A {tag}", "email": f"desk-{tag}@a.example", "phone": "+41440000001"}))
    service = created(a.post("booking", "/v1/services", {"name": f"Service A {tag}"}),
                      "service", "id")
    agent = created(a.post("booking", "/v1/resources", {
        "name": f"Agent A {tag}", "kind": "agent", "email": f"agent-{tag}@a.example"}),
        "resource", "id")
    client = created(a.post("booking", "/v1/clients", {
        "name": f"Client A {tag}", "email": f"client-{tag}@a.example", "phone": "+41790000001"}),
        "client", "id")
    answer = created(a.post("booking", "/v1/appointments", {
        "service_id": service, "client_id": client, "agent_id": agent,
        "slot": {"start": START, "end": END}}))
    appointment = answer["appointment"]["id"]
    created(a.post("booking", f"/v1/appointments/{appointment}/notes", {"text": f"Note A {tag}"}))
    note = created(a.get("booking", f"/v1/appointments/{appointment}/notes"), "items")[0]["id"]
    workflow = created(a.post("workflow", "/v1/workflows", {"name": f"Workflow A {tag}",
                                                            "statuses": STATUSES}), "id")
    created(a.post("workflow", f"/v1/workflows/{workflow}/publish"))
    # The read models and the notifier have it (a fresh system's consumers join first)
    wait_until(lambda: appointment in {i["id"] for i in a.get("projections", "/v1/queue").json()
                                       .get("items", [])}, timeout=60, what="A's queue")
    wait_until(lambda: a.get("notifier", "/v1/deliveries",
                             params={"appointment_id": appointment}).json()["items"],
               timeout=60, what="the appointment's deliveries")
    ids = {"appointment_id": appointment, "exclude_appointment_id": appointment,
           "service_id": service, "resource_id": agent, "agent_id": agent, "client_id": client,
           "note_id": note, "workflow_id": workflow, "email": f"client-{tag}@a.example",
           "recipient": f"client-{tag}@a.example", "phone": "+41790000001"}
    secrets = (org, appointment, service, agent, client, note, workflow, f"client-{tag}",
               f"Client A {tag}", f"Service A {tag}", f"Agent A {tag}", f"Note A {tag}",
               f"Workflow A {tag}", f"Clinic A {tag}", f"desk-{tag}", f"agent-{tag}")
    return Tenant(org, ids, secrets, a)
