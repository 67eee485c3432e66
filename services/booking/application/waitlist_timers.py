"""What time and freed slots do to the waitlist, on the one timer mechanism (shared/timers.py).

Planned beside the events, in their transaction (BookingBase._save):
- `waitlist_offer:<slot key>`: a slot an appointment or an offer held before a save and
  no longer holds after it (cancelled, rejected, rescheduled away, hold expired, an offer
  lapsed or left), still in the future, when someone waits for its service: due at once.
  Its handler offers the slot to the first waiting entry that wants it
  (WaitlistCommands.offer_slot), unless the agent's time is taken meanwhile. An offer
  made holds the time, so firing again (a worker killed after the offer was saved)
  offers nothing twice.
- `waitlist_lapse:<entry id>`: the end of an entry's offer. Its handler records
  `OfferLapsed` (the freed slot then plans the next `waitlist_offer`).
Both handlers act through booking as the system actor with reason "automatic".
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from psycopg import Connection

from services.booking.application.ports import CalendarRow, Tables, TimerRow, WaitlistRow
from services.booking.domain.appointment import Appointment
from services.booking.domain.values import Slot
from services.booking.domain.waitlist import WAITING, WaitlistEntry, slot_key
from shared import timers

OFFER, LAPSE = "waitlist_offer", "waitlist_lapse"


def calendar_row(e: WaitlistEntry) -> CalendarRow:
    """An open offer holds its agent's time like a request's hold."""
    if e.offer is None:
        return CalendarRow(str(e.id), e.organisation_id)
    return CalendarRow(str(e.id), e.organisation_id, e.offer["agent_id"], e.offer["slot"])


def listed(e: WaitlistEntry) -> WaitlistRow:
    return WaitlistRow(str(e.id), e.organisation_id, e.service["id"], e.status, e.snapshot())


def plan(e: WaitlistEntry) -> list[TimerRow]:
    payload = {"organisation_id": e.organisation_id, "entry_id": str(e.id)}
    return [TimerRow(f"{LAPSE}:{e.id}", LAPSE, e.offered_until(), payload)]


def freed(tables: Tables, saved: Iterable[Any], rows: list[CalendarRow],
          now: datetime) -> list[TimerRow]:
    """An offer timer for each future slot a saved aggregate held before and not after."""
    planned = []
    for aggregate in saved:
        if not isinstance(aggregate, Appointment | WaitlistEntry) or not aggregate.service:
            continue
        before = tables.held_by(str(aggregate.id))
        if before is None or before.agent_id is None or before.slot is None:
            continue
        if any((r.agent_id, r.slot) == (before.agent_id, before.slot) for r in rows):
            continue                    # still held, or handed over in this very save
        if Slot.of(before.slot).start <= now or not tables.waitlist(
                before.organisation_id, aggregate.service["id"], WAITING, 0, 1):
            continue                    # past, or nobody waits for that service
        key = slot_key(before.organisation_id, before.agent_id, before.slot)
        planned.append(TimerRow(f"{OFFER}:{key}", OFFER, now, {
            "organisation_id": before.organisation_id, "agent_id": before.agent_id,
            "slot": before.slot, "service_id": aggregate.service["id"]}))
    return planned


def handlers(app: Any) -> dict[str, timers.Handler]:
    """The worker's handlers (`app`: the BookingApplication)."""
    from services.booking.application.timers import REASON, TABLE, _caller

    def offer(timer: timers.Timer, conn: Connection[Any]) -> None:
        p = timer.payload
        app.offer_slot(_caller(p["organisation_id"], timer), p["service_id"], p["agent_id"],
                       p["slot"], REASON)

    def lapse(timer: timers.Timer, conn: Connection[Any]) -> None:
        org_id = timer.payload["organisation_id"]
        until = app.lapse_offer(_caller(org_id, timer), uuid.UUID(timer.payload["entry_id"]),
                                REASON)
        if until is not None:   # moved (not due yet): planned again, the worker keeps the row
            timers.schedule(conn, TABLE, timer.key, LAPSE, until, timer.payload)

    return {OFFER: offer, LAPSE: lapse}
