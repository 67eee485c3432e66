"""The ledger's consuming side: an appointment event's messages recorded and the
event marked consumed in one transaction (quotas decided there), and an
organisation's settings kept with the events parked for them planned.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import Connection, Cursor
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from services.notifier.adapters import erasure, organisations, reminders
from services.notifier.adapters.ledger_rows import one
from services.notifier.adapters.ledger_schema import COLUMNS
from services.notifier.domain.model import Message, Rendered
from services.notifier.domain.planning import (
    organisation_settings,
    organisation_version,
    stored_organisation,
)
from services.notifier.domain.quota import Quota
from shared.envelope import CloudEvent

log = logging.getLogger(__name__)

# What each client address got from the organisation lately (suppressed rows not counted).
_RECENT = """
SELECT lower(address) AS address,
       count(*) FILTER (WHERE created_at > now() - interval '1 hour') AS hour, count(*) AS day
  FROM deliveries
 WHERE organisation_id = %s AND lower(address) = ANY(%s) AND recipient_kind = 'client'
   AND state <> 'suppressed' AND created_at > now() - interval '1 day'
 GROUP BY 1
"""
# Per-recipient quota locks, taken in the array's (sorted) order: no deadlock.
_LOCK_ADDRESSES = """
SELECT pg_advisory_xact_lock(hashtextextended(%s || chr(31) || a, 0))
  FROM unnest(%s::text[]) WITH ORDINALITY AS t(a, n)
"""
# After the appointment's row is locked (its own statement, so this one's snapshot sees
# what a transaction that held that lock committed): seen before? its settings? erased?
_LOOKUP = """
SELECT EXISTS (SELECT 1 FROM processed_events WHERE event_id = %(id)s) AS seen,
       (SELECT settings FROM organisations WHERE id = %(org)s AND version >= %(at_least)s)
           AS organisation,
       EXISTS (SELECT 1 FROM erased_appointments WHERE appointment_id = %(appt)s
                  AND organisation_id = %(org)s) AS erased
