"""Booking's side tables in PostgreSQL, written in the events' own transaction.

`BookingRecorder` extends the library's application recorder: inside its
transaction it applies the `SideWrites` handed to `Application.save(..., side=...)`,
those that need no notification id before the library's table lock, the rest
after its insert, under the lock. An overlapping
booking of the same agent breaks the exclusion constraint and the whole save
rolls back. Each event's organisation goes beside it, so the event feed
selects one organisation's events in SQL (`select_organisation_notifications`),
and its place in the organisation's hash chain (services/booking/audit/chain.py).
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import Cursor, errors
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Identifier
from psycopg.types.json import Jsonb

from services.booking.adapters import keys
from services.booking.application.ports import Answer, CalendarRow, Keys, SideWrites, TimerRow
from services.booking.application.timers import TABLE as TIMERS
from services.booking.audit import chain
from services.booking.domain.personal_data import CONTACT, ERASED
from services.booking.domain.values import Slot, iso
from shared import timers
from shared.outage import Pool

RECORDER_TOPIC = "services.booking.adapters.pg_store:BookingRecorder"
ERASED_CONTACT = {f: ERASED[f] for f in CONTACT}
# With the library's lock_timeout (shared.db.eventsourcing_env) and its
# idle_in_transaction_session_timeout, no save holds the event table for long.
STATEMENT_TIMEOUT = "SET LOCAL statement_timeout = '5s'"
# The library's table of BookingApplication's events (schema, table), for readers
# without the application (the audit command).
EVENTS_TABLE = ("public", "bookingapplication_events")

DDL = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TABLE IF NOT EXISTS booking_agent_calendar (
    appointment_id uuid PRIMARY KEY,
    organisation_id text NOT NULL,
    agent_id text NOT NULL,
    during tstzrange NOT NULL,
    CONSTRAINT booking_agent_calendar_no_overlap
        EXCLUDE USING gist (organisation_id WITH =, agent_id WITH =, during WITH &&)
);
CREATE TABLE IF NOT EXISTS booking_directory (
    id uuid PRIMARY KEY,
    organisation_id text NOT NULL,
    kind text NOT NULL,
    email text,
    phone text,
    snapshot jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS booking_directory_org_kind ON booking_directory (organisation_id, kind);
-- Waitlist entries in join order (seq); their offers hold time in booking_agent_calendar
-- under the entry's id (appointment_id names whoever holds the time).
CREATE TABLE IF NOT EXISTS booking_waitlist (
    seq bigserial UNIQUE,
    id uuid PRIMARY KEY,
    organisation_id text NOT NULL,
    service_id text NOT NULL,
    status text NOT NULL,
    snapshot jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS booking_waitlist_org ON booking_waitlist (organisation_id, seq);
CREATE INDEX IF NOT EXISTS booking_waitlist_service
    ON booking_waitlist (organisation_id, service_id, status, seq);
CREATE TABLE IF NOT EXISTS booking_idempotency (
    organisation_id text NOT NULL,
    key text NOT NULL,
    fingerprint text NOT NULL,
    status integer NOT NULL,
    body jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_id, key)
);
CREATE TABLE IF NOT EXISTS booking_event_organisation (
    notification_id bigint PRIMARY KEY,
    organisation_id text NOT NULL
);
CREATE INDEX IF NOT EXISTS booking_event_organisation_feed
    ON booking_event_organisation (organisation_id, notification_id);
""" + chain.DDL + f"""
-- Only when missing: an existing table is not locked at start-up. A booking process
-- starting (CREATE INDEX takes a SHARE lock even if the index exists) while others save
-- through booking_timers would otherwise deadlock with them.
DO $timers$ BEGIN
IF to_regclass('{TIMERS}') IS NULL THEN
{timers.ddl(TIMERS).as_string(None)}
END IF;
END $timers$;
"""


