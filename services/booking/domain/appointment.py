"""The appointment: one aggregate, one event per action, every rule of DOMAIN.md.

Status changes arrive already validated by the workflow authority as a
`Transition`; the aggregate adds the rules that need its own state (due,
reasons, linked client, slot, availability, once-a-day feedback, used links).
Every event's `change` follows docs/contracts.md; the state after an event is
derived from that change alone, so replaying events rebuilds the same state.
An event refers to the organisation's settings by version (`organisation_version`)
and never copies them: they travel in the organisation's own events.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.booking.domain import errors
from services.booking.domain.meta import Meta
from services.booking.domain.organisation import Organisation
from services.booking.domain.transitions import Transition
from services.booking.domain.values import Slot, iso, local_day, window
from shared.errors import Conflict, Invalid
from shared.event_names import name_events

# Keys of `change` that carry the new value of a field of the appointment.
STATE_KEYS = ("slot", "window", "proposal", "client", "service", "agent_id", "resources",
              "questionnaire", "metadata", "outcome", "feedback", "feedback_requested_on")
CLOSED_KINDS = ("cancellation", "completion", "final")


@dataclass(frozen=True)
class Context:
    """What a command needs besides the appointment: who/when, the org, availability."""
    meta: Meta
    organisation: Organisation
    is_free: Callable[[str, Slot], bool]


class Appointment(Aggregate):
    class Requested(Aggregate.Created):
        organisation_id: str
        initial: dict[str, Any]
        change: dict[str, Any]

    class CreatedForClient(Requested):
        """create for client: an agent picks the initial status"""

    def __init__(self, organisation_id: str, initial: dict[str, Any], change: dict[str, Any],
                 timestamp: datetime) -> None:
        self.organisation_id = organisation_id
        self.source: str = initial["source"]
        self.status: str = ""
        self.status_kind: str = ""
        self.status_name: str = ""
        self.workflow: dict[str, Any] = {}
        self.service: dict[str, Any] = {}
        self.client: dict[str, Any] = {}
        self.agent_id: str | None = None
        self.resources: list[dict[str, Any]] = []
        self.slot: dict[str, str] | None = None
        self.window: dict[str, str] | None = None
        self.proposal: dict[str, str] | None = None
        self.questionnaire: dict[str, Any] = {}
        self.metadata: dict[str, Any] = {}
        self.outcome: dict[str, Any] | None = None
        self.feedback: dict[str, Any] | None = None
        self.feedback_requested_on: str | None = None
        self.requested_at = iso(timestamp)
        self.confirmed_at: str | None = None
        self.updated_at = iso(timestamp)
        self.notes: dict[str, dict[str, Any]] = {}   # internal: never in the snapshot
        self.used_links: list[str] = []
        for key in STATE_KEYS:
            if key in initial:
                setattr(self, key, deepcopy(initial[key]))
        self.follow(change, timestamp)

    def follow(self, change: dict[str, Any], timestamp: datetime) -> None:
        """Evolve the state from one event's change (used by every event)."""
        self.status, self.status_kind = change["to_status"], change["status_kind"]
        self.status_name = change.get("status_name") or self.status
        self.workflow = dict(change["workflow"])
        for key in STATE_KEYS:
            if key in change:
                setattr(self, key, deepcopy(change[key]))
        if "note" in change:
            note = change["note"]
            self.notes[note["id"]] = {**self.notes.get(note["id"], {}), **deepcopy(note)}
        if change.get("link_id"):
            self.used_links.append(change["link_id"])
        if self.status_kind == "confirmation" and self.confirmed_at is None:
            self.confirmed_at = iso(timestamp)
        self.updated_at = iso(timestamp)

    # -- the events: each stores the change it makes (docs/contracts.md) -------------------

    @event("Confirmed")  # confirm / approve: an exact slot and a linked client
    def _confirmed(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("SuggestionAccepted")  # the client's proposed time becomes the slot
    def _suggestion_accepted(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("Rescheduled")  # a new slot; stays confirmed or goes back to the start (org setting)
    def _rescheduled(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("RescheduleRequested")  # the client is asked to propose a new time
    def _reschedule_requested(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("TimeProposed")  # the client proposed a time through a link
    def _time_proposed(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("Reassigned")  # another agent, available at the slot
    def _reassigned(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("NoteAdded")  # internal note (never shown to the client)
    def _note_added(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("NoteEdited")  # internal note changed
    def _note_edited(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("DetailsUpdated")  # service, resources, questionnaire answers or metadata
    def _details_updated(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("ClientLinked")  # a tentative client linked to a client of the directory
    def _client_linked(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("Cancelled")  # by the organisation or by the client through a link
    def _cancelled(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("Rejected")  # a request declined, with its reason
    def _rejected(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("Attended")  # the client came (once due), with an optional outcome
    def _attended(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("NoShow")  # the client did not come (once due)
    def _no_show(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("Reopened")  # a completed appointment opened again
    def _reopened(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("FeedbackRequested")  # a survey sent (at most once a day in the org's time zone)
    def _feedback_requested(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("FeedbackSubmitted")  # the client answered the survey
    def _feedback_submitted(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("MovedToStatus")  # a status of a custom workflow
    def _moved_to_status(self, change: dict[str, Any], timestamp: datetime) -> None:
        self.follow(change, timestamp)

    # -- creation ------------------------------------------------------------------------

    @classmethod
    def request(cls, ctx: Context, t: Transition, *, service: dict[str, Any],
                client: dict[str, Any], source: str, slot: dict[str, Any] | None = None,
                window: dict[str, Any] | None = None, agent: dict[str, Any] | None = None,
                resources: list[dict[str, Any]] | None = None,
                questionnaire: dict[str, Any] | None = None,
                metadata: dict[str, Any] | None = None,
                message: str | None = None) -> Appointment:
        initial = cls._initial(ctx, service, client, source, slot, window, agent, resources,
                               questionnaire, metadata)
        if t.status_kind == "confirmation":
            cls._ensure_bookable(ctx, "request", initial["slot"], initial["agent_id"])
        return cls._open(cls.Requested, ctx, t, initial, message=message)

    @classmethod
    def create_for_client(cls, ctx: Context, t: Transition, *, service: dict[str, Any],
                          client: dict[str, Any], slot: dict[str, Any],
                          agent: dict[str, Any] | None = None,
                          resources: list[dict[str, Any]] | None = None,
                          questionnaire: dict[str, Any] | None = None,
                          metadata: dict[str, Any] | None = None, note: str | None = None,
                          message: str | None = None, source: str = "agent") -> Appointment:
        if client.get("tentative"):
            raise errors.ClientNotLinked()
        initial = cls._initial(ctx, service, client, source, slot, None, agent, resources,
                               questionnaire, metadata)
        if t.status_kind == "confirmation":
            cls._ensure_bookable(ctx, "create", initial["slot"], initial["agent_id"])
        extra = {"note": cls._new_note(ctx, note)} if note else {}
        return cls._open(cls.CreatedForClient, ctx, t, initial, message=message, **extra)

    @staticmethod
    def _initial(ctx: Context, service: dict[str, Any], client: dict[str, Any], source: str,
                 slot: dict[str, Any] | None, window_: dict[str, Any] | None,
                 agent: dict[str, Any] | None, resources: list[dict[str, Any]] | None,
                 questionnaire: dict[str, Any] | None,
                 metadata: dict[str, Any] | None) -> dict[str, Any]:
        if (slot is None) == (window_ is None):
            raise Invalid("slot", "give either an exact slot or a preferred window, not both")
        parts = ctx.organisation.settings["parts_of_day"]
        return {
            "service": service, "client": client, "source": source,
            "slot": Slot.of(slot).as_dict() if slot else None,
            "window": window(window_, parts) if window_ else None,
            "agent_id": agent["id"] if agent else None,
            "resources": ([agent] if agent else []) + list(resources or []),
            "questionnaire": questionnaire or {}, "metadata": metadata or {},
        }

    @classmethod
    def _open(cls, event: type[Requested], ctx: Context, t: Transition,
              initial: dict[str, Any], message: str | None, **fields: Any) -> Appointment:
        change = ctx.meta.change(t.action, **t.change(), reason=None, message=message,
                                 organisation_version=ctx.organisation.version, **fields)
        return cls._create(event, id=uuid.uuid4(), organisation_id=ctx.organisation.organisation_id,
                           initial=initial, change=change, timestamp=ctx.meta.now)

    # -- status changes ------------------------------------------------------------------

    def confirm(self, ctx: Context, t: Transition, *, slot: dict[str, Any] | None = None,
                agent: dict[str, Any] | None = None, message: str | None = None) -> None:
        new_slot = Slot.of(slot).as_dict() if slot else self.slot
        fields: dict[str, Any] = {"proposal": None}
        if slot:
            fields.update(slot=new_slot, previous_slot=self.slot)
        if agent:
            fields.update(self._agent_fields(agent))
        self._ensure_confirmable(ctx, "confirm", new_slot, fields.get("agent_id", self.agent_id))
        self._record(self._confirmed, ctx, t, message=message, **fields)

    def accept_suggestion(self, ctx: Context, t: Transition, *, message: str | None = None) -> None:
        if not self.proposal:
            raise Conflict("there is no time proposed by the client to accept")
        self._ensure_confirmable(ctx, "accept_suggestion", self.proposal, self.agent_id)
        self._record(self._suggestion_accepted, ctx, t, message=message, slot=self.proposal,
                     previous_slot=self.slot, proposal=None)

    def reschedule(self, ctx: Context, t: Transition, *, slot: dict[str, Any],
                   message: str | None = None) -> None:
        new_slot = Slot.of(slot).as_dict()
        if t.status_kind == "confirmation":
            self._ensure_bookable(ctx, "reschedule", new_slot, self.agent_id)
        self._record(self._rescheduled, ctx, t, message=message, slot=new_slot,
                     previous_slot=self.slot, proposal=None)

    def request_reschedule(self, ctx: Context, t: Transition, *, message: str | None = None) -> None:
        self._record(self._reschedule_requested, ctx, t, message=message)

    def propose_time(self, ctx: Context, t: Transition, *, slot: dict[str, Any],
                     message: str | None = None, link_id: str | None = None) -> None:
        self._record(self._time_proposed, ctx, t, message=message, link_id=link_id,
                     proposal=Slot.of(slot).as_dict())

    def cancel(self, ctx: Context, t: Transition, *, reason: str | None = None,
               message: str | None = None, link_id: str | None = None) -> None:
        settings = ctx.organisation.settings
        errors.reason_problem("reason", reason, settings["cancellation_reasons"],
                              settings["cancel_reason_required"] or self._custom(t))
        self._record(self._cancelled, ctx, t, reason=reason, message=message, link_id=link_id)

    def reject(self, ctx: Context, t: Transition, *, reason: str | None = None,
               message: str | None = None) -> None:
        errors.reason_problem("reason", reason, ctx.organisation.settings["rejection_reasons"],
                              True)
        self._record(self._rejected, ctx, t, reason=reason, message=message)

    def attend(self, ctx: Context, t: Transition, *, time_taken_minutes: int | None = None,
               completion_reason: str | None = None, remark: str | None = None) -> None:
        self._ensure_due(ctx, "attend")
        if time_taken_minutes is not None and time_taken_minutes < 0:
            raise Invalid("time_taken_minutes", "must not be negative")
        outcome = {"time_taken_minutes": time_taken_minutes,
                   "completion_reason": completion_reason, "remark": remark}
        self._record(self._attended, ctx, t, outcome=outcome)

    def no_show(self, ctx: Context, t: Transition) -> None:
        self._ensure_due(ctx, "no_show")
        self._record(self._no_show, ctx, t)

    def reopen(self, ctx: Context, t: Transition, *, message: str | None = None) -> None:
        self._record(self._reopened, ctx, t, message=message, outcome=None)

    def request_feedback(self, ctx: Context, t: Transition, *, message: str | None = None) -> None:
        today = local_day(ctx.meta.now, ctx.organisation.tz).isoformat()
        if self.feedback_requested_on == today:
            raise errors.FeedbackAlreadyRequested(today)
        self._record(self._feedback_requested, ctx, t, message=message,
                     feedback_requested_on=today)

    def submit_feedback(self, ctx: Context, t: Transition, *, rating: int,
                        comment: str | None = None, link_id: str | None = None) -> None:
        if not 1 <= rating <= 5:
            raise Invalid("rating", "must be between 1 and 5")
        self._record(self._feedback_submitted, ctx, t, link_id=link_id,
                     feedback={"rating": rating, "comment": comment})

    def move(self, ctx: Context, t: Transition, *, status: str, reason: str | None = None,
             message: str | None = None) -> None:
        if t.status_kind == "cancellation":
            errors.reason_problem("reason", reason,
                                  ctx.organisation.settings["cancellation_reasons"], True)
        if t.status_kind == "confirmation":
            self._ensure_confirmable(ctx, "move", self.slot, self.agent_id)
        self._record(self._moved_to_status, ctx, t, reason=reason, message=message)

    # -- changes that keep the status ----------------------------------------------------

    def reassign(self, ctx: Context, t: None = None, *, agent: dict[str, Any],
                 message: str | None = None) -> None:
        if self.status_kind in CLOSED_KINDS:
            raise errors.AppointmentClosed("reassign", self.status)
        if agent["id"] == self.agent_id:
            raise Invalid("agent_id", "this agent is already assigned")
        if self.slot and not ctx.is_free(agent["id"], Slot.of(self.slot)):
            raise errors.AgentNotAvailable(agent["id"])
        self._record(self._reassigned, ctx, "reassigned", message=message, **self._agent_fields(agent))

    def add_note(self, ctx: Context, t: None = None, *, text: str) -> None:
        self._record(self._note_added, ctx, "note_added", note=self._new_note(ctx, text))

    def edit_note(self, ctx: Context, t: None = None, *, note_id: str, text: str) -> None:
        if note_id not in self.notes:
            raise errors.NoteNotFound(note_id)
        note = {"id": note_id, "text": text, "previous_text": self.notes[note_id]["text"],
                "edited_by": dict(ctx.meta.actor), "edited_at": iso(ctx.meta.now)}
        self._record(self._note_edited, ctx, "note_edited", note=note)

    def update_details(self, ctx: Context, t: None = None, *, service: dict[str, Any] | None = None,
                       resources: list[dict[str, Any]] | None = None,
                       questionnaire: dict[str, Any] | None = None,
                       metadata: dict[str, Any] | None = None) -> None:
        fields: dict[str, Any] = {}
        if service is not None:
            fields["service"] = service
        if resources is not None:
            if any(r["kind"] == "agent" for r in resources):
                raise Invalid("resource_ids", "agents are assigned with reassign, not here")
            fields["resources"] = [r for r in self.resources if r["kind"] == "agent"] + resources
        if questionnaire is not None:
            fields["questionnaire"] = questionnaire
        if metadata is not None:
            fields["metadata"] = metadata
        if not fields:
            raise Invalid("body", "nothing to update: give service_id, resource_ids, "
                          "questionnaire or metadata")
        self._record(self._details_updated, ctx, "details_updated", **fields)

    def link_client(self, ctx: Context, t: None = None, *, client: dict[str, Any]) -> None:
        if not self.client.get("tentative"):
            raise Conflict("the client of this appointment is already linked")
        self._record(self._client_linked, ctx, "client_linked", client=client, previous_client=self.client)

    # -- rules ---------------------------------------------------------------------------

    def ensure_link_unused(self, link_id: str) -> None:
        if link_id in self.used_links:
            raise errors.LinkAlreadyUsed()

    @staticmethod
    def _ensure_bookable(ctx: Context, action: str, slot: dict[str, str] | None,
                         agent_id: str | None) -> None:
        if slot is None:
            raise errors.SlotRequired(action)
        if agent_id and not ctx.is_free(agent_id, Slot.of(slot)):
            raise errors.AgentNotAvailable(agent_id)

    def _ensure_confirmable(self, ctx: Context, action: str, slot: dict[str, str] | None,
                            agent_id: str | None) -> None:
        if self.client.get("tentative"):
            raise errors.ClientNotLinked()
        self._ensure_bookable(ctx, action, slot, agent_id)

    def _ensure_due(self, ctx: Context, action: str) -> None:
        if self.slot is None:
            raise errors.SlotRequired(action)
        if ctx.meta.now < Slot.of(self.slot).start:
            raise errors.NotDue(action, self.slot["start"])

    @staticmethod
    def _custom(t: Transition) -> bool:
        return t.workflow["id"] != "builtin"

    def _agent_fields(self, agent: dict[str, Any]) -> dict[str, Any]:
        others = [r for r in self.resources if r["kind"] != "agent"]
        return {"agent_id": agent["id"], "previous_agent_id": self.agent_id,
                "resources": [agent] + others}

    @staticmethod
    def _new_note(ctx: Context, text: str) -> dict[str, Any]:
        return {"id": uuid.uuid4().hex, "text": text, "author": dict(ctx.meta.actor),
                "at": iso(ctx.meta.now)}

    def _record(self, trigger: Callable[..., None], ctx: Context, t: Transition | str,
                reason: str | None = None, message: str | None = None, **fields: Any) -> None:
        """Trigger one of the events above with the change it makes: a status change
        the workflow allowed (`t`), or a change that keeps the status (`t`: its action)."""
        if isinstance(t, Transition) and t.from_status != self.status:
            raise Conflict(f"the appointment is in status '{self.status}', "
                                  f"not '{t.from_status}'")
        status = t.change() if isinstance(t, Transition) else {
            "from_status": self.status, "to_status": self.status,
            "status_kind": self.status_kind, "status_name": self.status_name,
            "workflow": self.workflow}
        action = t.action if isinstance(t, Transition) else t
        change = ctx.meta.change(action, **status, reason=reason, message=message,
                                 organisation_version=ctx.organisation.version, **fields)
        trigger(change=change, timestamp=ctx.meta.now)

    # -- representation ------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The contract's `appointment` object (internal notes are never in it)."""
        return deepcopy({
            "id": str(self.id), "organisation_id": self.organisation_id, "version": self.version,
            "status": self.status, "status_kind": self.status_kind,
            "status_name": self.status_name, "workflow": self.workflow,
            "service": self.service, "client": self.client, "agent_id": self.agent_id,
            "resources": self.resources, "slot": self.slot, "window": self.window,
            "proposal": self.proposal, "source": self.source,
            "questionnaire": self.questionnaire, "metadata": self.metadata,
            "outcome": self.outcome, "feedback": self.feedback,
            "feedback_requested_on": self.feedback_requested_on,
            "requested_at": self.requested_at, "confirmed_at": self.confirmed_at,
            "updated_at": self.updated_at})


# The action each change that keeps the status records (from_status == to_status).
DETAIL_ACTION_NAMES = {"Reassigned": "reassigned", "NoteAdded": "note_added",
                       "NoteEdited": "note_edited", "DetailsUpdated": "details_updated",
                       "ClientLinked": "client_linked"}

name_events(Appointment, "appointment", formerly="services.booking.domain.appointment:Appointment")
