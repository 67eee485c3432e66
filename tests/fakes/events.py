"""Synthetic appointment events shaped exactly as docs/contracts.md describes.

    ev = appointment_event("confirm", version=2)   # requested -> scheduled
    ev = appointment_event("note_added", version=3, note={"text": "..."})
    ev = appointment_event("confirm", organisation_version=2)   # as booking writes it now
    ev = organisation_event(version=2, channels={"email": True, "sms": False})

By default an appointment event carries a copy of the organisation's settings
(change.organisation), as events stored before `organisation_version` do.
"""
from __future__ import annotations

import copy
import uuid
from typing import Any

from shared.envelope import CloudEvent, now_iso

ORGANISATION: dict[str, Any] = {
    "id": "acme", "name": "Acme Clinic", "timezone": "Europe/Zurich",
    "email": "desk@acme.example", "phone": "+41440000000", "address": "Bahnhofstrasse 1, Zurich",
    "channels": {"email": True, "sms": True}, "retention_days": 365,
    "parts_of_day": {"early_morning": ["06:00", "09:00"], "morning": ["09:00", "12:00"],
                     "afternoon": ["12:00", "17:00"], "evening": ["17:00", "21:00"]},
}
AGENT = {"id": "res-agent-1", "kind": "agent", "name": "Dr Who", "email": "who@acme.example",
         "phone": "+41440000001", "address": None}
LOCATION = {"id": "res-loc-1", "kind": "location", "name": "Zurich branch",
            "email": "zurich@acme.example", "phone": None, "address": "Bahnhofstrasse 1"}
EQUIPMENT = {"id": "res-eq-1", "kind": "equipment", "name": "X-ray", "email": None,
             "phone": None, "address": None}

# action -> (from_status, to_status, status_kind)
TRANSITIONS = {
    "request": (None, "requested", "start"),
    "create": (None, "scheduled", "confirmation"),
    "confirm": ("requested", "scheduled", "confirmation"),
    "accept_suggestion": ("requested", "scheduled", "confirmation"),
    "reschedule": ("scheduled", "scheduled", "confirmation"),
    "request_reschedule": ("scheduled", "reschedule_requested", "step"),
    "propose_time": ("reschedule_requested", "requested", "start"),
    "reassigned": ("scheduled", "scheduled", "confirmation"),
    "cancel": ("scheduled", "cancelled", "cancellation"),
    "reject": ("requested", "rejected", "cancellation"),
    "attend": ("scheduled", "attended", "completion"),
    "no_show": ("scheduled", "no_show", "completion"),
    "reopen": ("attended", "reopened", "step"),
    "request_feedback": ("attended", "feedback_pending", "step"),
    "submit_feedback": ("feedback_pending", "feedback_received", "final"),
    "note_added": ("scheduled", "scheduled", "confirmation"),
    "note_edited": ("scheduled", "scheduled", "confirmation"),
    "details_updated": ("scheduled", "scheduled", "confirmation"),
}
TYPES = {"request": "requested", "create": "created_for_client", "confirm": "confirmed",
         "accept_suggestion": "suggestion_accepted", "reschedule": "rescheduled",
         "request_reschedule": "reschedule_requested", "propose_time": "time_proposed",
         "reassigned": "reassigned", "cancel": "cancelled", "reject": "rejected",
         "attend": "attended", "no_show": "no_show", "reopen": "reopened",
         "request_feedback": "feedback_requested", "submit_feedback": "feedback_submitted",
         "note_added": "note_added", "note_edited": "note_edited",
         "details_updated": "details_updated", "move": "moved_to_status"}


def appointment_event(action: str, *, appointment_id: str | None = None, version: int = 1,
                      position: int | None = None, client: dict[str, Any] | None = None,
                      organisation: dict[str, Any] | None = None,
                      resources: list[dict[str, Any]] | None = None,
                      slot: dict[str, str] | None = None, window: dict[str, str] | None = None,
                      reason: str | None = None, message: str | None = None,
                      actor_role: str = "agent", service_name: str = "Consultation",
                      event_id: str | None = None, organisation_version: int | None = None,
                      **change_extra: Any) -> CloudEvent:
    """One `appointment.<type>.v1` CloudEvent with `data = {change, appointment}`;
    with `organisation_version`, a reference to the settings instead of a copy."""
    from_status, to_status, kind = TRANSITIONS.get(action, (None, "requested", "start"))
    from_status = change_extra.pop("from_status", from_status)
    to_status = change_extra.pop("to_status", to_status)
    kind = change_extra.pop("status_kind", kind)
    appointment_id = appointment_id or str(uuid.uuid4())
    org = copy.deepcopy(organisation or ORGANISATION)
    if slot is None and window is None:
        slot = {"start": "2026-11-23T09:00:00+00:00", "end": "2026-11-23T09:30:00+00:00"}
    appointment = {
        "id": appointment_id, "organisation_id": org["id"], "version": version,
        "status": to_status, "status_kind": kind, "workflow": {"id": "builtin", "version": 1},
        "service": {"id": "svc-1", "name": service_name, "duration_minutes": 30},
        "client": client or {"id": "client-1", "name": "Ada Lovelace", "email": "ada@example.com",
                             "phone": "+441234567890", "tentative": False},
        "agent_id": AGENT["id"],
        "resources": copy.deepcopy(resources if resources is not None else [AGENT, LOCATION]),
        "slot": slot, "window": window, "proposal": change_extra.pop("proposal", None),
        "source": "widget", "questionnaire": {}, "metadata": {}, "outcome": None,
        "feedback": change_extra.pop("feedback", None), "feedback_requested_on": None,
        "requested_at": "2026-11-20T10:00:00+00:00", "confirmed_at": None,
        "updated_at": now_iso(),
    }
    change = {"action": action, "from_status": from_status, "to_status": to_status,
              "status_kind": kind, "workflow": {"id": "builtin", "version": 1},
              "actor": {"id": "agent-7" if actor_role != "client" else "client",
                        "role": actor_role},
              "reason": reason, "message": message, **change_extra}
    if organisation_version is None:
        change["organisation"] = org
    else:
        change["organisation_version"] = organisation_version
    return CloudEvent(
        id=event_id or str(uuid.uuid4()), source="booking",
        type=f"appointment.{TYPES.get(action, action)}.v1", subject=appointment_id,
        time=now_iso(), orgid=org["id"], aggregateversion=version,
        position=position if position is not None else version,
        data={"change": change, "appointment": appointment}, correlationid=uuid.uuid4().hex)


def organisation_event(version: int = 1, organisation: dict[str, Any] | None = None,
                       **settings: Any) -> CloudEvent:
    """An `organisation.settings_updated.v1` event (`created` at version 1) on directory.events."""
    org = {**copy.deepcopy(organisation or ORGANISATION), **settings}
    snapshot = {**org, "version": version, "cancellation_reasons": ["Other"],
                "cancel_reason_required": False, "rejection_reasons": ["Other"],
                "reschedule_needs_reconfirmation": False}
    subject = str(uuid.uuid5(uuid.NAMESPACE_URL, f"organisation:{org['id']}"))
    return CloudEvent(
        id=str(uuid.uuid4()), source="booking",
        type="organisation.created.v1" if version == 1 else "organisation.settings_updated.v1",
        subject=subject, time=now_iso(), orgid=org["id"], aggregateversion=version,
        position=version, correlationid=uuid.uuid4().hex,
        data={"change": {"action": "created" if version == 1 else "settings_updated",
                         "actor": {"id": "mgr-1", "role": "manager"}, "correlation_id": "",
                         "fields": sorted(settings) or sorted(org)},
              "organisation": snapshot})
