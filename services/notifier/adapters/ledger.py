"""The send ledger in the notifier's PostgreSQL database.

Neither SendGrid nor Twilio takes an idempotency key, so this table is what
stops a message from going out twice: one row per (event id, channel,
recipient address), created in the same transaction as the marker saying
the event was consumed. A client's address past its quota (domain/quota.py) gets
its row as 'suppressed', decided under a per-recipient lock in that same
transaction, so concurrent consumers never both take the last message of a
quota. Every state change writes its `notification.<state>.v1`
event (and a failure its dead letter) to the outbox in that same transaction;
`publisher.py` moves the outbox to Kafka. The organisations' settings and the
events parked for them (`organisations.py`) are written in these transactions too.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import Cursor
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from services.notifier.adapters import erasure, organisations, reminders
from services.notifier.domain.model import Delivery, Message, Rendered
from services.notifier.domain.planning import (
    organisation_settings,
    organisation_version,
    stored_organisation,
)
from services.notifier.domain.quota import Quota
from shared.envelope import CloudEvent, now_iso

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS processed_events (
    event_id          text PRIMARY KEY,
    event_type        text NOT NULL,
    appointment_id    text NOT NULL,
    aggregate_version bigint NOT NULL,
    position          bigint NOT NULL,
    outcome           text NOT NULL,          -- planned | stale | parked
    messages          int NOT NULL,
    processed_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS appointment_versions (
    appointment_id text PRIMARY KEY,
    version        bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id                  bigserial PRIMARY KEY,
    event_id            text NOT NULL,
    event_type          text NOT NULL,
    appointment_id      text NOT NULL,
    organisation_id     text NOT NULL,
    aggregate_version   bigint NOT NULL,
    position            bigint NOT NULL,
    correlation_id      text NOT NULL DEFAULT '',
    channel             text NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient_kind      text NOT NULL
                        CHECK (recipient_kind IN ('client', 'organisation', 'resource')),
    recipient_ref       text NOT NULL,
    recipient_name      text NOT NULL DEFAULT '',
    address             text,                 -- NULL: no address, state skipped
    template            text NOT NULL,
    subject             text NOT NULL DEFAULT '',
    body_text           text NOT NULL DEFAULT '',
    body_html           text NOT NULL DEFAULT '',
    state               text NOT NULL
                        CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'skipped',
                                         'suppressed')),
    attempts            int NOT NULL DEFAULT 0,
    last_error          text,
    -- pending: when it is due; sending: when the claim lapses (sender gone)
    next_attempt_at     timestamptz,
    give_up_at          timestamptz,
    provider_message_id text,
    -- when an attempt whose outcome is unknown began (sending, or a time-out):
    -- the provider is asked for it before the message goes out again
    unconfirmed_since   timestamptz,
    version             int NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz
);
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS unconfirmed_since timestamptz;
-- 'event': caused by an appointment event; 'reminder': by a reminder's timer, due at due_at
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'event';
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS due_at timestamptz;
CREATE UNIQUE INDEX IF NOT EXISTS deliveries_once ON deliveries
    (event_id, channel, COALESCE(lower(address), recipient_kind || ':' || recipient_ref));
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (channel, next_attempt_at)
    WHERE state IN ('pending', 'sending');
CREATE INDEX IF NOT EXISTS deliveries_open
    ON deliveries (appointment_id, channel, aggregate_version)
    WHERE state IN ('pending', 'sending');
CREATE INDEX IF NOT EXISTS deliveries_by_org ON deliveries (organisation_id, appointment_id, id);
CREATE INDEX IF NOT EXISTS deliveries_by_recipient
    ON deliveries (organisation_id, lower(address), created_at);
-- Ledgers created before 'suppressed' existed: widen the check once (NOT VALID:
-- every old row passes it, no scan).
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'deliveries_state_check'
                   AND pg_get_constraintdef(oid) LIKE '%suppressed%') THEN
        ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_state_check;
        ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check CHECK (state IN
            ('pending', 'sending', 'sent', 'failed', 'skipped', 'suppressed')) NOT VALID;
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS outbox (
    id       bigserial PRIMARY KEY,
    topic    text NOT NULL,
    key      text NOT NULL,
    headers  jsonb NOT NULL DEFAULT '{}',
    envelope jsonb NOT NULL
);
"""

