"""An auditor reads one appointment's record on PostgreSQL: every event described with
its before/after values, and the state as it was at any instant."""
from __future__ import annotations

import uuid
from datetime import timedelta, timezone
from urllib.parse import quote

from booking_http_support import NOW, slot

from shared import links


def _at(moment):
    return quote(moment.isoformat())


def test_the_state_as_of_an_instant_is_what_the_api_answered_then(api, seed, clock, flask_app):
    auditor = api.as_(roles=("auditor",))
    answers = []   # (instant just after the command, what GET answered then)
    aid = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                        "slot": slot(9)}).get_json()["appointment"]["id"]
    steps = [("confirm", {"agent_id": seed.agent}),
             ("reassign", {"agent_id": seed.other_agent, "message": "Dr Watson will see you"}),
             ("details", {"metadata": {"crm_id": "42"}}),
             ("cancel", {"reason": "Client request"})]
    answers.append((clock.now(), api.get(f"/v1/appointments/{aid}").get_json()))
    for action, body in steps:
        clock.advance(timedelta(minutes=10))
        r = api.post(f"/v1/appointments/{aid}/{action}", body)
        assert r.status_code == 200, r.get_json()
        answers.append((clock.now(), api.get(f"/v1/appointments/{aid}").get_json()))
    # Between two commands (and exactly at one) the state is the answer of the earlier one
    for moment, answer in answers:
        for probe in (moment, moment + timedelta(minutes=5)):
            r = auditor.get(f"/v1/appointments/{aid}?as_of={_at(probe)}")
            assert r.status_code == 200, r.get_json()
            assert r.get_json() == answer and r.headers["ETag"] == f'"{answer["version"]}"'
    # In another offset, the same instant
    zurich = (answers[2][0] + timedelta(minutes=1)).astimezone(timezone(timedelta(hours=2)))
    zurich = zurich.isoformat()
    assert auditor.get(f"/v1/appointments/{aid}?as_of={quote(zurich)}").get_json() == answers[2][1]
    # Before it existed: 404; version and as_of together, a naive time, year 3000: 422
    before = auditor.get(f"/v1/appointments/{aid}?as_of={_at(NOW - timedelta(seconds=1))}")
    assert before.status_code == 404
    assert "did not exist yet" in before.get_json()["detail"]
    for query in (f"version=1&as_of={_at(NOW)}", "as_of=2026-11-20T08:00:00",
                  "as_of=3000-01-01T00:00:00%2B00:00", "as_of=yesterday"):
        r = auditor.get(f"/v1/appointments/{aid}?{query}")
        assert r.status_code == 422 and "as_of" in r.get_json()["errors"], (query, r.get_json())
    # Another organisation's auditor learns nothing
    other = api.as_(org="globex", roles=("auditor",))
    assert other.get(f"/v1/appointments/{aid}?as_of={_at(clock.now())}").status_code == 404


