"""A scripted stand-in for booking: commands -> CloudEvents shaped exactly as
docs/contracts.md says (envelope, `change`, snapshots), with positions and
aggregate versions as booking's event store would give them. Transitions are
checked with shared.domain.lifecycle, so every script is a history booking could write.
"""
from __future__ import annotations

import copy
import itertools
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

from shared.domain import lifecycle
from shared.domain.lifecycle import BUILTIN, Definition, Status
from shared.envelope import CloudEvent
from tests.present import present

ORGANISATION: dict[str, Any] = {
    "id": "acme", "name": "Acme Clinic", "timezone": "Europe/Zurich",
    "email": "desk@acme.example", "phone": "+41440000000", "address": "Bahnhofstrasse 1",
    "channels": {"email": True, "sms": True}, "retention_days": 365,
    "parts_of_day": {"early_morning": ["06:00", "09:00"], "morning": ["09:00", "12:00"],
                     "afternoon": ["12:00", "17:00"], "evening": ["17:00", "21:00"]},
}
CUSTOM = Definition("wf-approval", 2, "Approval first", (
    Status("received", "Request received", "start", 10),
    Status("consultation", "Consultation with management", "step", 20),
    Status("approved", "Approved by management", "step", 30, colour="#7cb342"),
    Status("confirmed", "Confirmed", "confirmation", 40),
    Status("declined", "Declined", "cancellation", 50),
))
SERVICE = {"id": "svc-consult", "name": "Consultation", "duration_minutes": 30}
AGENT = {"id": "agent-7", "role": "agent"}
START = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


def slot(day: str, hhmm: str, minutes: int = 30) -> dict[str, str]:
    start = datetime.fromisoformat(f"{day}T{hhmm}:00+00:00")
    return {"start": start.isoformat(), "end": (start + timedelta(minutes=minutes)).isoformat()}


