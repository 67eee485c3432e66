"""Which freed slot a waitlist entry wants (its service, agent, day and part of day in
the organisation's time zone), and that the projections take its events as nothing."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from services.booking.domain.meta import Meta
from services.booking.domain.organisation import defaults
from services.booking.domain.waitlist import OfferGone, WaitlistEntry, slot_key
from shared.errors import Conflict, Invalid

ZURICH = ZoneInfo("Europe/Zurich")
PARTS = defaults("acme")["parts_of_day"]
META = Meta({"id": "a", "role": "agent"}, "c", datetime(2026, 11, 20, 8, tzinfo=UTC))


def entry(**wish: str | None) -> WaitlistEntry:
    return WaitlistEntry.join(META, "acme", service={"id": "s1", "name": "Consultation"},
                              client={"id": "c1", "name": "Ada"},
                              agent_id=wish.get("agent_id"), date=wish.get("date"),
                              part_of_day=wish.get("part_of_day"), parts_of_day=PARTS,
                              tz=ZURICH, source="api")


def at(hour: int) -> dict[str, str]:   # Monday 23 November, UTC hours (Zurich is +1)
    return {"start": f"2026-11-23T{hour:02}:00:00+00:00",
            "end": f"2026-11-23T{hour:02}:30:00+00:00"}


@pytest.mark.parametrize(("wish", "service", "agent", "hour", "wants"), [
    ({}, "s1", "g1", 9, True),
    ({}, "s2", "g1", 9, False),                                   # another service
    ({"agent_id": "g1"}, "s1", "g2", 9, False),                   # another agent
    ({"date": "2026-11-23"}, "s1", "g1", 9, True),
    ({"date": "2026-11-24"}, "s1", "g1", 9, False),
    ({"date": "2026-11-24"}, "s1", "g1", 23, True),               # 00:00 Tuesday in Zurich
    ({"part_of_day": "morning"}, "s1", "g1", 8, True),            # 09:00 local
    ({"part_of_day": "morning"}, "s1", "g1", 11, False),          # 12:00 local: afternoon
    ({"part_of_day": "afternoon"}, "s1", "g1", 11, True),
])
def test_an_entry_wants_the_slots_it_asked_for(wish, service, agent, hour, wants):
    assert entry(**wish).wants(service, agent, at(hour), "acme", PARTS, ZURICH) is wants


def test_a_lapsed_slot_is_never_offered_to_the_same_entry_again():
    e = entry()
    e.make_offer(META, at(9), "g1", datetime(2026, 11, 20, 9, tzinfo=UTC))
    assert not e.wants("s1", "g1", at(10), "acme", PARTS, ZURICH)   # offered: not waiting
    e.lapse(META)
    assert e.passed == [slot_key("acme", "g1", at(9))]
    assert not e.wants("s1", "g1", at(9), "acme", PARTS, ZURICH)
    assert e.wants("s1", "g1", at(10), "acme", PARTS, ZURICH)
    with pytest.raises(OfferGone):
        e.ensure_offer(1)


def test_bad_wishes_are_refused_naming_the_field():
    with pytest.raises(Invalid) as bad:
        entry(part_of_day="midnight")
    assert str(bad.value).startswith("part_of_day:")
    with pytest.raises(Invalid) as past:
        entry(date="2026-11-19")                                      # yesterday
    assert str(past.value).startswith("date:")
    e = entry()
    e.leave(META)
    with pytest.raises(Conflict):
        e.leave(META)
