"""A due reminder -> ledger rows (the TimerWorker's handler for kind 'reminder').

The worker claims the timer and calls this in its transaction; the ledger
rows are written there too, and the senders take them from the ledger like
any other message (templates, quotas, providers, retries). Idempotent: the
reminder's id (appointment, offset, slot start) is the ledger's event id, so a
second run records nothing new. A late run sends nothing: the appointment as
last seen must still be confirmed for that start, and the start ahead.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row

from services.notifier.adapters import reminders as store
from services.notifier.adapters.ledger import Ledger
from services.notifier.adapters.ledger_intake import Planned
from services.notifier.application.consume import SignLink, appointment_url
from services.notifier.domain import reminders as rules
from services.notifier.domain.model import Message
from services.notifier.domain.rendering import Renderer
from shared import links
from shared.envelope import CloudEvent
from shared.timers import Timer

log = logging.getLogger(__name__)


class SendReminder:
    def __init__(self, ledger: Ledger, now: Callable[[], datetime],
                 renderer: Renderer | None = None, sign_link: SignLink = links.url,
                 backoffice_url: str | None = None) -> None:
        self.ledger, self.now = ledger, now
        self.renderer = renderer or Renderer()
        self.sign_link = sign_link
        self.backoffice_url = backoffice_url

    def __call__(self, timer: Timer, conn: Connection[Any]) -> None:
        payload = timer.payload
        with conn.cursor(row_factory=dict_row) as cur:
            row = store.upcoming(cur, payload["appointment_id"])
            appointment = row["appointment"] if row else None
            if not rules.still_due(appointment, payload, self.now()):
                log.info("reminder not sent: the appointment moved, left or started", extra={
                    "fields": {"key": timer.key, "slot_start": payload.get("slot_start")}})
                return
            assert row is not None and appointment is not None
            organisation, service = store.applying(cur, row["organisation_id"],
                                                   row["service_id"], row["organisation"])
            reminder = self._as_event(row, payload)
            created = self.ledger.record_reminder(
                cur, reminder, self._planned(reminder, organisation, service),
                payload_due(timer))
            log.info("reminder due", extra={"fields": {
                "key": timer.key, "appointment_id": row["appointment_id"], "rows": created}})

    def _planned(self, reminder: CloudEvent, organisation: dict[str, Any],
                 service: dict[str, Any] | None) -> list[Planned]:
        client = reminder.data["appointment"].get("client") or {}
        signed = {a: self.sign_link(reminder.subject, a) for a in rules.LINKS}
        url = appointment_url(self.backoffice_url, reminder.subject)
        planned = []
        for channel in rules.channels(organisation, service):
            value = client.get("email" if channel == "email" else "phone")
            to = value.strip() if isinstance(value, str) and value.strip() else None
            ref = str(client.get("id") or ("tentative" if client.get("tentative") else "client"))
            message = Message("client", channel, to, rules.TEMPLATE, ref,
                              str(client.get("name") or ""), rules.LINKS)
            planned.append(Planned(message, self.renderer.render(
                message, reminder, signed, url, organisation) if to else None))
        return planned

    @staticmethod
    def _as_event(row: dict[str, Any], payload: dict[str, Any]) -> CloudEvent:
        """The reminder as the ledger records and the templates read an event."""
        return CloudEvent(
            id=rules.reminder_id(row["appointment_id"], payload["offset_minutes"],
                                 payload["slot_start"]),
            source="notifier", type=rules.EVENT_TYPE, subject=row["appointment_id"],
            time=payload["slot_start"], orgid=row["organisation_id"],
            aggregateversion=row["version"], position=row["position"],
            data={"change": {"action": rules.KIND, "status_kind": "confirmation",
                             "offset_minutes": payload["offset_minutes"]},
                  "appointment": row["appointment"]})


def payload_due(timer: Timer) -> datetime:
    """When the reminder was due (a retried timer's due_at is its retry time)."""
    start = datetime.fromisoformat(str(timer.payload["slot_start"]))
    return start - timedelta(minutes=int(timer.payload["offset_minutes"]))
