"""The waitlist (README "Reminders, holds and the waitlist"), on PostgreSQL: clients join,
a freed slot is offered to the first in line with a hold, the offer lapses to the next,
a signed link accepts it. The clock is moved, never waited for; booking's timer worker
runs once where a running one would fire."""
from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from booking_http_support import Api, slot
from psycopg_pool import ConnectionPool

from services.booking.application import timers as booking_timers
from services.booking.application.app import BookingApplication, Caller
from services.booking.application.waitlist_commands import offer_link_subject
from services.booking.domain import errors
from shared import links, timers
from shared.timers import TimerWorker


@pytest.fixture
def pool(fresh_db: str, booking: BookingApplication) -> Iterator[ConnectionPool]:
    with ConnectionPool(fresh_db, min_size=1, max_size=4, open=True) as p:
        yield p


@pytest.fixture
def public(flask_app: Any) -> Any:
    """A browser without any bearer token."""
    return flask_app.test_client()


def worker(pool: ConnectionPool, booking: BookingApplication) -> TimerWorker:
    return TimerWorker(pool, booking_timers.TABLE, booking_timers.handlers(booking),
                       now=booking.clock.now)


def planned(pool: ConnectionPool, prefix: str = "waitlist") -> list[timers.Timer]:
    with pool.connection() as conn:
        return timers.pending(conn, booking_timers.TABLE, prefix)


def join(api: Api, seed: Any, **body: Any) -> dict[str, Any]:
    r = api.post("/v1/waitlist", {"service_id": seed.service, **body})
    assert r.status_code == 201, r.get_json()
    entry: dict[str, Any] = r.get_json()["entry"]
    return entry


def entry(api: Api, entry_id: str) -> dict[str, Any]:
    r = api.get(f"/v1/waitlist/{entry_id}")
    assert r.status_code == 200, r.get_json()
    got: dict[str, Any] = r.get_json()["entry"]
    return got


def booked(api: Api, seed: Any, at: dict[str, str], service: str | None = None) -> str:
    r = api.post("/v1/appointments/for_client", {
        "service_id": service or seed.service, "client_id": seed.client,
        "agent_id": seed.agent, "slot": at, "status": "scheduled"})
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["appointment"]["id"])


def accept_url(booking: BookingApplication, entry_id: str) -> str:
    number = booking.waitlist_entry("acme", uuid.UUID(entry_id)).offers
    token = links.sign(offer_link_subject(entry_id, number), "accept_offer")
    return f"/v1/client_actions/accept_offer?token={token}"


# -- slice 1: joining, listing, leaving ---------------------------------------------------

def test_clients_join_and_staff_list_filter_page_and_remove_entries(api, manager, seed):
    widget = api.as_(roles=("widget",))
    first = join(widget, seed, client={"name": "Grace Hopper", "email": "grace@example.com"},
                 date="2026-11-23", part_of_day="morning", source="widget")
    assert (first["status"], first["client"]["tentative"], first["part_of_day"]) == (
        "waiting", True, "morning")
    second = join(api, seed, client_id=seed.client, agent_id=seed.agent)
    other = join(api, seed, client_id=seed.client, service_id=seed.automatic_service)
    listed = api.get("/v1/waitlist").get_json()
    assert [e["id"] for e in listed["items"]] == [first["id"], second["id"], other["id"]]
    assert listed["next_cursor"] is None
    by_service = api.get(f"/v1/waitlist?service_id={seed.service}").get_json()["items"]
    assert [e["id"] for e in by_service] == [first["id"], second["id"]]
    page = api.get("/v1/waitlist?limit=2").get_json()
    assert [e["id"] for e in page["items"]] == [first["id"], second["id"]]
    rest = api.get(f"/v1/waitlist?limit=2&cursor={page['next_cursor']}").get_json()
    assert ([e["id"] for e in rest["items"]], rest["next_cursor"]) == ([other["id"]], None)
    # Staff remove an entry: it stays listed as left, and cannot leave twice
    r = api.client.delete(f"/v1/waitlist/{second['id']}", headers=api._headers(None))
    assert r.status_code == 200 and r.get_json()["entry"]["status"] == "left"
    again = api.client.delete(f"/v1/waitlist/{second['id']}", headers=api._headers(None))
    assert again.status_code == 409
    waiting = api.get("/v1/waitlist?status=waiting").get_json()["items"]
    assert [e["id"] for e in waiting] == [first["id"], other["id"]]
    # Another organisation sees nothing of it; an auditor reads but cannot write
    assert api.as_(org="other").get(f"/v1/waitlist/{first['id']}").status_code == 404
    assert api.as_(org="other").get("/v1/waitlist").get_json()["items"] == []
    auditor = api.as_(roles=("auditor",))
    assert auditor.get("/v1/waitlist").status_code == 200
    assert auditor.post("/v1/waitlist", {"service_id": seed.service,
                                         "client_id": seed.client}).status_code == 403


