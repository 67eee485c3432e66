"""Writes to one table set: bookkeeping, view rows, purge.

Every view write is idempotent and monotone on its own (guarded by the row's
version, by event time, or keyed by (appointment, version)), so applying an
event twice, or a rebuilt table receiving an event it already holds, changes
nothing. The bookkeeping in `applied_events` / `aggregate_versions` is the
exactly-once record the consumer checks first.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from services.projections.adapters.schema import TableSet
from services.projections.domain.apply import place_window
from services.projections.domain.model import ERASED_NAME, Changes, OrganisationRow
from shared.envelope import CloudEvent
from shared.history import PERSONAL

_GUARDS = {  # table -> (conflict key, condition for replacing the stored row)
    "appointments": ("id", "{t}.version < EXCLUDED.version"),
    "organisations": ("id", "{t}.as_of < EXCLUDED.as_of"),
    "resources": ("id", "{t}.version < EXCLUDED.version"),
    "clients": ("id", "{t}.version < EXCLUDED.version"),
    "waitlist": ("id", "{t}.version < EXCLUDED.version"),
}


_statements: dict[tuple[Any, ...], str] = {}


def _statement(conn: psycopg.Connection, key: tuple[Any, ...],
               build: Callable[[], sql.Composable]) -> str:
    """Compose a statement once per table set and shape, not once per event."""
    text = _statements.get(key)
    if text is None:
        text = _statements[key] = build().as_string(conn)
    return text


def record_event(conn: psycopg.Connection, ts: TableSet, event: CloudEvent, outcome: str,
                 subject: str) -> tuple[bool, int | None]:
    """Record the event's identity (False: recorded before, a duplicate) and read
    the last applied version of `subject`, locked until the transaction ends: one
    round trip for the dedup and the version guard."""
    row = conn.execute(_statement(conn, ("record", ts), lambda: sql.SQL(
        "WITH new AS (INSERT INTO {e} (event_id, source, type, subject, orgid,"
        " aggregateversion, position, outcome) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (event_id) DO NOTHING RETURNING 1)"
        " SELECT EXISTS (SELECT 1 FROM new),"
        " (SELECT version FROM {v} WHERE subject = %s FOR UPDATE)").format(
        e=ts.t("applied_events"), v=ts.t("aggregate_versions"))),
        (event.id, event.source, event.type, event.subject, event.orgid, event.aggregateversion,
         event.position, outcome, subject)).fetchone()
    assert row is not None
    return bool(row[0]), row[1]


def set_outcome(conn: psycopg.Connection, ts: TableSet, event_id: str, outcome: str) -> None:
    conn.execute(sql.SQL("UPDATE {} SET outcome = %s WHERE event_id = %s").format(
        ts.t("applied_events")), (outcome, event_id))


def set_version(conn: psycopg.Connection, ts: TableSet, subject: str, version: int) -> None:
    conn.execute(_statement(conn, ("set_version", ts), lambda: sql.SQL(
        "INSERT INTO {t} (subject, version) VALUES (%s, %s) ON CONFLICT (subject)"
        " DO UPDATE SET version = EXCLUDED.version WHERE {t}.version < EXCLUDED.version"
    ).format(t=ts.t("aggregate_versions"))), (subject, version))


def organisation(conn: psycopg.Connection, ts: TableSet, organisation_id: str
                 ) -> OrganisationRow | None:
    """What the views know of an organisation (None: none of its events applied yet)."""
    row = conn.execute(_statement(conn, ("organisation", ts), lambda: sql.SQL(
        "SELECT id, name, timezone, retention_days, parts_of_day, as_of FROM {}"
        " WHERE id = %s").format(ts.t("organisations"))), (organisation_id,)).fetchone()
    return OrganisationRow(*row) if row else None


def context(conn: psycopg.Connection, ts: TableSet, organisation_id: str, subject: str,
            version: int | None) -> tuple[OrganisationRow | None, dict[str, Any] | None]:
    """In one round trip, what an appointment event is turned into rows with: its
    organisation as the views know it, and the appointment's state after `version - 1`
    as its history entry kept it (None without a previous version)."""
    row = conn.execute(_statement(conn, ("context", ts), lambda: sql.SQL(
        "SELECT o.id, o.name, o.timezone, o.retention_days, o.parts_of_day, o.as_of,"
        " (SELECT state FROM {h} WHERE appointment_id = %s AND version = %s)"
        " FROM (SELECT 1) AS one LEFT JOIN {o} AS o ON o.id = %s").format(
        h=ts.t("status_history"), o=ts.t("organisations"))),
        (subject, (version or 0) - 1, organisation_id)).fetchone()
    assert row is not None
    return (OrganisationRow(*row[:6]) if row[0] is not None else None), row[6]


def write(conn: psycopg.Connection, ts: TableSet, changes: Changes) -> None:
    """Put the event's rows into every view it touches."""
    if changes.organisation:
        before = organisation(conn, ts, changes.organisation.id)
        if _upsert(conn, ts, "organisations", changes.organisation) and (
                _placing(before) != _placing(changes.organisation)):
            _place_windows(conn, ts, changes.organisation)
    if changes.appointment:
        _upsert(conn, ts, "appointments", changes.appointment)
    if changes.history:
        _insert_once(conn, ts, "status_history", changes.history)
    if changes.resource:
        _upsert(conn, ts, "resources", changes.resource)
    if changes.client:
        _upsert(conn, ts, "clients", changes.client)
    if changes.waitlist:
        _upsert(conn, ts, "waitlist", changes.waitlist)
    if changes.erased_client:
        _erase_client(conn, ts, changes)


