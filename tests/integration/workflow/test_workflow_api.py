"""A manager defines and publishes a workflow; booking (a service token) reads
versions and validates transitions; other organisations and roles are kept out."""
from __future__ import annotations

import pytest

from shared.domain import lifecycle
from tests.integration.workflow.tokens import bearer

MANAGER, AGENT, AUDITOR, SERVICE = (bearer("acme", r) for r in
                                    ("manager", "agent", "auditor", "service"))
OTHER_MANAGER = bearer("globex", "manager")
FIVE_STEPS = [
    dict(key="received", name="Request received", position=10, kind="start", colour="#fdd835"),
    dict(key="consultation", name="Consultation with management", position=20, kind="step"),
    dict(key="approved", name="Approved by management", position=30, kind="step"),
    dict(key="resources_checked", name="Resources checked", position=40, kind="step"),
    dict(key="confirmed", name="Confirmed", position=50, kind="confirmation"),
    dict(key="declined", name="Declined", position=60, kind="cancellation"),
]


def published(client, statuses=FIVE_STEPS) -> str:
    created = client.post("/v1/workflows", json={"name": "Consultation flow",
                                                 "statuses": statuses}, headers=MANAGER)
    assert created.status_code == 201, created.json
    wid = created.json["id"]
    assert client.post(f"/v1/workflows/{wid}/publish", headers=MANAGER).status_code == 201
    return wid


def check(client, headers=SERVICE, **query):
    body = {"version": None, "from_status": None, "to_status": None, **query}
    return client.post("/v1/transitions/validate", json=body, headers=headers)


def test_a_manager_publishes_and_booking_reads_the_version(client):
    # The manager defines the workflow: a draft, nothing published yet.
    created = client.post("/v1/workflows", json={"name": "Consultation flow",
                                                 "statuses": FIVE_STEPS}, headers=MANAGER)
    assert created.status_code == 201 and created.headers["ETag"] == '"1"'
    wid = created.json["id"]
    assert created.json["latest_version"] is None and created.json["versions"] == []
    assert client.get(f"/v1/workflows/{wid}/versions/1", headers=SERVICE).status_code == 404
    # Publishing freezes version 1.
    answer = client.post(f"/v1/workflows/{wid}/publish", headers=MANAGER)
    assert answer.status_code == 201
    assert answer.json == {"workflow_id": wid, "version": 1, "created": True}
    # Booking fetches it with its service token: Definition.as_dict(), cacheable forever.
    version = client.get(f"/v1/workflows/{wid}/versions/1", headers=SERVICE)
    assert version.status_code == 200 and "immutable" in version.headers["Cache-Control"]
    definition = lifecycle.Definition.from_dict(version.json)
    assert (definition.id, definition.version, definition.organisation_id) == (wid, 1, "acme")
    assert definition.as_dict() == version.json
    assert [s.key for s in definition.statuses] == [s["key"] for s in FIVE_STEPS]
    # The built-in workflow is always there, for every organisation.
    builtin = client.get("/v1/workflows/builtin/versions/1", headers=bearer("globex", "service"))
    assert builtin.json == lifecycle.BUILTIN.as_dict()
    assert client.get("/v1/workflows/builtin/versions/2", headers=SERVICE).status_code == 404
    listed = client.get("/v1/workflows", headers=AGENT).json["items"]
    assert [w["id"] for w in listed] == ["builtin", wid]


def test_a_published_version_is_unchanged_after_the_draft_is_edited(client):
    wid = published(client)
    before = client.get(f"/v1/workflows/{wid}/versions/1", headers=SERVICE).json
    edited = [s for s in FIVE_STEPS if s["key"] != "approved"]
    put = client.put(f"/v1/workflows/{wid}/draft", json={"name": "Short flow", "statuses": edited},
                     headers=MANAGER)
    assert put.status_code == 200 and put.json["name"] == "Short flow"
    assert client.get(f"/v1/workflows/{wid}/versions/1", headers=SERVICE).json == before
    # The edit becomes version 2; version 1 still answers as before.
    assert client.post(f"/v1/workflows/{wid}/publish", headers=MANAGER).json["version"] == 2
    assert client.get(f"/v1/workflows/{wid}/versions/1", headers=SERVICE).json == before
    workflow = client.get(f"/v1/workflows/{wid}", headers=AUDITOR).json
    assert [v["version"] for v in workflow["versions"]] == [1, 2]
    assert workflow["versions"][0]["published_by"] == "acme-manager"
    assert "approved" not in [s["key"] for s in workflow["draft"]["statuses"]]
    # Publishing the same draft again records nothing new.
    again = client.post(f"/v1/workflows/{wid}/publish", headers=MANAGER)
    assert (again.status_code, again.json["version"]) == (200, 2)