@pytest.mark.parametrize(("body", "field"), [
    ({}, "client_id"),
    ({"client_id": "C", "client": {"name": "Ada", "email": "a@example.com"}}, "client_id"),
    ({"client_id": "C", "part_of_day": "midnight"}, "part_of_day"),
    ({"client_id": "C", "date": "2020-01-01"}, "date"),
    ({"client_id": "C", "date": "3001-01-01"}, "date"),
    ({"client_id": "C", "agent_id": "not-a-uuid"}, "agent_id"),
    ({"client_id": "C", "service_id": "00000000-0000-0000-0000-000000000000"}, "service_id"),
    ({"client": {"name": "Ada"}}, "email"),
    ({"client": {"name": "x" * 201, "email": "a@example.com"}}, "name"),
])
def test_bad_input_is_a_422_naming_the_field(api, seed, body, field):
    if body.get("client_id") == "C":
        body = {**body, "client_id": seed.client}
    r = api.post("/v1/waitlist", {"service_id": seed.service, **body})
    assert r.status_code == 422, r.get_json()
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert field in str(r.get_json()["errors"] if "errors" in r.get_json() else r.get_json())
    assert api.get("/v1/waitlist").get_json()["items"] == []


@pytest.mark.parametrize("query", ["status=gone", "limit=0", "limit=101", "cursor=abc",
                                   "service_id=x"])
def test_a_bad_query_is_a_422_naming_the_parameter(api, query):
    r = api.get(f"/v1/waitlist?{query}")
    assert r.status_code == 422 and query.split("=")[0] in str(r.get_json())


# -- slice 2: a freed slot is offered, held, lapses to the next, is accepted -------------

