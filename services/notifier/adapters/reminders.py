"""Reminders in the notifier's database: the timers (shared/timers.py, table
`notifier_timers`), the confirmed appointments they are about as last seen
(`upcoming_appointments`, what a firing reminder checks and says) and each
service's reminder override (`service_settings`, from directory.events).

Functions over the ledger's open transaction (a cursor with dict rows): the
timers move in the transaction that records the event's id as consumed, so
they are exactly what the events applied so far say, and derived data:
`rebuild` plans them again from the events (the CLI
`python -m services.notifier.entrypoints.reminders rebuild` reads both topics
from their earliest offsets), `replan` from the appointments kept here. Neither
sends anything twice: a reminder's ledger id (appointment, offset, slot start)
is unique per recipient and channel, and nothing is planned for a time past.
An erased client's appointments keep no reminders and no copy of the client.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from psycopg import Cursor
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from services.notifier.adapters import organisations
from services.notifier.domain import reminders as rules
from shared import timers
from shared.envelope import CloudEvent

log = logging.getLogger(__name__)
TABLE = "notifier_timers"
KIND = rules.KIND

SCHEMA = """
CREATE TABLE IF NOT EXISTS upcoming_appointments (
    appointment_id  text PRIMARY KEY,
    organisation_id text NOT NULL,
    service_id      text,
    version         bigint NOT NULL,       -- the appointment event last applied
    position        bigint NOT NULL,
    appointment     jsonb NOT NULL,        -- its snapshot: what a reminder says
    organisation    jsonb                  -- the settings' copy of events stored with one
);
CREATE INDEX IF NOT EXISTS upcoming_by_org ON upcoming_appointments (organisation_id);
CREATE INDEX IF NOT EXISTS upcoming_by_service ON upcoming_appointments (service_id);
CREATE TABLE IF NOT EXISTS service_settings (
    id              text PRIMARY KEY,
    organisation_id text NOT NULL,
    version         bigint NOT NULL,
    reminders       jsonb                  -- null: the organisation's
);
"""


def follow(cur: Cursor[Any], event: CloudEvent, now: datetime, erased: bool = False) -> None:
    """Plan, move or drop an appointment's reminders after one of its events (an
    erased client's appointment keeps none, nor a copy of the client)."""
    if erased:
        forget(cur, event.orgid, [event.subject])
        return
    appointment = _keep(cur, event)
    if appointment:
        _replan(cur, appointment, now)


def forget(cur: Cursor[Any], organisation_id: str, appointment_ids: list[str]) -> None:
    """Drop these appointments' reminders and what was kept of them (a client erased)."""
    for appointment_id in appointment_ids:
        timers.cancel(cur.connection, TABLE, prefix=rules.prefix(appointment_id))
    cur.execute("DELETE FROM upcoming_appointments WHERE organisation_id = %s "
                "AND appointment_id = ANY(%s)", (organisation_id, appointment_ids))


def rebuild(cur: Cursor[Any], events: Iterable[CloudEvent], now: datetime) -> int:
    """Derive every reminder again from the events (each appointment's in order, as
    one partition holds them), in the caller's transaction: the timers, the upcoming
    appointments and the services' overrides are replaced; the organisations' settings
    are the ledger's (kept as usual). The number of timers planned."""
    cur.execute(f"TRUNCATE {TABLE}, upcoming_appointments, service_settings")
    for event in events:
        if event.type.startswith("service."):
            keep_service(cur, event)
        elif event.type.startswith("appointment."):
            _keep(cur, event)
    # Events published before a client's erasure still name them: nothing of them is kept.
    cur.execute("DELETE FROM upcoming_appointments u USING erased_appointments e "
                "WHERE u.appointment_id = e.appointment_id")
    for row in cur.execute("SELECT appointment FROM upcoming_appointments "
                           "ORDER BY appointment_id").fetchall():
        _replan(cur, row["appointment"], now)
    return len(timers.pending(cur.connection, TABLE))


def _keep(cur: Cursor[Any], event: CloudEvent) -> dict[str, Any] | None:
    """Keep the appointment as this event leaves it (while it is confirmed)."""
    appointment: dict[str, Any] = event.data.get("appointment") or {}
    if not appointment.get("id"):
        return None
    if rules.slot_start(appointment) is None:
        cur.execute("DELETE FROM upcoming_appointments WHERE appointment_id = %s",
                    (event.subject,))
    else:
        copy = (event.data.get("change") or {}).get("organisation")
        cur.execute(
            """INSERT INTO upcoming_appointments VALUES (%s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (appointment_id) DO UPDATE SET service_id = EXCLUDED.service_id,
                   version = EXCLUDED.version, position = EXCLUDED.position,
                   appointment = EXCLUDED.appointment, organisation = EXCLUDED.organisation""",
            (event.subject, event.orgid, (appointment.get("service") or {}).get("id"),
             event.aggregateversion, event.position, Jsonb(appointment),
             Jsonb(copy) if isinstance(copy, dict) else None))
    return appointment


