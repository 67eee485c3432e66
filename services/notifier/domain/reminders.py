"""Reminders before an appointment: the pure rules (DOMAIN.md, "Reminders and time").

One timer per (appointment, offset): key `reminder:<appointment id>:<offset>`.
Its channels are read when it fires, like everything else the message says,
so one reminder is one decision (one look at the appointment, one quota
check) that the ledger splits into a row per channel; each row then retries
on its own.

An appointment has reminders while it is of the status kind `confirmation`
with a slot: planned when it gets there, moved when its slot moves, dropped
when it leaves (cancelled, rejected, no-show, attended, any other kind).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.notifier.domain.model import CHANNELS

# Booking's default (services/booking/domain/organisation.py), also for organisations
# created before the setting existed.
DEFAULT: dict[str, Any] = {"offsets_minutes": [1440, 120], "channels": ["email", "sms"]}
KIND = "reminder"
# The event type a reminder is recorded with in the ledger (deliveries, mailbox).
EVENT_TYPE = "appointment.reminder_due.v1"
NAMESPACE = uuid.UUID("0b9f6f0e-52a4-4f0e-8f4e-7d1c9a3e6b21")   # of reminder ids
TEMPLATE = "client/reminder"
LINKS = ("cancel", "propose_time")


def prefix(appointment_id: str) -> str:
    return f"{KIND}:{appointment_id}:"


def key(appointment_id: str, offset_minutes: int) -> str:
    return f"{prefix(appointment_id)}{offset_minutes}"


def reminder_id(appointment_id: str, offset_minutes: int, slot_start: str) -> str:
    """The ledger's event id of one reminder (a UUID, as event ids are): a reminder
    for the same appointment, offset and start is the same reminder, sent at most
    once per recipient and channel (the ledger's dedupe key)."""
    start = datetime.fromisoformat(slot_start).astimezone(UTC).isoformat()
    return str(uuid.uuid5(NAMESPACE, f"{appointment_id}:{offset_minutes}:{start}"))


def settings(organisation: dict[str, Any] | None,
             service: dict[str, Any] | None) -> dict[str, Any]:
    """The reminders that apply: the service's override, else the organisation's."""
    chosen = (service or {}).get("reminders") or (organisation or {}).get("reminders") or DEFAULT
    return {"offsets_minutes": sorted({int(o) for o in chosen.get("offsets_minutes") or []},
                                      reverse=True),
            "channels": [c for c in CHANNELS if c in (chosen.get("channels") or [])]}


def channels(organisation: dict[str, Any], service: dict[str, Any] | None) -> list[str]:
    """The reminder's channels that the organisation has not switched off."""
    switched = organisation.get("channels") or {}
    return [c for c in settings(organisation, service)["channels"] if switched.get(c, True)]


def slot_start(appointment: dict[str, Any]) -> str | None:
    """The start of a confirmed appointment's slot (None: it gets no reminders)."""
    slot = appointment.get("slot") or {}
    if appointment.get("status_kind") != "confirmation" or not slot.get("start"):
        return None
    return str(slot["start"])


@dataclass(frozen=True)
class Plan:
    """What a timer table should hold for one appointment."""
    schedule: dict[str, tuple[datetime, dict[str, Any]]]   # key -> (due at, payload)
    keep: frozenset[str]                                   # already due, left as they are
    drop: frozenset[str]


def plan(appointment: dict[str, Any], offsets: list[int], now: datetime,
         planned: dict[str, dict[str, Any]]) -> Plan:
    """The appointment's reminders at `now`, given those `planned` (key -> payload).

    Never planned, nor moved, to a time already past; a reminder already due
    for this very start stays due (the worker was away: it still goes out,
    before the start, or not at all).
    """
    start = slot_start(appointment)
    wanted: dict[str, tuple[datetime, dict[str, Any]]] = {}
    keep: set[str] = set()
    if start:
        at = datetime.fromisoformat(start)
        for offset in offsets:
            k = key(appointment["id"], offset)
            payload = {"appointment_id": appointment["id"], "offset_minutes": offset,
                       "slot_start": start}
            due = at - timedelta(minutes=offset)
            if due > now:
                wanted[k] = (due, payload)
            elif (planned.get(k) or {}).get("slot_start") == start:
                keep.add(k)
    unchanged = {k for k, (_, payload) in wanted.items() if planned.get(k) == payload}
    return Plan({k: v for k, v in wanted.items() if k not in unchanged},
                frozenset(keep | unchanged), frozenset(set(planned) - set(wanted) - keep))


def still_due(appointment: dict[str, Any] | None, payload: dict[str, Any],
              now: datetime) -> bool:
    """Whether a firing reminder is still wanted: the appointment as last seen
    is confirmed for the start it was planned for, and that start is ahead."""
    if appointment is None or slot_start(appointment) != payload.get("slot_start"):
        return False
    return now < datetime.fromisoformat(str(payload["slot_start"]))
