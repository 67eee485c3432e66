"""Stopping the line: a relay that meets an event it must not publish (it cannot
be decoded, or a check says no) halts at that position, loudly, and resumes
only by an operator's recorded decision.

- `relay_halt`: at most one row per relay, the position it stopped at, the
  aggregate and version there and the reason. Readiness fails while it exists.
- `relay_decisions`: the audit trail of every resumption: who, when, why, and
  what was done: `republish-corrected` (the event is published from corrected
  stored bytes the operator supplied; the stored row stays as it is) or `skip`
  (the event is never published; for one that should not exist). A decision
  holds for that position for good, so republishing from the start later makes
  the same choice again.

Checks are pluggable: a `Check` gets the stored event and answers a reason not
to publish it, or None. Decoding is the built-in one (the relay converts each
event on its own and a conversion that fails for any reason but a transient
one is a reason); a hash chain adds "does not verify" as one more `Check`.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from eventsourcing import persistence
from eventsourcing.persistence import Mapper, Notification, StoredEvent
from kafka.errors import KafkaError
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

from shared import db
from shared.outage import Pool

log = logging.getLogger("relay")
Check = Callable[[Notification], str | None]
# Not the event's fault: the relay retries these as it always did.
TRANSIENT: tuple[type[Exception], ...] = (
    psycopg.OperationalError, psycopg.InterfaceError, persistence.OperationalError,
    persistence.InterfaceError, KafkaError)
REPUBLISH, SKIP = "republish-corrected", "skip"
MAX_CORRECTED_BYTES = 1_048_576
MAX_BY, MAX_WHY = 200, 2000

SCHEMA = """
CREATE TABLE IF NOT EXISTS relay_halt (
    name text PRIMARY KEY,
    position bigint NOT NULL,
    aggregate_id text NOT NULL,
    aggregate_version bigint NOT NULL,
    reason text NOT NULL,
    since timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS relay_decisions (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    position bigint NOT NULL,
    aggregate_id text NOT NULL,
    aggregate_version bigint NOT NULL,
    halt_reason text NOT NULL,
    halted_since timestamptz NOT NULL,
    action text NOT NULL CHECK (action IN ('republish-corrected', 'skip')),
    decided_by text NOT NULL,
    why text NOT NULL,
    corrected bytea,
    corrected_sha256 text,
    decided_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, position)
);
"""


@dataclass(frozen=True)
class Halt:
    position: int
    aggregate_id: str
    aggregate_version: int
    reason: str
    since: str = ""

    def describe(self) -> str:
        return (f"halted at position {self.position} (aggregate {self.aggregate_id} version "
                f"{self.aggregate_version}) since {self.since}: {self.reason}")


@dataclass(frozen=True)
class Decision:
    position: int
    aggregate_id: str
    aggregate_version: int
    action: str
    corrected: bytes | None


class Refused(Exception):
    """An operator's decision that cannot be recorded (exit code 2, nothing recorded)."""


