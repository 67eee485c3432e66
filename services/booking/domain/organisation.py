"""The organisation (tenant) and its settings, created with defaults on first use."""
from __future__ import annotations

import uuid
from copy import deepcopy
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate, event

from services.booking.domain.changes import FieldsChange
from services.booking.domain.meta import Meta
from services.booking.domain.values import HHMM, clock_time, zone
from shared.errors import Invalid
from shared.event_names import name_events

NAMESPACE = uuid.UUID("5b0c2f4e-0d5f-4a53-9a55-4a1f0b7d2c11")


def organisation_uuid(organisation_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"organisation:{organisation_id}")


# Minutes before an appointment's start, and channels (organisation setting, per-service override).
DEFAULT_REMINDERS: dict[str, Any] = {"offsets_minutes": [1440, 120], "channels": ["email", "sms"]}


def defaults(organisation_id: str) -> dict[str, Any]:
    return {
        "name": organisation_id, "timezone": "UTC", "email": None, "phone": None, "address": None,
        "channels": {"email": True, "sms": True},
        "retention_days": 365,
        "parts_of_day": {"early_morning": ["06:00", "09:00"], "morning": ["09:00", "12:00"],
                         "afternoon": ["12:00", "17:00"], "evening": ["17:00", "21:00"]},
        "cancellation_reasons": ["Client request", "Organisation unavailable", "Other"],
        "cancel_reason_required": False,
        "rejection_reasons": ["Fully booked", "Not eligible", "Other"],
        "reschedule_needs_reconfirmation": False,
        **TIME_DEFAULTS,
        "reminders": deepcopy(DEFAULT_REMINDERS),
    }


# What time does by itself (README "Time"): null turns the first two off.
TIME_DEFAULTS: dict[str, Any] = {
    "no_show_after_minutes": None,          # after the slot's end: an automatic no-show
    "late_cancellation_notice_hours": None,  # a cancellation inside it is late
    "hold_minutes": 15,                     # a request for an exact slot holds it so long
}
TIME_LIMITS = {"no_show_after_minutes": (0, 10080), "late_cancellation_notice_hours": (0, 720),
               "hold_minutes": (1, 1440)}


class Organisation(Aggregate):
    @event("Created")
    def __init__(self, organisation_id: str, change: FieldsChange) -> None:
        self.organisation_id = organisation_id
        # An organisation created before a setting existed lacks it: read it with
        # `setting()`, which gives its default (replay must publish what it published).
        self.settings: dict[str, Any] = deepcopy(change["fields"])

    @event("SettingsUpdated")
    def _settings_updated(self, change: FieldsChange, timestamp: datetime) -> None:
        self.settings.update(deepcopy(change["fields"]))

    @classmethod
    def start(cls, organisation_id: str, meta: Meta) -> Organisation:
        return cls._create(cls.Created, id=organisation_uuid(organisation_id),
                           organisation_id=organisation_id, timestamp=meta.now,
                           change=FieldsChange(**meta.stamp("created"),
                                               fields=defaults(organisation_id)))

    def update(self, fields: dict[str, Any], meta: Meta) -> None:
        if "channels" in fields:   # a channel left out keeps its setting
            fields = {**fields, "channels": {**self.settings["channels"], **fields["channels"]}}
        changed = {k: v for k, v in fields.items() if self.settings.get(k) != v}
        if changed:
            check_settings({**self.settings, **changed})
            self._settings_updated(FieldsChange(**meta.stamp("settings_updated"), fields=changed),
                                   meta.now)

    def setting(self, name: str) -> Any:
        return self.settings.get(name, TIME_DEFAULTS.get(name))

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.settings["timezone"])

    def snapshot(self) -> dict[str, Any]:
        return {"id": self.organisation_id, "version": self.version, **deepcopy(self.settings)}


name_events(Organisation, "organisation",
            formerly="services.booking.domain.organisation:Organisation")


def check_settings(s: dict[str, Any]) -> None:
    zone(s["timezone"])
    for part, hours in s["parts_of_day"].items():
        if len(hours) != 2 or not all(HHMM.match(h) for h in hours):
            raise Invalid(f"parts_of_day.{part}", "must be [\"HH:MM\", \"HH:MM\"]")
        if clock_time(hours[0]) >= clock_time(hours[1]):
            raise Invalid(f"parts_of_day.{part}", "must start before it ends")
    if not s["parts_of_day"]:
        raise Invalid("parts_of_day", "at least one part of day is needed")
    if s["cancel_reason_required"] and not s["cancellation_reasons"]:
        raise Invalid("cancellation_reasons", "a reason is required, so the list cannot be empty")
    if s["retention_days"] < 1:
        raise Invalid("retention_days", "must be at least 1")
    for name, (low, high) in TIME_LIMITS.items():
        value = s.get(name, TIME_DEFAULTS[name])
        if name == "hold_minutes" and value is None:
            raise Invalid(name, f"must be between {low} and {high}")
        if value is not None and not (isinstance(value, int) and low <= value <= high):
            raise Invalid(name, f"must be between {low} and {high}" + (
                "" if name == "hold_minutes" else ", or null (off)"))
