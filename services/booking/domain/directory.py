"""Services, resources (agents, locations, equipment) and clients of an organisation."""
from __future__ import annotations

import uuid
from copy import deepcopy
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate

from services.booking.domain.changes import ErasedChange, FieldsChange
from services.booking.domain.meta import Meta
from services.booking.domain.personal_data import ERASED_CLIENT
from services.booking.domain.values import HHMM, WEEKDAYS, Slot, clock_time
from shared.errors import Conflict, Invalid
from shared.event_names import name_events

OFFICE_HOURS = {day: [["09:00", "17:00"]] for day in WEEKDAYS[:5]}


class DirectoryEntry(Aggregate):
    """One entry of an organisation's directory; subclasses say which fields it has."""
    # Read-only, and not annotated: eventsourcing makes annotated aggregates dataclasses.
    DEFAULTS = MappingProxyType(dict[str, Any]())

    # Event classes, not @event methods: a decorated method triggers the class of the
    # aggregate declaring it, and each kind needs its own (`service.Updated`, ...), which
    # the library derives from these for every subclass.
    class Created(Aggregate.Created):
        organisation_id: str
        change: FieldsChange

    class Updated(Aggregate.Event):
        change: FieldsChange

        def apply(self, entry: DirectoryEntry) -> None:
            entry.fields.update(deepcopy(self.change["fields"]))

    def __init__(self, organisation_id: str, change: FieldsChange) -> None:
        self.organisation_id = organisation_id
        self.fields: dict[str, Any] = deepcopy(change["fields"])

    @classmethod
    def register(cls, organisation_id: str, fields: dict[str, Any], meta: Meta) -> DirectoryEntry:
        full = {**deepcopy(dict(cls.DEFAULTS)), **fields}
        cls.check(full)
        return cls._create(cls.Created, id=uuid.uuid4(), organisation_id=organisation_id,
                           timestamp=meta.now,
                           change=FieldsChange(**meta.stamp("created"), fields=full))

    def update(self, fields: dict[str, Any], meta: Meta) -> None:
        if self.fields.get("erased"):
            raise Conflict(f"this {self.kind} was erased")
        changed = {k: v for k, v in fields.items() if self.fields.get(k) != v}
        if changed:
            self.check({**self.fields, **changed})
            self.trigger_event(self.Updated, timestamp=meta.now,
                               change=FieldsChange(**meta.stamp("updated"), fields=changed))

    @classmethod
    def check(cls, fields: dict[str, Any]) -> None:
        if not str(fields.get("name") or "").strip():
            raise Invalid("name", "must not be empty")

    @property
    def kind(self) -> str:
        return type(self).__name__.lower()

    @property
    def active(self) -> bool:
        return bool(self.fields.get("active", True))

    def snapshot(self) -> dict[str, Any]:
        return {"id": str(self.id), "organisation_id": self.organisation_id,
                "version": self.version, **deepcopy(self.fields)}


class Service(DirectoryEntry):
    DEFAULTS = MappingProxyType({"duration_minutes": 30, "confirmation_mode": "manual",
                                 "workflow_id": None, "active": True, "reminders": None})

    @property
    def automatic(self) -> bool:
        return self.fields["confirmation_mode"] == "automatic"

    @property
    def workflow_id(self) -> str:
        return self.fields.get("workflow_id") or "builtin"

    def reference(self) -> dict[str, Any]:
        """How an appointment refers to its service."""
        return {"id": str(self.id), "name": self.fields["name"],
                "duration_minutes": self.fields["duration_minutes"]}


def public_services(snapshots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the public booking widget may see: active services, each as an appointment
    refers to it (no workflow, no confirmation mode)."""
    return [{"id": s["id"], "name": s["name"], "duration_minutes": s["duration_minutes"]}
            for s in snapshots if s.get("active", True)]


class Resource(DirectoryEntry):
    DEFAULTS = MappingProxyType({"kind": "agent", "email": None, "phone": None,
                                 "address": None, "working_hours": OFFICE_HOURS, "active": True})

    @classmethod
    def check(cls, fields: dict[str, Any]) -> None:
        super().check(fields)
        for day, intervals in fields["working_hours"].items():
            if day not in WEEKDAYS:
                raise Invalid("working_hours", f"unknown weekday '{day}' (use {', '.join(WEEKDAYS)})")
            for interval in intervals:
                if len(interval) != 2 or not all(HHMM.match(t) for t in interval) \
                        or clock_time(interval[0]) >= clock_time(interval[1]):
                    raise Invalid(f"working_hours.{day}", "intervals are [\"HH:MM\", \"HH:MM\"], "
                                  "start before end")

    def reference(self) -> dict[str, Any]:
        """How an appointment lists its resources (contract: appointment.resources)."""
        return {"id": str(self.id), **{k: self.fields[k] for k in
                                       ("kind", "name", "email", "phone", "address")}}


class Client(DirectoryEntry):
    DEFAULTS = MappingProxyType({"email": None, "phone": None, "active": True})

    class Erased(DirectoryEntry.Updated):
        """The client's personal data erased (their keys destroyed); `change.appointment_ids`
        names the appointments whose keys went with theirs, for the consumers."""
        change: ErasedChange

    def erase(self, appointment_ids: tuple[str, ...], meta: Meta) -> bool:
        """False when already erased (erasing again changes nothing)."""
        if self.fields.get("erased"):
            return False
        self.trigger_event(self.Erased, timestamp=meta.now, change=ErasedChange(
            **meta.stamp("erased"), fields=dict(ERASED_CLIENT),
            appointment_ids=list(appointment_ids)))
        return True

    def reference(self) -> dict[str, Any]:
        return {"id": str(self.id), "name": self.fields["name"], "email": self.fields["email"],
                "phone": self.fields["phone"], "tentative": False}


KINDS: dict[str, type[DirectoryEntry]] = {"service": Service, "resource": Resource,
                                          "client": Client}
for _kind, _entry in KINDS.items():
    name_events(_entry, _kind, formerly=f"services.booking.domain.directory:{_entry.__name__}")


def within_working_hours(working_hours: dict[str, list[list[str]]], tz: ZoneInfo,
                         slot: Slot) -> bool:
    start, end = slot.start.astimezone(tz), slot.end.astimezone(tz)
    if start.date() != end.date():
        return False
    return any(clock_time(a) <= start.time() and end.time() <= clock_time(b)
               for a, b in working_hours.get(WEEKDAYS[start.weekday()], []))