def test_a_cancellation_offers_the_slot_to_the_first_in_line_then_the_next(
        api, manager, seed, clock, booking, pool, public):
    assert manager.patch("/v1/organisation", {"hold_minutes": 20}).status_code == 200
    taken = booked(api, seed, slot(9))
    first = join(api, seed, client_id=seed.client)
    picky = join(api, seed, client_id=seed.client, part_of_day="afternoon")  # 09:00 is not
    second = join(api, seed, client={"name": "Grace", "email": "grace@example.com"})
    assert planned(pool) == []
    assert api.post(f"/v1/appointments/{taken}/cancel", {}).status_code == 200
    [offer_timer] = planned(pool)
    assert offer_timer.kind == "waitlist_offer" and offer_timer.due_at == clock.now()
    assert worker(pool, booking).run_due() == 1
    got = entry(api, first["id"])
    assert got["status"] == "offered"
    assert got["offer"] == {"slot": {k: v.replace("Z", "+00:00") for k, v in slot(9).items()},
                            "agent_id": seed.agent,
                            "until": (clock.now() + timedelta(minutes=20)).isoformat()}
    assert (entry(api, picky["id"])["status"], entry(api, second["id"])["status"]) == (
        "waiting", "waiting")
    assert [t.kind for t in planned(pool)] == ["waitlist_lapse"]
    # While offered, the slot is held: another request for it is refused
    r = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                      "slot": slot(9), "agent_id": seed.agent})
    assert r.status_code == 409 and r.get_json()["title"] == "Agent not available"
    # The hold runs out: the offer lapses and the next in line gets it
    clock.advance(timedelta(minutes=20))
    assert worker(pool, booking).run_due() == 2          # the lapse, then the new offer
    got = entry(api, first["id"])
    assert (got["status"], got["offer"]) == ("waiting", None)
    assert entry(api, second["id"])["status"] == "offered"
    assert entry(api, picky["id"])["status"] == "waiting"
    assert worker(pool, booking).run_due() == 0
    # The history of the first entry, as the audit of events shows it
    trail = [e.topic for e in booking.recorder.select_notifications(1, 1000)
             if str(e.originator_id) == first["id"]]
    assert trail == ["waitlist.Joined", "waitlist.Offered", "waitlist.OfferLapsed"]
    stored = [booking.mapper.to_domain_event(n).change
              for n in booking.recorder.select_notifications(1, 1000)
              if str(n.originator_id) == first["id"]][1:]
    assert [(c["actor"], c["reason"]) for c in stored] == [
        ({"id": "system", "role": "system"}, "automatic")] * 2
    # The second client accepts through the link: a request for that slot, entry accepted
    url = accept_url(booking, second["id"])
    shown = public.get(url).get_json()
    assert (shown["possible"], shown["offer"]["agent_id"]) == (True, seed.agent)
    r = public.post(url, json={})
    assert r.status_code == 200, r.get_json()
    made = r.get_json()["appointment"]
    assert (made["status"], made["slot"]["start"], made["agent_id"], made["client"]["name"]) == (
        "requested", slot(9)["start"].replace("Z", "+00:00"), seed.agent, "Grace")
    accepted = entry(api, second["id"])
    assert (accepted["status"], accepted["appointment_id"]) == ("accepted", made["id"])
    assert planned(pool) == []
    # The same link again: used (409); the first client's lapsed offer: gone (410)
    assert public.post(url, json={}).status_code == 409
    first_link = links.sign(offer_link_subject(first["id"], 1), "accept_offer")
    lapsed = public.post(f"/v1/client_actions/accept_offer?token={first_link}", json={})
    assert lapsed.status_code == 410, lapsed.get_json()
    assert "lapsed" in lapsed.get_json()["detail"]


def test_an_automatic_service_books_the_offered_slot_at_once(api, seed, clock, booking, pool,
                                                              public):
    taken = booked(api, seed, slot(10, 15), seed.automatic_service)
    waiting = join(api, seed, client_id=seed.client, service_id=seed.automatic_service,
                   agent_id=seed.agent, date="2026-11-23")
    assert api.post(f"/v1/appointments/{taken}/cancel", {}).status_code == 200
    assert worker(pool, booking).run_due() == 1
    r = public.post(accept_url(booking, waiting["id"]), json={})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["appointment"]["status"] == "scheduled"
    assert entry(api, waiting["id"])["status"] == "accepted"


def test_a_rescheduled_appointment_frees_its_old_slot(api, seed, booking, pool):
    moved = booked(api, seed, slot(9))
    waiting = join(api, seed, client_id=seed.client)
    assert api.post(f"/v1/appointments/{moved}/reschedule", {"slot": slot(14)}).status_code == 200
    assert worker(pool, booking).run_due() == 1
    assert entry(api, waiting["id"])["offer"]["slot"]["start"] == \
        slot(9)["start"].replace("Z", "+00:00")


def test_an_expired_hold_offers_the_slot_to_the_first_waiting_client(api, seed, clock, booking,
                                                                     pool):
    r = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                      "slot": slot(11), "agent_id": seed.agent})
    held = r.get_json()["appointment"]["id"]
    waiting = join(api, seed, client_id=seed.client, agent_id=seed.agent)
    assert worker(pool, booking).run_due() == 0            # held: nothing to offer yet
    clock.advance(timedelta(minutes=15))
    assert worker(pool, booking).run_due() == 2            # the hold expires, then the offer
    assert "hold_until" not in api.get(f"/v1/appointments/{held}").get_json()["appointment"]
    got = entry(api, waiting["id"])
    assert (got["status"], got["offer"]["slot"]["start"]) == (
        "offered", slot(11)["start"].replace("Z", "+00:00"))