def is_erased_client(conn: psycopg.Connection, ts: TableSet, client_id: str) -> bool:
    return conn.execute(_statement(conn, ("erased", ts), lambda: sql.SQL(
        "SELECT 1 FROM {} WHERE id = %s AND erased").format(ts.t("clients"))),
        (client_id,)).fetchone() is not None


def _erase_client(conn: psycopg.Connection, ts: TableSet, changes: Changes) -> None:
    """Blank the client in every appointment row, history entry and waitlist entry of
    theirs (statuses, times and counts stay): their name, email and phone, their feedback
    comment and the messages they wrote through links."""
    conn.execute(sql.SQL(
        "UPDATE {} SET client_name = %s, client_erased = true"
        " WHERE organisation_id = %s AND (client_id = %s OR id = ANY(%s))").format(
        ts.t("waitlist")), (ERASED_NAME, changes.organisation_id, changes.erased_client,
                            list(changes.erased_appointments)))
    ids = [r[0] for r in conn.execute(sql.SQL(
        "UPDATE {} SET client_name = %s, client_email = NULL, client_phone = NULL,"
        " client_erased = true, feedback = CASE WHEN feedback ? 'comment'"
        " THEN jsonb_set(feedback, '{{comment}}', 'null') ELSE feedback END"
        " WHERE organisation_id = %s AND (client_id = %s OR id = ANY(%s)) RETURNING id").format(
        ts.t("appointments")), (ERASED_NAME, changes.organisation_id, changes.erased_client,
                                list(changes.erased_appointments))).fetchall()]
    # Their messages, and what the history's before/after values and kept state hold of
    # them (shared/history.py PERSONAL: client, questionnaire, feedback).
    conn.execute(sql.SQL(
        "UPDATE {} SET message = CASE WHEN actor_role = 'client' THEN NULL ELSE message END,"
        " changes = COALESCE((SELECT jsonb_agg(CASE WHEN c->>'field' = ANY(%s) THEN"
        "   jsonb_build_object('field', c->'field', 'before', NULL, 'after', NULL, 'erased', true)"
        "   ELSE c END ORDER BY n) FROM jsonb_array_elements(changes) WITH ORDINALITY AS x(c, n)),"
        "   '[]'),"
        " state = state || jsonb_build_object('questionnaire', '{{}}'::jsonb) ||"
        "   CASE WHEN state->'feedback' ? 'comment' THEN jsonb_build_object('feedback',"
        "   jsonb_set(state->'feedback', '{{comment}}', 'null')) ELSE '{{}}'::jsonb END"
        " WHERE organisation_id = %s AND appointment_id = ANY(%s)").format(
        ts.t("status_history")),
        (list(PERSONAL), changes.organisation_id,
         sorted({*ids, *changes.erased_appointments})))


