"""Agent availability at a time (pure): within working hours, in the
organisation's time zone, and no other active appointment with an exact slot
overlapping it: a booked one, or a request holding that time (booking's slot
holds, README "Time"), or a waitlist entry's open offer (the slot held for the client
until the offer is accepted, lapses or the entry leaves), which `held_by` names."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from services.projections.domain.timing import within_working_hours

# Statuses (by kind) of an open request: occupying only while it holds its time.
HOLDING_KINDS = ("start", "step")


def holds(snapshot: dict[str, Any]) -> bool:
    """An open request holding its agent's time (`hold_until` is in its snapshot only then)."""
    return bool(snapshot.get("hold_until")) and snapshot.get("status_kind") in HOLDING_KINDS


def availability(resources: list[dict[str, Any]], occupying: list[dict[str, Any]],
                 start: datetime, end: datetime, tz: str | None) -> list[dict[str, Any]]:
    """One entry per resource: available, within_working_hours, busy_with (ids), and
    held_by: those of busy_with that are requests holding the time or waitlist offers."""
    out = []
    for r in resources:
        mine = [a for a in occupying
                if a["agent_id"] == r["id"] or r["id"] in (a["resource_ids"] or [])]
        busy = [a["id"] for a in mine]
        hours = within_working_hours(start, end, tz, r["working_hours"])
        out.append({"id": r["id"], "kind": r["kind"], "name": r["name"],
                    "available": hours and not busy, "within_working_hours": hours,
                    "busy_with": busy,
                    "held_by": [a["id"] for a in mine
                                if a.get("offer") or a.get("status_kind") in HOLDING_KINDS]})
    return out