class BookingRecorder(PostgresApplicationRecorder):
    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        """The library's insert, one statement at a time instead of in pipeline mode.

        In pipeline mode psycopg 3.3 never finishes sending a query message of
        more than about 1 MB (issue 8: the server waits in ClientRead with the
        event table locked, the client waits for results, both forever); and while
        a pipeline is open the server counts the transaction as active, so
        idle_in_transaction_session_timeout cannot end it. One statement at a
        time, a stalled client is idle in its transaction and the server ends it.
        Not retried: a lock or statement timeout must reach the caller at once.
        """
        with self.datastore.get_connection() as conn, conn.transaction(), \
                conn.cursor() as curs:
            curs.execute(STATEMENT_TIMEOUT)
            self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return None
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def _insert_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> None:
        """The side writes that need no notification id, in the transaction but before
        the library takes the event table's lock: savers wait for each other only for
        the insert, the ids and what needs them (`write_locked`)."""
        if stored_events:
            write_unlocked(curs, kwargs.get("side") or SideWrites())

    def _lock_table(self, curs: Cursor[DictRow]) -> None:
        """The library's lock statements and its NOTIFY in one round trip (the simple
        query protocol runs them in order, in the save's transaction)."""
        notify = SQL("NOTIFY {0}").format(Identifier(self.channel_name))
        curs.execute(SQL("; ").join([*self.lock_table_statements, notify]))

    def _notify_channel(self, curs: Cursor[DictRow]) -> None:
        """Sent with the lock (`_lock_table`)."""

    def _fetch_ids_after_insert_events(self, curs: Cursor[DictRow],
                                       stored_events: Sequence[StoredEvent],
                                       **kwargs: Any) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if ids:
            write_locked(curs, kwargs.get("side") or SideWrites(), ids, stored_events)
        return ids

    def select_organisation_notifications(self, organisation_id: str, after: int,
                                          limit: int) -> list[Notification]:
        """Like `select_notifications`, only one organisation's events (its own index)."""
        statement = SQL(
            "SELECT e.* FROM booking_event_organisation o JOIN {schema}.{table} e "
            "USING (notification_id) WHERE o.organisation_id = %s AND o.notification_id > %s "
            "ORDER BY o.notification_id LIMIT %s").format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (organisation_id, after, limit), prepare=True)
            return [Notification(id=row["notification_id"], originator_id=row["originator_id"],
                                 originator_version=row["originator_version"],
                                 topic=row["topic"], state=bytes(row["state"]))
                    for row in curs.fetchall()]

    def select_aggregate_notifications(self, originator_id: Any) -> list[Notification]:
        """One aggregate's events in version order, with their notification ids (audits)."""
        statement = SQL(
            "SELECT * FROM {schema}.{table} WHERE originator_id = %s "
            "ORDER BY originator_version").format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (originator_id,), prepare=True)
            return [Notification(id=row["notification_id"], originator_id=row["originator_id"],
                                 originator_version=row["originator_version"],
                                 topic=row["topic"], state=bytes(row["state"]))
                    for row in curs.fetchall()]

    def appointments_of(self, organisation_id: str, client_id: str) -> list[str]:
        """The organisation's appointments whose events name the client (ids stay plain
        in sealed events too): those stored before sealing existed have no key yet."""
        statement = SQL(
            "SELECT DISTINCT e.originator_id::text FROM booking_event_organisation o "
            "JOIN {schema}.{table} e USING (notification_id) WHERE o.organisation_id = %s "
            "AND (e.topic LIKE 'appointment.%%' OR e.topic LIKE '%%:Appointment.%%') "
            "AND strpos(convert_from(e.state, 'UTF8'), %s) > 0").format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (organisation_id, client_id))
            return [row["originator_id"] for row in curs.fetchall()]

    def backfill_organisations(self) -> int:
        """The organisation of events stored before it was recorded beside them: every
        aggregate's first event names it (idempotent; at start-up). Only those events'
        bytes are parsed (materialised first): one corrupt stored event must stop the
        relay at its position, not every booking process at start-up."""
        statement = SQL(
            "WITH missing AS MATERIALIZED (SELECT e.notification_id, e.originator_id "
            "  FROM {schema}.{table} e WHERE NOT EXISTS (SELECT FROM booking_event_organisation o"
            "  WHERE o.notification_id = e.notification_id)) "
            "INSERT INTO booking_event_organisation (notification_id, organisation_id) "
            "SELECT m.notification_id, convert_from(c.state, 'UTF8')::jsonb ->> 'organisation_id' "
            "FROM missing m JOIN {schema}.{table} c "
            "ON c.originator_id = m.originator_id AND c.originator_version = 1 "
            "WHERE convert_from(c.state, 'UTF8')::jsonb ? 'organisation_id' "
            "ON CONFLICT DO NOTHING").format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(statement)
            return curs.rowcount

    def events_table(self) -> Composable:
        return SQL("{}.{}").format(Identifier(self.datastore.schema),
                                   Identifier(self.events_table_name))

    def backfill_chain(self) -> int:
        """Chain the events stored before the hash chain existed (idempotent; at start-up)."""
        with self.datastore.transaction(commit=True) as curs:
            return chain.backfill(curs, self.events_table())