# Claims of one channel are serialised (a transaction-scoped advisory lock),
# so two workers never both see "no earlier row open" for one appointment.
_CLAIM = """
SELECT d.id, d.unconfirmed_since FROM deliveries d
 WHERE d.channel = %(channel)s
   AND d.state IN ('pending', 'sending') AND d.next_attempt_at <= now()
   AND NOT EXISTS (
       SELECT 1 FROM deliveries e
        WHERE e.appointment_id = d.appointment_id AND e.channel = d.channel
          AND e.aggregate_version < d.aggregate_version
          AND e.state IN ('pending', 'sending'))
 ORDER BY d.next_attempt_at, d.id
 LIMIT 1
 FOR UPDATE SKIP LOCKED
"""
# What a client address got from the organisation lately (suppressed rows not counted).
_RECENT = """
SELECT count(*) FILTER (WHERE created_at > now() - interval '1 hour') AS hour, count(*) AS day
  FROM deliveries
 WHERE organisation_id = %s AND lower(address) = %s AND recipient_kind = 'client'
   AND state <> 'suppressed' AND created_at > now() - interval '1 day'
"""
_COLUMNS = ("id, event_id, event_type, appointment_id, organisation_id, aggregate_version, "
            "correlation_id, channel, recipient_kind, address, template, subject, body_text, "
            "body_html, state, attempts, last_error, next_attempt_at, give_up_at, "
            "provider_message_id, version, created_at, updated_at, sent_at, kind, due_at")


@dataclass(frozen=True)
class Planned:
    """A message with its words, ready to be recorded (rendered None: skipped)."""
    message: Message
    rendered: Rendered | None


# An event and its organisation's settings -> its messages, rendered.
Prepare = Callable[[CloudEvent, dict[str, Any]], list[Planned]]
# Writes a message in the ledger's own transaction; returns its id (the dev mailbox).
Write = Callable[[Cursor[Any]], str]


