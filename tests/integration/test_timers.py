"""Durable timers on the real PostgreSQL: planned, moved, dropped, fired once by
competing workers, retried after a failure, and surviving a worker's restart."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from shared import timers
from shared.timers import Timer, TimerWorker
from tests.waiting import first_within

T0 = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
TABLE = "timers"


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def pool(fresh_db: str) -> Any:
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(timers.ddl(TABLE))
    p = ConnectionPool(fresh_db, min_size=1, max_size=4, open=True)
    yield p
    p.close()


def plan(pool: ConnectionPool, key: str, due: datetime, kind: str = "ping") -> None:
    with pool.connection() as conn:
        timers.schedule(conn, TABLE, key, kind, due, {"key": key})


def test_a_timer_fires_when_due_moved_timers_follow_and_dropped_ones_never_fire(pool):
    clock, fired = Clock(), []
    worker = TimerWorker(pool, TABLE, {"ping": lambda t, _: fired.append(t.key)}, clock)
    plan(pool, "a", T0 + timedelta(hours=1))
    plan(pool, "b", T0 + timedelta(hours=1))
    plan(pool, "c", T0 + timedelta(hours=1))
    plan(pool, "b", T0 + timedelta(hours=3))          # rescheduled: moves
    with pool.connection() as conn:
        assert timers.cancel(conn, TABLE, "c") == 1   # dropped
    assert worker.run_due() == 0                       # nothing due yet
    clock.at = T0 + timedelta(hours=2)
    assert worker.run_due() == 1 and fired == ["a"]
    clock.at = T0 + timedelta(hours=4)
    assert worker.run_due() == 1 and fired == ["a", "b"]
    assert worker.run_due() == 0
    with pool.connection() as conn:
        assert timers.pending(conn, TABLE) == []


def test_competing_workers_fire_each_timer_once(pool):
    clock, fired, lock = Clock(), [], threading.Lock()

    def handler(t: Timer, _: Any) -> None:
        with lock:
            fired.append(t.key)

    for i in range(200):
        plan(pool, f"t{i:03}", T0 - timedelta(seconds=i))
    workers = [TimerWorker(pool, TABLE, {"ping": handler}, clock, batch=7) for _ in range(4)]
    threads = [threading.Thread(target=w.run_due) for w in workers]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(fired) == [f"t{i:03}" for i in range(200)]


def test_a_failing_handler_is_retried_later_and_the_others_still_fire(pool):
    clock, fired, failures = Clock(), [], [2]

    def flaky(t: Timer, _: Any) -> None:
        if failures[0]:
            failures[0] -= 1
            raise RuntimeError("provider down")
        fired.append(t.key)

    worker = TimerWorker(pool, TABLE, {"flaky": flaky, "ping": lambda t, _: fired.append(t.key)},
                         clock)
    plan(pool, "x", T0, kind="flaky")
    plan(pool, "y", T0)
    assert worker.run_due() == 1 and fired == ["y"]
    with pool.connection() as conn:
        [left] = timers.pending(conn, TABLE)
    assert left.key == "x" and left.attempts == 1 and left.due_at > T0
    clock.at = T0 + timedelta(minutes=30)
    worker.run_due()   # fails once more, then succeeds on the next round
    clock.at = T0 + timedelta(hours=1)
    worker.run_due()
    assert fired == ["y", "x"]


def test_timers_survive_the_worker_and_fire_after_a_restart(pool, fresh_db):
    plan(pool, "later", T0 + timedelta(minutes=5))
    pool.close()                     # the process that planned it is gone
    fired = []
    with ConnectionPool(fresh_db, min_size=1, max_size=2, open=True) as fresh:
        clock = Clock()
        clock.at = T0 + timedelta(minutes=6)
        assert TimerWorker(fresh, TABLE, {"ping": lambda t, _: fired.append(t.key)},
                           clock).run_due() == 1
    assert fired == ["later"]


def test_a_claim_its_handler_never_finishes_frees_the_row_for_other_workers(fresh_db: str) -> None:
    """Defence in depth (README runbook, "a due timer that never fires"): a worker whose
    handler hangs holds its claim idle; the server ends it, the row is free again and
    still planned, so another worker fires it."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(timers.ddl(TABLE))
    freed: list[bool] = []

    def lockable() -> bool:
        with psycopg.connect(fresh_db) as other:
            try:
                other.execute(f"SELECT 1 FROM {TABLE} WHERE key = 'a' FOR UPDATE NOWAIT")
                return True
            except psycopg.errors.LockNotAvailable:
                return False

    def stuck(timer: Timer, conn: Any) -> None:  # hangs until another worker could take it
        freed.append(bool(first_within(lockable, timeout=20, interval=0.2)))

    with timers.claim_pool(fresh_db, idle_seconds=1) as claims:
        plan(claims, "a", T0)
        with pytest.raises(psycopg.Error):   # its claim was ended meanwhile
            TimerWorker(claims, TABLE, {"ping": stuck}, now=Clock()).run_due()
    assert freed == [True]
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute(f"SELECT key, attempts FROM {TABLE}").fetchall() == [("a", 0)]
