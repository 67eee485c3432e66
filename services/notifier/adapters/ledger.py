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

Here: sending and operating. The consuming side is `ledger_intake.py`, the
tables `ledger_schema.py`, a row as the other parts see it `ledger_rows.py`.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from psycopg import Connection, Cursor
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from services.notifier.adapters import erasure, reminders
from services.notifier.adapters.ledger_intake import Intake
from services.notifier.adapters.ledger_rows import delivery, delivery_event, one
from services.notifier.adapters.ledger_schema import COLUMNS
from services.notifier.domain.model import Delivery
from services.notifier.domain.quota import Quota
from shared.envelope import CloudEvent

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

# Writes a message in the ledger's own transaction; returns its id (the dev mailbox).
Write = Callable[[Cursor[Any]], str]


class Ledger(Intake):
    def __init__(self, pool: ConnectionPool, events_topic: str, dlq_topic: str,
                 give_up_after: float = 86400.0, quota: Quota | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.now = now  # the clock reminders are planned by (tests move it)
        self.pool = pool
        self.quota = quota  # None: no quotas
        self.events_topic = events_topic
        self.dlq_topic = dlq_topic
        self.give_up_after = give_up_after

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
            row = one(cur.execute(
                f"""UPDATE deliveries SET state = 'sending', attempts = attempts + 1,
                        next_attempt_at = now() + make_interval(secs => %s),
                        unconfirmed_since = COALESCE(unconfirmed_since, now()),
                        version = version + 1, updated_at = now()
                    WHERE id = %s RETURNING {COLUMNS}""",
                (lease_seconds, found["id"])))
            self._emit(cur, row)
            return delivery(row, found["unconfirmed_since"])

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
                    WHERE id = %s AND state = 'sending' AND attempts = %s RETURNING {COLUMNS}""",
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
                    WHERE id = %s AND state = 'failed' RETURNING {COLUMNS}""",
                (self.give_up_after, delivery_id)).fetchone()
            if row:
                self._emit(cur, row)
            return row

    def deliveries(self, organisation_id: str, appointment_id: str | None = None,
                   recipient: str | None = None, limit: int = 100,
                   after: int | None = None) -> list[dict[str, Any]]:
        """One organisation's deliveries, oldest first, those with an id after `after`
        (the API's read model, keyset-paged)."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                f"""SELECT {COLUMNS} FROM deliveries
                    WHERE organisation_id = %(org)s
                      AND (%(appt)s::text IS NULL OR appointment_id = %(appt)s)
                      AND (%(to)s::text IS NULL OR lower(address) = lower(%(to)s))
                      AND (%(after)s::bigint IS NULL OR id > %(after)s)
                    ORDER BY id LIMIT %(limit)s""",
                {"org": organisation_id, "appt": appointment_id, "to": recipient,
                 "limit": limit, "after": after}).fetchall()

    # -- the outbox ------------------------------------------------------------------
    def erase_client(self, event: CloudEvent, conn: Connection[Any] | None = None) -> str:
        """A client erased (client.erased.v1): their reminders dropped, their queued
        messages suppressed, the copies of their data dropped
        (services/notifier/adapters/erasure.py), in one transaction. Erasing again finds
        nothing more to do."""
        ids = [str(i) for i in (event.data.get("change") or {}).get("appointment_ids") or []]
        with self._cursor(conn) as cur:
            # First: a reminder firing now holds its timer until its rows are committed,
            # so they are queued, and suppressed below, by the time this goes on.
            reminders.forget(cur, event.orgid, ids)
            erasure.remember(cur, event.orgid, event.subject, ids)
            self._emit_all(cur, erasure.suppress_queued(cur, event.orgid, ids, COLUMNS))
            erasure.forget(cur, event.orgid, ids)
        return "erased"

    def _emit(self, cur: Cursor[Any], row: dict[str, Any], topic: str | None = None,
              kind: str | None = None, reason: str | None = None) -> None:
        """Queue the row's state as a CloudEvent (a dead letter when `reason`)."""
        envelope = delivery_event(row, kind, reason)
        cur.execute("INSERT INTO outbox (topic, key, headers, envelope) VALUES (%s, %s, %s, %s)",
                    (topic or self.events_topic, row["appointment_id"],
                     Jsonb({"reason": reason} if reason else {}), Jsonb(envelope)))

    def _emit_all(self, cur: Cursor[Any], rows: list[dict[str, Any]]) -> None:
        """Queue the rows' states, in this order, in one round trip (a pipeline)."""
        cur.executemany("INSERT INTO outbox (topic, key, headers, envelope) "
                        "VALUES (%s, %s, '{}', %s)",
                        [(self.events_topic, r["appointment_id"], Jsonb(delivery_event(r)))
                         for r in rows])
