"""The appointment: one aggregate, one event per action, every rule of DOMAIN.md.

Status changes arrive already validated by the workflow authority as a
`Transition`; the aggregate adds the rules that need its own state (due,
reasons, linked client, slot, availability, once-a-day feedback, used links).
Every event's `change` follows docs/contracts.md; the state after an event is
derived from that change alone, so replaying events rebuilds the same state.
An event refers to the organisation's settings by version (`organisation_version`)
and never copies them: they travel in the organisation's own events.

Here: the state, the events (`@event`), creation and the snapshot. The status changes
are in appointment_status.py, the changes that keep the status in appointment_details.py
and the rules both share (`Context`, `_status_change`) in appointment_rules.py; what
each event records in its `change`, one TypedDict per event family, in changes.py.
Over 250 lines because the state and the events that evolve it stay side by side.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from copy import deepcopy
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.booking.domain import changes as ch
from services.booking.domain import errors
from services.booking.domain.appointment_details import DetailChanges
from services.booking.domain.appointment_rules import Context
from services.booking.domain.appointment_status import StatusChanges
from services.booking.domain.transitions import Transition
from services.booking.domain.values import Slot, iso, window
from shared.errors import Invalid
from shared.event_names import name_events

# The statuses (by kind) of an open request, which a hold keeps (held_until).
HOLDING_KINDS = ("start", "step")
# Keys of `change` that carry the new value of a field of the appointment.
STATE_KEYS = ("slot", "window", "proposal", "client", "service", "agent_id", "resources",
              "questionnaire", "metadata", "outcome", "feedback", "feedback_requested_on",
              "hold_until")


class Appointment(StatusChanges, DetailChanges, Aggregate):
    class Requested(Aggregate.Created):
        organisation_id: str
        initial: ch.Initial
        change: ch.RequestedChange

    class CreatedForClient(Requested):
        """create for client: an agent picks the initial status"""
        change: ch.CreatedForClientChange

    def __init__(self, organisation_id: str, initial: ch.Initial, change: ch.RequestedChange,
                 timestamp: datetime) -> None:
        self.organisation_id = organisation_id
        self.source: str = initial["source"]
        self.status: str = ""
        self.status_kind: str = ""
        self.status_name: str = ""
        self.status_colour: str | None = None  # None: recorded before events carried it
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
        self.hold_until: str | None = None   # a request holding its agent's time until then
        self.reopened_at: str | None = None  # internal: when it was last reopened
        self.requested_at = iso(timestamp)
        self.confirmed_at: str | None = None
        self.updated_at = iso(timestamp)
        self.notes: dict[str, dict[str, Any]] = {}   # internal: never in the snapshot
        self.used_links: list[str] = []
        fields: Mapping[str, Any] = initial
        for key in STATE_KEYS:
            if key in fields:
                setattr(self, key, deepcopy(fields[key]))
        self.follow(change, timestamp)

    def follow(self, change: ch.StatusChange, timestamp: datetime) -> None:
        """Evolve the state from one event's change (used by every event)."""
        self.status, self.status_kind = change["to_status"], change["status_kind"]
        self.status_name = change.get("status_name") or self.status
        self.status_colour = change.get("status_colour")
        self.workflow = dict(change["workflow"])
        keys: Mapping[str, Any] = change   # the keys of its family (changes.py)
        for key in STATE_KEYS:
            if key in keys:
                setattr(self, key, deepcopy(keys[key]))
        if "note" in keys:
            note = keys["note"]
            self.notes[note["id"]] = {**self.notes.get(note["id"], {}), **deepcopy(note)}
        if keys.get("link_id"):
            self.used_links.append(keys["link_id"])
        if self.status_kind not in HOLDING_KINDS:
            self.hold_until = None       # a hold ends with the request (confirmed, cancelled)
        if change.get("action") == "reopen":
            self.reopened_at = iso(timestamp)
        if self.status_kind == "confirmation" and self.confirmed_at is None:
            self.confirmed_at = iso(timestamp)
        self.updated_at = iso(timestamp)

    # -- the events: each stores the change it makes (docs/contracts.md) -------------------

    @event("Confirmed")  # confirm / approve: an exact slot and a linked client
    def _confirmed(self, change: ch.ConfirmedChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("SuggestionAccepted")  # the client's proposed time becomes the slot
    def _suggestion_accepted(self, change: ch.SlotChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("Rescheduled")  # a new slot; stays confirmed or goes back to the start (org setting)
    def _rescheduled(self, change: ch.SlotChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("RescheduleRequested")  # the client is asked to propose a new time
    def _reschedule_requested(self, change: ch.StatusChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("TimeProposed")  # the client proposed a time through a link
    def _time_proposed(self, change: ch.TimeProposedChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("Reassigned")  # another agent, available at the slot
    def _reassigned(self, change: ch.ReassignedChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("NoteAdded")  # internal note (never shown to the client)
    def _note_added(self, change: ch.NoteAddedChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("NoteEdited")  # internal note changed
    def _note_edited(self, change: ch.NoteEditedChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("DetailsUpdated")  # service, resources, questionnaire answers or metadata
    def _details_updated(self, change: ch.DetailsUpdatedChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("ClientLinked")  # a tentative client linked to a client of the directory
    def _client_linked(self, change: ch.ClientLinkedChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("Cancelled")  # by the organisation or by the client through a link
    def _cancelled(self, change: ch.CancelledChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("Rejected")  # a request declined, with its reason
    def _rejected(self, change: ch.StatusChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("Attended")  # the client came (once due), with an optional outcome
    def _attended(self, change: ch.AttendedChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("NoShow")  # the client did not come (once due)
    def _no_show(self, change: ch.StatusChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("HoldExpired")  # a request's hold on its agent's time lapsed (by the system actor)
    def _hold_expired(self, change: ch.HoldExpiredChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("Reopened")  # a completed appointment opened again
    def _reopened(self, change: ch.ReopenedChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("FeedbackRequested")  # a survey sent (at most once a day in the org's time zone)
    def _feedback_requested(self, change: ch.FeedbackRequestedChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("FeedbackSubmitted")  # the client answered the survey
    def _feedback_submitted(self, change: ch.FeedbackSubmittedChange, timestamp: datetime) -> None:
        self.follow(change, timestamp)

    @event("MovedToStatus")  # a status of a custom workflow
    def _moved_to_status(self, change: ch.MovedToStatusChange, timestamp: datetime) -> None:
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
        return cls._open(cls.Requested, ctx, t, initial,
                         ch.RequestedChange(**cls._opening(ctx, t, message)))

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
        change = ch.CreatedForClientChange(**cls._opening(ctx, t, message))
        if note:
            change["note"] = cls._new_note(ctx, note)
        return cls._open(cls.CreatedForClient, ctx, t, initial, change)

    @staticmethod
    def _hold(ctx: Context, t: Transition, initial: ch.Initial) -> str | None:
        """Until when a request for an exact slot with an agent holds that time
        (`hold_minutes`: the calendar refuses anyone else meanwhile); a booking needs no hold."""
        if t.status_kind not in HOLDING_KINDS or not (initial["slot"] and initial["agent_id"]):
            return None
        minutes = ctx.organisation.setting("hold_minutes")
        return iso(ctx.meta.now + timedelta(minutes=minutes))

    @staticmethod
    def _initial(ctx: Context, service: dict[str, Any], client: dict[str, Any], source: str,
                 slot: dict[str, Any] | None, window_: dict[str, Any] | None,
                 agent: dict[str, Any] | None, resources: list[dict[str, Any]] | None,
                 questionnaire: dict[str, Any] | None,
                 metadata: dict[str, Any] | None) -> ch.Initial:
        if (slot is None) == (window_ is None):
            raise Invalid("slot", "give either an exact slot or a preferred window, not both")
        parts = ctx.organisation.settings["parts_of_day"]
        return ch.Initial(
            service=service, client=client, source=source,
            slot=Slot.of(slot).as_dict() if slot else None,
            window=window(window_, parts) if window_ else None,
            agent_id=agent["id"] if agent else None,
            resources=([agent] if agent else []) + list(resources or []),
            questionnaire=questionnaire or {}, metadata=metadata or {})

    @staticmethod
    def _opening(ctx: Context, t: Transition, message: str | None) -> ch.StatusChange:
        """Who, why and which status, for the event creating the appointment."""
        return ch.StatusChange(**ctx.meta.stamp(t.action), **t.change(), reason=None,
                               message=message, organisation_version=ctx.organisation.version)

    @classmethod
    def _open(cls, event: type[Requested], ctx: Context, t: Transition, initial: ch.Initial,
              change: ch.RequestedChange) -> Appointment:
        hold_until = cls._hold(ctx, t, initial)
        if hold_until:
            change["hold_until"] = hold_until
        return cls._create(event, id=uuid.uuid4(), organisation_id=ctx.organisation.organisation_id,
                           initial=initial, change=change, timestamp=ctx.meta.now)

    # -- time ----------------------------------------------------------------------------

    def held_until(self) -> datetime | None:
        """When the hold of an open request ends (None: it holds nothing)."""
        if self.hold_until and self.status_kind in HOLDING_KINDS and self.slot \
                and self.agent_id:
            return datetime.fromisoformat(self.hold_until)
        return None

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
            "updated_at": self.updated_at,
            # Only while held (events published before holds existed stay as they were).
            **({"hold_until": self.hold_until} if self.held_until() else {}),
            # Only once known (events recorded before colours stay as they were published).
            **({"status_colour": self.status_colour} if self.status_colour else {})})


# The action each change that keeps the status records (from_status == to_status).
DETAIL_ACTION_NAMES = {"Reassigned": "reassigned", "NoteAdded": "note_added",
                       "NoteEdited": "note_edited", "DetailsUpdated": "details_updated",
                       "ClientLinked": "client_linked", "HoldExpired": "hold_expired"}

name_events(Appointment, "appointment", formerly="services.booking.domain.appointment:Appointment")
