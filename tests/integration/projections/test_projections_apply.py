"""Applying one event: identity and version recorded in the same transaction
as the view change; duplicates and older versions do not move a view back."""
from __future__ import annotations

import copy
import dataclasses
import uuid
from datetime import datetime

import psycopg
import pytest

from services.projections.adapters.schema import LIVE, REBUILD
from services.projections.application.apply import (
    APPLIED,
    DUPLICATE,
    STALE,
    apply_event,
    apply_in,
)
from services.projections.bootstrap import wire
from services.projections.domain.model import Unprocessable
from tests.unit.projections.factory import Booking, slot, window

pytest_plugins = ["tests.integration.projections.fixtures"]  # the `settings` fixture


def row(settings, query: str, *params):
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute(query, params).fetchall()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text + ":00+00:00")


def test_an_older_version_never_moves_the_snapshot_back_but_fills_its_history(settings):
    pool = wire(settings).pool
    booking = Booking()
    v1 = booking.request(slot_=slot("2026-11-23", "09:00"))
    v2 = booking.act(v1.subject, "confirm")
    v3 = booking.act(v1.subject, "cancel", reason="ill")
    # Given v1 and v3 arrive, then the late v2, then v2 again
    assert [apply_event(pool, LIVE, e) for e in (v1, v3, v2, v2)] == [
        APPLIED, APPLIED, STALE, DUPLICATE]
    # Then the snapshot is v3's, and the history has all three, newest first
    assert row(settings, "SELECT status, version FROM appointments") == [("cancelled", 3)]
    assert row(settings, "SELECT version, action FROM status_history ORDER BY version DESC") == [
        (3, "cancel"), (2, "confirm"), (1, "request")]
    assert row(settings, "SELECT version FROM aggregate_versions WHERE subject = %s",
               v1.subject) == [(3,)]
    # And an event with another id but an already applied version changes nothing
    twin = dataclasses.replace(v3, id=str(uuid.uuid4()), data=copy.deepcopy(v3.data))
    twin.data["appointment"]["status"] = "scheduled"
    assert apply_event(pool, LIVE, twin) == STALE
    assert row(settings, "SELECT status FROM appointments") == [("cancelled",)]
    assert row(settings, "SELECT outcome, count(*) FROM applied_events GROUP BY 1 ORDER BY 1"
               ) == [("applied", 2), ("stale", 2)]


def test_a_failed_apply_leaves_no_trace(settings):
    pool = wire(settings).pool
    booking = Booking()
    event = booking.request(slot_=slot("2026-11-23", "09:00"))
    broken = dataclasses.replace(event, aggregateversion=2**40, data=copy.deepcopy(event.data))
    broken.data["appointment"]["version"] = 2**40
    with pytest.raises(psycopg.errors.NumericValueOutOfRange):
        apply_event(pool, LIVE, broken)
    bad = dataclasses.replace(event, type="appointment.requested.v9")
    with pytest.raises(Unprocessable):
        apply_event(pool, LIVE, bad)
    # neither the identity nor any row was written: the good event still applies
    assert row(settings, "SELECT count(*) FROM applied_events") == [(0,)]
    assert apply_event(pool, LIVE, event) == APPLIED


def test_an_appointment_applied_before_its_organisation_is_placed_again_when_it_arrives(settings):
    pool = wire(settings).pool
    booking = Booking(stored_copies=False)          # events as booking writes them now
    organisation = booking.organisation_updated()   # Zurich: UTC+1 in November
    requested = booking.request(window=window("2026-11-24", "morning"), tentative=True,
                                client_id=None)
    exact = booking.request(slot_=slot("2026-11-24", "09:00"))
    # Given the appointment events arrive before the organisation's (another topic)
    assert [apply_event(pool, LIVE, e) for e in (requested, exact)] == [APPLIED, APPLIED]
    # Then the request is shown at once, its window placed with the defaults (UTC)
    placed = "SELECT start_at, end_at, sort_at FROM appointments WHERE id = %s"
    assert row(settings, placed, requested.subject) == [(utc("2026-11-24T09:00"),
                                                         utc("2026-11-24T12:00"),
                                                         utc("2026-11-24T09:00"))]
    # When the organisation's event arrives, the window is the morning in Zurich
    assert apply_event(pool, LIVE, organisation) == APPLIED
    assert row(settings, placed, requested.subject) == [(utc("2026-11-24T08:00"),
                                                         utc("2026-11-24T11:00"),
                                                         utc("2026-11-24T08:00"))]
    # And a later move to Tokyo moves it again; an exact slot never moves
    assert apply_event(pool, LIVE, booking.organisation_updated(timezone="Asia/Tokyo")) == APPLIED
    assert row(settings, placed, requested.subject)[0][:2] == (utc("2026-11-24T00:00"),
                                                               utc("2026-11-24T03:00"))
    assert row(settings, placed, exact.subject)[0][:2] == (utc("2026-11-24T09:00"),
                                                           utc("2026-11-24T09:30"))


def test_either_order_of_the_two_topics_gives_the_same_views(settings):
    pool = wire(settings).pool
    booking = Booking(stored_copies=False)
    booking.organisation_updated(name="Acme", timezone="America/New_York")
    a = booking.request(window=window("2026-11-24", "evening"), tentative=True, client_id=None)
    booking.act(a.subject, "note_added")
    booking.organisation_updated(parts_of_day={"evening": ["18:00", "20:00"]})
    b = booking.request(window=window("2026-11-25", "evening"), tentative=True, client_id=None)
    booking.act(b.subject, "reject", reason="full")
    in_store_order = booking.events
    appointments_first = sorted(booking.events, key=lambda e: e.type.startswith("organisation."))
    with pool.connection() as conn, conn.transaction():
        conn.execute(REBUILD.ddl())
        for e in in_store_order:
            apply_in(conn, REBUILD, e)
    for e in appointments_first:
        apply_event(pool, LIVE, e)
    for table in ("appointments", "status_history", "organisations"):
        live = row(settings, f"SELECT * FROM {table} ORDER BY 1, 2")
        rebuilt = row(settings, f"SELECT * FROM {table}_rebuild ORDER BY 1, 2")
        assert live == rebuilt, table
    assert row(settings, "SELECT start_at FROM appointments WHERE id = %s", b.subject) == [
        (utc("2026-11-25T23:00"),)]  # 18:00 in New York
