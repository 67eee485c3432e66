"""Small values: slots and windows, times of day, time zones.

Times are stored as ISO 8601 strings in UTC so events and snapshots are plain
JSON; `Slot` parses them where arithmetic is needed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.errors import Invalid

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times must carry a zone")
    return moment.astimezone(UTC).isoformat()


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def clock_time(text: str) -> time:
    return time.fromisoformat(text)


def zone(name: str, field: str = "timezone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise Invalid(field, f"unknown time zone '{name}'") from e


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime

    @classmethod
    def of(cls, value: dict[str, Any], field: str = "slot") -> Slot:
        start, end = value["start"], value["end"]
        start = parse(start) if isinstance(start, str) else start.astimezone(UTC)
        end = parse(end) if isinstance(end, str) else end.astimezone(UTC)
        if end <= start:
            raise Invalid(f"{field}.end", "must be after start")
        return cls(start, end)

    def overlaps(self, other: Slot) -> bool:
        return self.start < other.end and other.start < self.end

    def as_dict(self) -> dict[str, str]:
        return {"start": iso(self.start), "end": iso(self.end)}


def window(value: dict[str, Any], parts_of_day: dict[str, list[str]]) -> dict[str, str]:
    """A preferred window (a day plus a part of day named in the org's settings)."""
    part = value["part_of_day"]
    if part not in parts_of_day:
        raise Invalid("window.part_of_day",
                      f"not one of the organisation's parts of day: {', '.join(parts_of_day)}")
    day = value["date"]
    return {"date": day.isoformat() if isinstance(day, date) else str(day), "part_of_day": part}
