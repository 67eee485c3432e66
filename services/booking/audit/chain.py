"""The hash chain over booking's stored events, one chain per organisation.

Each event's hash (sha256) covers its organisation, aggregate id, version,
topic, the payload bytes exactly as stored (its timestamp is inside them) and
the previous hash of the same organisation, so altering, removing, inserting
or reordering an event breaks the chain from that event on. The chain lives
beside each event in `booking_event_organisation` (sequence within the
organisation, hash), written in the event's own transaction under the event
table's lock (`BookingRecorder`), so "the previous hash" is never raced.

`event_hash` is the one definition of the hash: the recorder, `verify` and any
export compute it with this function only.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import Cursor
from psycopg.sql import SQL, Composable

GENESIS = bytes(32)  # the "previous hash" of an organisation's first event
DDL = """
ALTER TABLE booking_event_organisation ADD COLUMN IF NOT EXISTS sequence bigint;
ALTER TABLE booking_event_organisation ADD COLUMN IF NOT EXISTS hash bytea;
CREATE UNIQUE INDEX IF NOT EXISTS booking_event_organisation_sequence
    ON booking_event_organisation (organisation_id, sequence);
"""
PAGE = 1000


def event_hash(previous: bytes, organisation_id: str, aggregate_id: str, version: int,
               topic: str, state: bytes) -> bytes:
    """sha256 over length-prefixed fields: no two different field lists hash alike."""
    digest = hashlib.sha256()
    for part in (previous, organisation_id.encode(), str(aggregate_id).encode(),
                 str(version).encode(), topic.encode(), state):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


@dataclass(frozen=True)
class Entry:
    """One link of an organisation's chain, with the event as stored now (None when the
    event row is gone)."""
    position: int  # the event's notification id
    organisation_id: str
    sequence: int | None
    hash: bytes | None
    aggregate_id: str | None
    version: int | None
    topic: str | None
    state: bytes | None

    def recompute(self, previous: bytes) -> bytes | None:
        if self.aggregate_id is None or self.version is None or self.topic is None \
                or self.state is None:
            return None
        return event_hash(previous, self.organisation_id, self.aggregate_id, self.version,
                          self.topic, self.state)


def append(curs: Cursor[Any], organisation_id: str, ids: Sequence[int],
           events: Sequence[Any]) -> None:
    """Chain `events` (StoredEvents, in insert order, numbered `ids`) after the
    organisation's head. Runs inside the insert's transaction, under its table lock."""
    sequence, previous = _head(curs, organisation_id)
    rows: tuple[list[int], list[int], list[bytes]] = ([], [], [])
    for position, event in zip(sorted(ids), events, strict=True):
        sequence += 1
        previous = event_hash(previous, organisation_id, str(event.originator_id),
                              event.originator_version, event.topic, event.state)
        rows[0].append(position)
        rows[1].append(sequence)
        rows[2].append(previous)
    curs.execute("INSERT INTO booking_event_organisation (notification_id, organisation_id, "
                 "sequence, hash) SELECT n, %s, s, h FROM unnest(%s::bigint[], %s::bigint[], "
                 "%s::bytea[]) AS t(n, s, h)", (organisation_id, *rows))


def _head(curs: Cursor[Any], organisation_id: str) -> tuple[int, bytes]:
    curs.execute("SELECT sequence, hash FROM booking_event_organisation WHERE organisation_id = %s "
                 "AND hash IS NOT NULL ORDER BY notification_id DESC LIMIT 1", (organisation_id,))
    row = curs.fetchone()
    if row is None:
        return 0, GENESIS
    return int(_at(row, 0)), bytes(_at(row, 1))


def _at(row: Any, index: int) -> Any:
    """A column of a tuple row or of a dict row (the library's cursors make dict rows)."""
    return row[index] if isinstance(row, tuple) else list(row.values())[index]


def backfill(curs: Cursor[Any], events: Composable) -> int:
    """Chain the events stored before the chain existed (idempotent; at start-up, as the
    owner role). Each organisation's unchained events follow its last chained one."""
    curs.execute("SELECT DISTINCT organisation_id FROM booking_event_organisation "
                 "WHERE hash IS NULL")
    chained = 0
    for organisation_id in [_at(r, 0) for r in curs.fetchall()]:
        sequence, previous = _head(curs, organisation_id)
        pending = list(entries(curs, events, organisation_id, unchained_only=True))
        for entry in pending:
            sequence += 1
            previous = entry.recompute(previous) or previous
            curs.execute("UPDATE booking_event_organisation SET sequence = %s, hash = %s "
                         "WHERE notification_id = %s", (sequence, previous, entry.position))
            chained += 1
    return chained


def entries(curs: Cursor[Any], events: Composable, organisation_id: str, after: int = 0,
            upto: int | None = None, *, unchained_only: bool = False) -> Iterator[Entry]:
    """The organisation's chain from position `after` (exclusive) to `upto` (inclusive),
    oldest first, read a page at a time (for verify and exports)."""
    while True:
        curs.execute(SQL(
            "SELECT o.notification_id, o.organisation_id, o.sequence, o.hash, "
            "e.originator_id::text, e.originator_version, e.topic, e.state "
            "FROM booking_event_organisation o LEFT JOIN {events} e USING (notification_id) "
            "WHERE o.organisation_id = %s AND o.notification_id > %s AND o.notification_id <= %s "
            "AND (NOT %s OR o.hash IS NULL) ORDER BY o.notification_id LIMIT %s").format(
            events=events), (organisation_id, after, upto if upto is not None else 2**62,
                             unchained_only, PAGE))
        rows = [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in curs.fetchall()]
        for r in rows:
            yield Entry(position=r[0], organisation_id=r[1], sequence=r[2],
                        hash=bytes(r[3]) if r[3] is not None else None, aggregate_id=r[4],
                        version=r[5], topic=r[6], state=bytes(r[7]) if r[7] is not None else None)
        if len(rows) < PAGE:
            return
        after = rows[-1][0]


def organisations(curs: Cursor[Any]) -> list[str]:
    curs.execute("SELECT DISTINCT organisation_id FROM booking_event_organisation ORDER BY 1")
    return [_at(r, 0) for r in curs.fetchall()]


def unchained(curs: Cursor[Any], events: Composable) -> list[tuple[int, str, int]]:
    """Stored events in no organisation's chain: (position, aggregate id, version)."""
    curs.execute(SQL("SELECT e.notification_id, e.originator_id::text, e.originator_version "
                     "FROM {events} e LEFT JOIN booking_event_organisation o USING "
                     "(notification_id) WHERE o.notification_id IS NULL "
                     "ORDER BY e.notification_id").format(events=events))
    return [(int(_at(r, 0)), str(_at(r, 1)), int(_at(r, 2))) for r in curs.fetchall()]
