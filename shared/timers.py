"""Durable timers: "at time T, do X unless something changed", one table per service.

Every timed thing (a reminder, an automatic no-show, a slot hold expiring, a
waitlist offer lapsing) is one row, keyed by what it is about
(`no_show:<appointment id>`), written from the events that plan, move or drop
it, so the table can be truncated and rebuilt by replaying them. Scheduling a
key again moves it; cancelling deletes it.

`TimerWorker.run_due` claims due rows with `FOR UPDATE SKIP LOCKED`, so any
number of workers (processes, threads) share the table and none fires a row
another holds; a row is deleted in the same transaction as its successful run,
and a failed run is retried later with backoff. A crash between the handler's
effect and that commit runs the handler again: handlers must be idempotent (a
booking command guarded by its state, or sent under the timer's key as its
Idempotency-Key), so each timer fires once in effect. Time comes from the
injected clock, never from the database, so tests move time.

Why not a job library (e.g. procrastinate): it reads the database's clock,
brings its own worker, schema and retry model, and a timer here is a row
derived from events that must be moved and dropped by key; this is one
small table with one query.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import Connection, sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(minutes=10)
# Defence in depth: a claim left idle this long (its handler stuck on something) is ended
# by the server, which frees its rows for any worker; a handler takes seconds.
CLAIM_IDLE_SECONDS = 60.0
CLAIM_LOCK_TIMEOUT_SECONDS = 5


def ddl(table: str) -> sql.Composed:
    return sql.SQL("""
CREATE TABLE IF NOT EXISTS {t} (
    key text PRIMARY KEY,
    kind text NOT NULL,
    due_at timestamptz NOT NULL,
    payload jsonb NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    last_error text
);
CREATE INDEX IF NOT EXISTS {i} ON {t} (due_at);
""").format(t=sql.Identifier(table), i=sql.Identifier(f"{table}_due"))


@dataclass(frozen=True)
class Timer:
    key: str
    kind: str
    due_at: datetime
    payload: dict[str, Any]
    attempts: int = 0


def schedule(conn: Connection[Any], table: str, key: str, kind: str, due_at: datetime,
             payload: Mapping[str, Any]) -> None:
    """Plan `key` at `due_at` (moving it, with a fresh payload, if it was planned)."""
    conn.execute(sql.SQL(
        "INSERT INTO {t} (key, kind, due_at, payload) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (key) DO UPDATE SET kind = EXCLUDED.kind, due_at = EXCLUDED.due_at, "
        "payload = EXCLUDED.payload, attempts = 0, last_error = NULL").format(
        t=sql.Identifier(table)), (key, kind, due_at, Jsonb(dict(payload))))


def cancel(conn: Connection[Any], table: str, *keys: str, prefix: str | None = None) -> int:
    """Drop timers by key, or every key starting with `prefix`; the number dropped."""
    t = sql.Identifier(table)
    dropped = 0
    if keys:
        dropped += conn.execute(sql.SQL("DELETE FROM {t} WHERE key = ANY(%s)").format(t=t),
                                (list(keys),)).rowcount
    if prefix:
        dropped += conn.execute(sql.SQL("DELETE FROM {t} WHERE starts_with(key, %s)").format(
            t=t), (prefix,)).rowcount
    return dropped


def pending(conn: Connection[Any], table: str, prefix: str = "") -> list[Timer]:
    """The planned timers (of keys starting with `prefix`), soonest first."""
    rows = conn.execute(sql.SQL(
        "SELECT key, kind, due_at, payload, attempts FROM {t} WHERE starts_with(key, %s) "
        "ORDER BY due_at, key").format(t=sql.Identifier(table)), (prefix,)).fetchall()
    return [Timer(*row) for row in rows]


def claim_pool(url: str, idle_seconds: float = CLAIM_IDLE_SECONDS) -> ConnectionPool:
    """A pool for a worker's claims: a claim waits seconds at most for a lock, and one left
    idle for `idle_seconds` ends, so no row stays locked by a worker that does not finish
    (README runbook: "a due timer that never fires"). Not the fix for a leftover worker
    (deploy/children.py), a bound on what any stuck one holds."""
    return ConnectionPool(url, min_size=1, max_size=2, open=True, kwargs={"options": (
        f"-c lock_timeout={CLAIM_LOCK_TIMEOUT_SECONDS}s "
        f"-c idle_in_transaction_session_timeout={int(idle_seconds * 1000)}")})


# A handler gets the timer and the claiming transaction's connection (to plan or drop
# other timers atomically with this one's completion).
Handler = Callable[[Timer, Connection[Any]], None]


class TimerWorker:
    """Runs due timers with their kind's handler; `loop` until stopped."""

    def __init__(self, pool: ConnectionPool, table: str, handlers: Mapping[str, Handler],
                 now: Callable[[], datetime], batch: int = 50) -> None:
        self.pool, self.table, self.handlers, self.now = pool, table, dict(handlers), now
        self.batch = batch

    def run_due(self) -> int:
        """Fire every timer due now (in batches); the number fired."""
        fired = 0
        while (n := self._run_batch()) > 0:
            fired += n
        return fired

    def _run_batch(self) -> int:
        t = sql.Identifier(self.table)
        now = self.now()
        fired = 0
        with self.pool.connection() as conn, conn.transaction():
            rows = conn.execute(sql.SQL(
                "SELECT key, kind, due_at, payload, attempts FROM {t} WHERE due_at <= %s "
                "ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED").format(t=t),
                (now, self.batch)).fetchall()
            for row in rows:
                timer = Timer(*row)
                try:
                    with conn.transaction():   # a savepoint: one failure keeps the others
                        self.handlers[timer.kind](timer, conn)
                        conn.execute(sql.SQL("DELETE FROM {t} WHERE key = %s AND due_at = %s")
                                     .format(t=t), (timer.key, timer.due_at))
                    fired += 1
                except Exception as e:  # noqa: BLE001 - retried later; the reason is kept
                    retry = now + min(MAX_BACKOFF, timedelta(seconds=2 ** min(timer.attempts, 10)))
                    log.warning("timer failed; will retry", extra={"fields": {
                        "key": timer.key, "kind": timer.kind, "error": repr(e),
                        "retry_at": retry.isoformat()}})
                    conn.execute(sql.SQL("UPDATE {t} SET attempts = attempts + 1, due_at = %s, "
                                         "last_error = %s WHERE key = %s AND due_at = %s")
                                 .format(t=t), (retry, repr(e)[:2000], timer.key, timer.due_at))
        return fired

    def loop(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Fire due timers every `interval` seconds until `stop` is set."""
        while not stop.is_set():
            try:
                self.run_due()
            except Exception:  # noqa: BLE001 - a database outage: try again next round
                log.exception("timer round failed")
            stop.wait(interval)