def test_an_offer_fired_again_after_a_kill_is_not_made_twice(api, seed, clock, booking, pool):
    taken = booked(api, seed, slot(9))
    first = join(api, seed, client_id=seed.client)
    second = join(api, seed, client_id=seed.client)
    assert api.post(f"/v1/appointments/{taken}/cancel", {}).status_code == 200
    [due] = planned(pool)
    assert worker(pool, booking).run_due() == 1
    # A worker killed after the offer was saved, before its claim committed: the timer is
    # still there when the next worker (or a second one at once) runs it.
    with pool.connection() as conn:
        timers.schedule(conn, booking_timers.TABLE, due.key, due.kind, due.due_at, due.payload)
    assert [worker(pool, booking).run_due() for _ in range(2)] == [1, 0]
    offers = [e.topic for e in booking.recorder.select_notifications(1, 1000)
              if e.topic == "waitlist.Offered"]
    assert len(offers) == 1
    assert (entry(api, first["id"])["status"], entry(api, second["id"])["status"]) == (
        "offered", "waiting")


def test_leaving_while_offered_hands_the_slot_to_the_next(api, seed, clock, booking, pool):
    taken = booked(api, seed, slot(9))
    first, second = join(api, seed, client_id=seed.client), join(api, seed, client_id=seed.client)
    assert api.post(f"/v1/appointments/{taken}/cancel", {}).status_code == 200
    worker(pool, booking).run_due()
    r = api.client.delete(f"/v1/waitlist/{first['id']}", headers=api._headers(None))
    assert r.status_code == 200
    worker(pool, booking).run_due()
    assert entry(api, second["id"])["status"] == "offered"


def test_rebuild_plans_an_open_offers_lapse_again(api, seed, booking, pool):
    taken = booked(api, seed, slot(9))
    waiting = join(api, seed, client_id=seed.client)
    assert api.post(f"/v1/appointments/{taken}/cancel", {}).status_code == 200
    assert worker(pool, booking).run_due() == 1
    before = planned(pool)
    assert [t.key for t in before] == [f"waitlist_lapse:{waiting['id']}"]
    with pool.connection() as conn:
        conn.execute(f"DELETE FROM {booking_timers.TABLE}")
        conn.commit()
        assert booking_timers.rebuild(booking, conn) == 1
    assert planned(pool) == before


def test_an_erased_client_leaves_no_contact_data_on_the_waitlist(api, manager, seed):
    waiting = join(api, seed, client_id=seed.client)
    assert entry(api, waiting["id"])["client"]["email"] == "ada@example.com"
    assert manager.post(f"/v1/clients/{seed.client}/erase", {}).status_code == 200
    listed = api.get("/v1/waitlist").get_json()["items"][0]["client"]
    shown = entry(api, waiting["id"])["client"]
    for client in (listed, shown):
        assert (client["name"], client["email"], client["phone"]) == ("erased", None, None)


def test_two_workers_offering_the_same_slot_at_once_make_one_offer(api, seed, booking, pool):
    taken = booked(api, seed, slot(9))
    first, second = join(api, seed, client_id=seed.client), join(api, seed, client_id=seed.client)
    assert api.post(f"/v1/appointments/{taken}/cancel", {}).status_code == 200
    [due] = planned(pool)
    system = Caller("acme", {"id": "system", "role": "system"})
    start = threading.Barrier(2)
    outcomes: list[Any] = []

    def offer() -> None:
        start.wait()
        try:
            outcomes.append(booking.offer_slot(system, due.payload["service_id"],
                                               due.payload["agent_id"], due.payload["slot"]))
        except errors.StaleVersion as e:      # the worker retries it later: then taken
            outcomes.append(e)

    threads = [threading.Thread(target=offer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(outcomes) == 2 and first["id"] in outcomes
    assert all(o is None or isinstance(o, errors.StaleVersion) or o == first["id"]
               for o in outcomes)
    assert worker(pool, booking).run_due() == 1          # the timer itself: nothing more
    offers = [n for n in booking.recorder.select_notifications(1, 1000)
              if n.topic == "waitlist.Offered"]
    assert len(offers) == 1
    assert (entry(api, first["id"])["status"], entry(api, second["id"])["status"]) == (
        "offered", "waiting")