def test_every_event_is_described_with_its_changes_oldest_first(api, manager, seed, clock,
                                                                flask_app):
    r = api.post("/v1/appointments", {
        "service_id": seed.service, "source": "widget", "slot": slot(9),
        "client": {"name": "Ada", "email": "ada@example.com"},
        "questionnaire": {"allergies": "none"}}, headers={"X-Correlation-ID": "c0ffee"})
    aid = r.get_json()["appointment"]["id"]
    api.post(f"/v1/appointments/{aid}/link_client", {"client_id": seed.client})
    api.post(f"/v1/appointments/{aid}/confirm", {"agent_id": seed.agent})
    api.post(f"/v1/appointments/{aid}/reassign", {"agent_id": seed.other_agent,
                                                  "message": "Dr Watson will see you"})
    api.post(f"/v1/appointments/{aid}/details", {"questionnaire": {"allergies": "pollen"},
                                                 "metadata": {"crm_id": "42"}})
    note = api.post(f"/v1/appointments/{aid}/notes", {"text": "Prefers mornings"})
    note_id = api.get(f"/v1/appointments/{aid}/notes").get_json()["items"][0]["id"]
    api.post(f"/v1/appointments/{aid}/notes/{note_id}", {"text": "Prefers early mornings"})
    token = links.sign(aid, "cancel")
    cancelled = flask_app.test_client().post(f"/v1/client_actions/cancel?token={token}",
                                             json={"reason": "Client request"})
    assert note.status_code == 200 and cancelled.status_code == 200, cancelled.get_json()

    r = api.as_(roles=("auditor",)).get(f"/v1/appointments/{aid}/audit")
    assert r.status_code == 200, r.get_json()
    events = r.get_json()["events"]
    assert [e["action"] for e in events] == ["request", "client_linked", "confirm", "reassigned",
                                             "details_updated", "note_added", "note_edited",
                                             "cancel"]
    assert [e["version"] for e in events] == list(range(1, 9))
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and positions[-1] == cancelled.get_json()["position"]
    changes = [{c["field"]: (c["before"], c["after"]) for c in e["changes"]} for e in events]
    created, linked, confirmed, reassigned, details, added, edited, cancel = changes
    assert created["status"] == (None, "requested")
    assert created["questionnaire"] == (None, {"allergies": "none"})
    assert created["client"][1]["tentative"] is True
    assert events[0]["correlation_id"] == "c0ffee" and events[0]["source"] == "agent"
    assert linked["client"][0]["name"] == "Ada" and linked["client"][1]["id"] == seed.client
    assert confirmed["status"] == ("requested", "scheduled")
    assert confirmed["agent_id"] == (None, seed.agent)
    assert reassigned["agent_id"] == (seed.agent, seed.other_agent)
    assert [r["name"] for r in reassigned["resources"][0]] == ["Dr Who"]
    assert [r["name"] for r in reassigned["resources"][1]] == ["Dr Watson"]
    assert events[3]["message"] == "Dr Watson will see you" and "status" not in reassigned
    assert details == {"questionnaire": ({"allergies": "none"}, {"allergies": "pollen"}),
                       "metadata": ({}, {"crm_id": "42"})}
    assert added == {"note": (None, {"id": note_id, "text": "Prefers mornings"})}
    assert edited == {"note": ({"id": note_id, "text": "Prefers mornings"},
                               {"id": note_id, "text": "Prefers early mornings"})}
    assert cancel == {"status": ("scheduled", "cancelled")}
    last = events[-1]
    assert (last["source"], last["actor"]["role"], last["reason"]) == (
        "client_link", "client", "Client request")
    assert last["link_id"] and last["workflow"] == {"id": "builtin", "version": 1}
    assert events[2]["actor"] == {"id": "agent-7", "role": "agent"}
    # The audit trail is for auditors and managers; agents, widgets, machines and other
    # organisations do not get it
    assert manager.get(f"/v1/appointments/{aid}/audit").status_code == 200
    for role in ("agent", "widget", "service"):
        assert api.as_(roles=(role,)).get(f"/v1/appointments/{aid}/audit").status_code == 403
    assert api.as_(org="globex", roles=("auditor",)).get(
        f"/v1/appointments/{aid}/audit").status_code == 404
    # Ids of no appointment (none at all, a client's) are 404 too, for both reads
    now = _at(clock.now())
    for other in (str(uuid.uuid4()), seed.client):
        assert manager.get(f"/v1/appointments/{other}/audit").status_code == 404
        assert manager.get(f"/v1/appointments/{other}?as_of={now}").status_code == 404


def test_the_audit_trail_and_as_of_are_in_the_openapi_document(flask_app):
    spec = flask_app.test_client().get("/openapi.json").get_json()
    audit = spec["paths"]["/v1/appointments/{appointment_id}/audit"]["get"]
    assert audit["summary"] and "200" in audit["responses"]
    schemas = spec["components"]["schemas"]
    assert {"changes", "actor", "source", "workflow", "position"} <= set(
        schemas["AuditEntry"]["properties"])
    one = spec["paths"]["/v1/appointments/{appointment_id}"]["get"]
    assert {"version", "as_of"} <= {p["name"] for p in one["parameters"]}
