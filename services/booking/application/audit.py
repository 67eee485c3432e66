"""What an auditor reads: every event of one appointment described (shared/history.py),
and the appointment as it was at an instant."""
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
        self.appointment(organisation_id, appointment_id)   # tenancy: 404 otherwise
        recorder: Any = self.recorder   # BookingRecorder or MemoryRecorder
        entries = []
        aggregate: Any = None
        for n in recorder.select_aggregate_notifications(appointment_id):
            event: Any = self.mapper.to_domain_event(n)
            before = aggregate.snapshot() if aggregate is not None else None
            aggregate = event.mutate(aggregate)
            entry = history.describe(event.change, before, aggregate.snapshot(),
                                     at=event.timestamp.isoformat())
            entries.append({"position": n.id, "version": event.originator_version,
                            "event_id": str(uuid.uuid5(appointment_id,
                                                       str(event.originator_version))),
                            **entry})
        return entries

    def appointment_as_of(self, organisation_id: str, appointment_id: uuid.UUID,
                          as_of: datetime) -> Appointment:
        """The appointment at its last version whose event time is at or before `as_of`."""
        self.appointment(organisation_id, appointment_id)   # tenancy: 404 otherwise
        version = None
        for stored in self.recorder.select_events(appointment_id):
            event: Any = self.mapper.to_domain_event(stored)
            if event.timestamp <= as_of:
                version = max(version or 0, event.originator_version)
        if version is None:
            raise NotFound(f"appointment {appointment_id} did not exist yet at "
                           f"{as_of.isoformat()}")
        return self.appointment(organisation_id, appointment_id, version)