def keep_service(cur: Cursor[Any], event: CloudEvent) -> bool:
    """Keep a service event's reminder override; True when it changed what applies."""
    service = event.data.get("service") or {}
    if not service.get("id"):
        raise ValueError("data.service is missing or has no id")
    before = cur.execute("SELECT version, reminders FROM service_settings WHERE id = %s",
                         (service["id"],)).fetchone()
    if before and before["version"] >= event.aggregateversion:
        return False
    cur.execute("""INSERT INTO service_settings VALUES (%s, %s, %s, %s)
                   ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version,
                       reminders = EXCLUDED.reminders""",
                (service["id"], event.orgid, event.aggregateversion,
                 Jsonb(service.get("reminders"))))
    return before is None or before["reminders"] != service.get("reminders")


def replan(cur: Cursor[Any], now: datetime, organisation_id: str | None = None,
           service_id: str | None = None) -> int:
    """Plan again the reminders of an organisation's (or a service's, or with
    neither every) upcoming appointment, e.g. after their settings changed; the
    number of appointments."""
    rows = cur.execute(
        "SELECT appointment FROM upcoming_appointments WHERE (%(org)s::text IS NULL OR "
        "organisation_id = %(org)s) AND (%(svc)s::text IS NULL OR service_id = %(svc)s) "
        "ORDER BY appointment_id", {"org": organisation_id, "svc": service_id}).fetchall()
    for row in rows:
        _replan(cur, row["appointment"], now)
    return len(rows)


def upcoming(cur: Cursor[Any], appointment_id: str) -> dict[str, Any] | None:
    """The appointment as last seen while confirmed (None: it is not)."""
    return cur.execute("SELECT * FROM upcoming_appointments WHERE appointment_id = %s",
                       (appointment_id,)).fetchone()


def planned(pool: ConnectionPool, organisation_id: str, appointment_id: str | None = None,
            limit: int = 100, after: tuple[datetime, str] | None = None
            ) -> list[dict[str, Any]]:
    """An organisation's reminders not sent yet, soonest first, those after the
    (due_at, key) `after` (the API's read model, keyset-paged)."""
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"""SELECT u.appointment_id, (t.payload->>'offset_minutes')::int AS offset_minutes,
                       t.payload->>'slot_start' AS slot_start, t.due_at, t.attempts,
                       t.last_error, t.key
                  FROM {TABLE} t JOIN upcoming_appointments u
                    ON u.appointment_id = t.payload->>'appointment_id'
                 WHERE t.kind = %(kind)s AND u.organisation_id = %(org)s
                   AND (%(appt)s::text IS NULL OR u.appointment_id = %(appt)s)
                   AND (%(after_at)s::timestamptz IS NULL
                        OR (t.due_at, t.key) > (%(after_at)s, %(after_key)s))
                 ORDER BY t.due_at, t.key LIMIT %(limit)s""",
            {"kind": KIND, "org": organisation_id, "appt": appointment_id, "limit": limit,
             "after_at": after[0] if after else None,
             "after_key": after[1] if after else None}).fetchall()


def applying(cur: Cursor[Any], organisation_id: str, service_id: str | None,
             copy: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The organisation's settings (latest kept, else the event's copy) and the service's."""
    organisation = organisations.settings(cur, organisation_id, 0) or copy or {}
    service = cur.execute("SELECT reminders FROM service_settings WHERE id = %s",
                          (service_id,)).fetchone() if service_id else None
    return organisation, service


# What `applying` answers for an appointment kept here, in one round trip: the settings
# of its organisation (the event's, else the one kept), the copy kept with it, its service's.
_APPLYING_TO = """
SELECT (SELECT settings FROM organisations WHERE id = o.id) AS settings,
       u.organisation AS copy, s.id IS NOT NULL AS has_service, s.reminders
  FROM (SELECT coalesce(%(org)s, (SELECT organisation_id FROM upcoming_appointments
                                   WHERE appointment_id = %(appt)s)) AS id) AS o
  LEFT JOIN upcoming_appointments u ON u.appointment_id = %(appt)s
  LEFT JOIN service_settings s ON s.id = %(svc)s
"""


def _applying_to(cur: Cursor[Any], appointment: dict[str, Any]
                 ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """`applying` for an appointment (its organisation, else the one kept with it)."""
    service_id = (appointment.get("service") or {}).get("id")
    row = cur.execute(_APPLYING_TO, {
        "org": str(appointment["organisation_id"]) if appointment.get("organisation_id")
        else None, "appt": str(appointment["id"]), "svc": service_id}).fetchone() or {}
    organisation = row.get("settings") or row.get("copy") or {}
    service = {"reminders": row["reminders"]} if service_id and row.get("has_service") else None
    return organisation, service


def _replan(cur: Cursor[Any], appointment: dict[str, Any], now: datetime) -> None:
    appointment_id = str(appointment["id"])
    conn = cur.connection
    planned = {t.key: t.payload for t in timers.pending(conn, TABLE, rules.prefix(appointment_id))}
    offsets: list[int] = []
    if rules.slot_start(appointment) is not None:
        offsets = rules.settings(*_applying_to(cur, appointment))["offsets_minutes"]
    plan = rules.plan(appointment, offsets, now, planned)
    if plan.drop:
        timers.cancel(conn, TABLE, *sorted(plan.drop))
    for key, (due, payload) in sorted(plan.schedule.items()):
        timers.schedule(conn, TABLE, key, rules.KIND, due, payload)
    if plan.drop or plan.schedule:
        log.info("reminders planned", extra={"fields": {
            "appointment_id": appointment_id, "dropped": sorted(plan.drop),
            "planned": {k: due.isoformat() for k, (due, _) in plan.schedule.items()}}})
