"""Hostile input against the running system (gunicorn, real PostgreSQL): every
case answers 4xx naming the place, records nothing, and booking keeps answering.

Each case was a hang or a 500 before (issue 8): a 515,000-character address froze
every booking write, a 1,000-deep body overflowed the stack, NUL characters and
lone surrogates reached PostgreSQL, year-9999 slots overflowed.
"""
from __future__ import annotations

import json
import socket
from typing import Any

import pytest
import requests

from deploy.stack import Stack
from shared import input as limits
from tests.system import Client

ORG = "hostile-input"
SLOT = {"start": "2030-03-04T09:00:00+01:00", "end": "2030-03-04T09:30:00+01:00"}


@pytest.fixture(scope="module")
def manager(stack: Stack) -> Client:
    return Client(stack, org=ORG, roles=("agent", "manager"))


@pytest.fixture(scope="module")
def service_id(manager: Client) -> str:
    r = manager.post("booking", "/v1/services", {"name": "Consultation", "duration_minutes": 30})
    assert r.status_code == 201, r.text
    return str(r.json()["service"]["id"])


@pytest.fixture(scope="module")
def appointment_id(manager: Client, service_id: str) -> str:
    return _request(manager, service_id).json()["appointment"]["id"]


def _request(manager: Client, service_id: str, **fields: Any) -> requests.Response:
    body = {"service_id": service_id, "slot": SLOT,
            "client": {"name": "Ada", "email": "ada@example.com"}, **fields}
    r = manager.post("booking", "/v1/appointments", body)
    return r


def _raw(manager: Client, method: str, service: str, path: str, body: str) -> requests.Response:
    return manager.session.request(method, manager.stack.url(service) + path, data=body.encode(),
                                   headers={"Content-Type": "application/json"}, timeout=10)


def _assert_problem(r: requests.Response, status: int, field: str | None = None) -> None:
    assert r.status_code == status, r.text[:300]
    assert r.headers["Content-Type"].startswith("application/problem+json")
    if field:
        assert field in r.json()["errors"], r.json()


def _events(manager: Client) -> int:
    """The organisation's version: a refused change leaves it alone."""
    return int(manager.get("booking", "/v1/organisation").json()["version"])


def _booking_still_answers(manager: Client, service_id: str) -> None:
    r = manager.post("booking", "/v1/appointments", {
        "service_id": service_id, "window": {"date": "2030-03-05", "part_of_day": "morning"},
        "client": {"name": "Grace", "email": "grace@example.com"}})
    assert r.status_code == 201, r.text


def test_an_oversized_body_is_413_and_booking_keeps_answering(manager, service_id):
    before = _events(manager)
    # The reproduction of issue 8: a 515,000-character address froze every booking write.
    r = manager.patch("booking", "/v1/organisation", {"address": "x" * 515_000})
    _assert_problem(r, 413)
    assert _events(manager) == before
    _booking_still_answers(manager, service_id)


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/organisation", {"address": "x" * (limits.ADDRESS + 1)}, "address"),
    ("/v1/organisation", {"name": "x" * (limits.NAME + 1)}, "name"),
    ("/v1/organisation", {"cancellation_reasons": ["x" * (limits.REASON + 1)]},
     "cancellation_reasons.0"),
    ("/v1/organisation", {"cancel_reason_required": "yes"}, "cancel_reason_required"),
    ("/v1/organisation", {"phone": "+10"}, "phone"),
    ("/v1/organisation", {"retention_days": "30"}, "retention_days"),
])
def test_a_field_past_its_limit_is_422_naming_it(manager, path, body, field):
    before = _events(manager)
    _assert_problem(manager.patch("booking", path, body), 422, field)
    assert _events(manager) == before


def test_free_text_of_a_command_past_its_limit_is_422(manager, service_id, appointment_id):
    big = {f"q{i}": "x" * 1000 for i in range(20)}     # 20 kB, under the body limit
    _assert_problem(_request(manager, service_id, questionnaire=big), 422, "questionnaire")
    r = manager.post("booking", f"/v1/appointments/{appointment_id}/confirm",
                     {"message": "x" * (limits.MESSAGE + 1)})
    _assert_problem(r, 422, "message")
    r = manager.post("booking", f"/v1/appointments/{appointment_id}/notes",
                     {"text": "x" * (limits.NOTE + 1)})
    _assert_problem(r, 422, "text")
    assert manager.get("booking", f"/v1/appointments/{appointment_id}").json()["version"] == 1


@pytest.mark.parametrize("service", ["booking", "workflow"])
def test_a_deeply_nested_body_is_422(manager, service):
    deep = "[" * 1000 + "]" * 1000
    path = "/v1/organisation" if service == "booking" else "/v1/workflows"
    method = "PATCH" if service == "booking" else "POST"
    r = _raw(manager, method, service, path, '{"name": "n", "statuses": ' + deep + "}")
    _assert_problem(r, 422)
    assert "nested deeper" in r.json()["detail"]


def test_nul_characters_are_422_wherever_they_come(manager, service_id, appointment_id):
    _assert_problem(manager.get("booking", "/v1/clients", params={"email": "a\x00b"}), 422, "email")
    _assert_problem(manager.get("projections", "/v1/calendar", params={"agent_id": "a\x00"}),
                    422, "agent_id")
    _assert_problem(manager.get("notifier", "/v1/deliveries", params={"recipient": "a\x00"}),
                    422, "recipient")
    _assert_problem(_request(manager, service_id, questionnaire={"allergies": "no\x00ne"}), 422,
                    "questionnaire.allergies")
    r = manager.post("booking", f"/v1/appointments/{appointment_id}/notes", {"text": "a\x00b"})
    _assert_problem(r, 422, "text")
    _assert_problem(manager.post("workflow", "/v1/workflows", {"name": "W\x00"}), 422, "name")


def test_a_lone_surrogate_is_422(manager, service_id):
    body = json.dumps({"service_id": service_id, "slot": SLOT,
                       "client": {"name": "SURROGATE", "email": "ada@example.com"}})
    body = body.replace("SURROGATE", "\\ud800")
    _assert_problem(_raw(manager, "POST", "booking", "/v1/appointments", body), 422, "client.name")


@pytest.mark.parametrize("start", ["9999-12-31T23:00:00-05:00", "0001-01-01T01:00:00+05:00"])
def test_slots_at_the_edges_of_the_calendar_are_422(manager, service_id, start):
    slot = {"start": start, "end": start.replace("T23:00", "T23:30").replace("T01:00", "T01:30")}
    _assert_problem(_request(manager, service_id, slot=slot), 422, "slot.start")
    r = manager.get("projections", "/v1/availability", params={"at": start})
    _assert_problem(r, 422, "at")


def test_a_patch_that_changes_nothing_is_200_with_the_unchanged_state(manager):
    current = manager.get("booking", "/v1/organisation").json()
    for body in ({}, {"name": current["organisation"]["name"]}):
        r = manager.patch("booking", "/v1/organisation", body)
        assert r.status_code == 200, r.text
        assert r.json()["organisation"] == current["organisation"]
        assert r.json()["position"] is None


def _raw_http(stack: Stack, request: bytes) -> tuple[int, dict[str, str], bytes]:
    host, port = stack.url("booking").removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n", 400),
    (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", 431),
], ids=["nul-in-header", "10kB-path", "100kB-header"])
def test_what_gunicorn_refuses_is_problem_json_too(stack, request_bytes, status):
    got, headers, body = _raw_http(stack, request_bytes)
    assert got == status
    assert headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["status"] == status