class Line:
    """One relay's halt and decisions, in its database."""

    def __init__(self, database_url: str, name: str, pool: Pool | None = None) -> None:
        self.name = name
        self.pool = pool or db.pool(database_url, max_size=2)
        db.run_schema(database_url, SCHEMA)

    def halt(self) -> Halt | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT position, aggregate_id, aggregate_version, reason, since::text "
                "FROM relay_halt WHERE name=%s", (self.name,)).fetchone()
        return Halt(int(row[0]), row[1], int(row[2]), row[3], row[4]) if row else None

    def stop_at(self, n: Notification, reason: str) -> None:
        """Record the halt; the one ERROR line is logged when it is first recorded."""
        with self.pool.connection() as conn:
            inserted = conn.execute(
                "INSERT INTO relay_halt (name, position, aggregate_id, aggregate_version, reason)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING",
                (self.name, n.id, str(n.originator_id), n.originator_version, reason)).rowcount
        if inserted:
            log_halt(self.name, Halt(n.id, str(n.originator_id), n.originator_version, reason))

    def decisions(self) -> dict[int, Decision]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT position, aggregate_id, aggregate_version, action, corrected "
                "FROM relay_decisions WHERE name=%s", (self.name,)).fetchall()
        return {int(r[0]): Decision(int(r[0]), r[1], int(r[2]), r[3],
                                    bytes(r[4]) if r[4] is not None else None) for r in rows}

    def decide(self, position: int, action: str, by: str, why: str,
               corrected: bytes | None = None) -> int:
        """Record the decision and lift the halt in one transaction; the decision's id."""
        by, why = by.strip(), why.strip()
        if not 0 < len(by) <= MAX_BY:
            raise Refused(f"--by: 1 to {MAX_BY} characters naming who decides")
        if not 0 < len(why) <= MAX_WHY:
            raise Refused(f"--reason: 1 to {MAX_WHY} characters saying why")
        if (action == REPUBLISH) != (corrected is not None):
            raise Refused("only republish-corrected carries corrected bytes")
        digest = hashlib.sha256(corrected).hexdigest() if corrected is not None else None
        with self.pool.connection() as conn, conn.transaction():
            halt = conn.execute(
                "DELETE FROM relay_halt WHERE name=%s AND position=%s RETURNING "
                "aggregate_id, aggregate_version, reason, since", (self.name, position)).fetchone()
            if halt is None:
                current = self.halt()
                raise Refused(f"relay {self.name} is not halted at position {position}"
                              + (f"; it is {current.describe()}" if current else ""))
            row = conn.execute(
                "INSERT INTO relay_decisions (name, position, aggregate_id, aggregate_version, "
                "halt_reason, halted_since, action, decided_by, why, corrected, corrected_sha256)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (self.name, position, *halt, action, by, why, corrected, digest)).fetchone()
        assert row
        log.warning("relay resumed by an operator's decision", extra={"fields": {
            "relay": self.name, "position": position, "action": action, "by": by, "why": why,
            "corrected_sha256": digest, "decision": row[0]}})
        return int(row[0])


def log_halt(name: str, halt: Halt) -> None:
    log.error("relay halted: an event cannot be published; nothing after it is published "
              "until an operator resolves it", extra={"fields": {
                  "relay": name, "position": halt.position, "aggregate_id": halt.aggregate_id,
                  "aggregate_version": halt.aggregate_version, "reason": halt.reason}})


def ready(connections: Callable[[], ConnectionPool], name: str) -> Callable[[], bool | str]:
    """A readiness check: the halt's description while the relay is halted. `connections`:
    a pool the API holds anyway (its event store's), not one more per process."""
    def check() -> bool | str:
        try:
            with connections().connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
                row = cur.execute(
                    "SELECT position, aggregate_id, aggregate_version, reason, since::text "
                    "FROM relay_halt WHERE name=%s", (name,)).fetchone()
        except psycopg.errors.UndefinedTable:  # the relay has never run
            return True
        except TRANSIENT:  # the database check reports that
            return True
        if row is None:
            return True
        return f"relay {name} " + Halt(int(row[0]), row[1], int(row[2]), row[3], row[4]).describe()
    return check


def first_reason(n: Notification, checks: Sequence[Check], convert: Callable[[Notification], Any]
                 ) -> tuple[str | None, Any]:
    """Why `n` must not be published (None if it may) and, if it may, its conversion."""
    for check in checks:
        if reason := check(n):
            return reason, None
    try:
        return None, convert(n)
    except TRANSIENT:
        raise
    except Exception as e:  # noqa: BLE001 - anything else is the event's own fault
        return f"cannot convert: {type(e).__name__}: {e}"[:2000], None


class CorrectingMapper(Mapper[Any]):
    """The application's mapper, reading corrected bytes where a decision gave them,
    so the aggregate can be rebuilt past a corrupt event (the relay's process only).
    Everything else is the original's (booking's opens sealed personal data)."""

    def __init__(self, original: Mapper[Any],
                 corrections: Callable[[], dict[tuple[str, int], bytes]]) -> None:
        super().__init__(original.transcoder, original.compressor, original.cipher)
        self.original = original
        self.corrections = corrections

    def __getattr__(self, name: str) -> Any:  # the original's attributes (booking's `keys`)
        if name == "original":
            raise AttributeError(name)
        return getattr(self.original, name)

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        return self.original.to_stored_event(domain_event)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        key = (str(stored_event.originator_id), stored_event.originator_version)
        if (corrected := self.corrections().get(key)) is not None:
            stored_event = replace(stored_event, state=corrected)
        return self.original.to_domain_event(stored_event)


def install(application: Any, corrections: Callable[[], dict[tuple[str, int], bytes]]) -> None:
    mapper = CorrectingMapper(application.mapper, corrections)
    application.mapper = mapper
    application.events.mapper = mapper
