"""Read-your-writes: a query with min_position waits until that booking
position is applied; when it is not applied in time the answer is 504."""
from __future__ import annotations

import time
from dataclasses import replace

from services.projections.entrypoints.http import create_app
from tests.integration.projections.support import applied_count, publish, running, token, wait_until
from tests.unit.projections.factory import Booking, slot

pytest_plugins = ["tests.integration.projections.fixtures"]  # the `settings` fixture


def test_a_query_with_min_position_sees_the_write_just_published(settings):
    booking = Booking(first_position=500)
    aid = booking.request(slot_=slot("2026-11-23", "09:00")).subject
    api = create_app(settings).test_client()
    with running(settings):
        publish(settings, booking.events)
        wait_until(lambda: applied_count(settings) == 1, what="the group joined and applied")
        # When the frontend confirms and reads straight after, naming the position it got back
        confirm = booking.act(aid, "confirm")
        publish(settings, [confirm])
        started = time.monotonic()
        answer = api.get(f"/v1/appointments/{aid}/history?min_position={confirm.position}",
                         headers=token())
        # Then it sees its own write, without waiting for the poll safety net
        assert answer.status_code == 200
        assert answer.get_json()["items"][0]["action"] == "confirm"
        assert time.monotonic() - started < 5
        queue = api.get(f"/v1/queue?include_confirmed=true&min_position={confirm.position}",
                        headers=token()).get_json()["items"]
        assert [(i["id"], i["status"]) for i in queue] == [(aid, "scheduled")]


def test_a_position_not_applied_in_time_answers_504_and_no_stale_data(settings):
    api = create_app(replace(settings, read_your_writes_timeout=0.3)).test_client()
    answer = api.get("/v1/calendar?from=2026-11-23&to=2026-11-23&min_position=987654",
                     headers=token())
    assert answer.status_code == 504
    assert answer.headers["Retry-After"] == "1"
    assert answer.content_type == "application/problem+json"
    assert answer.get_json()["position"] == 987654
    assert "items" not in answer.get_json()


def test_min_position_0_asks_for_nothing_and_answers_at_once(settings):
    # Positions start at 1: a view that has applied nothing yet is fresh enough for 0.
    api = create_app(replace(settings, read_your_writes_timeout=30)).test_client()
    started = time.monotonic()
    answer = api.get("/v1/queue?min_position=0", headers=token())
    assert answer.status_code == 200
    assert time.monotonic() - started < 5


def test_bad_query_parameters_answer_422_naming_the_field(settings):
    api = create_app(settings).test_client()
    cases = {
        "/v1/calendar?to=2026-11-23": "from",
        "/v1/calendar?from=2026-11-24&to=2026-11-23": "to",
        "/v1/calendar?from=2026-11-23T09:00:00&to=2026-11-24T09:00:00Z": "from",
        "/v1/appointments?limit=0": "limit",
        "/v1/appointments?cursor=garbage": "cursor",
        "/v1/appointments?min_position=-1": "min_position",
        "/v1/appointments?colour=red": "colour",
        "/v1/availability?at=tomorrow": "at",
        "/v1/availability": "at",
        "/v1/statistics?period=year": "period",
        "/v1/queue?include_confirmed=maybe": "include_confirmed",
    }
    for url, field in cases.items():
        answer = api.get(url, headers=token())
        assert answer.status_code == 422, url
        assert field in answer.get_json()["errors"], (url, answer.get_json())
    assert api.get("/v1/statistics", headers=token(roles=("agent",))).status_code == 403
    assert api.get("/v1/calendar?from=2026-11-23&to=2026-11-23").status_code == 401


def test_the_openapi_document_describes_every_query(settings):
    api = create_app(settings).test_client()
    spec = api.get("/openapi.json").get_json()
    paths = spec["paths"]
    assert set(paths) >= {"/v1/calendar", "/v1/appointments", "/v1/queue",
                          "/v1/appointments/{appointment_id}/history",
                          "/v1/clients/{client_id}/appointments", "/v1/availability",
                          "/v1/statistics"}
    calendar = paths["/v1/calendar"]["get"]
    assert calendar["summary"].startswith("Calendar")
    assert {"from", "to", "agent_id", "resource_id", "min_position"} <= {
        p["name"] for p in calendar["parameters"]}