class Booking:
    """Keeps each appointment's snapshot and emits one event per command."""

    def __init__(self, organisation: dict[str, Any] | None = None, first_position: int = 1,
                 clock: datetime = START, stored_copies: bool = True,
                 colours: bool = True) -> None:
        """`stored_copies`: appointment events carry the organisation's settings in
        change.organisation, as events stored before organisation_version do; else
        they refer to them by version, as booking writes them now. `colours`: events
        carry the status's name and colour (False: as recorded before they did)."""
        self.colours = colours
        self.organisation = copy.deepcopy(organisation or ORGANISATION)
        self.org = self.organisation["id"]
        self.stored_copies = stored_copies
        self.positions = itertools.count(first_position)
        self.now = clock
        self.snapshots: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, int] = {}
        self.definitions: dict[str, Definition] = {}
        self.events: list[CloudEvent] = []

    # --- envelope -------------------------------------------------------------
    def emit(self, subject: str, type_: str, data: dict[str, Any], minutes: int = 5) -> CloudEvent:
        self.now += timedelta(minutes=minutes)
        self.versions[subject] = self.versions.get(subject, 0) + 1
        event = CloudEvent(
            id=str(uuid.uuid4()), source="booking", type=type_, subject=subject,
            time=self.now.isoformat(), orgid=self.org,
            aggregateversion=self.versions[subject], position=next(self.positions),
            data=copy.deepcopy(data), correlationid=uuid.uuid4().hex)
        self.events.append(event)
        return event

    # --- appointments -------------------------------------------------------
    def request(self, *, slot_: dict[str, str] | None = None, window: dict[str, str] | None = None,
                client_id: str | None = "client-1", tentative: bool = False,
                agent_id: str | None = None, workflow: Definition = BUILTIN,
                status: str | None = None, action: str = "request",
                resources: list[dict[str, Any]] | None = None, source: str = "widget",
                actor: dict[str, str] | None = None, appointment_id: str | None = None
                ) -> CloudEvent:
        """`request` (or `create` for client with a chosen `status`)."""
        aid = appointment_id or str(uuid.uuid4())
        self.definitions[aid] = workflow
        to = status or workflow.start.key
        assert lifecycle.is_allowed(workflow, None, action, to), (action, to)
        snap = {
            "id": aid, "organisation_id": self.org, "version": 0, "status": to,
            "status_kind": present(workflow.status(to)).kind,
            "workflow": {"id": workflow.id, "version": workflow.version},
            "service": dict(SERVICE),
            "client": {"id": None if tentative else client_id, "name": "Ada Lovelace",
                       "email": "ada@example.com", "phone": "+441234567890",
                       "tentative": tentative},
            "agent_id": agent_id,
            "resources": resources if resources is not None else (
                [{"id": agent_id, "kind": "agent", "name": "Dr Who", "email": "who@acme.example",
                  "phone": "+41440000001", "address": ""}] if agent_id else []),
            "slot": slot_, "window": window, "proposal": None, "source": source,
            "questionnaire": {}, "metadata": {}, "outcome": None, "feedback": None,
            "feedback_requested_on": None, "requested_at": None, "confirmed_at": None,
            "updated_at": None,
        }
        self.snapshots[aid] = snap
        return self._event(aid, action, None, to, actor or AGENT, "requested" if action ==
                           "request" else "created", requested=True)

    def act(self, aid: str, action: str, to_status: str | None = None, *,
            actor: dict[str, str] | None = None, reason: str | None = None,
            message: str | None = None, minutes: int = 5, **fields: Any) -> CloudEvent:
        """A status action (checked by shared.domain.lifecycle) or a non-status change
        (note_added, note_edited, details_updated, reassigned, client_linked)."""
        snap, definition = self.snapshots[aid], self.definitions[aid]
        current = snap["status"]
        extra: dict[str, Any] = {}
        if action in lifecycle.ACTIONS:
            choices = lifecycle.targets(definition, current, action)
            to = to_status or (choices[0] if choices else None)
            assert to in choices, f"{action} from {current} -> {to_status}: allowed {choices}"
        else:
            to = current
        if action in ("confirm", "accept_suggestion"):
            if action == "accept_suggestion":
                snap["slot"], snap["proposal"] = snap["proposal"], None
            snap["client"]["tentative"] = False
            snap["client"]["id"] = snap["client"]["id"] or f"client-{aid[:8]}"
        if action == "reschedule":
            extra["previous_slot"] = snap["slot"]
            snap["slot"] = fields.pop("slot")
        if action == "propose_time":
            snap["proposal"] = fields.pop("proposal")
        if action == "reassigned":
            extra["previous_agent_id"] = snap["agent_id"]
            snap["agent_id"] = fields.pop("agent_id")
            snap["resources"] = [r for r in snap["resources"] if r["id"] != extra[
                "previous_agent_id"]] + [{"id": snap["agent_id"], "kind": "agent", "name": "Agent",
                                          "email": "", "phone": "", "address": ""}]
        if action in ("note_added", "note_edited"):
            extra["note"] = {"id": str(uuid.uuid4()), "text": fields.pop("text", "called them")}
        if action == "client_linked":
            snap["client"].update(id=fields.pop("client_id"), tentative=False)
        if action == "attend":
            snap["outcome"] = fields.pop("outcome", None)
        if action == "request_feedback":
            snap["feedback_requested_on"] = (self.now + timedelta(minutes=minutes)).date(
            ).isoformat()
        if action == "submit_feedback":
            snap["feedback"] = fields.pop("feedback")
        snap.update(fields)  # details_updated: service, resources, questionnaire, metadata
        return self._event(aid, action, current, to, actor or AGENT, _past(action), reason=reason,
                           message=message, minutes=minutes, **extra)

    def _event(self, aid: str, action: str, from_status: str | None, to: str,
               actor: dict[str, str], verb: str, *, requested: bool = False,
               reason: str | None = None, message: str | None = None, minutes: int = 5,
               **extra: Any) -> CloudEvent:
        snap, definition = self.snapshots[aid], self.definitions[aid]
        at = (self.now + timedelta(minutes=minutes)).isoformat()
        status = present(definition.status(to))
        kind = status.kind
        snap.update(status=to, status_kind=kind, version=self.versions.get(aid, 0) + 1,
                    updated_at=at)
        display = {"status_name": status.name, "status_colour": status.colour} \
            if self.colours else {}
        snap.update(display)
        if requested:
            snap["requested_at"] = at
        if kind == "confirmation" and from_status != to and snap["confirmed_at"] is None:
            snap["confirmed_at"] = at
        change = {"action": action, "from_status": from_status, "to_status": to,
                  "status_kind": kind, **display,
                  "workflow": {"id": definition.id, "version": definition.version},
                  "actor": actor, "reason": reason, "message": message, **extra}
        if self.stored_copies:
            change["organisation"] = copy.deepcopy(self.organisation)
        else:
            change["organisation_version"] = max(1, self.versions.get(self.org, 0))
        return self.emit(aid, f"appointment.{verb}.v1", {"change": change, "appointment": snap},
                         minutes)

    # --- directory ----------------------------------------------------------
    def organisation_updated(self, **changes: Any) -> CloudEvent:
        self.organisation.update(changes)
        return self.emit(self.org, "organisation.updated.v1",
                         {"change": {"fields": sorted(changes)},
                          "organisation": self.organisation})

    def resource(self, rid: str, name: str = "Dr Who", kind: str = "agent",
                 hours: dict[str, list[list[str]]] | None = None, active: bool = True,
                 verb: str = "registered") -> CloudEvent:
        weekdays = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
        snap = {"id": rid, "organisation_id": self.org, "kind": kind, "name": name,
                "email": f"{rid}@acme.example", "phone": "+41440000001", "address": "",
                "active": active, "working_hours": weekdays if hours is None else hours}
        return self.emit(rid, f"resource.{verb}.v1", {"change": {"action": verb}, "resource": snap})

    def client(self, cid: str, name: str = "Ada Lovelace") -> CloudEvent:
        snap = {"id": cid, "organisation_id": self.org, "name": name,
                "email": "ada@example.com", "phone": "+441234567890"}
        return self.emit(cid, "client.registered.v1", {"change": {"action": "registered"},
                                                        "client": snap})

    def service(self, sid: str = "svc-consult") -> CloudEvent:
        snap = {"id": sid, "organisation_id": self.org, **{k: v for k, v in SERVICE.items()
                                                           if k != "id"}}
        return self.emit(sid, "service.registered.v1", {"change": {"action": "registered"},
                                                         "service": snap})


_VERBS = {"confirm": "confirmed", "accept_suggestion": "suggestion_accepted",
          "reschedule": "rescheduled", "request_reschedule": "reschedule_requested",
          "propose_time": "time_proposed", "cancel": "cancelled", "reject": "rejected",
          "attend": "attended", "no_show": "no_show", "reopen": "reopened",
          "request_feedback": "feedback_requested", "submit_feedback": "feedback_submitted",
          "move": "moved"}


def _past(action: str) -> str:
    return _VERBS.get(action, action)


def window(day: str, part: str = "morning") -> dict[str, str]:
    date.fromisoformat(day)
    return {"date": day, "part_of_day": part}
