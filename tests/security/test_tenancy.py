"""Tenant isolation, derived from the OpenAPI documents: a token of organisation B
with every role an organisation has calls every documented operation with
organisation A's ids. No answer carries A's data; nothing of A changes."""
from __future__ import annotations

import uuid
from typing import Any

from deploy.stack import Stack
from tests.security.conftest import ORG_ROLES, Tenant
from tests.security.openapi import Arguments
from tests.system import Client

REFUSALS = (400, 403, 404, 409, 422)
# Server errors are the concern of the schemathesis run (issue 8); here: what leaks.


def state_of(stack: Stack, a: Tenant) -> dict[str, Any]:
    """A's versions, and how many events A's feed holds: a write to A moves one of them."""
    ids, m = a.ids, a.manager
    state: dict[str, Any] = {
        path: m.get("booking", path).json()["version"]
        for path in (f"/v1/appointments/{ids['appointment_id']}", "/v1/organisation",
                     f"/v1/services/{ids['service_id']}", f"/v1/resources/{ids['resource_id']}",
                     f"/v1/clients/{ids['client_id']}")}
    state["workflow"] = m.get("workflow", f"/v1/workflows/{ids['workflow_id']}").headers["ETag"]
    feed = Client(stack, a.org, ("service",)).get("booking", "/v1/events",
                                                   params={"limit": 1000}).json()["items"]
    state["events"] = [e["event"]["id"] for e in feed]
    return state


def test_another_organisation_reaches_nothing_of_this_one(stack, documented, tenant):
    before = state_of(stack, tenant)
    b = Client(stack, f"tenant-b-{uuid.uuid4().hex[:8]}", ORG_ROLES)
    args = Arguments(tenant.ids)
    leaks = []
    for op in documented:
        path, query, body = args.request(op)
        answer = b.session.request(op.method, stack.url(op.service) + path, params=query,
                                   json=body, timeout=10)
        # A refusal may name what B itself sent ("no appointment <id>"), nothing more.
        sent = f"{path} {query} {body}"
        shown = [s for s in tenant.secrets if s in answer.text and (answer.ok or s not in sent)]
        if shown:
            leaks.append(f"{op} -> {answer.status_code} shows {shown}")
        elif not answer.ok and answer.status_code < 500 and answer.status_code not in REFUSALS:
            leaks.append(f"{op} -> {answer.status_code}: {answer.text[:200]}")
    assert leaks == []
    assert state_of(stack, tenant) == before