def test_transitions_are_validated_against_a_published_version(client):
    wid = published(client)
    # Forward is allowed, at the latest version when none is given.
    forward = check(client, workflow_id=wid, from_status="received", action="move",
                    to_status="approved")
    assert forward.status_code == 200
    assert forward.json == {"allowed": True, "workflow": {"id": wid, "version": 1},
                            "to_status": "approved", "status_kind": "step",
                            "allowed_actions": ["confirm", "accept_suggestion",
                                                "request_reschedule", "cancel", "reject", "move"]}
    # Backward is refused -- still a 200, naming what is allowed from there.
    back = check(client, headers=AGENT, workflow_id=wid, version=1, from_status="approved",
                 action="move", to_status="consultation")
    assert back.status_code == 200 and back.json["allowed"] is False
    assert "move" in back.json["allowed_actions"]
    # to_status null: the first target; the built-in workflow by its id.
    confirm = check(client, workflow_id="builtin", from_status="requested", action="confirm")
    assert confirm.json["to_status"] == "scheduled"
    assert confirm.json["status_kind"] == "confirmation" and confirm.json["allowed"] is True
    attend = check(client, workflow_id="builtin", from_status="requested", action="attend")
    assert (attend.json["allowed"], attend.json["to_status"]) == (False, None)
    # Unknown workflow -> 404; unknown action or status -> 422 naming the field.
    assert check(client, workflow_id="nope", action="move").status_code == 404
    assert check(client, workflow_id=wid, version=7, action="move").status_code == 404
    for query, field in ((dict(action="fly"), "action"),
                         (dict(action="confirm", from_status="requested"), "from_status"),
                         (dict(action="move", from_status="received", to_status="x"), "to_status")):
        refused = check(client, workflow_id=wid, **query)
        assert refused.status_code == 422 and list(refused.json["errors"]) == [field]


def test_another_organisation_gets_404_on_every_endpoint_and_changes_nothing(client):
    wid = published(client)
    before = client.get(f"/v1/workflows/{wid}", headers=MANAGER).json
    attempts = [
        client.get(f"/v1/workflows/{wid}", headers=OTHER_MANAGER),
        client.put(f"/v1/workflows/{wid}/draft", json={"statuses": []}, headers=OTHER_MANAGER),
        client.post(f"/v1/workflows/{wid}/publish", headers=OTHER_MANAGER),
        client.get(f"/v1/workflows/{wid}/versions/1", headers=OTHER_MANAGER),
        check(client, headers=bearer("globex", "service"), workflow_id=wid, action="move"),
    ]
    assert [a.status_code for a in attempts] == [404] * 5
    assert ids(client, OTHER_MANAGER) == ["builtin"]
    assert client.get(f"/v1/workflows/{wid}", headers=MANAGER).json == before


def test_only_managers_change_workflows(client):
    wid = published(client)
    body = {"name": "X", "statuses": FIVE_STEPS}
    for headers in (AGENT, AUDITOR, SERVICE):
        assert client.post(f"/v1/workflows/{wid}/publish", headers=headers).status_code == 403
        assert client.post("/v1/workflows", json=body, headers=headers).status_code == 403
        assert client.put(f"/v1/workflows/{wid}/draft", json=body,
                          headers=headers).status_code == 403
        assert client.post("/v1/workflows/validate", json=body, headers=headers).status_code == 403
    # The auditor reads everything.
    for path in ("/v1/workflows", f"/v1/workflows/{wid}", f"/v1/workflows/{wid}/versions/1"):
        assert client.get(path, headers=AUDITOR).status_code == 200
    assert client.get("/v1/workflows").status_code == 401
    assert client.get(f"/v1/workflows/{wid}", headers=MANAGER).json["revision"] == 2


@pytest.mark.parametrize("body, field", [
    ({"statuses": []}, "name"),
    ({"name": "X", "statuses": "all"}, "statuses"),
    ({"name": "X", "statuses": [dict(FIVE_STEPS[0], kind="completion")]}, "statuses.0.kind"),
    ({"name": "X", "statuses": [dict(FIVE_STEPS[0], position="ten")]}, "statuses.0.position"),
    ({"name": "X", "statuses": [dict(FIVE_STEPS[0], colour="red")]}, "statuses.0.colour"),
    ({"name": "X", "statuses": [dict(FIVE_STEPS[0], key="Has Space")]}, "statuses.0.key"),
    ({"name": "X", "statuses": [{"key": "a", "kind": "start", "position": 1}]}, "statuses.0.name"),
    ({"name": "X", "colour": "#000000"}, "colour"),
])
def test_bad_input_is_a_422_naming_the_field(client, body, field):
    answer = client.post("/v1/workflows", json=body, headers=MANAGER)
    assert answer.status_code == 422 and field in answer.json["errors"], answer.json
    assert answer.content_type == "application/problem+json"
    assert ids(client, MANAGER) == ["builtin"]


