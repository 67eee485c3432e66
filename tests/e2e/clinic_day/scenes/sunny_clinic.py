"""Organisation A opens: its settings, two services, two agents, a branch and a
known client."""
from __future__ import annotations

from tests.e2e.clinic_day.clock import TIMEZONE
from tests.e2e.clinic_day.expectations import (
    CANCEL_REASONS,
    EVERY_DAY,
    NO_REMINDERS,
    REJECT_REASONS,
)
from tests.e2e.clinic_day.stage import Day, with_id


# -- organisation A: settings and directory ----------------------------------------------
def set_up_sunny_clinic(day: Day) -> None:
    day.api.call(day.manager, "PATCH", "booking", "/v1/organisation", json={
        "name": day.sunny.name, "timezone": TIMEZONE, "email": day.sunny.email,
        "phone": day.sunny.phone, "address": "Seestrasse 10, 8002 Zürich",
        "channels": {"email": True, "sms": True}, "retention_days": 365,
        "cancellation_reasons": CANCEL_REASONS, "cancel_reason_required": True,
        "rejection_reasons": REJECT_REASONS, "reschedule_needs_reconfirmation": False,
        # None: tomorrow's visits would get their 24 h reminders while the day is played,
        # at whatever hour it runs, and each visit's messages are counted exactly.
        # Reminders have their own tests (tests/integration/notifier/test_notifier_reminders.py).
        "reminders": NO_REMINDERS})
    ids = day.result.ids
    ids["consultation"] = day.register(day.manager, "services", "service", {
        "name": "Consultation", "duration_minutes": 30, "confirmation_mode": "manual"})
    ids["quick_check"] = day.register(day.manager, "services", "service", {
        "name": "Quick check", "duration_minutes": 15, "confirmation_mode": "automatic"})
    for key, who in (("alice", day.alice), ("bob", day.bob)):
        ids[key] = day.register(day.manager, "resources", "resource", {
            "name": who.name, "kind": "agent", "email": who.email, "phone": who.phone,
            "working_hours": EVERY_DAY})
    ids["branch"] = day.register(day.manager, "resources", "resource", {
        "name": day.branch.name, "kind": "location", "email": day.branch.email,
        "address": "Bahnhofstrasse 1, 8001 Zürich", "working_hours": EVERY_DAY})
    ids["anna"] = day.register(day.desk, "clients", "client", {
        "name": day.anna.name, "email": day.anna.email, "phone": day.anna.phone})
    day.alice = with_id(day.alice, ids["alice"])
    day.bob = with_id(day.bob, ids["bob"])
    day.branch = with_id(day.branch, ids["branch"])
    day.anna = with_id(day.anna, ids["anna"])
