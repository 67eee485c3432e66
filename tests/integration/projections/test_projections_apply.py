"""Applying one event: identity and version recorded in the same transaction
as the view change; duplicates and older versions do not move a view back."""
from __future__ import annotations

import copy
import dataclasses
import uuid

import psycopg
import pytest

from services.projections.adapters.schema import LIVE
from services.projections.application.apply import APPLIED, DUPLICATE, STALE, apply_event
from services.projections.bootstrap import database
from services.projections.domain.model import Unprocessable
from tests.unit.projections.factory import Booking, slot

pytest_plugins = ["tests.integration.projections.fixtures"]  # the `settings` fixture


def row(settings, query: str, *params):
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute(query, params).fetchall()


def test_an_older_version_never_moves_the_snapshot_back_but_fills_its_history(settings):
    pool = database(settings)
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
    pool = database(settings)
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
