"""Rebuild read models from history into a fresh table set, then switch over
without a gap (or only compare: the drift check).

How the switch-over works while the consumer keeps writing:
1. Build every table into the `_rebuild` set from the source, from its start
   up to the end it had when we began (Kafka: the end offsets then).
2. Open the switch-over transaction and take the consumer's lock
   exclusively (`pg_advisory_xact_lock`): every live apply holds it shared,
   so from now on no event is applied live, and none is half-applied.
3. Catch up: mark the source's end again and apply the rest into `_rebuild`.
   Everything the live consumer ever applied was in the source before this
   moment, so the rebuilt set now holds at least what the live set holds.
4. Purge both sets with the same clock (retention), then either compare
   (drift check) or, still in that transaction, drop the live tables of the
   chosen views and rename `x_rebuild` -> `x` (indexes too). Commit: the
   lock is released and the consumer goes on.
5. The consumer's bookkeeping (`applied_events`, `aggregate_versions`) stays:
   events the rebuild already has but the consumer has not yet applied are
   applied again by the consumer, which changes nothing, because every view
   write is guarded by the row's version / event time or keyed by version.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from services.projections.adapters import store
from services.projections.adapters.schema import ALL_TABLES, LIVE, LIVE_LOCK, REBUILD, TableSet
from services.projections.adapters.sources import EventSource
from services.projections.application.apply import apply_in, decode
from services.projections.application.drift import DriftReport, compare
from services.projections.domain.model import Unprocessable

log = logging.getLogger(__name__)
REBUILD_LOCK = LIVE_LOCK + 1   # one rebuild at a time per database (they share `_rebuild`)
Progress = Callable[[int, "int | None"], None]   # (messages done so far, total or None)


class RebuildRunning(RuntimeError):
    """Another rebuild holds the rebuild lock."""


@dataclass
class RebuildReport:
    tables: tuple[str, ...]
    outcomes: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)    # reason -> count
    purged: int = 0
    swapped: bool = False
    drift: DriftReport | None = None


def rebuild(pool: ConnectionPool, source: EventSource, tables: tuple[str, ...], now: datetime,
            *, check_drift: bool = False, on_progress: Progress | None = None,
            batch: int = 500, into: TableSet = REBUILD) -> RebuildReport:
    """Rebuild `tables` from `source` and switch them over (or, with
    `check_drift`, only compare them with the live ones)."""
    with pool.connection() as guard:
        locked = guard.execute("SELECT pg_try_advisory_lock(%s)", (REBUILD_LOCK,)).fetchone()
        if not locked or not locked[0]:
            raise RebuildRunning("another rebuild is running on this database")
        try:
            return _rebuild(pool, source, tables, now, check_drift, on_progress, batch, into)
        finally:
            guard.execute("SELECT pg_advisory_unlock(%s)", (REBUILD_LOCK,))


def _rebuild(pool: ConnectionPool, source: EventSource, tables: tuple[str, ...], now: datetime,
             check_drift: bool, on_progress: Progress | None, batch: int, into: TableSet
             ) -> RebuildReport:
    report = RebuildReport(tables)
    progress = on_progress or (lambda done, total: None)
    with pool.connection() as conn:
        conn.execute(into.drop())
        conn.execute(into.ddl())
    try:
        total = source.mark_end()
        done = _apply_all(pool, into, source.read(), report, lambda n: progress(n, total), batch)
        with pool.connection() as conn, conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '30s'")
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LIVE_LOCK,))
            more = source.mark_end()
            total = done + more if total is not None and more is not None else None
            _apply_all(pool, into, source.read(), report, lambda n: progress(done + n, total),
                       batch)
            report.purged = store.purge(conn, into, now)
            store.purge(conn, LIVE, now)
            if check_drift:
                report.drift = compare(conn, into, tables)
            else:
                _switch(conn, into, tables)
                report.swapped = True
    finally:
        with pool.connection() as conn:
            conn.execute(into.drop())
    return report


def _apply_all(pool: ConnectionPool, ts: TableSet, messages: Iterable[bytes],
               report: RebuildReport, advance: Callable[[int], None], batch: int = 500) -> int:
    """Apply into `ts` in transactions of `batch` events."""
    done = 0
    iterator = iter(messages)
    while True:
        chunk = [m for _, m in zip(range(batch), iterator, strict=False)]
        if not chunk:
            return done
        _apply_chunk(pool, ts, chunk, report)
        done += len(chunk)
        advance(done)


def _apply_chunk(pool: ConnectionPool, ts: TableSet, chunk: list[bytes],
                 report: RebuildReport) -> None:
    """One transaction, first without a savepoint per event (SAVEPOINT and RELEASE
    were 2 of the ~8 round trips of an event); a chunk with an event that cannot
    be applied is rolled back and applied again, each event in its savepoint, so
    that one is skipped alone."""
    outcomes: Counter[str] = Counter()
    try:
        with pool.connection() as conn, conn.transaction():
            for message in chunk:
                outcomes[apply_in(conn, ts, decode(message))] += 1
    except psycopg.OperationalError:
        raise
    except (Unprocessable, psycopg.DatabaseError):
        with pool.connection() as conn, conn.transaction():
            for message in chunk:
                _apply_one(conn, ts, message, report)
        return
    report.outcomes.update(outcomes)


def _apply_one(conn: psycopg.Connection, ts: TableSet, message: bytes,
               report: RebuildReport) -> None:
    try:
        event = decode(message)
        with conn.transaction():
            report.outcomes[apply_in(conn, ts, event)] += 1
    except Unprocessable as e:
        report.skipped[str(e)[:200]] += 1
    except psycopg.DatabaseError as e:
        if isinstance(e, psycopg.OperationalError):
            raise
        report.skipped[f"database refused it: {type(e).__name__}"] += 1


def _switch(conn: psycopg.Connection, rebuilt: TableSet, tables: tuple[str, ...]) -> None:
    """Drop each live table and rename its rebuilt twin (and indexes) into place."""
    for table in tables:
        if table not in ALL_TABLES:
            raise KeyError(table)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(LIVE.t(table)))
        conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(rebuilt.t(table),
                                                                   LIVE.t(table)))
        for old, new in zip(rebuilt.indexes(table), LIVE.indexes(table), strict=True):
            conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(sql.Identifier(old),
                                                                       sql.Identifier(new)))
    log.info("switched rebuilt tables over", extra={"fields": {"tables": list(tables)}})
