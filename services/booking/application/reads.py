"""What booking answers without changing anything: directory lists, availability,
client matches, the notification log (the events feed and the relay), signed links."""
from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.persistence import Notification

from services.booking.application.base import BookingBase, to_uuid
from services.booking.domain import errors
from services.booking.domain.appointment import Appointment
from services.booking.domain.directory import within_working_hours
from services.booking.domain.values import Slot
from shared import links
from shared.domain.lifecycle import allowed_actions
from shared.errors import Unavailable


class Reads(BookingBase):
    def entries(self, organisation_id: str, kind: str, email: str | None = None,
                phone: str | None = None, after: tuple[str, uuid.UUID] | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
        """By (name, id): a page after `after` (keyset), at most `limit`."""
        return self.tables.entries(organisation_id, kind, email, phone, after, limit)

    def available_agents(self, organisation_id: str, appointment_id: uuid.UUID,
                         slot: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        appointment = self.appointment(organisation_id, appointment_id)
        if not (slot or appointment.slot):
            raise errors.SlotRequired("available agents")
        at = Slot.of(slot or appointment.slot or {})
        tz = self.organisation(organisation_id).tz
        busy = self.tables.busy_agents(organisation_id, at, str(appointment.id))
        return [a for a in self.entries(organisation_id, "resource")
                if a["kind"] == "agent" and a.get("active", True) and a["id"] not in busy
                and a["id"] != appointment.agent_id
                and within_working_hours(a["working_hours"], tz, at)]

    def client_matches(self, organisation_id: str, appointment_id: uuid.UUID) -> list[dict[str, Any]]:
        client = self.appointment(organisation_id, appointment_id).client
        if not client.get("tentative"):
            return []
        return self.entries(organisation_id, "client", client.get("email"), client.get("phone"))

    def notifications(self, after: int, limit: int,
                      organisation_id: str | None = None) -> list[Notification]:
        """Stored events after position `after`: one organisation's, or (None) everyone's."""
        limit = min(limit, self.log_section_size)
        if organisation_id is None:
            return list(self.notification_log.select(after + 1, limit))
        recorder: Any = self.recorder  # BookingRecorder or MemoryRecorder
        return list(recorder.select_organisation_notifications(organisation_id, after, limit))

    def describe_link(self, claims: links.LinkClaims) -> dict[str, Any]:
        appointment = self._get(None, to_uuid(claims.appointment_id), Appointment)
        org = self.organisation(appointment.organisation_id)
        used = claims.jti in appointment.used_links
        try:
            d = self.workflow.definition(org.organisation_id, appointment.workflow["id"],
                                         appointment.workflow["version"])
            possible: bool | None = not used and claims.action in allowed_actions(
                d, appointment.status)
        except Unavailable:
            possible = None   # unknown for now; trying it will tell
        s = appointment.snapshot()
        return {
            "action": claims.action,
            "possible": possible,
            "used": used,
            "appointment": {k: s[k] for k in ("id", "status", "slot", "window", "proposal")}
            | {"service": s["service"].get("name"), "client": s["client"].get("name")},
            "organisation": {k: org.settings[k] for k in ("name", "timezone", "email", "phone")},
            "cancellation_reasons": org.settings["cancellation_reasons"],
            "reason_required": org.settings["cancel_reason_required"],
        }
