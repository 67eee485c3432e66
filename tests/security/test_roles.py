"""Least privilege, against the running system: every operation of the four
OpenAPI documents answers each role as the README's role matrix says, and a
token with a malformed claim is 401 on every service, never a 500 or a 200."""
from __future__ import annotations

import re
import uuid
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
import requests

from deploy.stack import Stack
from shared import auth
from tests.security.openapi import Arguments, Operation
from tests.tokens import MALFORMED, signed

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
SERVICES = ("booking", "workflow", "notifier", "projections")
ONE_READ = {"booking": "/v1/organisation", "workflow": "/v1/workflows",
            "notifier": "/v1/deliveries", "projections": "/v1/queue"}


def role_matrix() -> list[tuple[str, list[str], set[str]]]:
    """(service, operation patterns, roles) for each row of the README's table."""
    section = README.split("### Tokens and roles", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    roles = [c.strip() for c in lines[0].strip("|").split("|")][2:]
    rows = []
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] in SERVICES:
            rows.append((cells[0], re.findall(r"`([A-Z]+ /[^`]*)`", cells[1]),
                         {r for r, cell in zip(roles, cells[2:], strict=True) if cell}))
    return rows


def call(stack: Stack, op: Operation, token: str | None, args: Arguments) -> requests.Response:
    path, query, body = args.request(op)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(op.method, stack.url(op.service) + path, params=query, json=body,
                            headers=headers, timeout=10)


def test_every_operation_answers_exactly_the_roles_the_readme_grants(stack, documented):
    matrix = role_matrix()
    org = f"roles-{uuid.uuid4().hex[:8]}"  # an organisation of its own: allowed writes land there
    tokens = {role: auth.issue(auth.PLATFORM_ORG if role == auth.PLATFORM else org, [role])
              for role in auth.ROLES}
    args = Arguments({})  # made-up ids: a refused role never reaches a lookup
    wrong = []
    for op in documented:
        rows = [granted for service, patterns, granted in matrix if service == op.service
                and any(fnmatchcase(f"{op.method} {op.path}", p) for p in patterns)]
        assert len(rows) == 1, f"{op}: {len(rows)} rows of the README's role matrix name it"
        if not rows[0]:  # public: its own credential (a signed link)
            assert op.public and call(stack, op, None, args).status_code != 401, op
            continue
        assert not op.public, f"{op} is documented without security but the README grants roles"
        if call(stack, op, None, args).status_code != 401:
            wrong.append(f"{op} without a token")
        for role, token in tokens.items():
            # A granted role gets past the check (whatever the made-up arguments then
            # give); any other gets 403 before the body is even read.
            status = call(stack, op, token, args).status_code
            if status == 401 or (status == 403) == (role in rows[0]):
                wrong.append(f"{op} as {role}: {status}")
    assert wrong == []
    # and no row of the table names an operation that does not exist
    documented_names = {(op.service, f"{op.method} {op.path}") for op in documented}
    for service, patterns, _ in matrix:
        for pattern in patterns:
            assert any(s == service and fnmatchcase(name, pattern)
                       for s, name in documented_names), f"README: {service} {pattern}"


@pytest.mark.parametrize("claims, named", MALFORMED, ids=[f"{c}" for c, _ in MALFORMED])
def test_a_malformed_claim_is_401_naming_it_on_every_service(stack, claims, named):
    token = signed(**claims)
    for service in SERVICES:
        answer = requests.get(stack.url(service) + ONE_READ[service],
                              headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert answer.status_code == 401, (service, answer.status_code, answer.text[:300])
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.json()["claim"] == named, (service, answer.json())
