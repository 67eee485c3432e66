"""A deliveries row as the other parts see it: the sender's Delivery, the API's
view, and the `notification.<state>.v1` CloudEvent."""
from __future__ import annotations

import uuid
from typing import Any

from psycopg import Cursor

from services.notifier.domain.model import Delivery
from shared.envelope import now_iso


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


def one(cur: Cursor[Any]) -> dict[str, Any]:
    row = cur.fetchone()
    if row is None:
        raise LookupError("the statement returned no row")
    return row


def delivery(row: dict[str, Any], unconfirmed_since: Any = None) -> Delivery:
    return Delivery(
        id=row["id"], event_id=row["event_id"], appointment_id=row["appointment_id"],
        organisation_id=row["organisation_id"], channel=row["channel"],
        recipient_kind=row["recipient_kind"], to=row["address"], subject=row["subject"],
        text=row["body_text"], html=row["body_html"], attempts=row["attempts"],
        unconfirmed_since=unconfirmed_since)
