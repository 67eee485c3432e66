"""Booking's own side tables, next to the event store.

They are written in the same transaction as the events they follow (the
recorder receives `SideWrites` through `Application.save(..., side=...)`), so
they never disagree with the event store:
- the agent calendar: one row per appointment that blocks its agent's time;
- the directory: services, resources and clients, for listing and matching;
- the waitlist: one row per entry, in join order (`booking_waitlist`);
- idempotency answers: (organisation, key) -> the first answer;
- the organisation of every stored event, so `GET /v1/events` selects one
  organisation's events in the query itself;
- the timers (`booking_timers`, shared/timers.py): what time will do to each
  appointment (application/timers.py plans them from its state after the events);
- the client keys that seal personal data in events (adapters/keys.py), destroyed
  in the transaction that records a client's erasure.
"""
from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.booking.domain.values import Slot


@dataclass(frozen=True)
class CalendarRow:
    """Where an appointment holds its agent; agent_id None frees it."""
    appointment_id: str
    organisation_id: str
    agent_id: str | None = None
    slot: dict[str, str] | None = None


@dataclass(frozen=True)
class EntryRow:
    id: str
    organisation_id: str
    kind: str
    snapshot: dict[str, Any]


@dataclass(frozen=True)
class WaitlistRow:
    id: str
    organisation_id: str
    service_id: str
    status: str
    snapshot: dict[str, Any]


@dataclass
class Answer:
    """The first answer to an idempotent command; `position` is filled in at save."""
    organisation_id: str
    key: str
    fingerprint: str
    status: int
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TimerRow:
    """A timer planned at `due_at` (moved if it was planned), or dropped when due_at is None."""
    key: str
    kind: str
    due_at: datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Erasure:
    """What erasing a client destroys, in the transaction of its `client.Erased` event."""
    organisation_id: str
    client_id: str
    subjects: tuple[str, ...]   # the appointments whose keys go with the client's own


# The organisation of the events being saved (BookingBase.save), for a key made for an
# event that does not name it.
saving_for: ContextVar[str | None] = ContextVar("saving_for", default=None)


class Keys(Protocol):
    def key_for(self, organisation_id: str | None, subject: str,
                client_id: str | None) -> bytes | None:
        """The subject's key, created on first use; None once erased."""

    def lookup(self, subject: str) -> tuple[bytes | None, bool]:
        """The subject's key (None: erased or never made), and whether it was erased."""

    def subjects(self, organisation_id: str, client_id: str) -> list[str]:
        """The appointments whose keys belong to the client."""

    def erasures(self) -> int:
        """How many keys were destroyed so far (caches of decrypted state compare it)."""


@dataclass
class SideWrites:
    calendar: list[CalendarRow] = field(default_factory=list)
    timers: list[TimerRow] = field(default_factory=list)
    entries: list[EntryRow] = field(default_factory=list)
    waitlist: list[WaitlistRow] = field(default_factory=list)
    answer: Answer | None = None
    erase: Erasure | None = None
    organisation_id: str | None = None  # of every event saved (set by BookingApplication.save)


class Tables(Protocol):
    keys: Keys

    def busy_agents(self, organisation_id: str, slot: Slot, exclude: str | None) -> set[str]: ...

    def entries(self, organisation_id: str, kind: str, email: str | None = None,
                phone: str | None = None, after: tuple[str, uuid.UUID] | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
        """Snapshots by (name, id), those after `after`, at most `limit`."""

    def answer(self, organisation_id: str, key: str) -> Answer | None: ...

    def waitlist(self, organisation_id: str, service_id: str | None = None,
                 status: str | None = None, after: int = 0,
                 limit: int = 100) -> list[tuple[int, dict[str, Any]]]:
        """(join order, snapshot) of the organisation's entries after `after`, in join order."""

    def held_by(self, appointment_id: str) -> CalendarRow | None:
        """The calendar row an appointment (or waitlist offer) holds now."""

    def locked(self, organisation_id: str, key: str) -> AbstractContextManager[Answer | None]:
        """Serialise commands with this key; the answer recorded under it, read in the lock."""

    def is_overlap(self, error: Exception) -> bool:
        """Did a save fail because an agent would be booked twice?"""


def matches(entry: dict[str, Any], email: str | None, phone: str | None) -> bool:
    """A client matches by email (case-insensitive) or by phone."""
    by_email = bool(email) and (entry.get("email") or "").lower() == (email or "").lower()
    by_phone = bool(phone) and entry.get("phone") == phone
    return by_email or by_phone