def write_unlocked(curs: Cursor[Any], side: SideWrites) -> None:
    """Calendar, directory, waitlist and timers: rows of the saved aggregates only.

    Before the table lock, so no saver holds it while it waits for these rows: two
    saves of one aggregate wait here for each other (and the second then fails on its
    version), an overlapping booking waits for the first one's outcome, and a timer
    being fired is skipped (`write_timer`), never waited for.
    """
    if not side.organisation_id:  # an event no organisation's feed would show: refuse
        raise ValueError("events saved without their organisation (BookingApplication.save)")
    for row in side.calendar:
        curs.execute("DELETE FROM booking_agent_calendar WHERE appointment_id = %s",
                     (row.appointment_id,))
        if row.agent_id and row.slot:
            curs.execute(
                "INSERT INTO booking_agent_calendar VALUES (%s, %s, %s, tstzrange(%s, %s))",
                (row.appointment_id, row.organisation_id, row.agent_id, row.slot["start"],
                 row.slot["end"]))
    for entry in side.entries:
        s = entry.snapshot
        curs.execute(
            "INSERT INTO booking_directory VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO "
            "UPDATE SET email = EXCLUDED.email, phone = EXCLUDED.phone, snapshot = EXCLUDED.snapshot",
            (entry.id, entry.organisation_id, entry.kind, s.get("email"), s.get("phone"), Jsonb(s)))
    for w in side.waitlist:
        curs.execute(
            "INSERT INTO booking_waitlist (id, organisation_id, service_id, status, snapshot) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status,"
            " snapshot = EXCLUDED.snapshot",
            (w.id, w.organisation_id, w.service_id, w.status, Jsonb(w.snapshot)))
    for timer in side.timers:
        write_timer(curs, timer)


def write_locked(curs: Cursor[Any], side: SideWrites, ids: Sequence[int],
                 stored_events: Sequence[StoredEvent]) -> None:
    """Under the table lock: the chain (its head is the last event's), the erasure (its
    scrub of idempotent answers must see every answer committed before it) and this
    command's answer (its position)."""
    if not side.organisation_id:
        raise ValueError("events saved without their organisation (BookingApplication.save)")
    chain.append(curs, side.organisation_id, ids, stored_events)
    if side.erase:
        keys.erase(curs, side.erase)
        curs.execute(   # the waitlist's copies of the client's contact data go too
            "UPDATE booking_waitlist SET snapshot = jsonb_set(snapshot, '{client}', "
            "(snapshot->'client') || %s) WHERE organisation_id = %s "
            "AND snapshot->'client'->>'id' = %s",
            (Jsonb(ERASED_CONTACT), side.erase.organisation_id, side.erase.client_id))
    if side.answer:
        a = side.answer
        a.body["position"] = ids[-1]
        curs.execute("INSERT INTO booking_idempotency (organisation_id, key, fingerprint, status, "
                     "body) VALUES (%s, %s, %s, %s, %s)",
                     (a.organisation_id, a.key, a.fingerprint, a.status, Jsonb(a.body)))


def write_timer(curs: Cursor[Any], timer: TimerRow) -> None:
    """Plan, move or drop one timer, never waiting for a worker firing it.

    A worker holds the row it fires (FOR UPDATE) while its handler sends a booking
    command, whose save would wait here for that row: so a row being fired is left
    alone, and the handler, which plans the appointment again from its current state,
    moves or drops it (application/timers.py).
    """
    t = Identifier(TIMERS)
    # One statement each: the row is locked without waiting (SKIP LOCKED); a row that
    # exists but could not be locked is being fired.
    if timer.due_at is None:
        curs.execute(SQL("DELETE FROM {t} WHERE key = (SELECT key FROM {t} WHERE key = %s "
                         "FOR UPDATE SKIP LOCKED)").format(t=t), (timer.key,))
        return
    curs.execute(SQL(
        "WITH held AS (SELECT key FROM {t} WHERE key = %(key)s FOR UPDATE SKIP LOCKED) "
        "INSERT INTO {t} (key, kind, due_at, payload) "
        "SELECT %(key)s, %(kind)s, %(due_at)s, %(payload)s "
        "WHERE EXISTS (SELECT FROM held) OR NOT EXISTS (SELECT FROM {t} WHERE key = %(key)s) "
        "ON CONFLICT (key) DO UPDATE SET kind = EXCLUDED.kind, due_at = EXCLUDED.due_at, "
        "payload = EXCLUDED.payload, attempts = 0, last_error = NULL "
        "WHERE ({t}.due_at, {t}.payload) IS DISTINCT FROM (EXCLUDED.due_at, EXCLUDED.payload)"
    ).format(t=t), {"key": timer.key, "kind": timer.kind, "due_at": timer.due_at,
                    "payload": Jsonb(timer.payload)})


