"""Times and helpers the booking unit tests share."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Friday 20 November 2026, 08:00 UTC; Monday 23rd is the usual appointment day.
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


def slot(hour: int, minutes: int = 30, day: datetime = MONDAY) -> dict[str, datetime]:
    start = day + timedelta(hours=hour)
    return {"start": start, "end": start + timedelta(minutes=minutes)}
