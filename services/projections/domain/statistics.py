"""Statistics for managers: counts by status and outcome, no-show rate, time
from request to confirmation, grouped by agent and period (pure maths).

Outcome of an appointment, from its current status:
  attended  attended, feedback_pending, feedback_received (the client came)
  no_show   no_show
  rejected  rejected
  late_cancellation  a cancellation inside the organisation's notice before the start
            (booking records the outcome late_cancellation: README "Time")
  cancelled any other status of kind cancellation (custom cancellations too)
  open      everything else (requested, scheduled, reopened, custom steps, ...)
No-show rate = no_show / (attended + no_show); None when nobody was due yet.
"""
from __future__ import annotations

import statistics as stats
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.projections.domain.timing import period_key

ATTENDED = frozenset({"attended", "feedback_pending", "feedback_received"})
PERIODS = ("none", "day", "week", "month")


@dataclass(frozen=True)
class StatRow:
    status: str
    status_kind: str
    completion_reason: str | None
    agent_id: str | None
    requested_at: datetime | None
    confirmed_at: datetime | None
    day: date                       # the appointment's local day (slot, window or request)


LATE_CANCELLATION = "late_cancellation"
OUTCOMES = ("open", "attended", "no_show", "cancelled", LATE_CANCELLATION, "rejected")


def outcome(status: str, kind: str, completion_reason: str | None = None) -> str:
    if status in ATTENDED:
        return "attended"
    if status == "no_show":
        return "no_show"
    if status == "rejected":
        return "rejected"
    if kind == "cancellation":
        return LATE_CANCELLATION if completion_reason == LATE_CANCELLATION else "cancelled"
    return "open"


def confirmation_seconds(row: StatRow) -> float | None:
    if row.requested_at is None or row.confirmed_at is None:
        return None
    return max(0.0, (row.confirmed_at - row.requested_at).total_seconds())


def summarise(rows: list[StatRow]) -> dict[str, Any]:
    """The figures of one group of appointments."""
    by_status = Counter(r.status for r in rows)
    by_outcome = Counter(outcome(r.status, r.status_kind, r.completion_reason) for r in rows)
    reasons = Counter(r.completion_reason for r in rows
                      if r.completion_reason and r.status in ATTENDED)
    due = by_outcome["attended"] + by_outcome["no_show"]
    waits = [s for s in (confirmation_seconds(r) for r in rows) if s is not None]
    return {
        "total": len(rows),
        "by_status": dict(sorted(by_status.items())),
        "by_kind": dict(sorted(Counter(r.status_kind for r in rows).items())),
        "by_outcome": {k: by_outcome[k] for k in OUTCOMES},
        "by_completion_reason": dict(sorted(reasons.items())),
        "no_show_rate": round(by_outcome["no_show"] / due, 4) if due else None,
        "request_to_confirmation": {
            "count": len(waits),
            "mean_seconds": round(stats.fmean(waits), 1) if waits else None,
            "median_seconds": round(stats.median(waits), 1) if waits else None,
        },
    }


def grouped(rows: list[StatRow], by_agent: bool, period: str) -> list[dict[str, Any]]:
    """One summary per (agent, period) group, in a stable order."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    groups: dict[tuple[str, str], list[StatRow]] = defaultdict(list)
    for r in rows:
        agent = (r.agent_id or "") if by_agent else ""
        groups[(agent, period_key(r.day, period) if period != "none" else "")].append(r)
    out = []
    for (agent, key), members in sorted(groups.items()):
        group: dict[str, Any] = {}
        if by_agent:
            group["agent_id"] = agent or None
        if period != "none":
            group["period"] = key
        out.append({**group, **summarise(members)})
    return out