class Ledger:
    def __init__(self, pool: ConnectionPool, events_topic: str, dlq_topic: str,
                 give_up_after: float = 86400.0, quota: Quota | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.pool = pool
        self.now = now  # the clock reminders are planned by (tests move it)
        self.quota = quota  # None: no quotas
        self.events_topic = events_topic
        self.dlq_topic = dlq_topic
        self.give_up_after = give_up_after

    # -- consuming -----------------------------------------------------------
    def record_event(self, event: CloudEvent, prepare: Prepare) -> str:
        """Record an appointment event's deliveries and mark it consumed, in one
        transaction.

        'duplicate' when the event id was seen before; 'stale' when its
        aggregate version is not newer than the last one applied for the
        appointment (nothing planned); 'parked' when the organisation's settings
        it was decided with are not known yet (planned when they arrive, see
        `record_organisation`); else 'planned'.
        """
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            version = self._version(cur, event.subject)  # its row locked till commit
            seen = cur.execute("SELECT 1 FROM processed_events WHERE event_id = %s",
                               (event.id,)).fetchone()
            if seen:
                return "duplicate"
            organisation = None
            if event.aggregateversion > version:
                organisation = stored_organisation(event) or organisations.settings(
                    cur, event.orgid, organisation_version(event))
                if organisation is None:
                    organisations.park(cur, event, organisation_version(event))
                    self._processed(cur, event, "parked", 0)
                    return "parked"
            outcome, created = self._apply(cur, event, version,
                                           prepare(event, organisation) if organisation else [])
            self._processed(cur, event, outcome, created)
            return outcome

    def record_organisation(self, event: CloudEvent, prepare: Prepare) -> str:
        """Keep an organisation event's settings and plan the events parked for
        them (oldest first), in one transaction: 'applied', or 'stale' when a
        version as new was kept before (a redelivery changes nothing).

        A parked event that fails to plan stays parked with the error; the
        settings are kept all the same.
        """
        kept = organisation_settings(event.data.get("organisation"))
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            before = organisations.settings(cur, event.orgid, 0) or {}
            if not organisations.keep(cur, event.orgid, event.aggregateversion, kept):
                return "stale"
            if before.get("reminders") != kept.get("reminders"):
                reminders.replan(cur, self.now(), organisation_id=event.orgid)
            for parked in organisations.due(cur, event.orgid, event.aggregateversion):
                try:
                    with conn.transaction():  # a savepoint per parked event
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

    def erase_client(self, event: CloudEvent) -> str:
        """A client erased (client.erased.v1): their reminders dropped, their queued
        messages suppressed, the copies of their data dropped
        (services/notifier/adapters/erasure.py), in one transaction. Erasing again finds
        nothing more to do."""
        ids = [str(i) for i in (event.data.get("change") or {}).get("appointment_ids") or []]
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            # First: a reminder firing now holds its timer until its rows are committed,
            # so they are queued, and suppressed below, by the time this goes on.
            reminders.forget(cur, event.orgid, ids)
            erasure.remember(cur, event.orgid, event.subject, ids)
            for row in erasure.suppress_queued(cur, event.orgid, ids, _COLUMNS):
                self._emit(cur, row)
            erasure.forget(cur, event.orgid, ids)
        return "erased"

    def record_service(self, event: CloudEvent) -> str:
        """Keep a service event's reminder override and, when it changed, plan the
        reminders of the service's upcoming appointments again: 'applied' or 'stale'."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
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
        created = 0
        for item in planned:
            row = self._insert(cur, reminder, item, refusals.get((item.message.to or "").lower()),
                               kind="reminder", due_at=due_at)
            if row:
                created += 1
                self._emit(cur, row)
        return created

    @staticmethod
    def _version(cur: Cursor[Any], appointment_id: str) -> int:
        """The appointment's last applied version, its row locked until commit."""
        return int(_one(cur.execute(
            "INSERT INTO appointment_versions VALUES (%s, 0) ON CONFLICT (appointment_id) "
            "DO UPDATE SET version = appointment_versions.version RETURNING version",
            (appointment_id,)))["version"])

    def _apply(self, cur: Cursor[Any], event: CloudEvent, version: int,
               planned: list[Planned]) -> tuple[str, int]:
        """Record the deliveries of an event newer than `version`: outcome, rows created."""
        if event.aggregateversion <= version:
            return "stale", 0
        cur.execute("UPDATE appointment_versions SET version = %s WHERE appointment_id = %s",
                    (event.aggregateversion, event.subject))
        erased = erasure.is_erased(cur, event.orgid, event.subject)
        # Before the quota's locks: a firing reminder holds its timer and takes those.
        reminders.follow(cur, event, self.now(), erased)
        refusals = self._over_quota(cur, event.orgid, planned)
        erased = bool(planned) and erased
        created = 0
        for item in planned:
            row = self._insert(cur, event, item, erasure.ERASED if erased
                               else refusals.get((item.message.to or "").lower()))
            if row:
                created += 1
                self._emit(cur, row)
        return "planned", created

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
        refusals = {}
        for address in addresses:
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                        (f"notifier-quota\x1f{organisation_id}\x1f{address}",))
            recent = _one(cur.execute(_RECENT, (organisation_id, address)))
            reason = self.quota.refusal(recent["hour"], recent["day"])
            if reason:
                refusals[address] = reason
        return refusals

    def _insert(self, cur: Cursor[Any], event: CloudEvent, item: Planned,
                refusal: str | None = None, kind: str = "event",
                due_at: datetime | None = None) -> dict[str, Any] | None:
        m, r, to, name = item.message, item.rendered, item.message.to, item.message.recipient_name
        if refusal == erasure.ERASED:  # its words name an erased client: none are kept
            r = None
            if m.recipient_kind == "client":
                to, name = None, ""
        skipped = refusal != erasure.ERASED and (m.to is None or r is None)
        state = "skipped" if skipped else "suppressed" if refusal else "pending"
        error = f"no {m.channel} address for the {m.recipient_kind}" if skipped else refusal
        return cur.execute(
            f"""INSERT INTO deliveries (event_id, event_type, appointment_id, organisation_id,
                    aggregate_version, position, correlation_id, channel, recipient_kind,
                    recipient_ref, recipient_name, address, template, subject, body_text,
                    body_html, state, last_error, kind, due_at, next_attempt_at, give_up_at)
                VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,
                        CASE WHEN %s THEN NULL ELSE now() END,
                        now() + make_interval(secs => %s))
                ON CONFLICT DO NOTHING RETURNING {_COLUMNS}""",
            (event.id, event.type, event.subject, event.orgid, event.aggregateversion,
             event.position, event.correlationid, m.channel, m.recipient_kind, m.recipient_ref,
             name, to, m.template, r.subject if r else "", r.text if r else "",
             r.html if r else "", state, error, kind, due_at, state != "pending",
             self.give_up_after)).fetchone()

    # -- sending ---------------------------------------------------------------
    def claim(self, channel: str, lease_seconds: float) -> Delivery | None:
        """The next due row of `channel`, now 'sending' (committed before the call).

        Its `unconfirmed_since` tells when an earlier attempt whose outcome is
        unknown began (None: no such attempt); this attempt's start is kept in
        the row until its outcome is recorded.
        """
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('notifier-claim:' || %s))",
                        (channel,))
            found = cur.execute(_CLAIM, {"channel": channel}).fetchone()
            if not found:
                return None
            row = _one(cur.execute(
                f"""UPDATE deliveries SET state = 'sending', attempts = attempts + 1,
                        next_attempt_at = now() + make_interval(secs => %s),
                        unconfirmed_since = COALESCE(unconfirmed_since, now()),
                        version = version + 1, updated_at = now()
                    WHERE id = %s RETURNING {_COLUMNS}""",
                (lease_seconds, found["id"])))
            self._emit(cur, row)
            return _delivery(row, found["unconfirmed_since"])

    def mark_sent(self, d: Delivery, provider_message_id: str | Write) -> str | None:
        """Record the delivery sent. Given a `Write` instead of an id (the
        development mailbox), the message is written in this same transaction:
        the message and its 'sent' commit together or not at all."""
        sent = ("state = 'sent', provider_message_id = %s, sent_at = now(), "
                "next_attempt_at = NULL, unconfirmed_since = NULL")
        if isinstance(provider_message_id, str):
            return self._finish(d, sent, (provider_message_id,))
        write = provider_message_id
        return self._finish(d, sent, lambda cur: (write(cur),))

    def mark_retry(self, d: Delivery, delay: float, error: str,
                   maybe_sent: bool = False) -> str | None:
        """Back to pending after `delay` seconds; failed once its give-up time has passed.

        `maybe_sent`: the provider may have taken it (no clear answer), so the
        next attempt asks the provider first.
        """
        return self._finish(
            d, """state = CASE WHEN give_up_at <= now() THEN 'failed' ELSE 'pending' END,
                  last_error = CASE WHEN give_up_at <= now()
                      THEN 'gave up after ' || attempts || ' attempts: ' || %s ELSE %s END,
                  next_attempt_at = CASE WHEN give_up_at <= now() THEN NULL
                      ELSE now() + make_interval(secs => %s) END,
                  unconfirmed_since = CASE WHEN %s THEN unconfirmed_since END""",
            (error, error, delay, maybe_sent))

    def mark_failed(self, d: Delivery, reason: str) -> str | None:
        return self._finish(d, "state = 'failed', last_error = %s, next_attempt_at = NULL, "
                               "unconfirmed_since = NULL", (reason,))

    def recorded_provider_ids(self, ids: list[str]) -> set[str]:
        """Which of these provider message ids some delivery already holds."""
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT provider_message_id FROM deliveries "
                                "WHERE provider_message_id = ANY(%s)", (ids,)).fetchall()
            return {r[0] for r in rows}

    def _finish(self, d: Delivery, assignments: str,
                params: tuple[Any, ...] | Callable[[Cursor[Any]], tuple[Any, ...]]
                ) -> str | None:
        """Apply a result and return the new state, or None when the claim had
        lapsed and another sender took the row (then nothing is written). A row
        that ends 'failed' gets its dead letter in the same transaction."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            values = params(cur) if callable(params) else params
            row = cur.execute(
                f"""UPDATE deliveries SET {assignments}, version = version + 1, updated_at = now()
                    WHERE id = %s AND state = 'sending' AND attempts = %s RETURNING {_COLUMNS}""",
                (*values, d.id, d.attempts)).fetchone()
            if row is None:
                conn.rollback()
                return None
            self._emit(cur, row)
            if row["state"] == "failed":
                self._emit(cur, row, topic=self.dlq_topic, kind="dead_lettered",
                           reason=row["last_error"])
            return str(row["state"])

    # -- operating ---------------------------------------------------------------
    def redrive(self, delivery_id: int) -> dict[str, Any] | None:
        """Put a failed row back to pending (now, with a new give-up time).

        None when the row is unknown or not failed (sent meanwhile, or
        already re-driven), so reading a dead letter twice sends nothing twice.
        """
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                f"""UPDATE deliveries SET state = 'pending', next_attempt_at = now(),
                        give_up_at = now() + make_interval(secs => %s),
                        version = version + 1, updated_at = now()
                    WHERE id = %s AND state = 'failed' RETURNING {_COLUMNS}""",
                (self.give_up_after, delivery_id)).fetchone()
            if row:
                self._emit(cur, row)
            return row

    def deliveries(self, organisation_id: str, appointment_id: str | None = None,
                   recipient: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """One organisation's deliveries, oldest first (the API's read model)."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                f"""SELECT {_COLUMNS} FROM deliveries
                    WHERE organisation_id = %(org)s
                      AND (%(appt)s::text IS NULL OR appointment_id = %(appt)s)
                      AND (%(to)s::text IS NULL OR lower(address) = lower(%(to)s))
                    ORDER BY id LIMIT %(limit)s""",
                {"org": organisation_id, "appt": appointment_id, "to": recipient,
                 "limit": limit}).fetchall()

    # -- the outbox ------------------------------------------------------------------
    def _emit(self, cur: Cursor[Any], row: dict[str, Any], topic: str | None = None,
              kind: str | None = None, reason: str | None = None) -> None:
        """Queue the row's state as a CloudEvent (a dead letter when `reason`)."""
        envelope = delivery_event(row, kind, reason)
        cur.execute("INSERT INTO outbox (topic, key, headers, envelope) VALUES (%s, %s, %s, %s)",
                    (topic or self.events_topic, row["appointment_id"],
                     Jsonb({"reason": reason} if reason else {}), Jsonb(envelope)))


