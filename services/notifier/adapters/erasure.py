"""A client erased in booking (`client.erased.v1` on directory.events): the notifier sends
them nothing more and forgets what it kept of them. Functions over the ledger's open
transaction (a cursor with dict rows).

- Messages of the erased appointments that are still queued (pending, or sending with an
  unknown outcome) become `suppressed` with the reason "erased": to the client, and to the
  organisation or its staff too, since their words name the client.
- Every message of those appointments to the client loses its address, name and words;
  the others keep their state, not their words. The development mailbox drops its copies; parked events lose
  the client's contact data.
- The appointments are remembered (`erased_appointments`): an event of theirs that
  arrives later (published before the erasure, it still names the client) has its
  messages recorded `suppressed` ("erased"), without the client's address or any words.
"""
from __future__ import annotations

from typing import Any

from psycopg import Cursor

ERASED = "erased"

SCHEMA = """
CREATE TABLE IF NOT EXISTS erased_appointments (
    appointment_id  text PRIMARY KEY,
    organisation_id text NOT NULL,
    client_id       text NOT NULL,
    erased_at       timestamptz NOT NULL DEFAULT now()
);
"""
_QUEUED = "state IN ('pending', 'sending')"
_FORGET = "address = NULL, recipient_name = '', subject = '', body_text = '', body_html = ''"


def remember(cur: Cursor[Any], organisation_id: str, client_id: str,
             appointment_ids: list[str]) -> None:
    cur.execute("INSERT INTO erased_appointments (appointment_id, organisation_id, client_id) "
                "SELECT unnest(%s::text[]), %s, %s ON CONFLICT DO NOTHING",
                (appointment_ids, organisation_id, client_id))


def is_erased(cur: Cursor[Any], organisation_id: str, appointment_id: str) -> bool:
    return cur.execute("SELECT 1 FROM erased_appointments WHERE appointment_id = %s "
                       "AND organisation_id = %s", (appointment_id, organisation_id)
                       ).fetchone() is not None


def suppress_queued(cur: Cursor[Any], organisation_id: str, appointment_ids: list[str],
                    columns: str) -> list[dict[str, Any]]:
    """The appointments' queued messages, now suppressed (rows with `columns`, for their
    events); the words go, and the address too when it is the client's."""
    return cur.execute(
        f"""UPDATE deliveries SET state = 'suppressed', last_error = %s, next_attempt_at = NULL,
                unconfirmed_since = NULL, subject = '', body_text = '', body_html = '',
                address = CASE WHEN recipient_kind = 'client' THEN NULL ELSE address END,
                recipient_name = CASE WHEN recipient_kind = 'client' THEN '' ELSE recipient_name
                                 END, version = version + 1, updated_at = now()
            WHERE organisation_id = %s AND appointment_id = ANY(%s) AND {_QUEUED}
            RETURNING {columns}""",
        (ERASED, organisation_id, appointment_ids)).fetchall()


def forget(cur: Cursor[Any], organisation_id: str, appointment_ids: list[str]) -> None:
    """Drop the stored copies of the client's contact data and of the words that name them."""
    cur.execute(f"UPDATE deliveries SET {_FORGET} WHERE organisation_id = %s "
                "AND appointment_id = ANY(%s) AND recipient_kind = 'client'",
                (organisation_id, appointment_ids))
    cur.execute(f"UPDATE deliveries SET subject = '', body_text = '', body_html = '' "
                f"WHERE organisation_id = %s AND appointment_id = ANY(%s) AND NOT {_QUEUED}",
                (organisation_id, appointment_ids))
    cur.execute("DELETE FROM mailbox WHERE organisation_id = %s AND appointment_id = ANY(%s)",
                (organisation_id, appointment_ids))
    cur.execute(
        """UPDATE parked_events SET envelope = jsonb_set(envelope, '{data,appointment,client}',
               coalesce(envelope #> '{data,appointment,client}', '{}')
               || '{"name": "erased", "email": null, "phone": null}')
           WHERE organisation_id = %s AND envelope ->> 'subject' = ANY(%s)""",
        (organisation_id, appointment_ids))
