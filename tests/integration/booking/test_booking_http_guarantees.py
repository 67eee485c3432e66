"""The guarantees of ARCHITECTURE.md that booking's API owns, on real PostgreSQL:
idempotent commands, optimistic concurrency, tenant isolation, clear 4xx for bad input."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from booking_http_support import Api, slot


def events_of(booking) -> list[Any]:
    return booking.notifications(0, 1000)


def test_a_retried_post_with_the_same_idempotency_key_returns_the_first_answer(api, seed,
                                                                                booking):
    body = {"service_id": seed.service, "client_id": seed.client, "slot": slot(9)}
    # First try: created
    first = api.post("/v1/appointments", body, headers={"Idempotency-Key": "req-1"})
    assert first.status_code == 201
    stored = len(events_of(booking))
    # Retry: the very same answer, nothing new recorded
    retry = api.post("/v1/appointments", body, headers={"Idempotency-Key": "req-1"})
    assert (retry.status_code, retry.get_json()) == (201, first.get_json())
    assert retry.headers["ETag"] == first.headers["ETag"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert len(events_of(booking)) == stored
    # The same key with another body is refused
    other = api.post("/v1/appointments", {**body, "slot": slot(10)},
                     headers={"Idempotency-Key": "req-1"})
    assert other.status_code == 422 and "Idempotency-Key" in other.get_json()["errors"]
    # Keys belong to an organisation: another one may use the same key
    stranger = api.as_(org="globex")
    theirs = stranger.post("/v1/clients", {"name": "Zed"}, headers={"Idempotency-Key": "req-1"})
    assert theirs.status_code == 201 and theirs.get_json()["client"]["name"] == "Zed"
    # An action retried after it succeeded replays too (not a 409 for the second confirm)
    aid = first.get_json()["appointment"]["id"]
    confirm = api.post(f"/v1/appointments/{aid}/confirm", {}, headers={"Idempotency-Key": "c-1"})
    again = api.post(f"/v1/appointments/{aid}/confirm", {}, headers={"Idempotency-Key": "c-1"})
    assert (again.status_code, again.get_json()) == (200, confirm.get_json())


def test_concurrent_first_tries_with_one_key_create_one_appointment(api, seed, booking):
    body = {"service_id": seed.service, "client_id": seed.client, "slot": slot(9)}

    def attempt(_: int) -> tuple[int, Any]:
        r = Api(api.client.application.test_client()).post(
            "/v1/appointments", body, headers={"Idempotency-Key": "same-key"})
        return r.status_code, r.get_json()

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(attempt, range(6)))
    assert {status for status, _ in answers} == {201}
    assert len({str(answer) for _, answer in answers}) == 1
    created = [n for n in events_of(booking) if n.topic == "appointment.Requested"]
    assert len(created) == 1


def test_a_stale_if_match_is_409_with_the_current_version(api, seed, booking):
    aid = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                        "slot": slot(9)}).get_json()["appointment"]["id"]
    assert api.post(f"/v1/appointments/{aid}/notes", {"text": "x"},
                    headers={"If-Match": '"1"'}).status_code == 200
    stale = api.post(f"/v1/appointments/{aid}/confirm", {}, headers={"If-Match": '"1"'})
    assert stale.status_code == 409
    assert (stale.get_json()["current_version"], stale.headers["ETag"]) == (2, '"2"')
    assert api.get(f"/v1/appointments/{aid}").get_json()["appointment"]["status"] == "requested"
    bad = api.post(f"/v1/appointments/{aid}/confirm", {}, headers={"If-Match": "yesterday"})
    assert bad.status_code == 422 and "If-Match" in bad.get_json()["errors"]


def test_the_database_refuses_a_double_booking_the_checks_missed(api, seed, booking,
                                                                 monkeypatch):
    # Given the calendar shows every agent free (as if two commands checked at the same moment)
    monkeypatch.setattr(booking.tables, "busy_agents", lambda org, at, exclude: set())
    # (requests without an agent, so neither holds the time)
    first, second = (api.post("/v1/appointments", {
        "service_id": seed.service, "client_id": seed.client, "slot": slot(9, 30 + 15 * i)}
    ).get_json()["appointment"]["id"] for i in range(2))
    assert api.post(f"/v1/appointments/{first}/confirm",
                    {"agent_id": seed.agent}).status_code == 200
    # When the overlapping one is confirmed, the exclusion constraint rolls the save back
    r = api.post(f"/v1/appointments/{second}/confirm", {"agent_id": seed.agent})
    assert r.status_code == 409 and r.get_json()["title"] == "Agent not available"
    assert api.get(f"/v1/appointments/{second}").get_json()["version"] == 1


def test_another_organisation_gets_404_everywhere_and_changes_nothing(api, manager, seed,
                                                                       booking):
    aid = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                        "slot": slot(9), "agent_id": seed.agent}
                   ).get_json()["appointment"]["id"]
    before = len(events_of(booking))
    stranger = Api(api.client, org="globex", roles=("agent", "manager", "auditor"))
    a = f"/v1/appointments/{aid}"
    reads = [a, f"{a}/notes", f"{a}/available_agents", f"{a}/client_matches",
             f"/v1/services/{seed.service}", f"/v1/resources/{seed.agent}",
             f"/v1/clients/{seed.client}"]
    for path in reads:
        assert stranger.get(path).status_code == 404, path
    writes = {"confirm": {}, "accept_suggestion": {}, "reschedule": {"slot": slot(10)},
              "request_reschedule": {}, "reassign": {"agent_id": seed.other_agent},
              "notes": {"text": "x"}, "notes/abc": {"text": "y"},
              "details": {"metadata": {"a": 1}}, "link_client": {"client_id": seed.client},
              "save_tentative_client": {}, "cancel": {}, "reject": {"reason": "Other"},
              "attend": {}, "no_show": {}, "reopen": {}, "request_feedback": {},
              "move": {"status": "x"}}
    for path, body in writes.items():
        assert stranger.post(f"{a}/{path}", body).status_code == 404, path
    for path in (f"/v1/services/{seed.service}", f"/v1/resources/{seed.agent}",
                 f"/v1/clients/{seed.client}"):
        assert stranger.patch(path, {"name": "mine"}).status_code == 404, path
    # Their lists are empty and our ids are not theirs to book
    assert stranger.get("/v1/clients").get_json()["items"] == []
    r = stranger.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                           "slot": slot(9)})
    assert r.status_code == 422 and "service_id" in r.get_json()["errors"]
    # Nothing changed (only globex's own organisation may have been created)
    assert [n for n in events_of(booking)[before:] if not n.topic.startswith("organisation.")] == []
    assert api.get(a).get_json()["version"] == 1
    auditor = Api(api.client, org="globex", roles=("auditor",))
    feed = auditor.get("/v1/events?after=0").get_json()["items"]
    assert all(e["event"]["orgid"] == "globex" for e in feed)


@pytest.mark.parametrize("body, field", [
    ({"service_id": None}, "service_id"),
    ({"service_id": "not-a-uuid"}, "service_id"),
    ({"slot": {"start": "2026-11-23T10:00:00+00:00", "end": "2026-11-23T09:00:00+00:00"}},
     "slot.end"),
    ({"slot": {"start": "2026-11-23T10:00:00", "end": "2026-11-23T11:00:00"}}, "slot.start"),
    ({"client": {"name": "Bob", "phone": "0791234567"}}, "client.phone"),
    ({"window": {"date": "2026-11-23", "part_of_day": "night"}}, "window.part_of_day"),
    ({"colour": "red"}, "colour"),
])
def test_bad_input_is_422_naming_the_field_and_records_nothing(api, seed, booking, body, field):
    base = {"service_id": seed.service, "client_id": seed.client, "slot": slot(9)}
    if "client" in body or "window" in body:
        base.pop("client_id" if "client" in body else "slot")
    request = {k: v for k, v in {**base, **body}.items() if v is not None}
    before = len(events_of(booking))
    r = api.post("/v1/appointments", request)
    assert r.status_code == 422, r.get_json()
    problem = r.get_json()
    assert r.content_type == "application/problem+json"
    assert field in problem["errors"], problem
    assert len(events_of(booking)) == before


def test_bad_directory_input_is_422_too(manager):
    cases = [("/v1/services", {"name": ""}, "name"),
             ("/v1/services", {"name": "X", "confirmation_mode": "sometimes"}, "confirmation_mode"),
             ("/v1/resources", {"name": "R", "working_hours": {"mon": [["17:00", "09:00"]]}},
              "working_hours.mon"),
             ("/v1/resources", {"name": "R", "working_hours": {"funday": []}}, "working_hours"),
             ("/v1/clients", {"name": "C", "email": "nope"}, "email")]
    for path, body, field in cases:
        r = manager.post(path, body)
        assert r.status_code == 422 and any(k.startswith(field) for k in r.get_json()["errors"]), \
            (path, r.get_json())
    r = manager.patch("/v1/organisation", {"timezone": "Mars/Olympus"})
    assert r.status_code == 422 and "timezone" in r.get_json()["errors"]
    r = manager.patch("/v1/organisation", {"parts_of_day": {"morning": ["12:00", "09:00"]}})
    assert r.status_code == 422 and "parts_of_day.morning" in r.get_json()["errors"]
