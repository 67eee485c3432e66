"""What an auditor reads: every event of one appointment described (shared/history.py),
and the appointment as it was at an instant. Both read the appointment's stored events
once, and answer 404 for another organisation's appointment as for a missing one."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.booking.application.base import BookingBase
from services.booking.domain.appointment import Appointment
from shared import history
from shared.errors import NotFound


class AuditReads(BookingBase):
    def audit_trail(self, organisation_id: str, appointment_id: uuid.UUID) -> list[dict[str, Any]]:
        """Every stored event of the appointment, oldest first, as audit entries with
        their position (notification id), version and event id (as in the event feed)."""
        recorder: Any = self.recorder   # BookingRecorder or MemoryRecorder
        entries = []
        aggregate: Any = None
        for n in recorder.select_aggregate_notifications(appointment_id):
            event: Any = self.mapper.to_domain_event(n)
            if aggregate is None:
                self._ensure_ours(event, organisation_id, appointment_id)
            before = aggregate.snapshot() if aggregate is not None else None
            aggregate = event.mutate(aggregate)
            entry = history.describe(event.change, before, aggregate.snapshot(),
                                     at=event.timestamp.isoformat())
            entries.append({"position": n.id, "version": event.originator_version,
                            "event_id": str(uuid.uuid5(appointment_id,
                                                       str(event.originator_version))),
                            **entry})
        if not entries:
            raise NotFound(f"no appointment {appointment_id}")
        return entries

    def appointment_as_of(self, organisation_id: str, appointment_id: uuid.UUID,
                          as_of: datetime) -> Appointment:
        """The appointment at its last version whose event time is at or before `as_of`."""
        events: list[Any] = [self.mapper.to_domain_event(s)
                             for s in self.recorder.select_events(appointment_id)]
        if not events:
            raise NotFound(f"no appointment {appointment_id}")
        self._ensure_ours(events[0], organisation_id, appointment_id)
        versions = [e.originator_version for e in events if e.timestamp <= as_of]
        if not versions:
            raise NotFound(f"appointment {appointment_id} did not exist yet at "
                           f"{as_of.isoformat()}")
        return self.appointment(organisation_id, appointment_id, max(versions))

    @staticmethod
    def _ensure_ours(first: Any, organisation_id: str, appointment_id: uuid.UUID) -> None:
        """The first event names the appointment's organisation (and that it is one)."""
        if not isinstance(first, Appointment.Requested) or \
                first.organisation_id != organisation_id:
            raise NotFound(f"no appointment {appointment_id}")
