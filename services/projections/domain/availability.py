"""Agent availability at a time (pure): within working hours, in the
organisation's time zone, and no other active appointment with an exact slot
overlapping it."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from services.projections.domain.timing import within_working_hours


def availability(resources: list[dict[str, Any]], occupying: list[dict[str, Any]],
                 start: datetime, end: datetime, tz: str | None) -> list[dict[str, Any]]:
    """One entry per resource: available, within_working_hours, busy_with (ids)."""
    out = []
    for r in resources:
        busy = [a["id"] for a in occupying
                if a["agent_id"] == r["id"] or r["id"] in (a["resource_ids"] or [])]
        hours = within_working_hours(start, end, tz, r["working_hours"])
        out.append({"id": r["id"], "kind": r["kind"], "name": r["name"],
                    "available": hours and not busy, "within_working_hours": hours,
                    "busy_with": busy})
    return out
