"""The booking API over HTTP on PostgreSQL: a request's life, read back as events."""
from __future__ import annotations

from datetime import timedelta

from booking_http_support import MONDAY, slot

from shared import auth, links


def test_a_widget_request_is_linked_confirmed_attended_and_reviewed(api, manager, seed, clock,
                                                                   flask_app):
    # A client asks through the widget for Monday morning; not yet in the directory
    r = api.post("/v1/appointments", {
        "service_id": seed.service, "source": "widget",
        "client": {"name": "Ada", "email": "ada@example.com"},
        "window": {"date": "2026-11-23", "part_of_day": "morning"}})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    aid = body["appointment"]["id"]
    assert (body["appointment"]["status"], body["version"], r.headers["ETag"]) == (
        "requested", 1, '"1"')
    assert body["position"] > 0
    # The practice gets a suggestion and links the existing client
    matches = api.get(f"/v1/appointments/{aid}/client_matches").get_json()["items"]
    assert [c["id"] for c in matches] == [seed.client]
    r = api.post(f"/v1/appointments/{aid}/link_client", {"client_id": seed.client},
                 headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    # It confirms at 09:00 with Dr Who
    r = api.post(f"/v1/appointments/{aid}/confirm", {"slot": slot(9), "agent_id": seed.agent})
    assert r.status_code == 200, r.get_json()
    confirmed = r.get_json()
    assert confirmed["appointment"]["status"] == "scheduled"
    assert confirmed["position"] > body["position"]
    # Reading it back gives the same state and its ETag
    r = api.get(f"/v1/appointments/{aid}")
    assert r.get_json()["appointment"] == confirmed["appointment"] and r.headers["ETag"] == '"3"'
    # Too early to mark attended
    r = api.post(f"/v1/appointments/{aid}/attend", {})
    assert r.status_code == 409 and r.get_json()["title"] == "Not due yet"
    # Monday 10:00: attended with an outcome, then a survey
    clock.set(MONDAY + timedelta(hours=10))
    r = api.post(f"/v1/appointments/{aid}/attend", {"time_taken_minutes": 25,
                                                    "remark": "all good"})
    assert r.get_json()["appointment"]["outcome"]["time_taken_minutes"] == 25
    assert api.post(f"/v1/appointments/{aid}/request_feedback", {}).status_code == 200
    again = api.post(f"/v1/appointments/{aid}/request_feedback", {})
    assert again.status_code == 409 and again.get_json()["requested_on"] == "2026-11-23"
    # The client answers through the survey link, without any bearer token
    token = links.sign(aid, "submit_feedback")
    r = flask_app.test_client().post(f"/v1/client_actions/submit_feedback?token={token}",
                                     json={"rating": 5, "comment": "thank you"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["appointment"]["status"] == "feedback_received"
    # The whole history is in the event feed, in order, with versions
    service = api.as_(roles=("service",))
    feed = service.get("/v1/events?after=0&limit=100").get_json()["items"]
    mine = [e["event"] for e in feed if e["event"]["subject"] == aid]
    assert [e["type"] for e in mine] == [
        "appointment.requested.v1", "appointment.client_linked.v1", "appointment.confirmed.v1",
        "appointment.attended.v1", "appointment.feedback_requested.v1",
        "appointment.feedback_submitted.v1"]
    assert [e["aggregateversion"] for e in mine] == [1, 2, 3, 4, 5, 6]
    assert mine[-1]["data"]["change"]["actor"]["role"] == "client"
    assert all(e["orgid"] == "acme" and e["source"] == "booking" for e in mine)


def test_reschedule_cancel_reject_reopen_and_notes_over_http(api, manager, seed, clock):
    def request(**extra):
        r = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                          "slot": slot(9), "agent_id": seed.agent, **extra})
        assert r.status_code == 201, r.get_json()
        return r.get_json()["appointment"]["id"]

    # The organisation wants rescheduled appointments re-confirmed
    r = manager.patch("/v1/organisation", {"reschedule_needs_reconfirmation": True,
                                           "cancel_reason_required": True})
    assert r.status_code == 200, r.get_json()
    a = request()
    api.post(f"/v1/appointments/{a}/confirm", {})
    r = api.post(f"/v1/appointments/{a}/reschedule", {"slot": slot(11), "message": "later"})
    assert r.get_json()["appointment"]["status"] == "requested"
    # notes stay internal
    r = api.post(f"/v1/appointments/{a}/notes", {"text": "call before"})
    assert "call before" not in r.get_data(as_text=True)
    notes = api.get(f"/v1/appointments/{a}/notes").get_json()["items"]
    r = api.post(f"/v1/appointments/{a}/notes/{notes[0]['id']}", {"text": "call the day before"})
    assert r.status_code == 200
    assert api.get(f"/v1/appointments/{a}/notes").get_json()["items"][0]["text"] == \
        "call the day before"
    # cancelling needs a reason from the list now
    r = api.post(f"/v1/appointments/{a}/cancel", {})
    assert r.status_code == 422 and "reason" in r.get_json()["errors"]
    r = api.post(f"/v1/appointments/{a}/cancel", {"reason": "Client request"})
    assert r.get_json()["appointment"]["status"] == "cancelled"
    # a second request is rejected with a reason
    b = request()
    r = api.post(f"/v1/appointments/{b}/reject", {"reason": "Fully booked", "message": "sorry"})
    assert r.get_json()["appointment"]["status"] == "rejected"
    # a third one: no-show, then reopened
    c = request(slot=slot(14))
    api.post(f"/v1/appointments/{c}/confirm", {})
    clock.set(MONDAY + timedelta(hours=15))
    assert api.post(f"/v1/appointments/{c}/no_show", {}).get_json()["appointment"]["status"] \
        == "no_show"
    assert api.post(f"/v1/appointments/{c}/reopen", {}).get_json()["appointment"]["status"] \
        == "reopened"


def test_automatic_confirmation_and_reassigning_to_an_available_agent(api, seed):
    r = api.post("/v1/appointments", {"service_id": seed.automatic_service,
                                      "client_id": seed.client, "slot": slot(9),
                                      "agent_id": seed.agent, "source": "widget"})
    a = r.get_json()["appointment"]
    assert a["status"] == "scheduled" and a["confirmed_at"]
    agents = api.get(f"/v1/appointments/{a['id']}/available_agents").get_json()["items"]
    assert [x["id"] for x in agents] == [seed.other_agent]
    r = api.post(f"/v1/appointments/{a['id']}/reassign", {"agent_id": seed.other_agent,
                                                          "message": "Dr Watson instead"})
    assert r.get_json()["appointment"]["agent_id"] == seed.other_agent
    # Dr Who is free again at 09:00; Dr Watson is not (a request for him is refused)
    r = api.post("/v1/appointments", {"service_id": seed.automatic_service,
                                      "client_id": seed.client, "slot": slot(9),
                                      "agent_id": seed.other_agent})
    assert r.status_code == 409 and r.get_json()["title"] == "Agent not available"
    r = api.post("/v1/appointments", {"service_id": seed.automatic_service,
                                      "client_id": seed.client, "slot": slot(9),
                                      "agent_id": seed.agent})
    assert r.get_json()["appointment"]["status"] == "scheduled"


def test_roles_decide_who_may_do_what(api, manager, seed, flask_app):
    auditor = api.as_(roles=("auditor",))
    r = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                      "slot": slot(9)})
    aid = r.get_json()["appointment"]["id"]
    assert auditor.get(f"/v1/appointments/{aid}").status_code == 200
    assert auditor.post(f"/v1/appointments/{aid}/confirm", {}).status_code == 403
    assert api.patch("/v1/organisation", {"name": "Mine"}).status_code == 403
    assert api.post("/v1/services", {"name": "X"}).status_code == 403
    assert manager.patch("/v1/organisation", {"name": "Acme Clinic"}).status_code == 200
    assert api.get("/v1/events").status_code == 403
    assert auditor.get("/v1/events").status_code == 200
    assert flask_app.test_client().get(f"/v1/appointments/{aid}").status_code == 401
    forged = auth.issue("acme", ["agent"])[:-3] + "abc"
    r = flask_app.test_client().get(f"/v1/appointments/{aid}",
                                    headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


def test_the_openapi_document_lists_every_endpoint_with_a_summary(flask_app):
    spec = flask_app.test_client().get("/openapi.json").get_json()
    operations = [(path, method, op) for path, ops in spec["paths"].items()
                  for method, op in ops.items() if method != "parameters"]
    assert len(operations) >= 35
    assert all(op.get("summary") for _, _, op in operations)
    assert "/v1/appointments/{appointment_id}/confirm" in spec["paths"]
