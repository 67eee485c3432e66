"""Reminders, the pure rules: which timers an appointment should have at a given
moment, which settings apply, when a firing reminder is still wanted, and what
it says."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notifier.domain import reminders as rules
from services.notifier.domain.model import Message
from services.notifier.domain.rendering import Renderer
from shared.envelope import CloudEvent
from tests.fakes.events import AGENT, ORGANISATION

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)     # 10:00 in Zurich
SLOT = {"start": START.isoformat(), "end": (START + timedelta(minutes=30)).isoformat()}
DAY_BEFORE = START - timedelta(days=3)


def appointment(slot=SLOT, kind="confirmation", id_="appt-1"):
    return {"id": id_, "organisation_id": "acme", "status_kind": kind, "slot": slot,
            "service": {"id": "svc-1", "name": "Consultation"},
            "client": {"id": "c1", "name": "Ada", "email": "ada@example.com",
                       "phone": "+441234567890"}, "resources": [AGENT]}


def planned_of(plan):
    return {k: payload for k, (_, payload) in plan.schedule.items()}


def test_a_confirmed_appointment_gets_one_timer_per_offset_before_its_start():
    plan = rules.plan(appointment(), [1440, 120], DAY_BEFORE, {})
    assert {k: due for k, (due, _) in plan.schedule.items()} == {
        "reminder:appt-1:1440": START - timedelta(hours=24),
        "reminder:appt-1:120": START - timedelta(hours=2)}
    assert not plan.drop and not plan.keep
    # planned again unchanged (a note, a reassignment): nothing to write
    again = rules.plan(appointment(), [1440, 120], DAY_BEFORE, planned_of(plan))
    assert not again.schedule and not again.drop and again.keep == set(plan.schedule)


def test_never_planned_for_a_time_already_past():
    three_hours_before = START - timedelta(hours=3)
    plan = rules.plan(appointment(), [1440, 120], three_hours_before, {})
    assert list(plan.schedule) == ["reminder:appt-1:120"]
    assert rules.plan(appointment(), [1440, 120], START, {}).schedule == {}


def test_a_reschedule_moves_them_and_a_timer_already_due_for_the_same_start_stays():
    first = planned_of(rules.plan(appointment(), [1440, 120], DAY_BEFORE, {}))
    later = {"start": (START + timedelta(days=2)).isoformat(),
             "end": (START + timedelta(days=2, minutes=30)).isoformat()}
    moved = rules.plan(appointment(later), [1440, 120], DAY_BEFORE, first)
    assert {k: due for k, (due, _) in moved.schedule.items()} == {
        "reminder:appt-1:1440": START + timedelta(days=1),
        "reminder:appt-1:120": START + timedelta(days=2, hours=-2)}
    # The 24 h one fell due while the worker was away, then a note came: it stays due.
    at = START - timedelta(hours=20)
    stays = rules.plan(appointment(), [1440, 120], at, first)
    assert stays.keep == {"reminder:appt-1:1440", "reminder:appt-1:120"} and not stays.drop
    # Moved to a start whose 24 h point has passed: that one is dropped, not fired late.
    soon = {"start": (at + timedelta(hours=5)).isoformat(),
            "end": (at + timedelta(hours=5, minutes=30)).isoformat()}
    moved_close = rules.plan(appointment(soon), [1440, 120], at, first)
    assert moved_close.drop == {"reminder:appt-1:1440"}
    assert list(moved_close.schedule) == ["reminder:appt-1:120"]


def test_leaving_the_confirmation_kind_drops_every_reminder():
    first = planned_of(rules.plan(appointment(), [1440, 120], DAY_BEFORE, {}))
    for kind in ("cancellation", "completion", "start", "step"):
        plan = rules.plan(appointment(kind=kind), [1440, 120], DAY_BEFORE, first)
        assert plan.drop == set(first) and not plan.schedule and not plan.keep
    # an offset removed from the settings is dropped too
    assert rules.plan(appointment(), [120], DAY_BEFORE, first).drop == {"reminder:appt-1:1440"}


def test_the_service_override_wins_else_the_organisations_else_the_default():
    org = {**ORGANISATION, "reminders": {"offsets_minutes": [60, 2880], "channels": ["sms"]}}
    assert rules.settings(org, None) == {"offsets_minutes": [2880, 60], "channels": ["sms"]}
    assert rules.settings(org, {"reminders": None}) == rules.settings(org, None)
    service = {"reminders": {"offsets_minutes": [30], "channels": ["sms", "email"]}}
    assert rules.settings(org, service) == {"offsets_minutes": [30], "channels": ["email", "sms"]}
    assert rules.settings(ORGANISATION, None) == rules.DEFAULT     # created before the setting
    # a channel the organisation switched off stays off
    no_sms = {**ORGANISATION, "channels": {"email": True, "sms": False}}
    assert rules.channels(no_sms, None) == ["email"]


def test_a_firing_reminder_is_wanted_only_for_the_start_it_was_planned_for_and_before_it():
    payload = {"appointment_id": "appt-1", "offset_minutes": 120, "slot_start": SLOT["start"]}
    before = START - timedelta(hours=2)
    assert rules.still_due(appointment(), payload, before)
    assert not rules.still_due(appointment(), payload, START)             # late: nothing
    assert not rules.still_due(None, payload, before)                       # cancelled
    moved = {"start": "2026-11-24T09:00:00+00:00", "end": "2026-11-24T09:30:00+00:00"}
    assert not rules.still_due(appointment(moved), payload, before)


def test_a_reminders_id_is_the_same_for_the_same_appointment_offset_and_start():
    a = rules.reminder_id("appt-1", 1440, "2026-11-23T09:00:00+00:00")
    assert a == rules.reminder_id("appt-1", 1440, "2026-11-23T10:00:00+01:00")
    assert a != rules.reminder_id("appt-1", 120, "2026-11-23T09:00:00+00:00")
    assert a != rules.reminder_id("appt-1", 1440, "2026-11-24T09:00:00+00:00")


def test_the_reminder_says_when_in_the_organisations_zone_with_the_links():
    event = CloudEvent(id="r1", source="notifier", type="appointment.reminder_due.v1",
                       subject="appt-1", time=SLOT["start"], orgid="acme", aggregateversion=2,
                       position=2, data={"change": {"action": "reminder"},
                                         "appointment": appointment()})
    links = {"cancel": "https://b/cancel?token=c", "propose_time": "https://b/propose?token=p"}
    renderer = Renderer()
    email = renderer.render(Message("client", "email", "ada@example.com", rules.TEMPLATE,
                                    links=rules.LINKS), event, links, "u", ORGANISATION)
    assert email.subject == "Reminder: Consultation, Monday 23 November 2026, 10:00–10:30 CET"
    assert "Dr Who" in email.text and links["cancel"] in email.text
    assert links["propose_time"] in email.html
    sms = renderer.render(Message("client", "sms", "+441234567890", rules.TEMPLATE,
                                  links=rules.LINKS), event, links, "u", ORGANISATION)
    assert sms.text.startswith("Acme Clinic: reminder, your Consultation is on Mon 23 Nov 10:00")
    assert links["cancel"] in sms.text and links["propose_time"] in sms.text
