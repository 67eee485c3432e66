"""The OpenAPI document tells a generated client the truth about errors and headers:
real error answers match the documented problem+json schema, every operation lists
the errors it can give, and a query parameter it does not document is refused."""
from __future__ import annotations

from typing import Any

import pytest
from booking_http_support import Api, slot
from flask import Flask
from jsonschema import Draft4Validator  # type: ignore[import-untyped]
from werkzeug.test import TestResponse


@pytest.fixture
def spec(flask_app: Flask) -> dict[str, Any]:
    document: dict[str, Any] = flask_app.test_client().get("/openapi.json").get_json()
    return document


def documented_error(spec: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    """The schema the document gives for `status` answers of an operation."""
    answer = spec["paths"][path][method]["responses"][str(status)]
    if "$ref" in answer:
        answer = spec["components"]["responses"][answer["$ref"].rsplit("/", 1)[-1]]
    content = answer["content"]
    assert list(content) == ["application/problem+json"]
    return {**content["application/problem+json"]["schema"], "components": spec["components"]}


def assert_matches(spec: dict[str, Any], path: str, method: str, r: TestResponse) -> None:
    assert r.content_type == "application/problem+json"
    schema = documented_error(spec, path, method, r.status_code)
    Draft4Validator(schema).validate(r.get_json())


def test_real_error_answers_match_the_documented_problem_schema(api: Api, seed: Any,
                                                                spec: dict[str, Any]) -> None:
    r = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                      "slot": {"start": "tomorrow"}})
    assert r.status_code == 422
    assert_matches(spec, "/v1/appointments", "post", r)

    r = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                      "slot": slot(9), "agent_id": seed.agent})
    aid = r.get_json()["appointment"]["id"]
    r = api.post(f"/v1/appointments/{aid}/attend", {})
    assert r.status_code == 409
    assert_matches(spec, "/v1/appointments/{appointment_id}/attend", "post", r)
    assert isinstance(r.get_json()["status"], int)

    r = api.get("/v1/appointments/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404
    assert_matches(spec, "/v1/appointments/{appointment_id}", "get", r)

    r = api.client.get(f"/v1/appointments/{aid}")
    assert r.status_code == 401
    assert_matches(spec, "/v1/appointments/{appointment_id}", "get", r)


def test_every_operation_names_its_errors_and_has_a_unique_operation_id(
        spec: dict[str, Any]) -> None:
    ids = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            ids.append(op["operationId"])
            codes = set(op["responses"])
            assert {"422", "503"} <= codes, (method, path)
            assert "default" not in codes, (method, path)
            if op.get("security") != []:
                assert {"401", "403"} <= codes, (method, path)
            if method in ("post", "patch", "put"):
                assert {"413", "429"} <= codes, (method, path)
    assert len(ids) == len(set(ids))
    problem = spec["components"]["schemas"]["Problem"]
    assert problem["properties"]["status"]["type"] == "integer"
    assert {"type", "title", "status", "detail"} <= set(problem["required"])


def test_commands_document_if_match_idempotency_and_the_etag(spec: dict[str, Any]) -> None:
    confirm = spec["paths"]["/v1/appointments/{appointment_id}/confirm"]["post"]
    assert {"If-Match", "Idempotency-Key", "X-Correlation-ID"} <= {
        p["name"] for p in confirm["parameters"]}
    assert "409" in confirm["responses"]
    assert {"ETag", "Idempotent-Replayed"} <= set(confirm["responses"]["200"]["headers"])
    read = spec["paths"]["/v1/appointments/{appointment_id}"]["get"]
    assert "ETag" in read["responses"]["200"]["headers"]


def test_a_query_parameter_the_operation_does_not_take_is_refused(api: Api, seed: Any) -> None:
    r = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                      "slot": slot(9), "agent_id": seed.agent})
    aid = r.get_json()["appointment"]["id"]
    r = api.get(f"/v1/appointments/{aid}?at=2026-11-20T09:00:00Z")
    assert r.status_code == 422
    assert "at" in r.get_json()["errors"]
    assert "version" in r.get_json()["errors"]["at"][0]   # what it does take
    assert api.get(f"/v1/appointments/{aid}?version=1").status_code == 200
    r = api.get("/v1/organisation?verbose=1")
    assert r.status_code == 422 and "verbose" in r.get_json()["errors"]
    r = api.post(f"/v1/appointments/{aid}/reject?force=1", {"reason": "Other"})
    assert r.status_code == 422 and "force" in r.get_json()["errors"]
    assert api.get(f"/v1/appointments/{aid}").get_json()["version"] == 1   # nothing applied
