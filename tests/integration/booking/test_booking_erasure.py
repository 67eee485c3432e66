"""Erasure that keeps the timeline: a client's data is sealed in the stored events with
their key; erasing them destroys the key, and every answer shows them as erased while
statuses, times and versions stay."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import psycopg
from booking_http_support import MONDAY, Api, slot

from services.booking import bootstrap
from services.booking.application.app import BookingApplication
from services.booking.entrypoints.http import create_app
from shared import links

EVENTS_TABLE = "bookingapplication_events"
PERSONAL = ("Ada Lovelace", "ada@example.com", "+441234567890", "Grace Hopper",
            "grace@example.com", "peanuts", "lovely visit", "running late")


def stored_bytes(url: str) -> bytes:
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"SELECT state FROM {EVENTS_TABLE} ORDER BY notification_id")
        return b"\n".join(bytes(r[0]) for r in rows.fetchall())


def shows(answer: object) -> list[str]:
    text = json.dumps(answer, ensure_ascii=False)
    return [p for p in PERSONAL if p in text]


def visit_request(seed) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {"service_id": seed.service, "source": "widget",
            "client": {"name": "Grace Hopper", "email": "grace@example.com"},
            "questionnaire": {"allergies": "peanuts"}, "slot": slot(9), "agent_id": seed.agent}


def a_visit_with_everything_personal(api, seed, clock, flask_app) -> str:
    """A widget request from a tentative client, linked to Ada, with questionnaire answers,
    a message and a feedback comment from the client: every kind of personal data."""
    r = api.post("/v1/appointments", visit_request(seed), headers={"Idempotency-Key": "visit-1"})
    assert r.status_code == 201, r.get_json()
    aid = r.get_json()["appointment"]["id"]
    assert api.post(f"/v1/appointments/{aid}/link_client",
                    {"client_id": seed.client}).status_code == 200
    assert api.post(f"/v1/appointments/{aid}/confirm", {}).status_code == 200
    public = flask_app.test_client()
    r = public.post(f"/v1/client_actions/propose_time?token={links.sign(aid, 'propose_time')}",
                    json={"slot": slot(11), "message": "running late"})
    assert r.status_code == 200, r.get_json()
    assert api.post(f"/v1/appointments/{aid}/accept_suggestion", {}).status_code == 200
    clock.set(MONDAY + timedelta(hours=12))
    assert api.post(f"/v1/appointments/{aid}/attend", {}).status_code == 200
    assert api.post(f"/v1/appointments/{aid}/request_feedback", {}).status_code == 200
    r = public.post(f"/v1/client_actions/submit_feedback?token="
                    f"{links.sign(aid, 'submit_feedback')}",
                    json={"rating": 5, "comment": "lovely visit"})
    assert r.status_code == 200, r.get_json()
    return aid


def test_personal_data_is_stored_sealed_and_reads_back_whole(api, seed, clock, flask_app,
                                                             booking):
    aid = a_visit_with_everything_personal(api, seed, clock, flask_app)
    # Nothing personal is in the stored bytes, yet the ids and statuses are plain
    stored = stored_bytes(booking.tables.url)  # type: ignore[attr-defined]
    assert [p for p in PERSONAL if p.encode() in stored] == []
    assert seed.client.encode() in stored and b"scheduled" in stored
    # Every answer shows it as given
    appointment = api.get(f"/v1/appointments/{aid}").get_json()["appointment"]
    assert appointment["client"]["name"] == "Ada Lovelace"
    assert appointment["questionnaire"] == {"allergies": "peanuts"}
    assert appointment["feedback"]["comment"] == "lovely visit"
    first = api.get(f"/v1/appointments/{aid}?version=1").get_json()["appointment"]
    assert first["client"]["name"] == "Grace Hopper"


def test_erasing_a_client_keeps_the_timeline_and_forgets_the_person(
        api, manager, seed, clock, flask_app, booking):
    aid = a_visit_with_everything_personal(api, seed, clock, flask_app)
    auditor = api.as_(roles=("auditor",))
    before = api.get(f"/v1/appointments/{aid}").get_json()
    feed_before = auditor.get("/v1/events?after=0&limit=1000").get_json()["items"]
    stored_before = stored_bytes(booking.tables.url)  # type: ignore[attr-defined]
    # An agent may not erase, nor another organisation's manager
    assert api.post(f"/v1/clients/{seed.client}/erase").status_code == 403
    assert manager.as_(org="globex").post(f"/v1/clients/{seed.client}/erase").status_code == 404
    # The manager erases Ada
    r = manager.post(f"/v1/clients/{seed.client}/erase")
    assert r.status_code == 200, r.get_json()
    erased = r.get_json()
    assert erased["client"]["name"] == "erased" and erased["position"] > 0
    assert (erased["client"]["email"], erased["client"]["phone"]) == (None, None)
    # The appointment: the same statuses, times and version, nobody in it
    after = api.get(f"/v1/appointments/{aid}").get_json()
    assert after["version"] == before["version"]
    for key in ("status", "slot", "requested_at", "confirmed_at", "updated_at", "outcome"):
        assert after["appointment"][key] == before["appointment"][key]
    assert after["appointment"]["client"] == {"id": seed.client, "name": "erased", "email": None,
                                              "phone": None, "tentative": False}
    assert after["appointment"]["feedback"] == {"rating": 5, "comment": None}
    assert shows(after) == []
    for version in range(1, after["version"] + 1):
        assert shows(api.get(f"/v1/appointments/{aid}?version={version}").get_json()) == []
    # The directory, the matches and the events feed forget Ada too
    assert shows(api.get(f"/v1/clients/{seed.client}").get_json()) == []
    assert shows(api.get("/v1/clients").get_json()) == []
    assert api.get("/v1/clients?email=ada@example.com").get_json()["items"] == []
    feed = auditor.get("/v1/events?after=0&limit=1000").get_json()["items"]
    assert shows(feed) == [] and len(feed) == len(feed_before) + 1
    assert [e["event"]["type"] for e in feed][:-1] == [e["event"]["type"] for e in feed_before]
    assert feed[-1]["event"]["type"] == "client.erased.v1"
    assert feed[-1]["event"]["data"]["change"]["appointment_ids"] == [aid]
    # A retried request replays its first answer, without the person
    replay = api.post("/v1/appointments", visit_request(seed),
                      headers={"Idempotency-Key": "visit-1"})
    assert replay.headers.get("Idempotent-Replayed") == "true" and shows(replay.get_json()) == []
    # Not one stored byte changed (what the hash chain covers); one event was added
    assert stored_bytes(booking.tables.url).startswith(stored_before)  # type: ignore[attr-defined]
    # Erasing again changes nothing; the erased client cannot be changed or linked
    again = manager.post(f"/v1/clients/{seed.client}/erase").get_json()
    assert (again["version"], again["position"]) == (erased["version"], None)
    assert manager.patch(f"/v1/clients/{seed.client}", {"name": "Ada"}).status_code == 409
    other = api.post("/v1/appointments", {**visit_request(seed), "slot": slot(15)})
    link = api.post(f"/v1/appointments/{other.get_json()['appointment']['id']}/link_client",
                    {"client_id": seed.client})
    assert link.status_code == 422, link.get_json()


def test_a_restarted_booking_still_shows_the_client_erased(api, manager, seed, clock, flask_app,
                                                           booking, fresh_db, monkeypatch):
    aid = a_visit_with_everything_personal(api, seed, clock, flask_app)
    assert manager.post(f"/v1/clients/{seed.client}/erase").status_code == 200
    monkeypatch.setenv("BOOKING_DATABASE_URL", fresh_db)
    other = bootstrap.wire(bootstrap.Settings.from_env(clock=clock, workflow=booking.workflow)).application
    try:
        replayed = other.appointment("acme", uuid.UUID(aid))
        assert replayed.client["name"] == "erased" and replayed.status == "feedback_received"
    finally:
        other.close()


def test_events_stored_before_sealing_replay_and_are_erased_too(fresh_db, monkeypatch, clock,
                                                                 workflow):
    # A store written by the previous release: the library's plain mapper
    monkeypatch.setenv("BOOKING_DATABASE_URL", fresh_db)
    monkeypatch.setenv("BOOKINGAPPLICATION_MAPPER_TOPIC", "eventsourcing.persistence:Mapper")
    old = bootstrap.wire(bootstrap.Settings.from_env(clock=clock, workflow=workflow)).application
    api = _api(old, ("agent", "manager"))
    client = api.post("/v1/clients", {"name": "Ada Lovelace", "email": "ada@example.com"})
    service = api.post("/v1/services", {"name": "Consultation"}).get_json()["service"]["id"]
    cid = client.get_json()["client"]["id"]
    r = api.post("/v1/appointments", {"service_id": service, "client_id": cid,
                                      "window": {"date": "2026-11-23", "part_of_day": "morning"}})
    aid = r.get_json()["appointment"]["id"]
    old.close()
    assert b"Ada Lovelace" in stored_bytes(fresh_db)
    # This release replays it as it was
    monkeypatch.delenv("BOOKINGAPPLICATION_MAPPER_TOPIC")
    new = bootstrap.wire(bootstrap.Settings.from_env(clock=clock, workflow=workflow)).application
    try:
        api = _api(new, ("agent", "manager"))
        assert api.get(f"/v1/appointments/{aid}").get_json()["appointment"]["client"]["name"] \
            == "Ada Lovelace"
        assert api.post(f"/v1/appointments/{aid}/reject", {"reason": "Fully booked"}
                        ).status_code == 200
        # Erased, its plain events read as erased as well
        assert api.post(f"/v1/clients/{cid}/erase").status_code == 200
        answer = api.get(f"/v1/appointments/{aid}").get_json()
        assert answer["appointment"]["status"] == "rejected"
        assert shows(answer) == [] and shows(api.get(f"/v1/appointments/{aid}?version=1")
                                             .get_json()) == []
        assert shows(api.as_(roles=("auditor",)).get("/v1/events?after=0").get_json()) == []
    finally:
        new.close()


def _api(application: BookingApplication, roles: tuple[str, ...]) -> Api:
    return Api(create_app(application).test_client(), roles=roles)


def test_erasing_answers_bad_input_with_a_clear_problem(manager, seed):
    assert manager.post(f"/v1/clients/{seed.service}/erase").status_code == 404  # not a client
    assert manager.post("/v1/clients/not-a-uuid/erase").status_code == 404
    r = manager.post(f"/v1/clients/{seed.client}/erase", {"reason": "asked"})
    assert r.status_code == 422, r.get_json()
    assert "reason" in str(r.get_json()["errors"]), r.get_json()
    assert manager.client.post(f"/v1/clients/{seed.client}/erase",
                               headers=manager._headers(None)).status_code == 200
