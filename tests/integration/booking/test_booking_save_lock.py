"""A save holds the event table's lock only for what needs it: the insert, the
notification ids, the chain and the idempotent answer. Its calendar, directory,
waitlist and timer rows are written before it asks for the lock."""
from __future__ import annotations

import threading
from typing import Any

import psycopg
from booking_http_support import slot

from tests.waiting import wait_until

EVENTS_TABLE = "bookingapplication_events"


def test_a_save_waiting_for_the_event_table_has_written_its_calendar_row(api, seed, fresh_db):
    holder = psycopg.connect(fresh_db)
    holder.execute(f"LOCK TABLE {EVENTS_TABLE} IN EXCLUSIVE MODE")
    answer: dict[str, Any] = {}
    body = {"service_id": seed.service, "client_id": seed.client, "slot": slot(9),
            "agent_id": seed.agent, "source": "agent"}
    command = threading.Thread(target=lambda: answer.update(r=api.post("/v1/appointments", body)),
                               daemon=True)
    try:
        with psycopg.connect(fresh_db, autocommit=True) as watcher:
            command.start()

            def waiting_saver() -> int | None:
                row = watcher.execute(
                    "SELECT pid FROM pg_locks WHERE relation = %s::regclass AND NOT granted",
                    (EVENTS_TABLE,)).fetchone()
                return int(row[0]) if row else None

            pid = wait_until(waiting_saver, 10, "a save waiting for the event table")
            # While it waits, its agent's time is already taken in its own transaction
            held = watcher.execute(
                "SELECT mode FROM pg_locks WHERE pid = %s "
                "AND relation = 'booking_agent_calendar'::regclass", (pid,)).fetchall()
            assert ("RowExclusiveLock",) in held, held
    finally:
        holder.close()   # the lock goes; the command completes
    command.join(10)
    assert answer["r"].status_code == 201, answer["r"].get_json()
