"""Time moves appointments (README "Time"), on PostgreSQL: the clock is moved past
each deadline, booking's timer worker runs once, and the appointment, its history
and the actor are what a user then sees. The timers are rebuilt from the events."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from booking_http_support import MONDAY, Api, slot
from psycopg_pool import ConnectionPool

from services.booking import bootstrap
from services.booking.application import commands as c
from services.booking.application import timers as booking_timers
from services.booking.application.app import BookingApplication, Caller
from shared import timers
from shared.domain import lifecycle
from shared.timers import TimerWorker
from tests.doubles.booking import FixedClock, LocalWorkflow

SYSTEM = {"id": "system", "role": "system"}


@pytest.fixture
def pool(fresh_db: str, booking: BookingApplication) -> Iterator[ConnectionPool]:
    with ConnectionPool(fresh_db, min_size=1, max_size=4, open=True) as p:
        yield p


def worker(pool: ConnectionPool, booking: BookingApplication) -> TimerWorker:
    """A fresh worker, as a restarted `booking-timers` process would build it."""
    return TimerWorker(pool, booking_timers.TABLE, booking_timers.handlers(booking),
                       now=booking.clock.now)


def planned(pool: ConnectionPool) -> dict[str, Any]:
    with pool.connection() as conn:
        return {t.key.split(":")[0]: t.due_at for t in timers.pending(conn, booking_timers.TABLE)}


def scheduled(api: Api, seed: Any, at: dict[str, str]) -> str:
    r = api.post("/v1/appointments/for_client", {
        "service_id": seed.service, "client_id": seed.client, "agent_id": seed.agent,
        "slot": at, "status": "scheduled"})
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["appointment"]["id"])


def audit(api: Api, aid: str) -> list[dict[str, Any]]:
    r = api.as_(roles=("auditor",)).get(f"/v1/appointments/{aid}/audit")
    assert r.status_code == 200, r.get_json()
    return list(r.get_json()["events"])


def test_settings_are_checked_and_answered(manager):
    got = manager.get("/v1/organisation").get_json()["organisation"]
    assert (got["no_show_after_minutes"], got["late_cancellation_notice_hours"],
            got["hold_minutes"]) == (None, None, 15)
    for field, bad in (("no_show_after_minutes", 10081), ("no_show_after_minutes", -1),
                       ("late_cancellation_notice_hours", 721), ("hold_minutes", 0),
                       ("hold_minutes", None), ("no_show_after_minutes", "30")):
        r = manager.patch("/v1/organisation", {field: bad})
        assert r.status_code == 422, (field, bad)
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert field in str(r.get_json()), (field, bad)
    r = manager.patch("/v1/organisation", {"no_show_after_minutes": 30,
                                           "late_cancellation_notice_hours": 24,
                                           "hold_minutes": 20})
    assert r.status_code == 200, r.get_json()
    got = r.get_json()["organisation"]
    assert (got["no_show_after_minutes"], got["late_cancellation_notice_hours"],
            got["hold_minutes"]) == (30, 24, 20)


def test_an_appointment_nobody_marks_becomes_no_show_after_the_grace_period(
        api, manager, seed, clock, booking, pool):
    assert manager.patch("/v1/organisation", {"no_show_after_minutes": 30}).status_code == 200
    aid = scheduled(api, seed, slot(9))                      # Monday 09:00-09:30
    assert planned(pool) == {"no_show": MONDAY + timedelta(hours=10)}
    # Rescheduled to 11:00: the timer moves with it
    r = api.post(f"/v1/appointments/{aid}/reschedule", {"slot": slot(11)})
    assert r.status_code == 200, r.get_json()
    assert planned(pool) == {"no_show": MONDAY + timedelta(hours=12)}
    clock.set(MONDAY + timedelta(hours=11, minutes=59))
    assert worker(pool, booking).run_due() == 0
    assert api.get(f"/v1/appointments/{aid}").get_json()["appointment"]["status"] == "scheduled"
    clock.set(MONDAY + timedelta(hours=12))
    assert worker(pool, booking).run_due() == 1
    got = api.get(f"/v1/appointments/{aid}").get_json()["appointment"]
    assert got["status"] == "no_show"
    last = audit(manager, aid)[-1]
    assert (last["action"], last["actor"], last["reason"]) == ("no_show", SYSTEM, "automatic")
    assert planned(pool) == {}
    assert worker(pool, booking).run_due() == 0              # fired once
    # Reopened ("she came after all"): the grace period again, from the reopening
    clock.set(MONDAY + timedelta(hours=15))
    assert api.post(f"/v1/appointments/{aid}/reopen", {}).status_code == 200
    assert planned(pool) == {"no_show": MONDAY + timedelta(hours=15, minutes=30)}
    assert worker(pool, booking).run_due() == 0
    assert api.post(f"/v1/appointments/{aid}/attend", {}).status_code == 200
    assert planned(pool) == {}


def test_an_agent_marking_it_attended_first_wins(api, manager, seed, clock, booking, pool):
    assert manager.patch("/v1/organisation", {"no_show_after_minutes": 0}).status_code == 200
    aid = scheduled(api, seed, slot(9))
    clock.set(MONDAY + timedelta(hours=9, minutes=10))
    assert api.post(f"/v1/appointments/{aid}/attend", {}).status_code == 200
    assert planned(pool) == {}                               # dropped with the status
    clock.set(MONDAY + timedelta(hours=12))
    worker(pool, booking).run_due()
    assert api.get(f"/v1/appointments/{aid}").get_json()["appointment"]["status"] == "attended"
    assert [e["actor"]["role"] for e in audit(manager, aid)] == ["agent", "agent"]


def test_a_timer_whose_appointment_was_marked_meanwhile_is_refused_harmlessly(
        api, manager, seed, clock, booking, pool):
    """The row is claimed while an agent marks the visit: the command is refused by the
    state and nothing else happens."""
    assert manager.patch("/v1/organisation", {"no_show_after_minutes": 0}).status_code == 200
    aid = scheduled(api, seed, slot(9))
    with pool.connection() as conn:                          # the row as the worker saw it
        [timer] = timers.pending(conn, booking_timers.TABLE)
    clock.set(MONDAY + timedelta(hours=9, minutes=40))
    assert api.post(f"/v1/appointments/{aid}/attend", {}).status_code == 200
    with pool.connection() as conn:
        booking_timers.handlers(booking)["no_show"](timer, conn)
    assert api.get(f"/v1/appointments/{aid}").get_json()["appointment"]["status"] == "attended"


def test_cancelled_appointments_and_the_setting_off_plan_nothing(api, manager, seed, clock,
                                                                 booking, pool):
    aid = scheduled(api, seed, slot(9))
    assert planned(pool) == {}                               # off by default
    assert manager.patch("/v1/organisation", {"no_show_after_minutes": 15}).status_code == 200
    other = scheduled(api, seed, slot(11))
    assert planned(pool) == {"no_show": MONDAY + timedelta(hours=11, minutes=45)}
    assert api.post(f"/v1/appointments/{other}/cancel", {}).status_code == 200
    assert planned(pool) == {}
    # Turned off after planning: the due timer finds it off and does nothing
    third = scheduled(api, seed, slot(13))
    assert manager.patch("/v1/organisation", {"no_show_after_minutes": None}).status_code == 200
    clock.set(MONDAY + timedelta(hours=15))
    assert worker(pool, booking).run_due() == 1
    for a in (aid, third):
        assert api.get(f"/v1/appointments/{a}").get_json()["appointment"]["status"] == "scheduled"


def test_a_custom_workflow_without_no_show_gets_nothing(api, manager, seed, clock, booking, pool,
                                                        workflow: LocalWorkflow, monkeypatch):
    assert manager.patch("/v1/organisation", {"no_show_after_minutes": 0}).status_code == 200
    aid = scheduled(api, seed, slot(9))
    monkeypatch.setattr(lifecycle, "targets", lambda d, status, action: (
        [] if action == "no_show" else original(d, status, action)))
    clock.set(MONDAY + timedelta(hours=10))
    assert worker(pool, booking).run_due() == 1              # fired, refused, done
    assert api.get(f"/v1/appointments/{aid}").get_json()["appointment"]["status"] == "scheduled"
    assert planned(pool) == {}


original = lifecycle.targets


def test_due_timers_survive_a_worker_restart_and_fire_once(api, manager, seed, clock, booking,
                                                           fresh_db):
    assert manager.patch("/v1/organisation", {"no_show_after_minutes": 5}).status_code == 200
    ids = [scheduled(api, seed, slot(h)) for h in (9, 10, 11)]
    clock.set(MONDAY + timedelta(hours=12))
    # A worker claims the rows and dies before its commit: its transaction rolls back
    conn = psycopg.connect(fresh_db)
    conn.execute(f"SELECT key FROM {booking_timers.TABLE} FOR UPDATE").fetchall()
    conn.close()
    with ConnectionPool(fresh_db, min_size=1, max_size=4, open=True) as pool:
        assert worker(pool, booking).run_due() == 3
        assert worker(pool, booking).run_due() == 0
    for aid in ids:
        trail = audit(manager, aid)
        assert [e["action"] for e in trail].count("no_show") == 1


def test_rebuild_reproduces_the_table_from_the_events(api, manager, seed, clock, booking, pool):
    assert manager.patch("/v1/organisation", {"no_show_after_minutes": 30}).status_code == 200
    for h in (9, 10, 11):
        scheduled(api, seed, slot(h))
    done = scheduled(api, seed, slot(14))
    assert api.post(f"/v1/appointments/{done}/cancel", {}).status_code == 200
    r = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                      "slot": slot(15), "agent_id": seed.agent})
    assert r.status_code == 201                               # held: a hold timer
    with pool.connection() as conn:
        before = timers.pending(conn, booking_timers.TABLE)
        conn.execute(f"DELETE FROM {booking_timers.TABLE}")
        conn.commit()
        assert booking_timers.rebuild(booking, conn) == 4
        assert timers.pending(conn, booking_timers.TABLE) == before
    assert sorted(t.kind for t in before) == ["hold", "no_show", "no_show", "no_show"]


def test_the_memory_store_keeps_the_same_timers():
    app = bootstrap.wire(bootstrap.Settings(
        memory=True, clock=FixedClock(MONDAY), workflow=LocalWorkflow())).application
    manager = Caller("acme", {"id": "m", "role": "manager"})
    app.update_organisation(manager, {"no_show_after_minutes": 10})
    service = app.register(manager, "service", {"name": "Consultation"})["service"]["id"]
    agent = app.register(manager, "resource", {"name": "Dr Who", "kind": "agent"})["resource"]["id"]
    client = app.register(manager, "client", {"name": "Ada"})["client"]["id"]
    at = {k: datetime.fromisoformat(v) for k, v in slot(9).items()}
    aid = app.create_for_client(manager, c.CreateForClient(
        service_id=service, client_id=client, agent_id=agent, slot=at,
        status="scheduled"))["appointment"]["id"]
    tables = app.recorder.tables  # type: ignore[attr-defined]
    assert {k: t.due_at for k, t in tables.timers.items()} == {
        f"no_show:{aid}": MONDAY + timedelta(hours=9, minutes=40)}
    app.cancel(manager, uuid.UUID(aid), c.Cancel())
    assert tables.timers == {}


def test_a_cancellation_inside_the_notice_records_a_late_cancellation(api, manager, seed, clock):
    early, late = scheduled(api, seed, slot(9)), scheduled(api, seed, slot(11))
    r = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                      "slot": slot(14)})
    unbooked = r.get_json()["appointment"]["id"]
    clock.set(MONDAY - timedelta(hours=15))                  # off: nothing is late
    assert api.post(f"/v1/appointments/{early}/cancel", {}).get_json()[
        "appointment"]["outcome"] is None
    assert manager.patch("/v1/organisation",
                         {"late_cancellation_notice_hours": 24}).status_code == 200
    clock.set(MONDAY - timedelta(hours=13))                  # moving it is no cancellation
    assert api.post(f"/v1/appointments/{late}/reschedule", {"slot": slot(12)}).status_code == 200
    clock.set(MONDAY - timedelta(hours=11, minutes=59))      # 23:59 before 12:00
    got = api.post(f"/v1/appointments/{late}/cancel", {}).get_json()["appointment"]
    assert got["outcome"] == {"kind": "late_cancellation", "time_taken_minutes": None,
                              "completion_reason": "late_cancellation", "remark": None}
    last = audit(manager, late)[-1]
    assert {c["field"]: c["after"] for c in last["changes"]}["outcome"]["kind"] == \
        "late_cancellation"
    # A request never booked is not a late cancellation
    assert api.post(f"/v1/appointments/{unbooked}/cancel", {}).get_json()[
        "appointment"]["outcome"] is None


def request_slot(api: Api, seed: Any, at: dict[str, str], agent: str | None = None,
                 source: str = "widget") -> Any:
    body: dict[str, Any] = {"service_id": seed.service, "client_id": seed.client, "slot": at,
                            "source": source}
    if agent:
        body["agent_id"] = agent
    return api.post("/v1/appointments", body)


def test_a_request_for_an_exact_slot_holds_it_until_the_hold_expires(api, manager, seed, clock,
                                                                     booking, pool):
    assert manager.patch("/v1/organisation", {"hold_minutes": 20}).status_code == 200
    r = request_slot(api, seed, slot(9), seed.agent)
    assert r.status_code == 201, r.get_json()
    held = r.get_json()["appointment"]
    assert held["hold_until"] == (clock.now() + timedelta(minutes=20)).isoformat()
    assert planned(pool) == {"hold": clock.now() + timedelta(minutes=20)}
    # While held: another request for that agent and time is refused, like an overlap
    r = request_slot(api, seed, slot(9, 60), seed.agent, source="agent")
    assert r.status_code == 409 and r.get_json()["title"] == "Agent not available", r.get_json()
    assert r.headers["Content-Type"].startswith("application/problem+json")
    # and so is confirming another request at that time with that agent
    other = request_slot(api, seed, slot(9)).get_json()["appointment"]["id"]
    r = api.post(f"/v1/appointments/{other}/confirm", {"agent_id": seed.agent})
    assert r.status_code == 409, r.get_json()
    # Availability: the agent is not offered for that time
    free = api.get(f"/v1/appointments/{other}/available_agents").get_json()
    assert seed.agent not in [a["id"] for a in free["items"]]
    # 20 minutes later, unconfirmed: the hold expires by itself
    clock.advance(timedelta(minutes=19))
    assert worker(pool, booking).run_due() == 0
    clock.advance(timedelta(minutes=1))
    assert worker(pool, booking).run_due() == 1
    got = api.get(f"/v1/appointments/{held['id']}").get_json()["appointment"]
    assert (got["status"], "hold_until" in got) == ("requested", False)
    last = audit(manager, held["id"])[-1]
    assert (last["action"], last["actor"], last["reason"]) == (
        "hold_expired", SYSTEM, "automatic")
    assert planned(pool) == {}
    # The slot is free again
    assert seed.agent in [a["id"] for a in api.get(
        f"/v1/appointments/{other}/available_agents").get_json()["items"]]
    r = api.post(f"/v1/appointments/{other}/confirm", {"agent_id": seed.agent})
    assert r.status_code == 200, r.get_json()


def test_confirming_within_the_hold_keeps_the_slot(api, manager, seed, clock, booking, pool):
    held = request_slot(api, seed, slot(9), seed.agent).get_json()["appointment"]["id"]
    clock.advance(timedelta(minutes=10))
    r = api.post(f"/v1/appointments/{held}/confirm", {})
    assert r.status_code == 200, r.get_json()
    assert "hold_until" not in r.get_json()["appointment"] and planned(pool) == {}
    clock.advance(timedelta(hours=1))
    assert worker(pool, booking).run_due() == 0
    assert request_slot(api, seed, slot(9), seed.agent).status_code == 409
    trail = [e["action"] for e in audit(manager, held)]
    assert trail == ["request", "confirm"]


def test_a_cancelled_request_frees_its_hold_at_once(api, seed, clock, booking, pool):
    held = request_slot(api, seed, slot(9), seed.agent).get_json()["appointment"]["id"]
    assert api.post(f"/v1/appointments/{held}/cancel", {}).status_code == 200
    assert planned(pool) == {}
    assert request_slot(api, seed, slot(9), seed.agent).status_code == 201
