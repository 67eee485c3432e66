"""The development mailbox: without provider credentials every email and SMS
lands in the notifier's own database, where GET /mailbox shows it."""
from __future__ import annotations

from typing import Any

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
    def __init__(self, pool: ConnectionPool, channel: str) -> None:
        self.pool = pool
        self.channel = channel

    def send(self, delivery: Delivery) -> str:
        with self.pool.connection() as conn:
            (mail_id,) = conn.execute(
                "INSERT INTO mailbox (delivery_id, organisation_id, appointment_id, channel, "
                "recipient, subject, body_text, body_html) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) "
                "RETURNING id",
                (delivery.id, delivery.organisation_id, delivery.appointment_id, self.channel,
                 delivery.to, delivery.subject, delivery.text, delivery.html)).fetchone() or (0,)
        return f"dev-{mail_id}"


def messages(pool: ConnectionPool, organisation_id: str | None = None,
             appointment_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The mailbox, newest first (one organisation's, or everyone's)."""
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT id, delivery_id, organisation_id, appointment_id, channel, recipient,
                      subject, body_text, body_html, created_at FROM mailbox
               WHERE (%(org)s::text IS NULL OR organisation_id = %(org)s)
                 AND (%(appt)s::text IS NULL OR appointment_id = %(appt)s)
               ORDER BY id DESC LIMIT %(limit)s""",
            {"org": organisation_id, "appt": appointment_id, "limit": limit}).fetchall()