class PgTables:
    """Reads of the side tables, and the per-key lock of idempotent commands.

    Locks come from a pool of their own: a command holds its lock connection
    while it reads and saves through the others, so no pool can starve itself.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        # Autocommit: each read is one statement, with no BEGIN and COMMIT round trips.
        self.pool = Pool(url, min_size=1, max_size=8, open=True,
                         kwargs={"options": "-c statement_timeout=5s", "autocommit": True})
        # A command waits at most seconds for another one holding its Idempotency-Key.
        # Session locks need no transaction.
        self.locks = Pool(url, min_size=0, max_size=16, open=True,
                          kwargs={"options": "-c lock_timeout=10s", "autocommit": True})
        self.keys: Keys = keys.PgKeys(self.pool)

    def close(self) -> None:
        self.pool.close()
        self.locks.close()

    def busy_agents(self, organisation_id: str, slot: Slot, exclude: str | None) -> set[str]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT agent_id FROM booking_agent_calendar WHERE organisation_id = %s AND "
                "during && tstzrange(%s, %s) AND appointment_id IS DISTINCT FROM %s",
                (organisation_id, slot.start, slot.end, exclude)).fetchall()
        return {r[0] for r in rows}

    def entries(self, organisation_id: str, kind: str, email: str | None = None,
                phone: str | None = None, after: tuple[str, uuid.UUID] | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
        query = "SELECT snapshot FROM booking_directory WHERE organisation_id = %s AND kind = %s"
        params: list[Any] = [organisation_id, kind]
        if email or phone:
            query += " AND (lower(email) = lower(%s) OR phone = %s)"
            params += [email or "", phone or ""]
        if after:  # keyset: the sort below, compared in the database's own collation
            query += " AND (snapshot->>'name', id) > (%s, %s)"
            params += [after[0], after[1]]
        query += " ORDER BY snapshot->>'name', id" + (" LIMIT %s" if limit is not None else "")
        params += [limit] if limit is not None else []
        with self.pool.connection() as conn:
            rows = conn.execute(query, params).fetchall()
        return [r[0] for r in rows]

    def answer(self, organisation_id: str, key: str) -> Answer | None:
        with self.pool.connection() as conn:
            return _answer(conn, organisation_id, key)

    def is_overlap(self, error: Exception) -> bool:
        return isinstance(error.__cause__, errors.ExclusionViolation)

    def waitlist(self, organisation_id: str, service_id: str | None = None,
                 status: str | None = None, after: int = 0,
                 limit: int = 100) -> list[tuple[int, dict[str, Any]]]:
        query = "SELECT seq, snapshot FROM booking_waitlist WHERE organisation_id = %s AND seq > %s"
        params: list[Any] = [organisation_id, after]
        if service_id:
            query += " AND service_id = %s"
            params.append(service_id)
        if status:
            query += " AND status = %s"
            params.append(status)
        with self.pool.connection() as conn:
            rows = conn.execute(query + " ORDER BY seq LIMIT %s", [*params, limit]).fetchall()
        return [(r[0], r[1]) for r in rows]

    def held_by(self, appointment_id: str) -> CalendarRow | None:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT organisation_id, agent_id, lower(during), upper(during) "
                               "FROM booking_agent_calendar WHERE appointment_id = %s",
                               (appointment_id,)).fetchone()
        if row is None:
            return None
        return CalendarRow(appointment_id, row[0], row[1],
                           {"start": iso(row[2]), "end": iso(row[3])})

    @contextmanager
    def locked(self, organisation_id: str, key: str) -> Iterator[Answer | None]:
        """Serialise commands with the same idempotency key (across processes); the
        answer recorded under it, read once the lock is held (on the lock's connection)."""
        lock_key = f"booking-idempotency\x1f{organisation_id}\x1f{key}"
        with self.locks.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (lock_key,))
            try:
                yield _answer(conn, organisation_id, key)
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (lock_key,))


def _answer(conn: Any, organisation_id: str, key: str) -> Answer | None:
    row = conn.execute("SELECT fingerprint, status, body FROM booking_idempotency "
                       "WHERE organisation_id = %s AND key = %s", (organisation_id, key),
                       prepare=True).fetchone()
    return Answer(organisation_id, key, row[0], row[1], row[2]) if row else None
