"""Rebuild from history into fresh tables and switch over while the consumer
keeps writing; the drift check finds a broken row and exits 1."""
from __future__ import annotations

import io
import threading
from contextlib import closing
from dataclasses import replace

import psycopg
import pytest
from flask import Flask, jsonify, request
from rich.console import Console
from werkzeug.serving import make_server

from services.projections.adapters.schema import LIVE, VIEW_TABLES, VIEWS
from services.projections.adapters.sources import BookingFeedSource, KafkaSource
from services.projections.application.apply import apply_event
from services.projections.application.purge import purge
from services.projections.application.rebuild import REBUILD_LOCK, RebuildRunning, rebuild
from services.projections.bootstrap import wire
from services.projections.entrypoints import rebuild as command
from services.projections.entrypoints.http import create_app
from shared import auth, paging
from tests.doubles.projections import ListSource
from tests.integration.projections.support import (
    NOW,
    applied_count,
    clinic,
    dump,
    publish,
    running,
    token,
    wait_until,
)
from tests.present import present
from tests.unit.projections.factory import Booking, slot

pytest_plugins = ["tests.integration.projections.fixtures"]  # the `settings` fixture


def kafka_source(settings) -> KafkaSource:
    return KafkaSource(settings.bootstrap_servers, settings.topics)


def test_rebuild_from_kafka_has_no_drift_and_switches_over_while_the_consumer_runs(settings):
    booking, ids = clinic()
    pool = wire(settings).pool
    with running(settings):
        publish(settings, booking.events)
        wait_until(lambda: applied_count(settings) == len(booking.events), what="applied")

        # A drift check from the earliest offset: nothing differs
        printed = io.StringIO()
        console = Console(file=printed, width=200)
        assert command.run(settings, "all", kafka_source(settings), True, console) == 0
        assert "no drift" in printed.getvalue()

        # Rebuild and switch over while booking goes on writing
        late = [booking.act(ids["window"], "confirm", slot={"start": "2026-11-24T08:00:00+00:00",
                                                            "end": "2026-11-24T08:30:00+00:00"}),
                booking.request(window={"date": "2026-11-26", "part_of_day": "evening"})]

        def progress(done: int, total: int | None) -> None:
            if late and done:
                publish(settings, [late.pop(0), late.pop(0)])

        with closing(kafka_source(settings)) as source:
            report = rebuild(pool, source, VIEWS["all"], NOW, on_progress=progress)
        assert report.swapped and not late
        assert sum(report.outcomes.values()) == len(booking.events)

        # The consumer keeps writing into the switched tables
        after = booking.act(ids["reschedule"], "propose_time",
                            proposal={"start": "2026-11-27T09:00:00+00:00",
                                      "end": "2026-11-27T09:30:00+00:00"})
        publish(settings, [after])
        wait_until(lambda: applied_count(settings) == len(booking.events), what="applied after")
        api = create_app(settings).test_client()
        queue = {i["id"]: i["status"] for i in api.get(
            f"/v1/queue?min_position={after.position}", headers=token()).get_json()["items"]}
        assert queue[ids["reschedule"]] == "requested" and ids["window"] not in queue
        history = api.get(f"/v1/appointments/{ids['window']}/history", headers=token())
        assert [h["action"] for h in history.get_json()["items"]] == ["confirm", "request"]

        # and a fresh check still finds nothing
        with closing(kafka_source(settings)) as source:
            assert present(rebuild(pool, source, VIEW_TABLES, NOW,
                                   check_drift=True).drift).differences == []


def test_drift_check_reports_a_broken_row_and_a_rebuild_repairs_it(settings):
    booking, ids = clinic()
    pool = wire(settings).pool
    for event in booking.events:
        apply_event(pool, LIVE, event)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("UPDATE appointments SET status = 'cancelled' WHERE id = %s",
                     (ids["confirmed"],))
        conn.execute("DELETE FROM status_history WHERE appointment_id = %s AND version = 1",
                     (ids["attended"],))

    printed = io.StringIO()
    console = Console(file=printed, width=250)
    assert command.run(settings, "all", ListSource(booking.events), True, console) == 1
    out = printed.getvalue()
    assert ids["confirmed"] in out and "'cancelled'" in out and "'scheduled'" in out
    assert ids["attended"] in out and "missing_in_live" in out
    assert "2 difference(s)" in out

    # Rebuilding only the history view repairs the history, not the calendar's table
    assert command.run(settings, "history", ListSource(booking.events), False, console) == 0
    assert command.run(settings, "history", ListSource(booking.events), True, console) == 0
    assert command.run(settings, "calendar", ListSource(booking.events), True, console) == 1
    assert command.run(settings, "calendar", ListSource(booking.events), False, console) == 0
    assert command.run(settings, "all", ListSource(booking.events), True, console) == 0


