"""Changes of an appointment that keep its status: agent, notes, details, linked client.
Each records its own action (`reassigned`, `note_added`, ...); none asks the workflow."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.booking.domain import errors
from services.booking.domain.appointment_rules import CLOSED_KINDS, AppointmentRules, Context
from services.booking.domain.changes import (
    ClientLinkedChange,
    DetailsUpdatedChange,
    EditedNote,
    HoldExpiredChange,
    NoteAddedChange,
    NoteEditedChange,
    ReassignedChange,
)
from services.booking.domain.values import Slot, iso
from shared.errors import Conflict, Invalid


class DetailChanges(AppointmentRules):
    notes: dict[str, dict[str, Any]]
    # The events these trigger, declared with @event on Appointment (appointment.py).
    _reassigned: Callable[[ReassignedChange, datetime], None]
    _note_added: Callable[[NoteAddedChange, datetime], None]
    _note_edited: Callable[[NoteEditedChange, datetime], None]
    _details_updated: Callable[[DetailsUpdatedChange, datetime], None]
    _client_linked: Callable[[ClientLinkedChange, datetime], None]
    _hold_expired: Callable[[HoldExpiredChange, datetime], None]
    held_until: Callable[[], datetime | None]

    def reassign(self, ctx: Context, t: None = None, *, agent: dict[str, Any],
                 message: str | None = None) -> None:
        if self.status_kind in CLOSED_KINDS:
            raise errors.AppointmentClosed("reassign", self.status)
        if agent["id"] == self.agent_id:
            raise Invalid("agent_id", "this agent is already assigned")
        if self.slot and not ctx.is_free(agent["id"], Slot.of(self.slot)):
            raise errors.AgentNotAvailable(agent["id"])
        self._reassigned(ReassignedChange(
            **self._status_change(ctx, "reassigned", message=message),
            **self._agent_fields(agent)), ctx.meta.now)

    def expire_hold(self, ctx: Context, t: None = None, *, reason: str | None = None) -> None:
        """The request's hold on its agent's time lapsed: the slot is free again."""
        until = self.held_until()
        if until is None:
            raise Conflict("this appointment holds no time")
        if ctx.meta.now < until:
            raise Conflict(f"the hold lasts until {iso(until)}")
        self._hold_expired(HoldExpiredChange(
            **self._status_change(ctx, "hold_expired", reason=reason), hold_until=None),
            ctx.meta.now)

    def add_note(self, ctx: Context, t: None = None, *, text: str) -> None:
        self._note_added(NoteAddedChange(**self._status_change(ctx, "note_added"),
                                         note=self._new_note(ctx, text)), ctx.meta.now)

    def edit_note(self, ctx: Context, t: None = None, *, note_id: str, text: str) -> None:
        if note_id not in self.notes:
            raise errors.NoteNotFound(note_id)
        note = EditedNote(id=note_id, text=text, previous_text=self.notes[note_id]["text"],
                          edited_by=dict(ctx.meta.actor), edited_at=iso(ctx.meta.now))
        self._note_edited(NoteEditedChange(**self._status_change(ctx, "note_edited"),
                                           note=note), ctx.meta.now)

    def update_details(self, ctx: Context, t: None = None, *, service: dict[str, Any] | None = None,
                       resources: list[dict[str, Any]] | None = None,
                       questionnaire: dict[str, Any] | None = None,
                       metadata: dict[str, Any] | None = None) -> None:
        if resources is not None and any(r["kind"] == "agent" for r in resources):
            raise Invalid("resource_ids", "agents are assigned with reassign, not here")
        if service is None and resources is None and questionnaire is None and metadata is None:
            raise Invalid("body", "nothing to update: give service_id, resource_ids, "
                          "questionnaire or metadata")
        change = DetailsUpdatedChange(**self._status_change(ctx, "details_updated"))
        if service is not None:
            change["service"] = service
        if resources is not None:
            change["resources"] = [r for r in self.resources if r["kind"] == "agent"] + resources
        if questionnaire is not None:
            change["questionnaire"] = questionnaire
        if metadata is not None:
            change["metadata"] = metadata
        self._details_updated(change, ctx.meta.now)

    def link_client(self, ctx: Context, t: None = None, *, client: dict[str, Any]) -> None:
        if not self.client.get("tentative"):
            raise Conflict("the client of this appointment is already linked")
        self._client_linked(ClientLinkedChange(
            **self._status_change(ctx, "client_linked"), client=client,
            previous_client=self.client), ctx.meta.now)
