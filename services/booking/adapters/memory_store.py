"""In-memory event store with the same side tables (fast unit and property tests).

Use with `PERSISTENCE_MODULE=services.booking.adapters.memory_store:MemoryFactory`.
"""
from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from copy import deepcopy
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, Notification, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory

from services.booking.adapters import keys
from services.booking.application.ports import (
    Answer,
    CalendarRow,
    SideWrites,
    TimerRow,
    WaitlistRow,
    matches,
)
from services.booking.domain.personal_data import CONTACT, ERASED
from services.booking.domain.values import Slot

FACTORY_TOPIC = "services.booking.adapters.memory_store:MemoryFactory"


class CalendarOverlap(IntegrityError):
    """The in-memory twin of the PostgreSQL exclusion constraint."""


class MemoryTables:
    def __init__(self) -> None:
        self.calendar: dict[str, CalendarRow] = {}
        self.directory: dict[str, tuple[str, str, dict[str, Any]]] = {}
        self.answers: dict[tuple[str, str], Answer] = {}
        self.event_organisations: dict[int, str] = {}  # notification id -> organisation
        self.waitlist_rows: dict[str, tuple[int, WaitlistRow]] = {}  # id -> (join order, row)
        self.timers: dict[str, TimerRow] = {}          # key -> planned timer (booking_timers)
        self.keys = keys.MemoryKeys()
        self._locks: defaultdict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def check(self, side: SideWrites) -> None:
        if not side.organisation_id:
            raise ValueError("events saved without their organisation (BookingApplication.save)")
        moving = {row.appointment_id for row in side.calendar}  # rewritten by this save
        for row in side.calendar:
            if row.agent_id and row.slot and row.agent_id in self._busy(
                    row.organisation_id, Slot.of(row.slot), moving):
                raise CalendarOverlap(f"agent {row.agent_id} is booked at that time")

    def apply(self, side: SideWrites, ids: Sequence[int]) -> None:
        for notification_id in ids:
            self.event_organisations[notification_id] = side.organisation_id or ""
        for row in side.calendar:
            self.calendar.pop(row.appointment_id, None)
            if row.agent_id and row.slot:
                self.calendar[row.appointment_id] = row
        for timer in side.timers:
            self.timers.pop(timer.key, None)
            if timer.due_at is not None:
                self.timers[timer.key] = timer
        for w in side.waitlist:
            seq = self.waitlist_rows[w.id][0] if w.id in self.waitlist_rows \
                else len(self.waitlist_rows) + 1
            self.waitlist_rows[w.id] = (seq, w)
        for entry in side.entries:
            self.directory[entry.id] = (entry.organisation_id, entry.kind, deepcopy(entry.snapshot))
        if side.erase:
            self.keys.erase(side.erase)
            for _seq, w in self.waitlist_rows.values():
                if w.organisation_id == side.erase.organisation_id \
                        and w.snapshot["client"].get("id") == side.erase.client_id:
                    w.snapshot["client"].update({f: ERASED[f] for f in CONTACT})
            for answer in self.answers.values():
                if answer.organisation_id == side.erase.organisation_id:
                    keys.scrubbed_if_of(answer.body, side.erase)
        if side.answer:
            side.answer.body["position"] = ids[-1]
            self.answers[(side.answer.organisation_id, side.answer.key)] = deepcopy(side.answer)

    def busy_agents(self, organisation_id: str, slot: Slot, exclude: str | None) -> set[str]:
        return self._busy(organisation_id, slot, {exclude} if exclude else set())

    def _busy(self, organisation_id: str, slot: Slot, exclude: set[str]) -> set[str]:
        return {r.agent_id for r in self.calendar.values()
                if r.organisation_id == organisation_id and r.appointment_id not in exclude
                and r.agent_id and r.slot and Slot.of(r.slot).overlaps(slot)}

    def waitlist(self, organisation_id: str, service_id: str | None = None,
                 status: str | None = None, after: int = 0,
                 limit: int = 100) -> list[tuple[int, dict[str, Any]]]:
        found = sorted(((seq, deepcopy(w.snapshot)) for seq, w in self.waitlist_rows.values()
                       if w.organisation_id == organisation_id and seq > after
                       and service_id in (None, w.service_id) and status in (None, w.status)),
                       key=lambda found: found[0])
        return found[:limit]

    def held_by(self, appointment_id: str) -> CalendarRow | None:
        return self.calendar.get(appointment_id)

    def entries(self, organisation_id: str, kind: str, email: str | None = None,
                phone: str | None = None, after: tuple[str, uuid.UUID] | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
        found = sorted((deepcopy(s) for org, k, s in self.directory.values()
                        if org == organisation_id and k == kind
                        and (not (email or phone) or matches(s, email, phone))),
                       key=lambda s: (s.get("name") or "", s["id"]))
        if after:
            found = [s for s in found if (s.get("name") or "", s["id"]) > (after[0], str(after[1]))]
        return found if limit is None else found[:limit]

    def answer(self, organisation_id: str, key: str) -> Answer | None:
        found = self.answers.get((organisation_id, key))
        return deepcopy(found) if found else None

    def is_overlap(self, error: Exception) -> bool:
        return isinstance(error, CalendarOverlap)

    @contextmanager
    def locked(self, organisation_id: str, key: str) -> Iterator[Answer | None]:
        with self._guard:
            lock = self._locks[(organisation_id, key)]
        with lock:
            yield self.answer(organisation_id, key)


class MemoryRecorder(POPOApplicationRecorder):
    def __init__(self) -> None:
        super().__init__()
        self.tables = MemoryTables()

    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        side: SideWrites = kwargs.get("side") or SideWrites()
        with self._database_lock:
            self._assert_uniqueness(stored_events)
            self.tables.check(side)
            ids = super().insert_events(stored_events, **kwargs)
            if ids:
                self.tables.apply(side, ids)
            return ids

    def select_organisation_notifications(self, organisation_id: str, after: int,
                                          limit: int) -> list[Notification]:
        with self._database_lock:
            ids = [i for i, org in self.tables.event_organisations.items()
                   if i > after and org == organisation_id][:limit]
        return [n for i in ids for n in self.select_notifications(i, 1)]

    def select_aggregate_notifications(self, originator_id: Any) -> list[Notification]:
        with self._database_lock:
            found = [(i + 1, s) for i, s in enumerate(self._stored_events)
                     if s.originator_id == originator_id]
        return sorted((Notification(id=i, originator_id=s.originator_id,
                                    originator_version=s.originator_version, topic=s.topic,
                                    state=s.state) for i, s in found),
                      key=lambda n: n.originator_version)

    def appointments_of(self, organisation_id: str, client_id: str) -> list[str]:
        with self._database_lock:
            ids = {n.originator_id for i, org in self.tables.event_organisations.items()
                   if org == organisation_id for n in self.select_notifications(i, 1)
                   if n.topic.startswith("appointment.") and client_id in n.state.decode()}
        return sorted(str(i) for i in ids)


class MemoryFactory(POPOFactory):
    def application_recorder(self) -> ApplicationRecorder:
        return MemoryRecorder()
