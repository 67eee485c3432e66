"""The event table's lock is never held for long (issue 8: one large field froze
every booking write for 13 minutes).

The cause: the library inserted events in psycopg's pipeline mode, which never
finished sending a query message of more than about 1 MB; the server waited in
ClientRead with the table locked, and no server timeout applied to it.
"""
from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest
from booking_http_support import slot

from services.booking.application.app import SYSTEM
from services.booking.domain.meta import Meta
from services.booking.domain.organisation import Organisation
from shared import db

EVENTS_TABLE = "bookingapplication_events"


def _within(seconds: float, work: Any) -> Any:
    """Run `work` in a thread; fail (instead of hanging the suite) if it outlives `seconds`."""
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(value=work()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    return result["value"]


def test_an_event_of_over_a_megabyte_is_stored_without_hanging(booking, clock):
    # Past the HTTP limits (the recorder must not depend on them): 1.5 MB in one event.
    org = Organisation.start("acme", Meta(SYSTEM, "", clock.now()))
    org.update({"address": "x" * 1_500_000}, Meta(SYSTEM, "", clock.now()))
    _within(20, lambda: booking.save(org))
    assert booking.organisation("acme").settings["address"] == "x" * 1_500_000


def test_a_writer_stuck_holding_the_event_table_costs_others_seconds_not_forever(
        api, seed, booking, fresh_db):
    # Someone takes the event table's lock and sits on it (a stuck or hostile writer).
    holder = psycopg.connect(fresh_db)
    holder.execute(f"LOCK TABLE {EVENTS_TABLE} IN EXCLUSIVE MODE")
    try:
        started = time.monotonic()
        body = {"service_id": seed.service, "client_id": seed.client, "slot": slot(9)}
        r = _within(30, lambda: api.post("/v1/appointments", body))
        waited = time.monotonic() - started
        # The command gives up after the lock timeout with a clear, retryable answer
        assert r.status_code == 503, r.get_json()
        assert r.headers["Retry-After"] == "1"
        assert waited < db.LOCK_TIMEOUT_SECONDS + 5
    finally:
        holder.close()
    # The holder's session ended; the same command goes through at once.
    assert api.post("/v1/appointments", body).status_code == 201


def test_the_server_ends_a_writer_left_idle_inside_its_transaction(booking, fresh_db):
    # A client that stops talking mid-transaction (it froze, its thread hung) keeps
    # nothing locked: PostgreSQL ends its session after the idle timeout.
    with booking.recorder.datastore.get_connection() as conn:   # type: ignore[attr-defined]
        with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout), conn.transaction():
            conn.execute(f"LOCK TABLE {EVENTS_TABLE} IN EXCLUSIVE MODE")
            with psycopg.connect(fresh_db) as other:
                other.execute("SET lock_timeout = '20s'")
                started = time.monotonic()
                other.execute(f"LOCK TABLE {EVENTS_TABLE} IN EXCLUSIVE MODE")  # granted
                assert time.monotonic() - started < db.LOCK_TIMEOUT_SECONDS + 5
        assert conn.broken


def test_a_request_stuck_on_its_idempotency_key_costs_a_retry_seconds_not_forever(
        api, seed, fresh_db):
    # Another request with the same key hangs while holding the key's lock.
    body = {"service_id": seed.service, "client_id": seed.client, "slot": slot(10)}
    key = "booking-idempotency\x1facme\x1fstuck-1"
    with psycopg.connect(fresh_db, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
        started = time.monotonic()
        r = _within(30, lambda: api.post("/v1/appointments", body,
                                         headers={"Idempotency-Key": "stuck-1"}))
        assert r.status_code == 503, r.get_json()
        assert r.headers["Retry-After"] == "1"
        assert time.monotonic() - started < 20
    # The holder gone, the retry goes through.
    assert api.post("/v1/appointments", body,
                    headers={"Idempotency-Key": "stuck-1"}).status_code == 201
