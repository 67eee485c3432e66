"""The development mailbox: without provider credentials every email and SMS
lands in the notifier's own database, where GET /mailbox shows it.

A message is written in the same transaction that records its delivery sent
(`LocalTransport`), so a crash or an outage between the two cannot leave a
message behind that is then sent again: each delivery is in the mailbox once.
"""
from __future__ import annotations

from typing import Any

from psycopg import Cursor
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from services.notifier.domain.model import Delivery

SCHEMA = """
CREATE TABLE IF NOT EXISTS mailbox (
    id              bigserial PRIMARY KEY,
    delivery_id     bigint NOT NULL,
    organisation_id text NOT NULL,
    appointment_id  text NOT NULL,
    channel         text NOT NULL,
    recipient       text NOT NULL,
    subject         text NOT NULL DEFAULT '',
    body_text       text NOT NULL,
    body_html       text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS mailbox_by_org ON mailbox (organisation_id, id);
"""


class DevTransport:
    def __init__(self, channel: str) -> None:
        self.channel = channel

    def write(self, cur: Cursor[Any], delivery: Delivery) -> str:
        """Put the message in the mailbox with the ledger's cursor (dict rows); its id."""
        row = cur.execute(
            "INSERT INTO mailbox (delivery_id, organisation_id, appointment_id, channel, "
            "recipient, subject, body_text, body_html) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) "
            "RETURNING id",
            (delivery.id, delivery.organisation_id, delivery.appointment_id, self.channel,
             delivery.to, delivery.subject, delivery.text, delivery.html)).fetchone()
        if row is None:
            raise LookupError("the mailbox insert returned no row")
        return f"dev-{row['id']}"


def settled(pool: ConnectionPool, organisation_id: str, position: int,
            channels: tuple[str, ...]) -> bool:
    """Whether every delivery of the organisation's events up to `position` on these
    channels has left the queue (sent, or failed, skipped, suppressed)."""
    with pool.connection() as conn:
        return conn.execute(
            "SELECT 1 FROM deliveries WHERE channel = ANY(%s) AND state IN ('pending', 'sending')"
            " AND organisation_id = %s AND position <= %s LIMIT 1",
            (list(channels), organisation_id, position)).fetchone() is None


def messages(pool: ConnectionPool, organisation_id: str | None = None,
             appointment_id: str | None = None, limit: int = 100,
             before: int | None = None, event_type: str | None = None) -> list[dict[str, Any]]:
    """The mailbox, newest first (one organisation's, or everyone's), those with an id
    before `before` (keyset-paged). Each row carries what caused it from its delivery
    (`event_type`, `kind`): read through the join, not copied, so rows written before
    these fields existed show them too and no migration is needed."""
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT m.id, m.delivery_id, m.organisation_id, m.appointment_id, m.channel,
                      m.recipient, m.subject, m.body_text, m.body_html, m.created_at,
                      d.event_type, d.kind
               FROM mailbox m LEFT JOIN deliveries d ON d.id = m.delivery_id
               WHERE (%(org)s::text IS NULL OR m.organisation_id = %(org)s)
                 AND (%(appt)s::text IS NULL OR m.appointment_id = %(appt)s)
                 AND (%(type)s::text IS NULL OR d.event_type = %(type)s)
                 AND (%(before)s::bigint IS NULL OR m.id < %(before)s)
               ORDER BY m.id DESC LIMIT %(limit)s""",
            {"org": organisation_id, "appt": appointment_id, "type": event_type,
             "limit": limit, "before": before}).fetchall()
