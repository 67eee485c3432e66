"""Time in the organisation's time zone: windows, working hours, periods."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_PARTS_OF_DAY = {"early_morning": ["06:00", "09:00"], "morning": ["09:00", "12:00"],
                        "afternoon": ["12:00", "17:00"], "evening": ["17:00", "21:00"]}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    if hours == "24" and minutes == "00":
        return time.max
    return time(int(hours), int(minutes))


def window_bounds(day: date, part: str | None, tz: str | None,
                  parts_of_day: dict[str, list[str]] | None) -> tuple[datetime, datetime]:
    """A preferred window (a day plus a part of day) as UTC start and end."""
    z = zone(tz)
    hours = (parts_of_day or DEFAULT_PARTS_OF_DAY).get(part or "") or DEFAULT_PARTS_OF_DAY.get(
        part or "")
    if hours:
        start = datetime.combine(day, parse_hhmm(hours[0]), z)
        end = datetime.combine(day, parse_hhmm(hours[1]), z)
    else:  # unknown part: the whole day
        start = datetime.combine(day, time.min, z)
        end = datetime.combine(day + timedelta(days=1), time.min, z)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def within_working_hours(start: datetime, end: datetime, tz: str | None,
                         working_hours: dict[str, list[list[str]]] | None) -> bool:
    """Whether [start, end] lies inside one of the day's ranges, in local time."""
    z = zone(tz)
    local_start, local_end = start.astimezone(z), end.astimezone(z)
    if local_end.date() != local_start.date() and local_end.time() != time.min:
        return False
    ranges = (working_hours or {}).get(WEEKDAYS[local_start.weekday()]) or []
    for begin, finish in ranges:
        lo, hi = parse_hhmm(begin), parse_hhmm(finish)
        end_t = time.max if local_end.date() != local_start.date() else local_end.time()
        if lo <= local_start.time() and (end_t < hi if end == start else end_t <= hi):
            return True
    return False


def local_day(moment: datetime, tz: str | None) -> date:
    return moment.astimezone(zone(tz)).date()


def period_key(day: date, period: str) -> str:
    """`day` -> "2026-11-23" | "2026-W48" | "2026-11" (ISO weeks)."""
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    return "all"