def delivery_event(row: dict[str, Any], kind: str | None = None,
                   reason: str | None = None) -> dict[str, Any]:
    """A delivery's state as a CloudEvent, without `position` (the outbox row id,
    added when it is published)."""
    return {
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": "notifier",
        "type": f"notification.{kind or row['state']}.v1", "subject": str(row["id"]),
        "time": now_iso(), "datacontenttype": "application/json",
        "orgid": row["organisation_id"], "aggregateversion": row["version"],
        "correlationid": row["correlation_id"],
        "data": view(row) | ({"reason": reason} if reason else {}),
    }


def view(row: dict[str, Any]) -> dict[str, Any]:
    """A delivery as the API and the notification events show it."""
    def iso(v: Any) -> str | None:
        return v.isoformat() if v else None
    return {
        "id": row["id"], "event_id": row["event_id"], "event_type": row["event_type"],
        "appointment_id": row["appointment_id"], "channel": row["channel"],
        "recipient_kind": row["recipient_kind"], "recipient": row["address"],
        "template": row["template"], "subject": row["subject"], "state": row["state"],
        "attempts": row["attempts"], "last_error": row["last_error"],
        "next_attempt_at": iso(row["next_attempt_at"]),
        "provider_message_id": row["provider_message_id"],
        "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"]),
        "sent_at": iso(row["sent_at"]),
        "kind": row["kind"], "due_at": iso(row["due_at"]),
    }


def _one(cur: Cursor[Any]) -> dict[str, Any]:
    row = cur.fetchone()
    if row is None:
        raise LookupError("the statement returned no row")
    return row


def _delivery(row: dict[str, Any], unconfirmed_since: Any = None) -> Delivery:
    return Delivery(
        id=row["id"], event_id=row["event_id"], appointment_id=row["appointment_id"],
        organisation_id=row["organisation_id"], channel=row["channel"],
        recipient_kind=row["recipient_kind"], to=row["address"], subject=row["subject"],
        text=row["body_text"], html=row["body_html"], attempts=row["attempts"],
        unconfirmed_since=unconfirmed_since)