def test_publishing_a_broken_draft_names_each_problem(client):
    created = client.post("/v1/workflows", json={"name": "Half", "statuses": FIVE_STEPS[:2]},
                          headers=MANAGER).json
    answer = client.post(f"/v1/workflows/{created['id']}/publish", headers=MANAGER)
    assert answer.status_code == 422
    assert answer.json["errors"] == {"statuses": [
        "at least one status must be of kind confirmation",
        "at least one status must be of kind cancellation"]}
    assert client.get(f"/v1/workflows/{created['id']}", headers=MANAGER).json["versions"] == []


def test_other_bad_requests_are_clear_and_never_500(client):
    wid = published(client)
    for answer, status, field in (
        (check(client, workflow_id=wid, version="1", action="move"), 422, "version"),
        (client.post("/v1/transitions/validate", json={}, headers=SERVICE), 422, "action"),
        (client.put(f"/v1/workflows/{wid}/draft", json={"name": "X"}, headers=MANAGER),
         422, "statuses"),
        (client.put(f"/v1/workflows/{wid}/draft", json={"statuses": []},
                    headers={**MANAGER, "If-Match": "abc"}), 422, "If-Match"),
        (client.post("/v1/workflows", data="{not json", headers={
            **MANAGER, "Content-Type": "application/json"}), 400, None),
        (client.get("/v1/workflows/not-a-uuid", headers=MANAGER), 404, None),
        (client.put("/v1/workflows/builtin/draft", json={"statuses": []}, headers=MANAGER),
         409, None),
    ):
        assert answer.status_code == status, (answer.status_code, answer.json)
        assert field is None or field in answer.json["errors"]
    # A stale If-Match is a conflict naming the current version.
    stale = client.post(f"/v1/workflows/{wid}/publish", headers={**MANAGER, "If-Match": '"1"'})
    assert (stale.status_code, stale.json["current_version"]) == (409, 2)


def test_the_validate_api_checks_a_definition_without_saving_it(client):
    good = client.post("/v1/workflows/validate", json={"statuses": FIVE_STEPS}, headers=MANAGER)
    assert good.json == {"valid": True, "problems": []}
    bad = client.post("/v1/workflows/validate", json={"statuses": FIVE_STEPS[1:]},
                      headers=MANAGER)
    assert bad.status_code == 200 and bad.json["valid"] is False
    assert bad.json["problems"] == ["exactly one status must be of kind start"]
    assert ids(client, MANAGER) == ["builtin"]


def test_a_retried_create_with_the_same_idempotency_key_creates_one(client):
    body = {"name": "Flow", "statuses": FIVE_STEPS}
    headers = {**MANAGER, "Idempotency-Key": "create-1"}
    first = client.post("/v1/workflows", json=body, headers=headers)
    second = client.post("/v1/workflows", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json["id"] == second.json["id"]
    assert len(client.get("/v1/workflows", headers=MANAGER).json["items"]) == 2  # builtin + one


def ids(client, headers, **query):
    return [w["id"] for w in client.get("/v1/workflows", query_string=query,
                                        headers=headers).json["items"]]


def test_the_workflows_page_with_a_cursor_each_once_also_while_one_is_defined(client):
    defined = [client.post("/v1/workflows", json={"name": f"Flow {n}", "statuses": FIVE_STEPS},
                           headers=MANAGER).json["id"] for n in range(3)]
    first = client.get("/v1/workflows", query_string={"limit": 2}, headers=AGENT).json
    assert [w["id"] for w in first["items"]] == ["builtin", defined[0]]
    defined.append(client.post("/v1/workflows", json={"name": "Late", "statuses": FIVE_STEPS},
                               headers=MANAGER).json["id"])
    seen, cursor = [w["id"] for w in first["items"]], first["next_cursor"]
    while cursor:
        page = client.get("/v1/workflows", query_string={"limit": 2, "cursor": cursor},
                          headers=AGENT).json
        seen += [w["id"] for w in page["items"]]
        cursor = page["next_cursor"]
    assert seen == ["builtin", *defined]
    assert ids(client, AGENT, limit=200) == seen
    bad = client.get("/v1/workflows", query_string={"cursor": "WyJ4Il0"}, headers=AGENT)
    assert bad.status_code == 422 and list(bad.json["errors"]) == ["cursor"]


def test_the_openapi_document_describes_every_endpoint(client):
    paths = client.get("/openapi.json").json["paths"]
    assert paths["/v1/workflows/{workflow_id}/publish"]["post"]["summary"].startswith("Freeze")
    assert "requestBody" in paths["/v1/transitions/validate"]["post"]
    assert {"/v1/workflows", "/v1/workflows/validate", "/v1/workflows/{workflow_id}",
            "/v1/workflows/{workflow_id}/draft",
            "/v1/workflows/{workflow_id}/versions/{version}"} <= set(paths)