"""


@dataclass(frozen=True)
class Planned:
    """A message with its words, ready to be recorded (rendered None: skipped)."""
    message: Message
    rendered: Rendered | None


# An event and its organisation's settings -> its messages, rendered.
Prepare = Callable[[CloudEvent, dict[str, Any]], list[Planned]]


class Intake:
    """Recording what was consumed; `Ledger` (ledger.py) adds sending and operating."""
    pool: ConnectionPool
    quota: Quota | None
    give_up_after: float
    now: Callable[[], datetime]

    def _emit_all(self, cur: Cursor[Any], rows: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    @contextmanager
    def _cursor(self, conn: Connection[Any] | None) -> Iterator[Cursor[Any]]:
        """A cursor in the caller's transaction (`conn`: the consumer's batch) or, without
        one, in a transaction of its own, committed on leaving."""
        if conn is not None:
            with conn.cursor(row_factory=dict_row) as cur:
                yield cur
            return
        with self.pool.connection() as own, own.cursor(row_factory=dict_row) as cur:
            yield cur

    def record_event(self, event: CloudEvent, prepare: Prepare,
                     conn: Connection[Any] | None = None) -> str:
        """Record an appointment event's deliveries and mark it consumed, in one
        transaction (`conn`'s, else one of its own).

        'duplicate' when the event id was seen before; 'stale' when its
        aggregate version is not newer than the last one applied for the
        appointment (nothing planned); 'parked' when the organisation's settings
        it was decided with are not known yet (planned when they arrive, see
        `record_organisation`); else 'planned'.
        """
        with self._cursor(conn) as cur:
            version = self._version(cur, event.subject)  # its row locked till commit
            found = one(cur.execute(_LOOKUP, {
                "id": event.id, "org": event.orgid, "appt": event.subject,
                "at_least": organisation_version(event)}))
            if found["seen"]:
                return "duplicate"
            organisation = None
            if event.aggregateversion > version:
                organisation = stored_organisation(event) or found["organisation"]
                if organisation is None:
                    organisations.park(cur, event, organisation_version(event))
                    self._processed(cur, event, "parked", 0)
                    return "parked"
            outcome, created = self._apply(cur, event, version,
                                           prepare(event, organisation) if organisation else [],
                                           found["erased"])
            self._processed(cur, event, outcome, created)
            return outcome

    def record_organisation(self, event: CloudEvent, prepare: Prepare,
                            conn: Connection[Any] | None = None) -> str:
        """Keep an organisation event's settings and plan the events parked for
        them (oldest first), in one transaction: 'applied', or 'stale' when a
        version as new was kept before (a redelivery changes nothing).

        A parked event that fails to plan stays parked with the error; the
        settings are kept all the same.
        """
        kept = organisation_settings(event.data.get("organisation"))
        with self._cursor(conn) as cur:
            before = organisations.settings(cur, event.orgid, 0) or {}
            if not organisations.keep(cur, event.orgid, event.aggregateversion, kept):
                return "stale"
            if before.get("reminders") != kept.get("reminders"):
                reminders.replan(cur, self.now(), organisation_id=event.orgid)
            for parked in organisations.due(cur, event.orgid, event.aggregateversion):
                try:
                    with cur.connection.transaction():  # a savepoint per parked event
                        outcome, created = self._apply(cur, parked,
                                                       self._version(cur, parked.subject),
                                                       prepare(parked, kept))
                        cur.execute("UPDATE processed_events SET outcome = %s, messages = %s "
                                    "WHERE event_id = %s", (outcome, created, parked.id))
                        organisations.unpark(cur, parked.id)
                except Exception as e:  # noqa: BLE001 - the message's fault, not the settings'
                    log.exception("a parked event could not be planned; it stays parked",
                                  extra={"fields": {"event_id": parked.id}})
                    organisations.keep_parked(cur, parked.id, f"{type(e).__name__}: {e}")
            return "applied"

    @staticmethod
    def _version(cur: Cursor[Any], appointment_id: str) -> int:
        """The appointment's last applied version, its row locked until commit."""
        return int(one(cur.execute(
            "INSERT INTO appointment_versions VALUES (%s, 0) ON CONFLICT (appointment_id) "
            "DO UPDATE SET version = appointment_versions.version RETURNING version",
            (appointment_id,)))["version"])

    def record_service(self, event: CloudEvent, conn: Connection[Any] | None = None) -> str:
        """Keep a service event's reminder override and, when it changed, plan the
        reminders of the service's upcoming appointments again: 'applied' or 'stale'."""
        with self._cursor(conn) as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('notifier-service:' || %s))",
                        (event.subject,))
            if not reminders.keep_service(cur, event):
                return "stale"
            reminders.replan(cur, self.now(), service_id=(event.data.get("service") or {})["id"])
            return "applied"

    def record_reminder(self, cur: Cursor[Any], reminder: CloudEvent, planned: list[Planned],
                        due_at: datetime) -> int:
        """Record a due reminder's deliveries in the caller's transaction (the timer's):
        the rows created. Its id (appointment, offset, slot start) is the event id of the
        ledger's dedupe key, so a reminder fired again sends nothing twice."""
        refusals = self._over_quota(cur, reminder.orgid, planned)
        rows = self._insert(cur, reminder, [
            (item, refusals.get((item.message.to or "").lower())) for item in planned],
            kind="reminder", due_at=due_at)
        self._emit_all(cur, rows)
        return len(rows)

    def _apply(self, cur: Cursor[Any], event: CloudEvent, version: int,
               planned: list[Planned], erased: bool | None = None) -> tuple[str, int]:
        """Record the deliveries of an event newer than `version`: outcome, rows created.
        `erased`: whether its appointment's client was erased (None: look it up)."""
        if event.aggregateversion <= version:
            return "stale", 0
        cur.execute("UPDATE appointment_versions SET version = %s WHERE appointment_id = %s",
                    (event.aggregateversion, event.subject))
        if erased is None:
            erased = erasure.is_erased(cur, event.orgid, event.subject)
        # Before the quota's locks: a firing reminder holds its timer and takes those.
        reminders.follow(cur, event, self.now(), erased)
        refusals = {} if erased else self._over_quota(cur, event.orgid, planned)
        rows = self._insert(cur, event, [
            (item, erasure.ERASED if erased else refusals.get((item.message.to or "").lower()))
            for item in planned])
        self._emit_all(cur, rows)
        return "planned", len(rows)

    @staticmethod
    def _processed(cur: Cursor[Any], event: CloudEvent, outcome: str, created: int) -> None:
        cur.execute(
            "INSERT INTO processed_events (event_id, event_type, appointment_id, "
            "aggregate_version, position, outcome, messages) VALUES (%s,%s,%s,%s,%s,%s,%s)",
            (event.id, event.type, event.subject, event.aggregateversion, event.position,
             outcome, created))

    def _over_quota(self, cur: Cursor[Any], organisation_id: str,
                    planned: list[Planned]) -> dict[str, str]:
        """Client addresses (lower case) over their quota -> why. Each address is
        locked till commit (in sorted order: no deadlock), then counted."""
        if self.quota is None:
            return {}
        addresses = sorted({(p.message.to or "").lower() for p in planned
                            if p.rendered and self.quota.applies_to(p.message)})
        if not addresses:
            return {}
        cur.execute(_LOCK_ADDRESSES, (f"notifier-quota\x1f{organisation_id}", addresses))
        recent = {r["address"]: r for r in cur.execute(_RECENT, (organisation_id, addresses))}
        refusals = {}
        for address in addresses:
            counted = recent.get(address) or {"hour": 0, "day": 0}
            reason = self.quota.refusal(counted["hour"], counted["day"])
            if reason:
                refusals[address] = reason
        return refusals

    def _insert(self, cur: Cursor[Any], event: CloudEvent,
                items: list[tuple[Planned, str | None]], kind: str = "event",
                due_at: datetime | None = None) -> list[dict[str, Any]]:
        """Insert the messages (each with its refusal, if any) in one round trip: the rows
        created, in id order (a message already in the ledger creates none)."""
        if not items:
            return []
        cur.executemany(_INSERT, [self._values(event, item, refusal, kind, due_at)
                                  for item, refusal in items], returning=True)
        rows = []
        while True:
            rows += cur.fetchall()
            if not cur.nextset():
                break
        return sorted(rows, key=lambda r: r["id"])

    def _values(self, event: CloudEvent, item: Planned, refusal: str | None, kind: str,
                due_at: datetime | None) -> tuple[Any, ...]:
        m, r, to, name = item.message, item.rendered, item.message.to, item.message.recipient_name
        if refusal == erasure.ERASED:  # its words name an erased client: none are kept
            r = None
            if m.recipient_kind == "client":
                to, name = None, ""
        skipped = refusal != erasure.ERASED and (m.to is None or r is None)
        state = "skipped" if skipped else "suppressed" if refusal else "pending"
        error = f"no {m.channel} address for the {m.recipient_kind}" if skipped else refusal
        return (event.id, event.type, event.subject, event.orgid, event.aggregateversion,
                event.position, event.correlationid, m.channel, m.recipient_kind,
                m.recipient_ref, name, to, m.template, r.subject if r else "",
                r.text if r else "", r.html if r else "", state, error, kind, due_at,
                state != "pending", self.give_up_after)


_INSERT = f"""
INSERT INTO deliveries (event_id, event_type, appointment_id, organisation_id,
    aggregate_version, position, correlation_id, channel, recipient_kind,
    recipient_ref, recipient_name, address, template, subject, body_text,
    body_html, state, last_error, kind, due_at, next_attempt_at, give_up_at)
VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,
        CASE WHEN %s THEN NULL ELSE now() END, now() + make_interval(secs => %s))
ON CONFLICT DO NOTHING RETURNING {COLUMNS}"""
