"""Instants in booking's answers carry the organisation's offset at that instant (README,
API conventions), whatever offset they were given with; stored events stay in UTC."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from booking_http_support import NOW, Api
from psycopg_pool import ConnectionPool

from services.booking.application import timers as booking_timers
from services.booking.domain.organisation import organisation_uuid
from shared import links
from shared.timers import TimerWorker

WINTER = {"start": "2026-11-23T09:00:00+00:00", "end": "2026-11-23T09:30:00Z"}      # UTC
SUMMER = {"start": "2027-06-14T14:00:00+05:00", "end": "2027-06-14T14:30:00+05:00"}  # 09:00Z


def same_instant(answered: str, given: str) -> bool:
    return datetime.fromisoformat(answered) == datetime.fromisoformat(given)


def offset(text: str) -> str:
    return text[-6:]


def request(api: Api, seed: Any, at: dict[str, str]) -> dict[str, Any]:
    r = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                      "slot": at, "agent_id": seed.agent})
    assert r.status_code == 201, r.get_json()
    appointment: dict[str, Any] = r.get_json()["appointment"]
    return appointment


def test_a_zurich_organisation_answers_in_its_offset_winter_and_summer(api, manager, seed,
                                                                       flask_app, booking):
    assert manager.patch("/v1/organisation", {"timezone": "Europe/Zurich"}).status_code == 200
    # A winter slot given in UTC: +01:00; a summer one given in +05:00: +02:00; same instants
    winter, summer = request(api, seed, WINTER), request(api, seed, SUMMER)
    assert (winter["slot"]["start"], winter["slot"]["end"]) == (
        "2026-11-23T10:00:00+01:00", "2026-11-23T10:30:00+01:00")
    assert (summer["slot"]["start"], summer["slot"]["end"]) == (
        "2027-06-14T11:00:00+02:00", "2027-06-14T11:30:00+02:00")
    assert all(same_instant(summer["slot"][k], SUMMER[k]) for k in ("start", "end"))
    # The other instants of the snapshot: November, so +01:00
    for key in ("requested_at", "updated_at", "hold_until"):
        assert offset(winter[key]) == "+01:00", (key, winter[key])
        assert offset(summer[key]) == "+01:00", (key, summer[key])
    assert same_instant(winter["requested_at"], NOW.isoformat())
    # Reading it back, confirming, notes, the audit trail: the same rendering
    aid = winter["id"]
    got = api.get(f"/v1/appointments/{aid}").get_json()["appointment"]
    assert got["slot"] == winter["slot"]
    confirmed = api.post(f"/v1/appointments/{aid}/confirm", {}).get_json()["appointment"]
    assert offset(confirmed["confirmed_at"]) == "+01:00"
    assert api.post(f"/v1/appointments/{aid}/notes", {"text": "Prefers mornings"}).status_code == 200
    [note] = api.get(f"/v1/appointments/{aid}/notes").get_json()["items"]
    assert offset(note["at"]) == "+01:00"
    trail = manager.get(f"/v1/appointments/{aid}/audit").get_json()["events"]
    assert {offset(e["at"]) for e in trail} == {"+01:00"}
    [slot_change] = [c for c in trail[0]["changes"] if c["field"] == "slot"]
    assert slot_change["after"] == winter["slot"]
    # Stored events and the CloudEvents feed keep UTC
    feed = api.as_(roles=("service",)).get("/v1/events").get_json()["items"]
    first = feed_appointment(feed, aid)
    assert first["slot"]["start"] == "2026-11-23T09:00:00+00:00"
    # A rescheduled summer slot, and its proposal through a client link
    moved = api.post(f"/v1/appointments/{aid}/reschedule", {"slot": SUMMER | {
        "start": "2027-06-15T09:00:00Z", "end": "2027-06-15T09:30:00Z"}}).get_json()
    assert moved["appointment"]["slot"]["start"] == "2027-06-15T11:00:00+02:00"


def feed_appointment(feed: list[dict[str, Any]], aid: str) -> dict[str, Any]:
    for item in feed:
        data = item["event"]["data"]
        if isinstance(data, str):
            data = json.loads(data)
        if data.get("appointment", {}).get("id") == aid:
            appointment: dict[str, Any] = data["appointment"]
            return appointment
    raise AssertionError(f"no event of {aid} in the feed")


def test_a_link_and_a_replay_answer_in_the_organisations_offset(api, manager, seed, flask_app):
    assert manager.patch("/v1/organisation", {"timezone": "Europe/Zurich"}).status_code == 200
    aid = request(api, seed, WINTER)["id"]
    public = flask_app.test_client()
    url = f"/v1/client_actions/propose_time?token={links.sign(aid, 'propose_time')}"
    assert public.get(url).get_json()["appointment"]["slot"]["start"] == (
        "2026-11-23T10:00:00+01:00")
    # The first answer is stored (UTC) and replayed: both in the organisation's offset
    assert api.post(f"/v1/appointments/{aid}/confirm", {}).status_code == 200
    key = {"Idempotency-Key": "zones-1"}
    first = api.post(f"/v1/appointments/{aid}/reschedule", {"slot": SUMMER}, key)
    again = api.post(f"/v1/appointments/{aid}/reschedule", {"slot": SUMMER}, key)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.get_json() == again.get_json()
    assert again.get_json()["appointment"]["slot"]["start"] == "2027-06-14T11:00:00+02:00"


def test_an_organisation_in_utc_still_answers_plus_zero(api, seed):
    answered = request(api, seed, SUMMER)
    assert answered["slot"]["start"] == "2027-06-14T09:00:00+00:00"
    assert offset(answered["requested_at"]) == "+00:00"


def test_a_waitlist_offer_is_in_the_organisations_offset(api, manager, seed, clock, booking,
                                                         fresh_db):
    assert manager.patch("/v1/organisation", {"timezone": "Europe/Zurich"}).status_code == 200
    aid = request(api, seed, WINTER)["id"]
    joined = api.post("/v1/waitlist", {"service_id": seed.service, "client_id": seed.client})
    assert offset(joined.get_json()["entry"]["joined_at"]) == "+01:00"
    assert api.post(f"/v1/appointments/{aid}/cancel", {}).status_code == 200
    with ConnectionPool(fresh_db, min_size=1, max_size=2, open=True) as pool:
        assert TimerWorker(pool, booking_timers.TABLE, booking_timers.handlers(booking),
                           now=booking.clock.now).run_due() == 1
    offer = api.get(f"/v1/waitlist/{joined.get_json()['entry']['id']}").get_json()["entry"]["offer"]
    assert offer["slot"]["start"] == "2026-11-23T10:00:00+01:00"
    assert same_instant(offer["until"], (clock.now() + timedelta(minutes=15)).isoformat())
    assert offset(offer["until"]) == "+01:00"


def test_a_command_reads_its_organisation_once_and_answers_in_its_zone(api, manager, seed,
                                                                        booking, monkeypatch):
    assert manager.patch("/v1/organisation", {"timezone": "Europe/Zurich"}).status_code == 200
    aid = request(api, seed, WINTER)["id"]
    reads: list[Any] = []
    get = booking.repository.get

    def counted(aggregate_id: Any, *args: Any, **kwargs: Any) -> Any:
        reads.extend([aggregate_id] if aggregate_id == organisation_uuid("acme") else [])
        return get(aggregate_id, *args, **kwargs)

    monkeypatch.setattr(booking.repository, "get", counted)
    # The answer's zone and the command's settings come from one read of the organisation
    confirmed = api.post(f"/v1/appointments/{aid}/confirm", {})
    assert confirmed.status_code == 200, confirmed.get_json()
    assert confirmed.get_json()["appointment"]["slot"]["start"] == "2026-11-23T10:00:00+01:00"
    assert len(reads) <= 1, reads
    reads.clear()
    assert request(api, seed, SUMMER)["slot"]["start"] == "2027-06-14T11:00:00+02:00"
    assert len(reads) <= 1, reads
