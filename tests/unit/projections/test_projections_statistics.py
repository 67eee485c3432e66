"""Statistics maths and availability rules (pure)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from services.projections.domain.availability import availability
from services.projections.domain.statistics import StatRow, grouped, outcome, summarise
from services.projections.domain.timing import period_key, within_working_hours

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def row(status: str, kind: str = "completion", agent: str | None = "a1", wait_minutes: int | None = None,
        day: date = date(2026, 11, 23), reason: str | None = None) -> StatRow:
    confirmed = T0 + timedelta(minutes=wait_minutes) if wait_minutes is not None else None
    return StatRow(status, kind, reason, agent, T0, confirmed, day)


def test_outcomes_of_each_kind_of_status():
    assert [outcome(s, k) for s, k in [
        ("attended", "completion"), ("feedback_received", "final"), ("no_show", "completion"),
        ("rejected", "cancellation"), ("cancelled", "cancellation"), ("declined", "cancellation"),
        ("requested", "start"), ("reopened", "step")]] == [
        "attended", "attended", "no_show", "rejected", "cancelled", "cancelled", "open", "open"]
    assert outcome("cancelled", "cancellation", "late_cancellation") == "late_cancellation"
    assert outcome("declined", "cancellation", "late_cancellation") == "late_cancellation"


def test_counts_no_show_rate_and_confirmation_times():
    rows = [row("attended", wait_minutes=10, reason="treated"),
            row("attended", wait_minutes=20, reason="treated"),
            row("feedback_pending", "step", wait_minutes=90, reason="referred"),
            row("no_show", wait_minutes=0),
            row("requested", "start"),
            row("cancelled", "cancellation"),
            row("cancelled", "cancellation", reason="late_cancellation")]
    figures = summarise(rows)
    assert figures["total"] == 7
    assert figures["by_status"] == {"attended": 2, "cancelled": 2, "feedback_pending": 1,
                                    "no_show": 1, "requested": 1}
    assert figures["by_outcome"] == {"open": 1, "attended": 3, "no_show": 1, "cancelled": 1,
                                     "late_cancellation": 1, "rejected": 0}
    assert figures["by_completion_reason"] == {"referred": 1, "treated": 2}
    assert figures["no_show_rate"] == 0.25
    assert figures["request_to_confirmation"] == {"count": 4, "mean_seconds": 1800.0,
                                                  "median_seconds": 900.0}


def test_nobody_due_yet_gives_no_rate_and_no_times():
    figures = summarise([row("requested", "start")])
    assert figures["no_show_rate"] is None
    assert figures["request_to_confirmation"]["mean_seconds"] is None


def test_grouped_by_agent_and_month():
    rows = [row("attended", agent="a1", day=date(2026, 11, 2)),
            row("no_show", agent="a1", day=date(2026, 12, 1)),
            row("no_show", agent="a2", day=date(2026, 11, 30)),
            row("requested", "start", agent=None, day=date(2026, 11, 3))]
    groups = grouped(rows, by_agent=True, period="month")
    assert [(g["agent_id"], g["period"], g["total"]) for g in groups] == [
        (None, "2026-11", 1), ("a1", "2026-11", 1), ("a1", "2026-12", 1), ("a2", "2026-11", 1)]
    assert [g["period"] for g in grouped(rows, by_agent=False, period="week")] == [
        "2026-W45", "2026-W49"]


def test_period_keys():
    assert period_key(date(2026, 1, 1), "week") == "2026-W01"
    assert period_key(date(2026, 11, 23), "day") == "2026-11-23"


def test_working_hours_are_local_and_an_instant_at_closing_time_is_outside():
    hours = {"mon": [["09:00", "12:00"], ["13:00", "17:00"]]}
    at = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)  # Monday 09:00 in Zurich
    assert within_working_hours(at, at, "Europe/Zurich", hours)
    assert not within_working_hours(at, at, "UTC", hours)  # 08:00 in UTC
    assert not within_working_hours(at + timedelta(hours=2), at + timedelta(hours=4),
                                    "Europe/Zurich", hours)  # spans the lunch break
    closing = datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)  # 17:00 local
    assert not within_working_hours(closing, closing, "Europe/Zurich", hours)
    assert within_working_hours(closing - timedelta(minutes=30), closing, "Europe/Zurich", hours)


def test_an_agent_is_available_within_hours_and_without_overlapping_appointments():
    hours = {"mon": [["09:00", "17:00"]]}
    resources = [{"id": "a1", "kind": "agent", "name": "Ann", "working_hours": hours},
                 {"id": "a2", "kind": "agent", "name": "Bob", "working_hours": hours},
                 {"id": "a3", "kind": "agent", "name": "Cy", "working_hours": {}}]
    busy = [{"id": "appt-1", "agent_id": None, "resource_ids": ["a2"]}]
    at = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    found = {r["id"]: r for r in availability(resources, busy, at, at, "Europe/Zurich")}
    assert found["a1"]["available"]
    assert not found["a2"]["available"] and found["a2"]["busy_with"] == ["appt-1"]
    assert not found["a3"]["available"] and not found["a3"]["within_working_hours"]