def _placing(org: OrganisationRow | None) -> tuple[Any, ...] | None:
    return (org.timezone, org.parts_of_day) if org else None


def _place_windows(conn: psycopg.Connection, ts: TableSet, org: OrganisationRow) -> None:
    """Place the organisation's preferred windows again with its new settings: an
    appointment applied before them (topics are not ordered between each other)
    or before a change of time zone ends up where it would have been after it."""
    t = ts.t("appointments")
    windows = conn.execute(sql.SQL(
        "SELECT id, window_date, window_part FROM {} WHERE organisation_id = %s"
        " AND slot_start IS NULL AND window_date IS NOT NULL").format(t), (org.id,)).fetchall()
    placed = [(*place_window(day, part, org), appointment_id)
              for appointment_id, day, part in windows]
    if placed:
        with conn.cursor() as cur:
            cur.executemany(sql.SQL("UPDATE {} SET start_at = %s, end_at = %s, sort_at = %s"
                                    " WHERE id = %s").format(t),
                            [(start, end, start, aid) for start, end, aid in placed])


def purge(conn: psycopg.Connection, ts: TableSet, now: datetime) -> int:
    """Remove past appointments (and their history) beyond their organisation's
    retention period; returns how many appointments went."""
    gone = conn.execute(sql.SQL(
        "DELETE FROM {a} a USING {o} o WHERE a.organisation_id = o.id"
        " AND o.retention_days IS NOT NULL"
        " AND coalesce(a.end_at, a.sort_at) < %s - make_interval(days => o.retention_days)"
        " RETURNING a.id").format(a=ts.t("appointments"), o=ts.t("organisations")),
        (now,)).fetchall()
    ids = [r[0] for r in gone]
    if ids:
        conn.execute(sql.SQL("DELETE FROM {} WHERE appointment_id = ANY(%s)").format(
            ts.t("status_history")), (ids,))
    return len(ids)


JSONB = frozenset({"resources", "proposal", "outcome", "feedback", "parts_of_day",
                   "working_hours", "changes", "state"})


def _values(row: Any) -> dict[str, Any]:
    """The row's columns (shallow: dataclasses.asdict deep-copied every JSON value)."""
    values = {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
    return {k: Jsonb(v) if k in JSONB and v is not None else v for k, v in values.items()}


def _upsert(conn: psycopg.Connection, ts: TableSet, table: str, row: Any) -> bool:
    """Insert or replace the row (unless the stored one is newer); whether it was written."""
    values = _values(row)
    key, guard = _GUARDS[table]
    cols = tuple(values)
    query = _statement(conn, ("upsert", ts, table, cols), lambda: sql.SQL(
        "INSERT INTO {t} ({cols}) VALUES ({vals}) ON CONFLICT ({key}) DO UPDATE SET {sets}"
        " WHERE " + guard).format(
        t=ts.t(table), cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
        vals=sql.SQL(", ").join(sql.Placeholder(c) for c in cols), key=sql.Identifier(key),
        sets=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
                                for c in cols if c != key)))
    return conn.execute(query, values).rowcount > 0


def _insert_once(conn: psycopg.Connection, ts: TableSet, table: str, row: Any) -> None:
    values = _values(row)
    cols = tuple(values)
    conn.execute(_statement(conn, ("insert_once", ts, table, cols), lambda: sql.SQL(
        "INSERT INTO {t} ({cols}) VALUES ({vals}) ON CONFLICT DO NOTHING").format(
        t=ts.t(table), cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
        vals=sql.SQL(", ").join(sql.Placeholder(c) for c in cols))), values)
