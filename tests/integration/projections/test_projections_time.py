"""What time does, as the projections show it: booking's own events (PostgreSQL, its
timer worker run once with the clock moved) reach the views through the broker; a late
cancellation and an automatic no-show each have their figure in the statistics and
their entry, by their actor, in the history."""
from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg_pool import ConnectionPool

from services.booking import bootstrap
from services.booking.adapters.cloudevents import to_messages
from services.booking.application import timers as booking_timers
from services.booking.entrypoints.http import create_app as booking_app
from services.projections.entrypoints.http import create_app
from shared import auth, links
from shared.timers import TimerWorker
from tests.doubles.booking import FixedClock, LocalWorkflow
from tests.integration.projections.support import applied_count, publish, running, wait_until

pytest_plugins = ["tests.integration.projections.fixtures"]  # the `settings` fixture
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


def _headers(roles: tuple[str, ...]) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.issue('acme', list(roles), 'agent-7')}"}


def _booking_week(infra: Any) -> tuple[dict[str, str], list[Any]]:
    """Three appointments of Monday: cancelled in time, cancelled late, never marked."""
    url = infra.database(f"t_time_booking_{os.getpid()}")
    clock = FixedClock(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))   # Friday
    app = bootstrap.wire(bootstrap.Settings(
        database_url=url, clock=clock, workflow=LocalWorkflow())).application
    web = booking_app(app).test_client()

    def post(path: str, body: dict[str, Any], roles: tuple[str, ...] = ("manager",)) -> Any:
        r = web.post(path, json=body, headers=_headers(roles))
        assert r.status_code in (200, 201), r.get_json()
        return r.get_json()

    r = web.patch("/v1/organisation", json={"late_cancellation_notice_hours": 24,
                                             "no_show_after_minutes": 60},
                  headers=_headers(("manager",)))
    assert r.status_code == 200, r.get_json()
    service = post("/v1/services", {"name": "Consultation"})["service"]["id"]
    who = post("/v1/resources", {"name": "Dr Who", "kind": "agent"})["resource"]["id"]
    client = post("/v1/clients", {"name": "Ada", "email": "ada@example.com"})["client"]["id"]
    ids = {}
    for name, hour in (("in_time", 9), ("late", 11), ("absent", 14)):
        start = MONDAY + timedelta(hours=hour)
        ids[name] = post("/v1/appointments/for_client", {
            "service_id": service, "client_id": client, "agent_id": who, "status": "scheduled",
            "slot": {"start": start.isoformat(),
                     "end": (start + timedelta(minutes=30)).isoformat()}})["appointment"]["id"]
    post(f"/v1/appointments/{ids['in_time']}/cancel", {})          # Friday: 3 days ahead
    clock.set(MONDAY + timedelta(hours=7))                          # 4 hours before 11:00
    r = web.post(f"/v1/client_actions/cancel?token={links.sign(ids['late'], 'cancel')}", json={})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["appointment"]["outcome"]["kind"] == "late_cancellation"
    clock.set(MONDAY + timedelta(hours=15, minutes=30))             # 14:30 + 60 minutes
    with ConnectionPool(url, min_size=1, max_size=2, open=True) as pool:
        fired = TimerWorker(pool, booking_timers.TABLE, booking_timers.handlers(app),
                            now=clock.now).run_due()
    assert fired == 1
    messages = [ce for _, _, ce in to_messages(app, app.notifications(0, 1000))]
    app.close()
    return ids, messages


def test_late_cancellations_and_automatic_no_shows_have_their_figures_and_history(
        settings, infra):
    ids, events = _booking_week(infra)
    api = create_app(settings).test_client()
    with running(settings):
        publish(settings, events)
        wait_until(lambda: applied_count(settings) == len(events), what="every event applied")
    stats = api.get("/v1/statistics", headers=_headers(("manager",))).get_json()
    assert stats["overall"]["by_outcome"] == {"open": 0, "attended": 0, "no_show": 1,
                                              "cancelled": 1, "late_cancellation": 1,
                                              "rejected": 0}

    def newest(aid: str) -> dict[str, Any]:
        r = api.get(f"/v1/appointments/{aid}/history", headers=_headers(("auditor",)))
        assert r.status_code == 200, r.get_json()
        return dict(r.get_json()["items"][0])

    late = newest(ids["late"])
    assert (late["action"], late["actor"]["role"]) == ("cancel", "client")
    assert {c["field"]: c["after"] for c in late["changes"]}["outcome"]["kind"] == \
        "late_cancellation"
    assert "outcome" not in {c["field"] for c in newest(ids["in_time"])["changes"]}
    absent = newest(ids["absent"])
    assert (absent["action"], absent["to_status"], absent["actor"], absent["reason"]) == (
        "no_show", "no_show", {"id": "system", "role": "system"}, "automatic")


def test_availability_shows_a_held_slot_until_its_hold_expires(settings, infra):
    url = infra.database(f"t_time_hold_booking_{os.getpid()}")
    clock = FixedClock(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    app = bootstrap.wire(bootstrap.Settings(
        database_url=url, clock=clock, workflow=LocalWorkflow())).application
    web = booking_app(app).test_client()

    def post(path: str, body: dict[str, Any], roles: tuple[str, ...] = ("manager",)) -> Any:
        r = web.post(path, json=body, headers=_headers(roles))
        assert r.status_code in (200, 201), r.get_json()
        return r.get_json()

    def publish_new(seen: int) -> int:
        messages = [ce for _, _, ce in to_messages(app, app.notifications(seen, 1000))]
        publish(settings, messages)
        total = seen + len(messages)
        wait_until(lambda: applied_count(settings) == total, what="every event applied")
        return total

    service = post("/v1/services", {"name": "Consultation"})["service"]["id"]
    who = post("/v1/resources", {"name": "Dr Who", "kind": "agent"})["resource"]["id"]
    start = MONDAY + timedelta(hours=9)
    held = post("/v1/appointments", {
        "service_id": service, "source": "widget", "agent_id": who,
        "client": {"name": "Ada", "email": "ada@example.com"},
        "slot": {"start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat()}},
        roles=("agent",))["appointment"]["id"]
    api = create_app(settings).test_client()
    at = f"/v1/availability?at={(start + timedelta(minutes=10)).isoformat().replace('+', '%2B')}"
    with running(settings):
        seen = publish_new(0)
        [dr] = api.get(at, headers=_headers(("agent",))).get_json()["resources"]
        assert (dr["available"], dr["busy_with"], dr["held_by"]) == (False, [held], [held])
        clock.advance(timedelta(minutes=15))
        with ConnectionPool(url, min_size=1, max_size=2, open=True) as pool:
            assert TimerWorker(pool, booking_timers.TABLE, booking_timers.handlers(app),
                               now=clock.now).run_due() == 1
        publish_new(seen)
        [dr] = api.get(at, headers=_headers(("agent",))).get_json()["resources"]
        assert (dr["available"], dr["busy_with"], dr["held_by"]) == (True, [], [])
        r = api.get(f"/v1/appointments/{held}/history", headers=_headers(("auditor",)))
        newest = r.get_json()["items"][0]
        assert (newest["action"], newest["actor"]["role"]) == ("hold_expired", "system")
    app.close()
