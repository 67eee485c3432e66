"""What time does to an appointment by itself (README "Time"), on shared/timers.py.

`plan(appointment, organisation)` is pure: from an appointment's state after its
events and its organisation's settings, each kind of timer it may have, planned
(`due_at`) or dropped (None):
- `no_show:<id>`: the slot's end + `no_show_after_minutes`, while the appointment
  awaits the visit (a status of kind confirmation, or `reopened`: then from the
  reopening if later, so a person reopening it has the grace period to mark it);
- `hold:<id>`: the end of a slot hold (`hold_until`), while the request is open.
BookingBase._save writes them beside the events, in their transaction
(SideWrites.timers); `planned_from_events` replays every appointment to write the
table anew (`python -m services.booking.entrypoints.timers rebuild`).

`handlers(app)` are what the worker runs when a timer is due. Each first plans the
appointment again from its current state: a timer that no longer applies is
dropped, one that moved (a setting changed, a write skipped while the row was being
fired) is planned again at its new time, and only a timer due now sends its command,
through booking like any other, by the system actor, with reason "automatic". A
command the state refuses (attended first, a workflow without that transition) is
the end of that timer; a concurrent change (a stale version) fails the run, so the
worker retries it with the new state.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from psycopg import Connection

from services.booking.application import commands as c
from services.booking.application import waitlist_timers
from services.booking.application.ports import TimerRow
from services.booking.domain import errors
from services.booking.domain.appointment import Appointment
from services.booking.domain.organisation import Organisation
from services.booking.domain.values import Slot
from shared import timers
from shared.errors import Conflict, Invalid, NotFound

if TYPE_CHECKING:
    from services.booking.application.base import BookingBase

log = logging.getLogger(__name__)
TABLE = "booking_timers"
ACTOR = {"id": "system", "role": "system"}
REASON = "automatic"
NO_SHOW, HOLD = "no_show", "hold"


def awaits_visit(a: Appointment) -> bool:
    """Scheduled and not yet marked: the built-in `scheduled` (any confirmation) or `reopened`."""
    return a.status_kind == "confirmation" or a.status == "reopened"


def plan(a: Appointment, org: Organisation) -> list[TimerRow]:
    payload = {"appointment_id": str(a.id), "organisation_id": a.organisation_id}
    minutes = org.setting("no_show_after_minutes")
    no_show = None
    if minutes is not None and a.slot and awaits_visit(a):
        since = Slot.of(a.slot).end
        if a.status == "reopened" and a.reopened_at:   # the grace again, from the reopening
            since = max(since, datetime.fromisoformat(a.reopened_at))
        no_show = since + timedelta(minutes=minutes)
    hold = a.held_until()
    return [TimerRow(f"{NO_SHOW}:{a.id}", NO_SHOW, no_show, payload),
            TimerRow(f"{HOLD}:{a.id}", HOLD, hold, payload)]


def appointment_ids(app: BookingBase, page: int = 1000,
                    family: str = "appointment") -> Iterator[uuid.UUID]:
    """Every appointment (or waitlist entry) in the event store, in the order it was first
    recorded."""
    seen: set[uuid.UUID] = set()
    start = 1
    while batch := app.recorder.select_notifications(start, page):
        for n in batch:
            originator = uuid.UUID(str(n.originator_id))
            if (n.topic.startswith(f"{family}.") or (
                    family == "appointment" and ":Appointment." in n.topic)) \
                    and originator not in seen:
                seen.add(originator)
                yield originator
        start = batch[-1].id + 1


def planned_from_events(app: BookingBase) -> list[TimerRow]:
    """The timers the events imply now: each appointment's state replayed, then planned."""
    rows: list[TimerRow] = []
    orgs: dict[str, Organisation] = {}
    for appointment_id in appointment_ids(app):
        a = app.appointment(None, appointment_id)  # type: ignore[arg-type]
        if a.organisation_id not in orgs:
            orgs[a.organisation_id] = app.organisation(a.organisation_id)
        rows += [r for r in plan(a, orgs[a.organisation_id]) if r.due_at is not None]
    for entry_id in appointment_ids(app, family="waitlist"):   # open offers' lapses
        entry = app.waitlist_entry(None, entry_id)  # type: ignore[attr-defined]
        rows += [r for r in waitlist_timers.plan(entry) if r.due_at is not None]
    return rows


def rebuild(app: BookingBase, conn: Connection[Any]) -> int:
    """Replace the table's rows by those the events imply (one transaction); how many."""
    rows = planned_from_events(app)
    with conn.transaction():
        conn.execute(f"DELETE FROM {TABLE}")
        for r in rows:
            assert r.due_at is not None
            timers.schedule(conn, TABLE, r.key, r.kind, r.due_at, r.payload)
    return len(rows)


def handlers(app: Any) -> dict[str, timers.Handler]:
    """The worker's handlers (`app`: the BookingApplication)."""

    def fire(timer: timers.Timer, conn: Connection[Any]) -> None:
        org_id, appointment_id = timer.payload["organisation_id"], timer.payload["appointment_id"]
        try:
            a = app.appointment(org_id, uuid.UUID(appointment_id))
        except NotFound:
            return
        [row] = [r for r in plan(a, app.organisation(org_id)) if r.key == timer.key]
        if row.due_at is None:
            return                      # no longer applies: dropped
        if row.due_at > app.clock.now():  # moved: planned again (the worker keeps the row)
            timers.schedule(conn, TABLE, row.key, row.kind, row.due_at, row.payload)
            return
        caller = _caller(org_id, timer)
        try:
            if timer.kind == NO_SHOW:
                app.no_show(caller, a.id, c.NoShow(reason=REASON), expected_version=a.version)
            else:
                app.expire_hold(caller, a.id, expected_version=a.version, reason=REASON)
        except errors.StaleVersion:
            raise                        # changed meanwhile: retried with the new state
        except (Conflict, Invalid) as e:  # refused by the state or the workflow: harmless
            log.info("timer's command refused", extra={"fields": {
                "key": timer.key, "detail": str(e)}})

    return {NO_SHOW: fire, HOLD: fire, **waitlist_timers.handlers(app)}


def _caller(organisation_id: str, timer: timers.Timer) -> Any:
    from services.booking.application.base import Caller
    return Caller(organisation_id, dict(ACTOR), correlation_id=f"timer:{timer.key}")
