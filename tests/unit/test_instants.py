"""shared/instants.py: what an answer's instants become in the organisation's zone."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.instants import local

ZURICH = ZoneInfo("Europe/Zurich")


def test_instants_take_the_offset_in_force_at_them_and_stay_the_same_instant():
    body: dict[str, Any] = {"appointment": {
        "slot": {"start": "2026-03-29T00:30:00+00:00",     # before the switch to summer time
                 "end": "2026-03-29T01:30:00Z"},           # after it
        "requested_at": "2026-10-25T00:59:59.5+00:00"}}
    out = local(body, ZURICH)
    assert out["appointment"]["slot"] == {"start": "2026-03-29T01:30:00+01:00",
                                          "end": "2026-03-29T03:30:00+02:00"}
    assert out["appointment"]["requested_at"] == "2026-10-25T02:59:59.500000+02:00"
    assert body["appointment"]["slot"]["end"] == "2026-03-29T01:30:00Z"   # not changed
    assert local(body, ZoneInfo("UTC"))["appointment"]["slot"]["end"] == "2026-03-29T01:30:00+00:00"


def test_what_is_not_an_instant_or_was_written_by_a_caller_is_kept():
    body = {"window": {"date": "2026-11-23", "start": "09:00", "end": "12:00"},
            "metadata": {"at": "2026-11-23T09:00:00+00:00"},
            "questionnaire": {"start": "2026-11-23T09:00:00+00:00"},
            "event": {"time": "2026-11-23T09:00:00+00:00",
                      "data": {"slot": {"start": "2026-11-23T09:00:00+00:00"}}},
            "changes": [{"field": "metadata", "before": None,
                         "after": {"end": "2026-11-23T09:00:00+00:00"}}],
            "until": None, "at": "2026-11-23T09:00:00", "text": "2026-11-23T09:00:00+00:00"}
    assert local(body, ZURICH) == body


def test_datetimes_stay_datetimes_for_the_schema_to_serialise():
    at = datetime(2027, 6, 14, 9, tzinfo=UTC)
    out = local({"items": [{"at": at, "end": at}]}, ZURICH)
    assert out["items"][0]["at"].isoformat() == "2027-06-14T11:00:00+02:00"
    assert out["items"][0]["at"] == at
