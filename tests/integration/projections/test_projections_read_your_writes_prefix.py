"""Read-your-writes is a prefix: `min_position=N` shows every event at or below
N, not only the one at N (events of other appointments travel on other
partitions), published by the real relay as booking's relay publishes them."""
from __future__ import annotations

import itertools
import time
from dataclasses import replace

import psycopg

from services.projections.bootstrap import Settings
from services.projections.entrypoints.http import create_app
from shared.envelope import CloudEvent
from tests.integration.projections.support import (
    applied_count,
    publish,
    running,
    token,
    wait_until,
)
from tests.integration.relaying import relaying
from tests.present import present
from tests.unit.projections.factory import Booking, slot

pytest_plugins = ["tests.integration.projections.fixtures"]  # the `settings` fixture


def routed(settings: Settings):
    def route(event: CloudEvent) -> tuple[str, str]:
        if event.type.startswith("appointment."):
            return settings.topics[0], event.subject
        return settings.topics[1], event.orgid
    return route


def test_fifty_commands_in_a_row_are_all_seen_at_the_last_position(settings):
    booking = Booking(first_position=1000)
    api = create_app(settings).test_client()
    with running(settings), relaying(settings.database_url, settings.bootstrap_servers,
                                     routed(settings)) as log:
        log.append([booking.client("client-1")])
        wait_until(lambda: applied_count(settings) == 1, what="the group joined and applied")
        # 50 commands as fast as they come: 30 requests, then 20 of them confirmed
        ids = []
        for i in range(30):
            ids.append(booking.request(slot_=slot("2026-11-23", f"{8 + i // 4:02d}:{i % 4 * 15:02d}")
                                       ).subject)
            log.append(booking.events[-1:])
        for aid in ids[:20]:
            booking.act(aid, "confirm")
            log.append(booking.events[-1:])
        last = booking.events[-1].position

        # Each view read once with the last position shows all 50
        def read(path: str) -> dict:
            answer = api.get(f"{path}{'&' if '?' in path else '?'}min_position={last}",
                             headers=token())
            assert answer.status_code == 200, answer.get_json()
            return answer.get_json()

        listed = read("/v1/appointments?limit=100")["items"]
        assert sorted(i["id"] for i in listed) == sorted(ids)
        assert sum(i["status"] == "scheduled" for i in listed) == 20
        queue = read("/v1/queue?include_confirmed=true&limit=100")["items"]
        assert sorted(i["id"] for i in queue if i["status"] == "scheduled") == sorted(ids[:20])
        assert len(read("/v1/queue?limit=100")["items"]) == 10
        calendar = read("/v1/calendar?from=2026-11-23&to=2026-11-23")["items"]
        assert len(calendar) == 30 and sum(not i["requested"] for i in calendar) == 20
        mine = read("/v1/clients/client-1/appointments")
        assert len(mine["current"]) == 30
        history = read(f"/v1/appointments/{ids[0]}/history")["items"]
        assert [h["action"] for h in history] == ["confirm", "request"]
        assert read("/v1/statistics")["overall"]["total"] == 30


def test_a_position_nobody_publishes_answers_504_within_the_timeout(settings):
    booking = Booking(first_position=10)
    api = create_app(replace(settings, read_your_writes_timeout=1.0)).test_client()
    with running(settings), relaying(settings.database_url, settings.bootstrap_servers,
                                     routed(settings)) as log:
        log.append([booking.request(slot_=slot("2026-11-23", "09:00"))])
        wait_until(lambda: applied_count(settings) == 1, what="applied")
        started = time.monotonic()
        answer = api.get("/v1/queue?min_position=11", headers=token())
        assert answer.status_code == 504
        assert answer.headers["Retry-After"] == "1"
        assert 0.9 < time.monotonic() - started < 3


def test_a_position_the_view_never_receives_does_not_hold_the_read(settings):
    # Positions have gaps (a save that rolled back) and events the view does not
    # consume: what counts is that everything up to the position was published.
    booking = Booking(first_position=10)
    api = create_app(settings).test_client()
    with running(settings), relaying(settings.database_url, settings.bootstrap_servers,
                                     routed(settings)) as log:
        log.append([booking.request(slot_=slot("2026-11-23", "09:00"))])  # position 10
        booking.positions = itertools.count(20)  # 11..19 never stored
        aid = booking.request(slot_=slot("2026-11-23", "10:00")).subject  # position 20
        log.append(booking.events[-1:])
        started = time.monotonic()
        answer = api.get("/v1/queue?min_position=15", headers=token())
        assert answer.status_code == 200
        assert aid in {i["id"] for i in answer.get_json()["items"]}
        assert time.monotonic() - started < 4


def test_partitions_handled_before_progress_was_recorded_do_not_hold_reads(settings):
    # A consumer of a release that recorded no progress committed its offsets;
    # after the upgrade its idle partitions count from those commits.
    booking = Booking(first_position=100)
    ids = [booking.request(slot_=slot("2026-11-23", "09:00")).subject for _ in range(12)]
    api = create_app(settings).test_client()
    with running(settings):
        publish(settings, booking.events)
        wait_until(lambda: applied_count(settings) == 12, what="applied")
        wait_until(lambda: progress_rows(settings) > 0, what="progress recorded")
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("DELETE FROM consumer_progress")
    with running(settings):
        later = booking.request(slot_=slot("2026-11-23", "10:00"))  # one partition moves
        publish(settings, [later])
        answer = api.get(f"/v1/queue?limit=100&min_position={later.position}", headers=token())
        assert answer.status_code == 200
        assert {i["id"] for i in answer.get_json()["items"]} == {*ids, later.subject}


def progress_rows(settings: Settings) -> int:
    with psycopg.connect(settings.database_url) as conn:
        return present(conn.execute("SELECT count(*) FROM consumer_progress").fetchone())[0]
