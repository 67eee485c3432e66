"""The day's time: slots on the planned day, the visits that fall due in a few
seconds, and sleeping until a moment of the day (not polling: the moment must pass)."""
from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

TIMEZONE = "Europe/Zurich"
TZ = ZoneInfo(TIMEZONE)
DUE_LEAD = timedelta(seconds=8)        # the "due" visits start this far in the future


def slot_at(day: date, hhmm: str, minutes: int) -> dict[str, str]:
    start = datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), TZ)
    return {"start": start.isoformat(), "end": (start + timedelta(minutes=minutes)).isoformat()}


def due_slot() -> dict[str, str]:
    """A slot starting a few seconds from now (a short one, so it is soon in the past)."""
    start = (datetime.now(UTC) + DUE_LEAD).replace(microsecond=0)
    return {"start": start.isoformat(), "end": (start + timedelta(seconds=2)).isoformat()}


def sleep_until(moment: datetime) -> None:
    delay = (moment - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay)


def avoid_midnight() -> None:
    """The due visits must start and end on one local day (within working hours)."""
    now = datetime.now(TZ)
    if now.hour == 23 and now.minute >= 58:
        sleep_until((now + timedelta(days=1)).replace(hour=0, minute=0, second=5))