def test_rebuild_from_bookings_event_feed(settings):
    booking, ids = clinic()
    pool = wire(settings).pool
    for event in booking.events:
        apply_event(pool, LIVE, event)
    purge(pool, NOW)  # (the rebuild purges beyond retention too)
    before = dump(settings)
    feed, calls = Flask("fake-booking"), []

    @feed.get("/v1/events")
    def events():  # booking's feed as the contract describes it
        principal = auth.verify(request.headers["Authorization"].removeprefix("Bearer "))
        assert principal.has(auth.PLATFORM) and principal.org == auth.PLATFORM_ORG
        limit = int(request.args["limit"])
        after = (paging.decode(request.args["cursor"], (int,))[0] if "cursor" in request.args
                 else int(request.args["after"]))
        calls.append(after)
        rows = [e for e in booking.events if e.position > after][:limit + 1]
        return jsonify(paging.page(rows, limit, key=lambda e: (e.position,), item=lambda e: {
            "topic": "t", "key": e.subject,
            "event": {k: v for k, v in e.__dict__.items() if k != "extra"}}))

    server = make_server("127.0.0.1", 0, feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # The command's own source: every organisation's events need the platform role
        source = command.source_for("store", replace(
            settings, booking_url=f"http://127.0.0.1:{server.server_port}"))
        assert isinstance(source, BookingFeedSource)
        source.page_size = 7
        report = rebuild(pool, source, VIEWS["all"], NOW)
    finally:
        server.shutdown()
    assert report.swapped and sum(report.outcomes.values()) == len(booking.events)
    assert len(booking.events) == 23
    assert calls == [0, 7, 14, 21, 23]  # pages (the last one not full), then the catch-up
    assert dump(settings) == before


def test_only_one_rebuild_runs_at_a_time(settings):
    pool = wire(settings).pool
    with psycopg.connect(settings.database_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (REBUILD_LOCK,))
        with pytest.raises(RebuildRunning):
            rebuild(pool, ListSource([]), VIEW_TABLES, NOW)
        # Released here: a closed connection's backend lets go of its locks only when it
        # has exited, a moment after the client left (the next rebuild could still see it).
        other.execute("SELECT pg_advisory_unlock(%s)", (REBUILD_LOCK,))
    assert rebuild(pool, ListSource([]), VIEW_TABLES, NOW).swapped


def test_a_chunk_with_events_that_cannot_be_applied_skips_them_alone(settings):
    # A chunk is applied in one transaction; an event that fails (not JSON, or refused
    # by PostgreSQL after some of its rows were written) is skipped alone, its
    # neighbours in the chunk applied once, and the rebuilt views equal live ones.
    booking = Booking()
    good = [booking.request(slot_=slot("2026-11-23", f"{8 + n:02d}:00")) for n in range(3)]
    good.append(booking.act(good[0].subject, "confirm"))
    huge = booking.request(slot_=slot("2026-11-24", "09:00"))
    huge.data["appointment"]["version"] = 2**40
    huge = replace(huge, aggregateversion=2**40)
    pool = wire(settings).pool
    for event in good:
        apply_event(pool, LIVE, event)
    live = dump(settings)
    source = ListSource([good[0], b"{not json", good[1], huge, good[2], good[3]])
    report = rebuild(pool, source, VIEW_TABLES, NOW, check_drift=True)
    assert report.outcomes == {"applied": len(good)}
    assert sum(report.skipped.values()) == 2
    assert any("not JSON" in reason for reason in report.skipped)
    assert any("database refused it" in reason for reason in report.skipped)
    assert present(report.drift).differences == []
    assert rebuild(pool, ListSource([good[0], b"{not json", *good[1:]]), VIEW_TABLES,
                   NOW).swapped
    assert dump(settings) == live
